//! `gradient_ascent`: inputs optimised to maximise a class score (each of `classes`) or
//! the mean activation of one `channel` of `layer`, from a seeded start.
//!
//! All targets are optimised together, one row each, so each step is one batched pass.
//! Step k (1..=steps): every row is rolled (circularly) by a random shift of up to
//! `jitter` pixels per axis, the gradient of the target is taken there and rolled back;
//! the objective's gradient g = ∂score/∂x − 2·l2·x (x in model units) moves x by
//! lr·g / (RMS(g) + 1e-12): a normalised step, so `lr` means the same for a score of 1
//! or 1000 and for any input scale (raw gradients of a confident class are tiny). Every
//! 4th step blurs each channel with a Gaussian of σ = `blur` pixels; then x is clamped
//! to the valid raw range, if any. The CSV logs every step (0 = the start).

use super::adversarial::{image_shape, pictures, scores_for_model};
use super::{file_stem, ProbeContext, ProbeFile};
use crate::autodiff::ReluRule;
use crate::plot::{MapTile, Scale};
use crate::rng::{normal, stream};
use crate::spec::ProbeSpec;
use rand::Rng;

/// What a row maximises.
#[derive(Clone, Copy)]
enum Target {
    Class(usize),
    Channel { node: usize, channel: usize },
}

struct Settings {
    steps: usize,
    lr: f64,
    l2: f64,
    jitter: usize,
    blur: f64,
}

/// `jitter` when the spec gives none (pixels).
pub(super) const DEFAULT_JITTER: usize = 1;

fn settings(probe: &ProbeSpec, (h, w): (usize, usize)) -> Result<Settings, String> {
    let s = Settings {
        steps: probe.steps.unwrap_or(200),
        lr: probe.lr.unwrap_or(0.1),
        l2: probe.l2.unwrap_or(1e-3),
        jitter: probe.jitter.unwrap_or(DEFAULT_JITTER),
        blur: probe.blur.unwrap_or(0.5),
    };
    if s.steps == 0 {
        return Err("`steps` must be at least 1".into());
    }
    if !s.lr.is_finite() || s.lr <= 0.0 {
        return Err(format!("`lr` is {}; it must be positive and finite", s.lr));
    }
    if !s.l2.is_finite() || s.l2 < 0.0 {
        return Err(format!("`l2` is {}; it must be finite and at least 0", s.l2));
    }
    if !s.blur.is_finite() || s.blur < 0.0 {
        return Err(format!("`blur` is {}; it must be finite and at least 0", s.blur));
    }
    if s.jitter >= h.min(w) {
        return Err(format!("`jitter` is {} pixels; the images are {h} × {w}", s.jitter));
    }
    Ok(s)
}

/// One target per row and the seed that reads their objectives at `node`.
fn targets(probe: &ProbeSpec, ctx: &ProbeContext) -> Result<(Vec<Target>, usize), String> {
    let dag = ctx.model.dag();
    if let Some(channel) = probe.channel {
        if probe.classes.is_some() {
            return Err("set `classes` or `channel`, not both".into());
        }
        let name = probe.layer.as_deref().ok_or("`channel` needs `layer`, the node it belongs to")?;
        let node = dag.resolve(name)?;
        let n = &dag.nodes[node];
        let Some(&channels) = n.shape.first().filter(|_| n.batched) else {
            return Err(format!("`layer` `{name}` has no channels per sample (shape {:?})", n.shape));
        };
        if channel >= channels {
            let word = super::checks::channel_word(n);
            return Err(format!("`channel` is {channel}; `{name}` has {channels} {word} (0 to {})", channels - 1));
        }
        return Ok((vec![Target::Channel { node, channel }], node));
    }
    if probe.layer.is_some() {
        return Err("`layer` picks the node of `channel`; set `channel` too (or leave both out for classes)".into());
    }
    let scores = scores_for_model(dag)?;
    let classes = probe.classes.clone().unwrap_or_else(|| (0..scores.classes).collect());
    if classes.is_empty() {
        return Err("`classes` is empty".into());
    }
    if let Some(c) = classes.iter().find(|&&c| c >= scores.classes) {
        return Err(format!(
            "`classes` holds {c}; the model scores {} classes (0 to {})",
            scores.classes,
            scores.classes - 1
        ));
    }
    Ok((classes.into_iter().map(Target::Class).collect(), scores.node))
}

/// A circular shift of each channel by (dy, dx) pixels.
fn roll(row: &[f64], (c, h, w): (usize, usize, usize), dy: isize, dx: isize) -> Vec<f64> {
    let mut out = vec![0.0; row.len()];
    for ch in 0..c {
        for y in 0..h {
            let ty = (y as isize + dy).rem_euclid(h as isize) as usize;
            for x in 0..w {
                let tx = (x as isize + dx).rem_euclid(w as isize) as usize;
                out[ch * h * w + ty * w + tx] = row[ch * h * w + y * w + x];
            }
        }
    }
    out
}

/// Separable Gaussian blur of each channel; edges repeat the border pixel.
fn blur(row: &mut [f64], (c, h, w): (usize, usize, usize), sigma: f64) {
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f64> = (-radius..=radius).map(|i| (-((i * i) as f64) / (2.0 * sigma * sigma)).exp()).collect();
    let total: f64 = kernel.iter().sum();
    let kernel: Vec<f64> = kernel.iter().map(|k| k / total).collect();
    let mut tmp = vec![0.0; h * w];
    for ch in 0..c {
        let plane = &mut row[ch * h * w..(ch + 1) * h * w];
        for y in 0..h {
            for x in 0..w {
                tmp[y * w + x] = (-radius..=radius)
                    .map(|i| {
                        kernel[(i + radius) as usize]
                            * plane[y * w + (x as isize + i).clamp(0, w as isize - 1) as usize]
                    })
                    .sum();
            }
        }
        for y in 0..h {
            for x in 0..w {
                plane[y * w + x] = (-radius..=radius)
                    .map(|i| {
                        kernel[(i + radius) as usize] * tmp[(y as isize + i).clamp(0, h as isize - 1) as usize * w + x]
                    })
                    .sum();
            }
        }
    }
}

pub fn render(probe: &ProbeSpec, ctx: &ProbeContext) -> Result<Vec<ProbeFile>, String> {
    let shape = image_shape(ctx.model.sample_shape(), "gradient_ascent")?;
    let (c, h, w) = shape;
    let set = settings(probe, (h, w))?;
    let (targets, node) = targets(probe, ctx)?;
    let dag = ctx.model.dag();
    let width = dag.nodes[node].width().max(1);
    let scores = scores_for_model(dag).ok();
    // The seed reading each row's objective at `node`: a one-hot class score (±1 on a
    // single sigmoid logit), or 1/size over the channel's positions (its mean).
    let mut seed = vec![0.0; targets.len() * width];
    for (r, t) in targets.iter().enumerate() {
        match *t {
            Target::Class(k) => {
                let one = scores.map(|s| s.class_seed(&[k])).unwrap_or_default();
                seed[r * width..(r + 1) * width].copy_from_slice(&one);
            }
            Target::Channel { channel, .. } => {
                let per = width / dag.nodes[node].shape[0].max(1);
                seed[r * width + channel * per..r * width + (channel + 1) * per].fill(1.0 / per as f64);
            }
        }
    }
    let f = c * h * w;
    let rows = targets.len();
    let scale = ctx.scale;
    let bounds = scale.valid.map(|(lo, hi)| (scale.to_model(lo), scale.to_model(hi)));
    let clamp = |v: f64| bounds.map_or(v, |(lo, hi)| v.clamp(lo, hi));
    // The start: raw mid-range grey ± 1% of the range (images with a valid range), or
    // model-unit noise of σ 0.01 around 0 (the data mean, for normalised inputs).
    let mut rng = stream(ctx.seed, "probe");
    let mut x: Vec<f64> = (0..rows * f)
        .map(|_| match scale.valid {
            Some((lo, hi)) => clamp(scale.to_model((lo + hi) / 2.0 + 0.01 * (hi - lo) * normal(&mut rng))),
            None => 0.01 * normal(&mut rng),
        })
        .collect();
    let mut csv = String::from("target,step,score,objective,probability\n");
    let names: Vec<String> = targets
        .iter()
        .map(|t| match *t {
            Target::Class(k) => format!("class {k}"),
            Target::Channel { node, channel } => format!("{} channel {channel}", dag.nodes[node].name),
        })
        .collect();
    let mut last = Vec::new();
    for step in 0..=set.steps {
        if step > 0 {
            let shifts: Vec<(isize, isize)> = (0..rows)
                .map(|_| {
                    let j = set.jitter as i64;
                    (rng.random_range(-j..=j) as isize, rng.random_range(-j..=j) as isize)
                })
                .collect();
            let rolled: Vec<f64> =
                (0..rows).flat_map(|r| roll(&x[r * f..(r + 1) * f], shape, shifts[r].0, shifts[r].1)).collect();
            let grad = ctx.model.input_gradient(&rolled, node, &seed, ReluRule::Gradient).input;
            for r in 0..rows {
                let back = roll(&grad[r * f..(r + 1) * f], shape, -shifts[r].0, -shifts[r].1);
                let xr = &mut x[r * f..(r + 1) * f];
                let g: Vec<f64> = back.iter().zip(xr.iter()).map(|(g, v)| g - 2.0 * set.l2 * v).collect();
                let rms = (g.iter().map(|v| v * v).sum::<f64>() / f as f64).sqrt();
                for (v, gj) in xr.iter_mut().zip(&g) {
                    *v += set.lr * gj / (rms + 1e-12);
                }
                if set.blur > 0.0 && step % 4 == 0 {
                    blur(xr, shape, set.blur);
                }
                xr.iter_mut().for_each(|v| *v = clamp(*v));
            }
        }
        last = log_step(ctx, &targets, node, &seed, &x, step, set.l2, &names, &mut csv);
    }
    // Named by the layer when a channel is the target, as `probes::output_stems` expects.
    let stem = file_stem(probe.kind, probe.layer.as_deref(), ctx.split);
    let tiles: Vec<MapTile> = (0..rows)
        .map(|r| {
            let (score, p) = last[r];
            let caption = match p {
                Some(p) => format!("{}: {score:.1}, p={p:.2}", names[r].trim_start_matches("class ")),
                None => format!("{}: mean {score:.2}", names[r]),
            };
            let values = super::adversarial::grey(&x[r * f..(r + 1) * f], shape, |v| scale.to_raw(v));
            MapTile { values, height: h, width: w, caption }
        })
        .collect();
    let title = format!(
        "{}: gradient ascent, {} steps (lr {}, l2 {}, jitter {}, blur {}); caption: class: score, p",
        ctx.run_name, set.steps, set.lr, set.l2, set.jitter, set.blur
    );
    let part = pictures::Part { title, tiles, scale: Scale::Grey, units: "pixel value" };
    let png = pictures::stacked(&[part], rows.min(10))?;
    Ok(vec![ProbeFile::new(format!("{stem}.png"), png), ProbeFile::new(format!("{stem}.csv"), csv)])
}

/// Appends each row's score, objective and probability at this step to the CSV;
/// returns (score, probability) per row.
#[allow(clippy::too_many_arguments)]
fn log_step(
    ctx: &ProbeContext,
    targets: &[Target],
    node: usize,
    seed: &[f64],
    x: &[f64],
    step: usize,
    l2: f64,
    names: &[String],
    csv: &mut String,
) -> Vec<(f64, Option<f64>)> {
    let dag = ctx.model.dag();
    let width = dag.nodes[node].width().max(1);
    let values = ctx.model.values(x, &[node]).into_iter().next().unwrap_or_default();
    let f = x.len() / targets.len().max(1);
    let scores = scores_for_model(dag).ok();
    let mut out = Vec::with_capacity(targets.len());
    for (r, t) in targets.iter().enumerate() {
        let v = &values[r * width..(r + 1) * width];
        let score: f64 = v.iter().zip(&seed[r * width..(r + 1) * width]).map(|(a, b)| a * b).sum();
        let norm2: f64 = x[r * f..(r + 1) * f].iter().map(|v| v * v).sum();
        let p = match (*t, scores) {
            (Target::Class(k), Some(s)) => Some(s.probabilities(v)[k]),
            _ => None,
        };
        let shown = p.map(|p| ctx.num(p)).unwrap_or_default();
        csv.push_str(&format!("{},{step},{},{},{shown}\n", names[r], ctx.num(score), ctx.num(score - l2 * norm2)));
        out.push((score, p));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::adversarial::testkit::{class_means, csv_rows, fixture, mnist_spec, LINEAR, SMALL_CNN};
    use crate::spec::{ProbeKind, ProbeSpec, Split};

    fn column(rows: &[Vec<String>], target: &str, col: usize) -> Vec<f64> {
        rows.iter().filter(|r| r[0] == target).map(|r| r[col].parse().expect("a number")).collect()
    }

    #[test]
    fn gradient_ascent_raises_the_target_score_at_every_logged_step() {
        let plain = fixture(&mnist_spec(300, 8, LINEAR), None);
        let fix = fixture(&mnist_spec(300, 8, LINEAR), Some(&class_means(&plain, 0.05)));
        let probe =
            ProbeSpec { steps: Some(40), jitter: Some(0), blur: Some(0.0), ..ProbeSpec::of(ProbeKind::GradientAscent) };
        let files = fix.render(&probe, Split::Test).expect("the probe runs");
        let rows = csv_rows(&files, "gradient_ascent_test.csv");
        assert_eq!(rows.len(), 10 * 41, "every class, steps 0 to 40");
        for c in 0..10 {
            let scores = column(&rows, &format!("class {c}"), 2);
            for (k, pair) in scores.windows(2).enumerate() {
                assert!(pair[1] > pair[0], "class {c}: the score fell at step {}: {pair:?}", k + 1);
            }
            let objective = column(&rows, &format!("class {c}"), 3);
            assert!(objective[40] > objective[0] + 1.0, "class {c}: the objective rises: {objective:?}");
        }
    }

    /// With the default jitter and blur the path is noisy, but the end beats the start,
    /// for a class of a CNN and for a channel's mean; the same seed repeats the bytes.
    #[test]
    fn with_defaults_the_final_score_beats_the_start_and_repeats_exactly() {
        let fix = fixture(&mnist_spec(16, 8, SMALL_CNN), None);
        let probe =
            ProbeSpec { steps: Some(60), classes: Some(vec![3, 7]), ..ProbeSpec::of(ProbeKind::GradientAscent) };
        let files = fix.render(&probe, Split::Test).expect("the probe runs");
        let rows = csv_rows(&files, "gradient_ascent_test.csv");
        for target in ["class 3", "class 7"] {
            let s = column(&rows, target, 2);
            assert!(s[60] > s[0] + 1.0, "{target}: {} → {}", s[0], s[60]);
        }
        assert_eq!(files, fix.render(&probe, Split::Test).expect("again"), "same seed, same bytes");
        let channel = ProbeSpec {
            steps: Some(30),
            layer: Some("relu1".into()),
            channel: Some(2),
            ..ProbeSpec::of(ProbeKind::GradientAscent)
        };
        let rows =
            csv_rows(&fix.render(&channel, Split::Test).expect("the probe runs"), "gradient_ascent_relu1_test.csv");
        let s = column(&rows, "relu1 channel 2", 2);
        assert!(s[30] > s[0], "the channel's mean rises: {} → {}", s[0], s[30]);
        assert!(rows.iter().all(|r| r[4].is_empty()), "a channel has no probability");
    }

    #[test]
    fn bad_targets_are_errors() {
        let fix = fixture(&mnist_spec(16, 8, SMALL_CNN), None);
        let of = |f: fn(&mut ProbeSpec)| {
            let mut p = ProbeSpec::of(ProbeKind::GradientAscent);
            p.steps = Some(2);
            f(&mut p);
            p
        };
        for probe in [
            of(|p| p.classes = Some(vec![10])),
            of(|p| {
                p.layer = Some("conv9".into());
                p.channel = Some(0)
            }),
            of(|p| {
                p.layer = Some("conv1".into());
                p.channel = Some(4)
            }),
            of(|p| p.jitter = Some(28)),
            of(|p| p.lr = Some(0.0)),
        ] {
            assert!(fix.render(&probe, Split::Test).is_err(), "{probe:?}");
        }
    }
}
