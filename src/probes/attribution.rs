//! Attributions of one class score to the input: `saliency` (the gradient), `input_x_gradient`
//! (input × gradient), `deconvnet` and `guided_backprop` (the gradient with ReLUs passed
//! back by their visualisation rules). The score is read before any softmax or sigmoid
//! ([`Scores`]); images get a row of inputs over a row of maps, 2-D data a scatter with
//! an arrow per sample.

use super::activations::{chosen_samples, true_label, DEFAULT_IMAGES, MAX_DRAWN};

/// Samples drawn in a heat map of flat, non-planar samples; the CSV has every one.
const MAX_MATRIX_ROWS: usize = 64;
use super::scores::{argmax_rows, Scores};
use super::{file_stem, ProbeContext, ProbeFile};
use crate::autodiff::ReluRule;
use crate::plot::{arrow_figure, map_grid_rows, Arrow, MapGrid, MapTile, Marker, PointGroup, Scale};
use crate::spec::{ProbeKind, ProbeSpec};

/// What one attribution kind computes and how it is drawn.
struct Method {
    rule: ReluRule,
    times_input: bool,
    /// What the map shows, for titles and the colour bar.
    what: &'static str,
    /// The same in a few letters, for the row label left of the maps.
    short: &'static str,
}

fn method(kind: ProbeKind) -> Result<Method, String> {
    let m = |rule, times_input, what, short| Ok(Method { rule, times_input, what, short });
    match kind {
        ProbeKind::Saliency => m(ReluRule::Gradient, false, "gradient", "|gradient|"),
        ProbeKind::InputXGradient => m(ReluRule::Gradient, true, "input × gradient", "input × grad"),
        ProbeKind::Deconvnet => m(ReluRule::Deconvnet, false, "deconvnet signal", "deconvnet"),
        ProbeKind::GuidedBackprop => m(ReluRule::Guided, false, "guided backprop signal", "guided"),
        other => Err(format!("`{}` is not an attribution probe", other.name())),
    }
}

/// The attribution of each chosen sample: rows × features, raw and signed.
pub struct Explained {
    pub samples: Vec<usize>,
    /// The class whose score is explained, per sample.
    pub classes: Vec<usize>,
    pub predicted: Vec<usize>,
    /// The probability of the predicted class.
    pub confidence: Vec<f64>,
    pub values: Vec<f64>,
}

/// The attributions `probe` asks for, without drawing.
pub fn explain(probe: &ProbeSpec, ctx: &ProbeContext, default_count: usize) -> Result<Explained, String> {
    let how = method(probe.kind)?;
    let d = ctx.data;
    if d.classes.is_none() || d.target_cols != 1 {
        return Err("attributions explain a class score; the data has no class labels".into());
    }
    let scores = Scores::of(ctx.model.dag());
    if let Some(c) = probe.class.filter(|c| *c >= scores.classes) {
        return Err(format!("class {c} is out of range; the model scores {} classes", scores.classes));
    }
    let samples = chosen_samples(probe, d, ctx.split.name(), default_count)?;
    let rows: Vec<f64> = samples.iter().flat_map(|&i| d.input_row(i).into_owned()).collect();
    let values = ctx.model.values(&rows, &[scores.node]).swap_remove(0);
    let probs = scores.probabilities(&values);
    let predicted = argmax_rows(&probs, scores.classes);
    let confidence = predicted.iter().enumerate().map(|(r, &p)| probs[r * scores.classes + p]).collect();
    let classes: Vec<usize> = match probe.class {
        Some(c) => vec![c; samples.len()],
        None => predicted.clone(),
    };
    let seed = scores.class_seed(&classes);
    let grad = ctx.model.input_gradient(&rows, scores.node, &seed, how.rule).input;
    let values = if how.times_input { grad.iter().zip(&rows).map(|(g, x)| g * x).collect() } else { grad };
    Ok(Explained { samples, classes, predicted, confidence, values })
}

pub fn render(probe: &ProbeSpec, ctx: &ProbeContext) -> Result<Vec<ProbeFile>, String> {
    let how = method(probe.kind)?;
    let d = ctx.data;
    let shape = d.sample_shape();
    let image = shape.len() == 3;
    // Images: a few to look at; 2-D points: the whole split, drawn as one scatter.
    let e = explain(probe, ctx, if image { DEFAULT_IMAGES } else { d.len() })?;
    let f = d.features;
    let mut csv = String::from("image,true,class,feature,value\n");
    for (r, &i) in e.samples.iter().enumerate() {
        let label = true_label(d, i);
        for (j, v) in e.values[r * f..(r + 1) * f].iter().enumerate() {
            csv.push_str(&format!("{i},{label},{},{j},{}\n", e.classes[r], ctx.num(*v)));
        }
    }
    let score = match probe.class {
        Some(c) => format!("the score of class {c}"),
        None => "the predicted class's score".into(),
    };
    let title = format!("{}: {} of {score} ({})", ctx.run_name, how.what, ctx.split.name());
    let png = match super::plane(d) {
        _ if image => image_maps(ctx, &e, &how, &shape, &title)?,
        Ok(axes) => arrows(ctx, &e, &how, axes, &title)?,
        Err(_) => matrix(&e, &how, f, &title)?,
    };
    let stem = file_stem(probe.kind, None, ctx.split);
    Ok(vec![ProbeFile::new(format!("{stem}.png"), png), ProbeFile::new(format!("{stem}.csv"), csv)])
}

/// A row of the inputs (grey, first channel) over a row of maps: |gradient| as the
/// largest over channels for saliency, the signed sum over channels otherwise.
fn image_maps(
    ctx: &ProbeContext,
    e: &Explained,
    how: &Method,
    shape: &[usize],
    title: &str,
) -> Result<Vec<u8>, String> {
    let (c, h, w) = (shape[0], shape[1], shape[2]);
    let d = ctx.data;
    let drawn = e.samples.len().min(MAX_DRAWN);
    let saliency = !how.times_input && how.rule == ReluRule::Gradient;
    let mut inputs = Vec::with_capacity(drawn);
    let mut maps = Vec::with_capacity(drawn);
    for r in 0..drawn {
        let i = e.samples[r];
        let row = &e.values[r * c * h * w..(r + 1) * c * h * w];
        let per_pixel = |k: usize| (0..c).map(move |ch| row[ch * h * w + k]);
        let values: Vec<f64> = (0..h * w)
            .map(|k| if saliency { per_pixel(k).map(f64::abs).fold(0.0, f64::max) } else { per_pixel(k).sum() })
            .collect();
        // "#3: true 7" under the input and "pred 7 (0.99)" under its map: one caption
        // with both would run into the next tile.
        let caption = format!("pred {} ({:.2})", e.predicted[r], e.confidence[r]);
        let input_caption = format!("#{i}: true {}", true_label(d, i));
        inputs.push(MapTile { values: d.input_row(i)[..h * w].to_vec(), height: h, width: w, caption: input_caption });
        maps.push(MapTile { values, height: h, width: w, caption });
    }
    let tiles: Vec<MapTile> = inputs.into_iter().chain(maps).collect();
    let (scale, units) = if saliency {
        (Scale::Sequential, "|∂score/∂input|, largest over channels".to_string())
    } else if c > 1 {
        (Scale::Diverging, format!("{}, summed over channels", how.what))
    } else {
        (Scale::Diverging, how.what.to_string())
    };
    let shown =
        if drawn < e.samples.len() { format!(" ({drawn} of {} shown)", e.samples.len()) } else { String::new() };
    let labels = ["input".to_string(), how.short.to_string()];
    map_grid_rows(
        &MapGrid {
            title: &format!("{title}{shown}"),
            tiles: &tiles,
            columns: drawn,
            scale,
            units: &units,
            shared: true,
            row_labels: &labels,
        },
        &[Scale::Grey, scale],
    )
}

/// The samples in their input plane by class, each with its attribution on the two
/// plotted features as an arrow, scaled so the longest is a tenth of the wider range.
fn arrows(
    ctx: &ProbeContext,
    e: &Explained,
    how: &Method,
    (a, b): (usize, usize),
    title: &str,
) -> Result<Vec<u8>, String> {
    let d = ctx.data;
    let f = d.features;
    let point = |i: usize| (d.inputs[i * f + a], d.inputs[i * f + b]);
    let vector = |r: usize| (e.values[r * f + a], e.values[r * f + b]);
    let span = |axis: usize| {
        let v = e.samples.iter().map(|&i| d.inputs[i * f + axis]);
        v.clone().fold(f64::NEG_INFINITY, f64::max) - v.fold(f64::INFINITY, f64::min)
    };
    let longest = (0..e.samples.len()).map(|r| vector(r).0.hypot(vector(r).1)).fold(0.0, f64::max);
    let range = span(a).max(span(b));
    let k = if longest > 0.0 && range.is_finite() && range > 0.0 { 0.1 * range / longest } else { 0.0 };
    let arrows: Vec<Arrow> = (0..e.samples.len())
        .map(|r| {
            let p = point(e.samples[r]);
            let v = vector(r);
            Arrow { from: p, to: (p.0 + k * v.0, p.1 + k * v.1) }
        })
        // A non-finite attribution has no arrow to draw (the CSV still has its value).
        .filter(|a| [a.from.0, a.from.1, a.to.0, a.to.1].iter().all(|v| v.is_finite()))
        .collect();
    let classes = d.classes.unwrap_or(2);
    let groups: Vec<PointGroup> = (0..classes)
        .map(|c| PointGroup {
            name: format!("class {c}"),
            points: e.samples.iter().filter(|&&i| d.targets[i] as usize == c).map(|&i| point(i)).collect(),
            color: c,
            marker: if c % 2 == 0 { Marker::Cross } else { Marker::Circle },
            size: 3,
        })
        .collect();
    let (xa, ya) = (&d.feature_names[a], &d.feature_names[b]);
    let x_label =
        format!("{xa}   (arrows: {} on ({xa}, {ya}), longest {})", how.what, crate::plot::format_tick(longest));
    arrow_figure(title, &x_label, ya, &groups, &arrows)
}

/// Flat samples that are not points in a plane: one heat map, a row per sample and a
/// column per feature.
fn matrix(e: &Explained, how: &Method, features: usize, title: &str) -> Result<Vec<u8>, String> {
    let drawn = e.samples.len().min(MAX_MATRIX_ROWS);
    let tile = MapTile {
        values: e.values[..drawn * features].to_vec(),
        height: drawn,
        width: features,
        caption: format!("rows: samples {}, columns: features", sample_range(&e.samples[..drawn])),
    };
    let shown =
        if drawn < e.samples.len() { format!(" ({drawn} of {} shown)", e.samples.len()) } else { String::new() };
    map_grid_rows(
        &MapGrid {
            title: &format!("{title}{shown}"),
            tiles: &[tile],
            columns: 1,
            // The signed values, as the CSV has them (saliency's |max| is for images).
            scale: Scale::Diverging,
            units: how.what,
            shared: true,
            row_labels: &[],
        },
        &[],
    )
}

fn sample_range(samples: &[usize]) -> String {
    match samples {
        [] => String::new(),
        [one] => format!("#{one}"),
        [first, .., last] => format!("#{first}…#{last}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{column, data, files, model, png_size, spread, text, with_context};
    use crate::spec::{ProbeKind, ProbeSpec};

    const LINEAR: &str = "[[model.layers]]\nname = \"fc\"\nop = \"dense\"\nunits = 3\n";

    fn probe(kind: ProbeKind, class: Option<usize>) -> ProbeSpec {
        ProbeSpec { class, ..ProbeSpec::of(kind) }
    }

    /// (image, class, feature, value) rows of an attribution CSV.
    fn rows(csv: &str) -> Vec<(usize, usize, usize, f64)> {
        let col = |name| column(csv, name);
        let (i, c, f, v) = (col("image"), col("class"), col("feature"), col("value"));
        (0..v.len()).map(|r| (i[r] as usize, c[r] as usize, f[r] as usize, v[r])).collect()
    }

    #[test]
    fn saliency_of_a_linear_model_is_the_weight_row_of_the_class() {
        let w = vec![1.0, -2.0, 0.5, 3.0, -1.0, 1.0, 2.0, -0.5, 0.25, 0.75, -1.5, 1.0];
        let bias = ("fc.bias", vec![0.3, -0.2, 0.1]);
        // Flat samples of 4 features, and the same weights on 2×2 images.
        let flat = model(LINEAR, vec![4], &[("fc.weight", w.clone()), bias.clone()]);
        let image_layers = format!("[[model.layers]]\nname = \"flat\"\nop = \"flatten\"\n{LINEAR}");
        let image = model(&image_layers, vec![1, 2, 2], &[("fc.weight", w.clone()), bias]);
        // Scores (4.3, −1.7, 1.35), (0.8, 1.8, −1.4), (−2.2, −1.2, 2.35), (−0.7, 0.8, −0.15),
        // (3.3, −0.7, 1.1): predicted classes 0, 1, 2, 1, 0.
        let x = [
            [1.0, 0.0, 0.0, 1.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 1.0, -1.0, 0.0],
            [-1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let predicted = [0, 1, 2, 1, 0];
        for (m, sample) in [(&flat, vec![4]), (&image, vec![1, 2, 2])] {
            let d = data(sample, x.concat(), &[0, 0, 0, 0, 0], 3);
            for class in [None, Some(2)] {
                let made = files(&probe(ProbeKind::Saliency, class), m, &d).expect("saliency");
                let got = rows(text(&made, "saliency_test.csv"));
                assert_eq!(got.len(), 5 * 4);
                for (image, c, feature, value) in got {
                    assert_eq!(c, class.unwrap_or(predicted[image]), "the explained class of image {image}");
                    assert_eq!(value, w[c * 4 + feature], "image {image}, feature {feature}");
                }
            }
        }
    }

    #[test]
    fn input_x_gradient_of_a_bias_free_linear_model_sums_to_the_score() {
        let layers = format!("{LINEAR}bias = false\n");
        let m = model(&layers, vec![4], &[("fc.weight", spread(12, 3))]);
        let d = data(vec![4], spread(6 * 4, 4), &[0, 1, 2, 0, 1, 2], 3);
        let made = files(&probe(ProbeKind::InputXGradient, None), &m, &d).expect("input × gradient");
        let got = rows(text(&made, "input_x_gradient_test.csv"));
        with_context(&m, &d, |ctx| {
            for image in 0..6 {
                let mine: Vec<_> = got.iter().filter(|r| r.0 == image).collect();
                let class = mine[0].1;
                let total: f64 = mine.iter().map(|r| r.3).sum();
                let score = ctx.outputs[image * 3 + class];
                assert!((total - score).abs() < 1e-12, "image {image}: Σ attributions {total} vs score {score}");
            }
        });
    }

    /// hidden = relu(W1·x) with W1 = [[1, −1], [2, 1]], logits = W2·hidden with
    /// W2 = [[1, −3], [0.5, 0.5]]; class 0's score. At x = (1, 2) the hidden input is
    /// (−1, 4), at x = (2, 1) it is (1, 5); the signal reaching the hidden layer is
    /// (1, −3) for both.
    fn relu_net() -> crate::layers::Model<f64, crate::backend::CpuBackend> {
        let layers = "[[model.layers]]\nname = \"hidden\"\nop = \"dense\"\nunits = 2\nbias = false\n\
                      [[model.layers]]\nname = \"act\"\nop = \"relu\"\n\
                      [[model.layers]]\nname = \"out\"\nop = \"dense\"\nunits = 2\nbias = false\n";
        model(
            layers,
            vec![2],
            &[("hidden.weight", vec![1.0, -1.0, 2.0, 1.0]), ("out.weight", vec![1.0, -3.0, 0.5, 0.5])],
        )
    }

    #[test]
    fn the_three_relu_rules_give_their_hand_values_on_a_tiny_relu_net() {
        let m = relu_net();
        let d = data(vec![2], vec![1.0, 2.0, 2.0, 1.0], &[0, 1], 2);
        let values = |kind: ProbeKind| {
            let made = files(&probe(kind, Some(0)), &m, &d).expect("drawn");
            let stem = format!("{}_test.csv", kind.name());
            rows(text(&made, &stem)).iter().map(|r| r.3).collect::<Vec<f64>>()
        };
        // Gradient: (1, −3) masked by the hidden input's sign: (0, −3) and (1, −3), times W1.
        assert_eq!(values(ProbeKind::Saliency), [-6.0, -3.0, -5.0, -4.0]);
        // Deconvnet: relu(1, −3) = (1, 0) wherever the input was: W1ᵀ(1, 0) = (1, −1).
        assert_eq!(values(ProbeKind::Deconvnet), [1.0, -1.0, 1.0, -1.0]);
        // Guided: (1, 0) where the hidden input was positive too: (0, 0) and (1, 0).
        assert_eq!(values(ProbeKind::GuidedBackprop), [0.0, 0.0, 1.0, -1.0]);
    }

    #[test]
    fn guided_backprop_is_the_gradient_without_relus_and_differs_with_them() {
        let d = data(vec![2], spread(40 * 2, 5), &[0, 1].repeat(20), 3);
        let net = |act: &str| {
            let layers = format!(
                "[[model.layers]]\nname = \"h\"\nop = \"dense\"\nunits = 6\n\
                 [[model.layers]]\nname = \"a\"\nop = \"{act}\"\n\
                 [[model.layers]]\nname = \"o\"\nop = \"dense\"\nunits = 3\n"
            );
            model(&layers, vec![2], &[])
        };
        let values = |m: &crate::layers::Model<f64, crate::backend::CpuBackend>, kind: ProbeKind| {
            let made = files(&probe(kind, None), m, &d).expect("drawn");
            column(text(&made, &format!("{}_test.csv", kind.name())), "value")
        };
        for act in ["tanh", "sigmoid"] {
            let m = net(act);
            assert_eq!(values(&m, ProbeKind::GuidedBackprop), values(&m, ProbeKind::Saliency), "{act}");
        }
        let m = net("relu");
        let (guided, gradient) = (values(&m, ProbeKind::GuidedBackprop), values(&m, ProbeKind::Saliency));
        assert_eq!(guided.len(), gradient.len());
        assert!(guided.iter().zip(&gradient).any(|(g, t)| g != t), "relu: guided backprop differs somewhere");
    }

    #[test]
    fn pictures_are_pngs_and_the_same_twice() {
        let layers = "[[model.layers]]\nname = \"conv\"\nop = \"conv2d\"\nchannels = 2\nkernel = 3\npadding = 1\n\
                      [[model.layers]]\nname = \"act\"\nop = \"relu\"\n\
                      [[model.layers]]\nname = \"flat\"\nop = \"flatten\"\n\
                      [[model.layers]]\nname = \"out\"\nop = \"dense\"\nunits = 3\n";
        let m = model(layers, vec![1, 5, 5], &[]);
        let images = data(vec![1, 5, 5], spread(4 * 25, 6), &[0, 1, 2, 0], 3);
        let points = data(vec![2], spread(10 * 2, 7), &[0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 3);
        let flat_net = model(LINEAR, vec![2], &[]);
        for kind in [ProbeKind::Saliency, ProbeKind::InputXGradient, ProbeKind::Deconvnet, ProbeKind::GuidedBackprop] {
            for (net, d) in [(&m, &images), (&flat_net, &points)] {
                let first = files(&probe(kind, None), net, d).expect("drawn");
                assert_eq!(first, files(&probe(kind, None), net, d).expect("drawn"), "{kind:?}: the same bytes");
                let png = first.iter().find(|f| f.name.ends_with(".png")).expect("a picture");
                let (w, h) = png_size(&png.bytes);
                assert!((400..4000).contains(&w) && (200..3000).contains(&h), "{kind:?}: {w} × {h}");
            }
        }
    }

    #[test]
    fn bad_requests_are_errors() {
        let m = model(LINEAR, vec![4], &[]);
        let d = data(vec![4], spread(3 * 4, 8), &[0, 1, 2], 3);
        let with = |p: ProbeSpec| files(&p, &m, &d).expect_err("refused");
        let far = ProbeSpec { images: Some(vec![0, 3]), ..ProbeSpec::of(ProbeKind::Saliency) };
        assert!(with(far).contains("index 3 is out of range"));
        assert!(with(probe(ProbeKind::Deconvnet, Some(3))).contains("class 3 is out of range"));
        let mut regression = d.clone();
        regression.classes = None;
        let e = files(&ProbeSpec::of(ProbeKind::Saliency), &m, &regression).expect_err("refused");
        assert!(e.contains("no class labels"), "{e}");
    }
}
