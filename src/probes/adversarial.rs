//! `adversarial`: white-box attacks (FGSM, PGD) on the trained classifier at a list of
//! L∞ budgets stated in raw units (pixels in [0, 1] for MNIST, even when the model sees
//! normalised inputs), clamped to the valid range. Writes accuracy and confidence per
//! attack and epsilon (CSV), the accuracy-vs-epsilon curve, and for images a grid of
//! original / perturbation / adversarial examples at the largest epsilon.
//!
//! The attacked samples are the split's first `count`, in order; the example grid
//! attacks its `images` on their own (they need not be among them), with the same
//! epsilons, after the CSV's attacks on the `attack` stream. `adversarial.csv` columns:
//! attack, epsilon, samples, accuracy, mean_confidence (mean probability of the
//! predicted class), mean_true_probability, fooled (share of the clean-correct samples
//! now wrong), mean_linf (mean L∞ distance from the clean input, raw units),
//! clean_accuracy. Non-image data: every varying column is attacked, unclamped (a
//! constant bias column is left alone), and there is no example grid.

mod attack;
pub(super) mod pictures;
#[cfg(test)]
pub(super) mod testkit;
#[cfg(test)]
mod tests;

use super::scores::{argmax_rows, Scores};
use super::{file_stem, ProbeContext, ProbeFile};
use crate::data::Dataset;
use crate::graph::Dag;
use crate::plot::{MapTile, Scale};
use crate::spec::{Attack, ProbeSpec};
use attack::{Pgd, Setup};
use pictures::Part;

/// `epsilons` when the spec names none (raw units).
const DEFAULT_EPSILONS: [f64; 7] = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3];

/// The classifier's scores, checked to be per sample.
pub(super) fn scores_for_model(dag: &Dag) -> Result<Scores, String> {
    let s = Scores::of(dag);
    if !dag.nodes[s.node].batched {
        return Err(format!(
            "the model's scores `{}` are one value for the whole batch, not class scores per sample",
            dag.nodes[s.node].name
        ));
    }
    Ok(s)
}

/// The classifier's scores, checked to be per sample and to cover the data's classes.
pub(super) fn scores_for(dag: &Dag, d: &Dataset) -> Result<Scores, String> {
    let s = scores_for_model(dag)?;
    match d.classes {
        Some(k) if k > s.classes => Err(format!(
            "the data has {k} classes but the model's output `{}` scores {}",
            dag.nodes[s.node].name, s.classes
        )),
        _ => Ok(s),
    }
}

/// (channels, height, width) of image samples.
pub(super) fn image_shape(shape: &[usize], kind: &str) -> Result<(usize, usize, usize), String> {
    match shape {
        [c, h, w] if *c > 0 && *h > 0 && *w > 0 => Ok((*c, *h, *w)),
        _ => Err(format!("{kind} works on images [channels, height, width]; the samples are {shape:?}")),
    }
}

/// The mean over channels of one sample (rows of h·w), in raw units: what a grey tile shows.
pub(super) fn grey(row: &[f64], (c, h, w): (usize, usize, usize), to_raw: impl Fn(f64) -> f64) -> Vec<f64> {
    (0..h * w).map(|p| (0..c).map(|ch| to_raw(row[ch * h * w + p])).sum::<f64>() / c as f64).collect()
}

/// Sample indices `images` names, checked against the split (the first 8 by default).
pub(super) fn chosen_images(probe: &ProbeSpec, d: &Dataset) -> Result<Vec<usize>, String> {
    let images = probe.images.clone().unwrap_or_else(|| (0..d.len().min(8)).collect());
    if images.is_empty() {
        return Err("`images` is empty: name at least one sample".into());
    }
    match images.iter().find(|&&i| i >= d.len()) {
        Some(i) => Err(format!("`images` names sample {i}, but the split has {} samples", d.len())),
        None => Ok(images),
    }
}

/// Accuracy, mean confidence (probability of the predicted class) and mean probability
/// of the true class, with the predictions.
struct Scored {
    predicted: Vec<usize>,
    accuracy: f64,
    confidence: f64,
    true_probability: f64,
}

fn score(probs: &[f64], k: usize, labels: &[usize]) -> Scored {
    let predicted = argmax_rows(probs, k);
    let n = labels.len().max(1) as f64;
    let right = predicted.iter().zip(labels).filter(|(a, b)| a == b).count();
    let confidence = predicted.iter().enumerate().map(|(i, &c)| probs[i * k + c]).sum::<f64>() / n;
    let true_probability = labels.iter().enumerate().map(|(i, &y)| probs[i * k + y]).sum::<f64>() / n;
    Scored { predicted, accuracy: right as f64 / n, confidence, true_probability }
}

struct Settings {
    count: usize,
    epsilons: Vec<f64>,
    attacks: Vec<Attack>,
    pgd: Pgd,
}

fn settings(probe: &ProbeSpec, d: &Dataset) -> Result<Settings, String> {
    let count = probe.count.unwrap_or(d.len());
    if count == 0 || count > d.len() {
        return Err(format!("`count` is {count}; the split has {} samples (1 to {0} may be attacked)", d.len()));
    }
    let epsilons = probe.epsilons.clone().unwrap_or_else(|| DEFAULT_EPSILONS.to_vec());
    if epsilons.is_empty() {
        return Err("`epsilons` is empty".into());
    }
    if let Some(e) = epsilons.iter().find(|e| !e.is_finite() || **e < 0.0) {
        return Err(format!("`epsilons` holds {e}; budgets are finite and at least 0"));
    }
    let attacks = probe.attacks.clone().unwrap_or_else(|| vec![Attack::Fgsm, Attack::Pgd]);
    if attacks.is_empty() {
        return Err("`attacks` is empty".into());
    }
    let steps = probe.steps.unwrap_or(10);
    if steps == 0 && attacks.contains(&Attack::Pgd) {
        return Err("PGD needs `steps` of at least 1".into());
    }
    if let Some(s) = probe.step_size.filter(|s| !s.is_finite() || *s <= 0.0) {
        return Err(format!("`step_size` is {s}; it must be positive and finite"));
    }
    let pgd = Pgd { steps, step_size: probe.step_size, random_start: probe.random_start.unwrap_or(true) };
    Ok(Settings { count, epsilons, attacks, pgd })
}

/// Which features an attack may change: every pixel of an image; for other data the
/// columns that vary over the split (a constant bias column stays 1).
fn attack_mask(d: &Dataset) -> Vec<bool> {
    if d.sample_shape().len() == 3 {
        return vec![true; d.features];
    }
    (0..d.features)
        .map(|j| {
            let first = d.inputs.get(j).copied().unwrap_or(0.0);
            (0..d.len()).any(|i| d.inputs[i * d.features + j] != first)
        })
        .collect()
}

fn attack_name(a: Attack) -> &'static str {
    match a {
        Attack::Fgsm => "fgsm",
        Attack::Pgd => "pgd",
    }
}

pub fn render(probe: &ProbeSpec, ctx: &ProbeContext) -> Result<Vec<ProbeFile>, String> {
    let d = ctx.data;
    let labels = super::class_labels(d)?;
    let scores = scores_for(ctx.model.dag(), d)?;
    if let Some(y) = labels.iter().find(|&&y| y >= scores.classes) {
        return Err(format!("a sample has label {y}; the model scores {} classes", scores.classes));
    }
    let set = settings(probe, d)?;
    let is_image = d.sample_shape().len() == 3;
    let images = if is_image { chosen_images(probe, d)? } else { Vec::new() };
    let setup = Setup { model: ctx.model, scores, scale: ctx.scale, mask: attack_mask(d) };
    let f = d.features;
    let raw: Vec<f64> = d.inputs.slice(0..set.count * f).iter().map(|v| ctx.scale.to_raw(*v)).collect();
    let labels = &labels[..set.count];
    let k = setup.scores.classes;
    let clean = score(&setup.probabilities(&raw), k, labels);
    // The samples the model gets right on clean inputs (`fooled` counts among them).
    let right: Vec<usize> = (0..labels.len()).filter(|&i| clean.predicted[i] == labels[i]).collect();
    let mut rng = crate::rng::stream(ctx.seed, "attack");
    let mut csv = String::from(
        "attack,epsilon,samples,accuracy,mean_confidence,mean_true_probability,fooled,mean_linf,clean_accuracy\n",
    );
    let mut curves = Vec::new();
    for &which in &set.attacks {
        let outcomes = setup.sweep(which, &raw, labels, &set.epsilons, set.pgd, &mut rng);
        let mut points = Vec::new();
        for (&eps, o) in set.epsilons.iter().zip(&outcomes) {
            let s = score(&o.probs, k, labels);
            let fooled =
                right.iter().filter(|&&i| s.predicted[i] != labels[i]).count() as f64 / right.len().max(1) as f64;
            let linf = (0..labels.len())
                .map(|i| (0..f).map(|j| (o.adv[i * f + j] - raw[i * f + j]).abs()).fold(0.0, f64::max))
                .sum::<f64>()
                / labels.len() as f64;
            csv.push_str(&format!(
                "{},{eps},{},{},{},{},{},{},{}\n",
                attack_name(which),
                labels.len(),
                ctx.num(s.accuracy),
                ctx.num(s.confidence),
                ctx.num(s.true_probability),
                ctx.num(fooled),
                ctx.num(linf),
                ctx.num(clean.accuracy)
            ));
            points.push((eps, s.accuracy));
        }
        curves.push((attack_name(which).to_uppercase(), points));
    }
    let stem = file_stem(probe.kind, None, ctx.split);
    let units = if ctx.scale.valid.is_some() { "pixel units" } else { "input units" };
    let title = format!("{}: accuracy under attack ({} {} samples)", ctx.run_name, set.count, ctx.split.name());
    let curve = pictures::accuracy_curve(&title, &format!("epsilon ({units})"), &curves)?;
    let mut files = vec![ProbeFile::new(format!("{stem}.csv"), csv), ProbeFile::new(format!("{stem}.png"), curve)];
    if is_image {
        let grid = examples(ctx, &setup, &set, &images, &mut rng)?;
        files.push(ProbeFile::new(format!("{}.png", file_stem(probe.kind, Some("examples"), ctx.split)), grid));
    }
    Ok(files)
}

/// Original / perturbation / adversarial tiles for `images` at the largest epsilon,
/// one pair of perturbation and adversarial rows per attack.
fn examples(
    ctx: &ProbeContext,
    setup: &Setup,
    set: &Settings,
    images: &[usize],
    rng: &mut crate::rng::StreamRng,
) -> Result<Vec<u8>, String> {
    let d = ctx.data;
    let shape = image_shape(&d.sample_shape(), "adversarial examples")?;
    let (_, h, w) = shape;
    let f = d.features;
    let eps = set.epsilons.iter().copied().fold(0.0, f64::max);
    let labels: Vec<usize> = images.iter().map(|&i| d.targets[i] as usize).collect();
    let raw: Vec<f64> =
        images.iter().flat_map(|&i| d.input_row(i).iter().map(|v| ctx.scale.to_raw(*v)).collect::<Vec<_>>()).collect();
    let k = setup.scores.classes;
    let tile = |values: Vec<f64>, caption: String| MapTile { values, height: h, width: w, caption };
    let p = setup.probabilities(&raw);
    let originals = (0..images.len())
        .map(|r| {
            tile(grey(&raw[r * f..(r + 1) * f], shape, |v| v), format!("{}: p={:.2}", labels[r], p[r * k + labels[r]]))
        })
        .collect();
    let mut parts = vec![Part {
        title: format!("{}: originals ({}), caption: true label, p(true)", ctx.run_name, ctx.split.name()),
        tiles: originals,
        scale: Scale::Grey,
        units: "pixel value",
    }];
    for &which in &set.attacks {
        // The whole list of epsilons, so PGD's example is found as its row of the CSV was.
        let outcomes = setup.sweep(which, &raw, &labels, &set.epsilons, set.pgd, rng);
        let Some(o) = set.epsilons.iter().zip(&outcomes).filter(|(e, _)| **e == eps).map(|(_, o)| o).next_back() else {
            continue;
        };
        let (adv, pa) = (&o.adv, &o.probs);
        let predicted = argmax_rows(pa, k);
        let name = attack_name(which).to_uppercase();
        let change: Vec<MapTile> = (0..images.len())
            .map(|r| {
                let diff: Vec<f64> = (0..f).map(|j| adv[r * f + j] - raw[r * f + j]).collect();
                let linf = diff.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                tile(grey(&diff, shape, |v| v), format!("max |Δ| {linf:.3}"))
            })
            .collect();
        let fooled: Vec<MapTile> = (0..images.len())
            .map(|r| {
                let mark = if predicted[r] == labels[r] { "" } else { " ✗" };
                let caption = format!("→ {}: p={:.2}{mark}", predicted[r], pa[r * k + predicted[r]]);
                tile(grey(&adv[r * f..(r + 1) * f], shape, |v| v), caption)
            })
            .collect();
        parts.push(Part {
            title: match which {
                Attack::Fgsm => format!("FGSM perturbation at epsilon {eps}"),
                Attack::Pgd => format!("PGD perturbation within epsilon {eps} (the first input that fooled the model)"),
            },
            tiles: change,
            scale: Scale::Diverging,
            units: "change in pixel value",
        });
        parts.push(Part {
            title: format!("{name} adversarial, caption: predicted label, its probability"),
            tiles: fooled,
            scale: Scale::Grey,
            units: "pixel value",
        });
    }
    pictures::stacked(&parts, images.len().min(8))
}
