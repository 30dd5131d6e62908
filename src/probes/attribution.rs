//! Attributions of one class score to the input: `saliency` (the gradient), `input_x_gradient`
//! (input × gradient), `deconvnet` and `guided_backprop` (the gradient with ReLUs passed
//! back by their visualisation rules). The score is read before any softmax or sigmoid
//! ([`Scores`]); images get a row of inputs over a row of maps, 2-D data a scatter with
//! an arrow per sample.

use super::activations::{chosen_samples, true_label, DEFAULT_IMAGES, MAX_DRAWN};
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
}

fn method(kind: ProbeKind) -> Result<Method, String> {
    let m = |rule, times_input, what| Ok(Method { rule, times_input, what });
    match kind {
        ProbeKind::Saliency => m(ReluRule::Gradient, false, "gradient"),
        ProbeKind::InputXGradient => m(ReluRule::Gradient, true, "input × gradient"),
        ProbeKind::Deconvnet => m(ReluRule::Deconvnet, false, "deconvnet signal"),
        ProbeKind::GuidedBackprop => m(ReluRule::Guided, false, "guided backprop signal"),
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
    let rows: Vec<f64> = samples.iter().flat_map(|&i| d.input_row(i).iter().copied()).collect();
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
            csv.push_str(&format!("{i},{label},{},{j},{v}\n", e.classes[r]));
        }
    }
    let score = match probe.class {
        Some(c) => format!("the score of class {c}"),
        None => "the predicted class's score".into(),
    };
    let title = format!("{}: {} of {score} ({})", ctx.run_name, how.what, ctx.split.name());
    let png = if image { image_maps(ctx, &e, &how, &shape, &title)? } else { arrows(ctx, &e, &how, &title)? };
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
        let caption = format!("true {}, pred {} ({:.2})", true_label(d, i), e.predicted[r], e.confidence[r]);
        inputs.push(MapTile {
            values: d.input_row(i)[..h * w].to_vec(),
            height: h,
            width: w,
            caption: format!("#{i}"),
        });
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
    let labels = ["input".to_string(), how.what.to_string()];
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
fn arrows(ctx: &ProbeContext, e: &Explained, how: &Method, title: &str) -> Result<Vec<u8>, String> {
    let d = ctx.data;
    let (a, b) = super::plane(d)?;
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
