//! Probes turn what a run observed into pictures and numbers: curves, parameter paths,
//! the data set, decision boundaries and the course's truth-vs-prediction plot, and a
//! look inside a trained model (filters, activations, attributions, gradient ascent,
//! occlusion, adversarial examples). They return file names and bytes; the results
//! module writes them.

mod activations;
mod adversarial;
mod ascent;
mod attribution;
mod checks;
mod filters;
#[cfg(test)]
mod fixture;
mod occlusion;
pub mod scores;

use crate::data::{Dataset, InputScale};
use crate::inspect::Inspect;
use crate::metrics::predicted_classes;
use crate::metrics::Scored;
use crate::plot::{
    line_figure, moving_average, scatter_figure, Background, LinePanel, Marker, PointGroup, Series, Style, Tile, YScale,
};
use crate::spec::{Metric, ProbeKind, ProbeSpec, Split};
use crate::train::History;

pub struct ProbeContext<'a> {
    pub run_name: &'a str,
    pub history: Option<&'a History>,
    /// Each parameter element's label (θᵢ for a linear model), in graph order.
    pub param_names: &'a [String],
    /// The value each parameter should reach, where the data generator knows it.
    pub param_truth: &'a [Option<f64>],
    pub split: Split,
    pub data: &'a Dataset,
    /// The model's outputs on `data`, rows × out_width, for the probes that
    /// [`reads_outputs`] names (empty for the others, which ask `model` what they need).
    pub outputs: &'a [f64],
    pub out_width: usize,
    /// The trained model: values and gradients at any node.
    pub model: &'a dyn Inspect,
    /// How the model's inputs relate to raw values (pixels).
    pub scale: InputScale,
    /// The run's seed: probes draw from its `probe` and `attack` streams.
    pub seed: u64,
    /// The run's dtype: CSV numbers are the shortest decimals that read back in it.
    pub dtype: crate::backend::DType,
}

/// One file a probe made.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl ProbeContext<'_> {
    /// A number for a probe's CSV (see [`crate::results::format_value`]).
    pub fn num(&self, v: f64) -> String {
        crate::results::format_value(v, self.dtype)
    }
}

impl ProbeFile {
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        ProbeFile { name: name.into(), bytes: bytes.into() }
    }
}

/// The probes drawn from the model's outputs on their whole split.
pub fn reads_outputs(kind: ProbeKind) -> bool {
    matches!(kind, ProbeKind::TruthVsPrediction | ProbeKind::Confusion | ProbeKind::Misclassified)
}

/// The split a probe reads when its spec names none: the 2-D pictures show the training
/// data; the confusion matrix and the misclassified images judge the model, as
/// confusion.csv and classes.csv do, on the test split where there is one; probes of
/// single samples look at held-out ones too.
pub fn default_split(kind: ProbeKind, has_test: bool) -> Split {
    match kind {
        ProbeKind::Curves
        | ProbeKind::Params
        | ProbeKind::Dataset
        | ProbeKind::DecisionBoundary
        | ProbeKind::TruthVsPrediction
        | ProbeKind::Filters => Split::Train,
        _ if has_test => Split::Test,
        _ => Split::Train,
    }
}

/// `<kind>[_<part>][_<split>]`: the stem of a probe's files (the split is left out for
/// train, as the first pictures were named).
pub fn file_stem(kind: ProbeKind, part: Option<&str>, split: Split) -> String {
    let mut stem = kind.name();
    if let Some(p) = part {
        stem = format!("{stem}_{p}");
    }
    if split != Split::Train && !matches!(kind, ProbeKind::Curves | ProbeKind::Params | ProbeKind::Filters) {
        stem = format!("{stem}_{}", split.name());
    }
    stem
}

/// The stems of the files a probe of this spec writes: two probes sharing a stem would
/// overwrite each other's files. `filters` names its layer (the first conv by default),
/// `activations` each of its layers (every feature map by default).
pub fn output_stems(probe: &ProbeSpec, data: &crate::data::Splits, dag: &crate::graph::Dag) -> Vec<String> {
    let split = probe.split.unwrap_or_else(|| default_split(probe.kind, data.test.is_some()));
    let first_conv =
        || dag.nodes.iter().find(|n| matches!(n.op, crate::graph::NodeOp::Conv2d { .. })).map(|n| n.name.clone());
    let layers: Vec<Option<String>> = match probe.kind {
        ProbeKind::Filters => vec![probe.layer.clone().or_else(first_conv)],
        // Named as the files name them: the node a name resolves to.
        ProbeKind::Activations => match &probe.layers {
            Some(names) => names
                .iter()
                .map(|n| Some(dag.resolve(n).map_or_else(|_| n.clone(), |i| dag.nodes[i].name.clone())))
                .collect(),
            None => activations::default_layers(dag).into_iter().map(|i| Some(dag.nodes[i].name.clone())).collect(),
        },
        _ => vec![probe.layer.clone()],
    };
    layers.iter().map(|layer| file_stem(probe.kind, layer.as_deref(), split)).collect()
}

/// Renders one probe; returns its files (PNGs, and CSVs of the numbers drawn).
pub fn render(probe: &ProbeSpec, ctx: &ProbeContext) -> Result<Vec<ProbeFile>, String> {
    let png = match probe.kind {
        ProbeKind::Curves => curves(probe, ctx)?,
        ProbeKind::Params => params(ctx)?,
        ProbeKind::Dataset => dataset(ctx)?,
        ProbeKind::DecisionBoundary => decision_boundary(probe, ctx)?,
        ProbeKind::TruthVsPrediction => truth_vs_prediction(ctx)?,
        ProbeKind::Confusion => confusion(ctx)?,
        ProbeKind::Misclassified => misclassified(ctx)?,
        ProbeKind::Filters => return filters::render(probe, ctx),
        ProbeKind::Activations => return activations::render(probe, ctx),
        ProbeKind::Saliency | ProbeKind::InputXGradient | ProbeKind::Deconvnet | ProbeKind::GuidedBackprop => {
            return attribution::render(probe, ctx)
        }
        ProbeKind::GradientAscent => return ascent::render(probe, ctx),
        ProbeKind::Occlusion => return occlusion::render(probe, ctx),
        ProbeKind::Adversarial => return adversarial::render(probe, ctx),
    };
    Ok(vec![ProbeFile::new(format!("{}.png", file_stem(probe.kind, None, ctx.split)), png)])
}

fn need_history<'a>(ctx: &'a ProbeContext) -> Result<&'a History, String> {
    ctx.history.ok_or_else(|| "this probe draws training history; the spec has no [train]".to_string())
}

fn curves(probe: &ProbeSpec, ctx: &ProbeContext) -> Result<Vec<u8>, String> {
    let h = need_history(ctx)?;
    let wanted: Vec<Metric> = probe.metrics.clone().unwrap_or_else(|| h.metrics.clone());
    let mut panels = Vec::new();
    for m in wanted {
        let Some(col) = h.metrics.iter().position(|x| *x == m) else {
            return Err(format!("curves: metric `{}` is not recorded (add it to [metrics] record)", m.name()));
        };
        let mut series = Vec::new();
        // One colour per split in every picture: batch, train, validation, test.
        for (colour, split) in [Split::Batch, Split::Train, Split::Validation, Split::Test].into_iter().enumerate() {
            let points: Vec<(f64, f64)> =
                h.records.iter().filter(|r| r.split == split).map(|r| (r.step as f64, r.values[col])).collect();
            series.extend(split_series(split, colour, points));
        }
        let y_scale = match m {
            Metric::Accuracy | Metric::Precision | Metric::Recall | Metric::F1 => YScale::Linear,
            _ => YScale::Auto,
        };
        let zoom = (y_scale == YScale::Linear).then(|| zoomed(&series)).flatten();
        panels.push(LinePanel {
            title: m.name().replace('_', " "),
            x_label: "step".into(),
            y_label: m.name().into(),
            series,
            y_scale,
        });
        if let Some((from, series)) = zoom {
            panels.push(LinePanel {
                title: format!("{} from step {from} (zoomed)", m.name().replace('_', " ")),
                x_label: "step".into(),
                y_label: m.name().into(),
                series,
                y_scale,
            });
        }
    }
    line_figure(&format!("{}: training curves", ctx.run_name), &panels)
}

/// A split's line. Many per-batch values (noisy by nature) are drawn pale, with
/// their moving average over them.
fn split_series(split: Split, colour: usize, points: Vec<(f64, f64)>) -> Vec<Series> {
    if points.is_empty() {
        return vec![];
    }
    if split != Split::Batch {
        return vec![Series::line(split.name(), colour, points)];
    }
    // The batch line is context for the evaluated splits: thin, never drawn around them.
    if points.len() < 20 {
        return vec![Series { name: split.name().into(), points, color: colour, style: Style::Plain }];
    }
    let half = (points.len() / 40).clamp(2, 25);
    let smooth = moving_average(&points, half);
    vec![
        Series { name: String::new(), points, color: colour, style: Style::Faint },
        Series {
            name: format!("batch (mean of {})", 2 * half + 1),
            points: smooth,
            color: colour,
            style: Style::Plain,
        },
    ]
}

/// The evaluated splits' lines without their first record, when the untrained
/// model's value squeezes the rest into a quarter of the axis or less (accuracy from
/// 0.1 to 0.98 hides a train/test gap of 0.01): the metric again, fitted to the
/// trained values. None when there is nothing to zoom into.
fn zoomed(series: &[Series]) -> Option<(usize, Vec<Series>)> {
    let lines: Vec<&Series> = series.iter().filter(|s| s.style == Style::Line && s.points.len() > 2).collect();
    let from = lines.iter().map(|s| s.points[1].0).fold(f64::INFINITY, f64::min);
    let range = |pts: &mut dyn Iterator<Item = f64>| {
        pts.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)))
    };
    let all = range(&mut lines.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let late = range(&mut lines.iter().flat_map(|s| s.points.iter().filter(|p| p.0 >= from).map(|p| p.1)));
    if !(late.0.is_finite() && all.1 > all.0) || (late.1 - late.0) > 0.25 * (all.1 - all.0) {
        return None;
    }
    let cut = lines
        .iter()
        .map(|s| Series::line(s.name.clone(), s.color, s.points.iter().filter(|p| p.0 >= from).copied().collect()))
        .collect();
    Some((from as usize, cut))
}

fn params(ctx: &ProbeContext) -> Result<Vec<u8>, String> {
    let h = need_history(ctx)?;
    if h.params.is_empty() {
        return Err("params: set [output] params = true to record parameter paths".into());
    }
    let mut series: Vec<Series> = ctx
        .param_names
        .iter()
        .enumerate()
        .map(|(i, name)| Series {
            name: name.clone(),
            points: h.params.iter().map(|(s, v)| (*s as f64, v[i])).collect(),
            color: i,
            // Paths that merely cross need no nesting.
            style: Style::Plain,
        })
        .collect();
    // Dashed lines at the values the data was generated with, in their parameter's colour.
    let (first, last) = (h.params[0].0 as f64, h.params[h.params.len() - 1].0 as f64);
    for (i, truth) in ctx.param_truth.iter().enumerate() {
        if let Some(t) = truth {
            let name = format!("true {}", ctx.param_names[i].split(' ').next().unwrap_or_default());
            series.push(Series {
                name: format!("{name} = {t}"),
                points: vec![(first, *t), (last, *t)],
                color: i,
                style: Style::Reference,
            });
        }
    }
    let panel = LinePanel {
        title: "parameter paths".into(),
        x_label: "step".into(),
        y_label: "value".into(),
        series,
        y_scale: YScale::Linear,
    };
    line_figure(&format!("{}: parameters over training", ctx.run_name), &[panel])
}

/// The two input columns that vary (a constant bias column is skipped).
fn plane(d: &Dataset) -> Result<(usize, usize), String> {
    let varying: Vec<usize> = (0..d.features)
        .filter(|&j| {
            let first = d.inputs.get(j).copied().unwrap_or(0.0);
            (0..d.len()).any(|i| d.inputs[i * d.features + j] != first)
        })
        .collect();
    match varying.as_slice() {
        [a, b] => Ok((*a, *b)),
        _ => Err(format!("this picture needs exactly 2 varying input features; the data has {}", varying.len())),
    }
}

fn class_labels(d: &Dataset) -> Result<Vec<usize>, String> {
    if d.classes.is_none() || d.target_cols != 1 {
        return Err("this picture needs a classification data set (class labels)".into());
    }
    Ok(d.targets.iter().map(|t| *t as usize).collect())
}

fn point(d: &Dataset, i: usize, (a, b): (usize, usize)) -> (f64, f64) {
    (d.inputs[i * d.features + a], d.inputs[i * d.features + b])
}

fn by_class(d: &Dataset, labels: &[usize], axes: (usize, usize)) -> Vec<PointGroup> {
    let k = d.classes.unwrap_or(2);
    (0..k)
        .map(|c| PointGroup {
            name: format!("class {c}"),
            points: (0..d.len()).filter(|&i| labels[i] == c).map(|i| point(d, i, axes)).collect(),
            color: c,
            marker: if c % 2 == 0 { Marker::Cross } else { Marker::Circle },
            size: 4,
        })
        .collect()
}

fn dataset(ctx: &ProbeContext) -> Result<Vec<u8>, String> {
    let d = ctx.data;
    let axes = plane(d)?;
    let labels = class_labels(d)?;
    let groups = by_class(d, &labels, axes);
    let title = format!("{}: {} data by class", ctx.run_name, ctx.split.name());
    scatter_figure(&title, &d.feature_names[axes.0], &d.feature_names[axes.1], &groups, None)
}

fn decision_boundary(probe: &ProbeSpec, ctx: &ProbeContext) -> Result<Vec<u8>, String> {
    let d = ctx.data;
    let axes = plane(d)?;
    let labels = class_labels(d)?;
    let res = probe.resolution.unwrap_or(120).clamp(8, 600);
    let pts: Vec<(f64, f64)> = (0..d.len()).map(|i| point(d, i, axes)).collect();
    let xs = pts.iter().map(|p| p.0);
    let ys = pts.iter().map(|p| p.1);
    let pad = |lo: f64, hi: f64| {
        let m = 0.08 * (hi - lo).max(1e-9);
        (lo - m, hi + m)
    };
    let x = pad(xs.clone().fold(f64::INFINITY, f64::min), xs.fold(f64::NEG_INFINITY, f64::max));
    let y = pad(ys.clone().fold(f64::INFINITY, f64::min), ys.fold(f64::NEG_INFINITY, f64::max));
    // Every other input column keeps its first value (the constant bias column).
    let template: Vec<f64> = d.input_row(0).to_vec();
    let mut grid = Vec::with_capacity(res * res * d.features);
    for j in 0..res {
        for i in 0..res {
            let mut row = template.clone();
            row[axes.0] = x.0 + (i as f64 + 0.5) * (x.1 - x.0) / res as f64;
            row[axes.1] = y.0 + (j as f64 + 0.5) * (y.1 - y.0) / res as f64;
            grid.extend(row);
        }
    }
    let outputs = ctx.model.predict(&grid);
    let classes = predicted_classes(&outputs, ctx.out_width);
    let bg = Background { x, y, nx: res, ny: res, classes };
    let groups = by_class(d, &labels, axes);
    let title = format!("{}: decision boundary", ctx.run_name);
    scatter_figure(&title, &d.feature_names[axes.0], &d.feature_names[axes.1], &groups, Some(&bg))
}

/// The four outcomes of a binary classifier, each its own Tableau colour (blue, orange,
/// red, purple: told apart by most colour-blind viewers) and marker; the errors drawn
/// larger. `pick(predicted, true)` gives the points of one outcome.
fn outcome_groups(pick: impl Fn(usize, usize) -> Vec<(f64, f64)>) -> [PointGroup; 4] {
    let group = |name: &str, (p, t): (usize, usize), color: usize, marker: Marker, size: u32| PointGroup {
        name: name.into(),
        points: pick(p, t),
        color,
        marker,
        size,
    };
    [
        group("true positives", (1, 1), 0, Marker::Circle, 4),
        group("true negatives", (0, 0), 1, Marker::Cross, 4),
        group("false positives", (1, 0), 3, Marker::Cross, 9),
        group("false negatives", (0, 1), 4, Marker::Circle, 9),
    ]
}

fn truth_vs_prediction(ctx: &ProbeContext) -> Result<Vec<u8>, String> {
    let d = ctx.data;
    let axes = plane(d)?;
    let labels = class_labels(d)?;
    if ctx.out_width != 1 {
        return Err("truth_vs_prediction needs a binary classifier with one output".into());
    }
    let predicted = predicted_classes(ctx.outputs, 1);
    let pick = |p: usize, t: usize| -> Vec<(f64, f64)> {
        (0..d.len()).filter(|&i| predicted[i] == p && labels[i] == t).map(|i| point(d, i, axes)).collect()
    };
    let groups = outcome_groups(pick);
    let title = format!("{}: truth vs prediction ({})", ctx.run_name, ctx.split.name());
    scatter_figure(&title, &d.feature_names[axes.0], &d.feature_names[axes.1], &groups, None)
}

/// A confusion picture's cells stay readable (24 pixels or more) up to about this many
/// classes; beyond it the picture would be tens of thousands of pixels a side.
const MAX_CONFUSION_CLASSES: usize = 256;

/// Tiles are drawn 3× up, 8 to a row: larger images would make a picture of gigabytes.
const MAX_TILE_SIDE: usize = 256;

/// Checks before any compute that a probe can be drawn for this spec and data; an error
/// names the probe's key it is about (`split` or `kind`).
pub fn precheck(
    probe: &ProbeSpec,
    spec: &crate::spec::Spec,
    data: &crate::data::Splits,
    dag: &crate::graph::Dag,
) -> Result<(), (&'static str, String)> {
    let split = probe.split.unwrap_or_else(|| default_split(probe.kind, data.test.is_some()));
    // Also said by `runner probe`, which keeps the run's data and refuses [data] edits:
    // the hint names the splits there are before the setting a new run would need.
    let missing = |name: &str, setting: &str| {
        let present: Vec<String> = data.present().iter().map(|s| format!("`{}`", s.name())).collect();
        let m = format!(
            "the data has no {name} split; give `split` one it has ({}), or train a run with [data] `{setting}` to hold one out",
            present.join(", ")
        );
        ("split", m)
    };
    let d = match split {
        Split::Train => &data.train,
        Split::Test => data.test.as_ref().ok_or_else(|| missing("test", "test_fraction"))?,
        Split::Validation => data.validation.as_ref().ok_or_else(|| missing("validation", "validation_fraction"))?,
        Split::Batch => return Err(("split", "pictures show `train`, `validation` or `test`, not `batch`".into())),
    };
    let on_kind = |m: String| ("kind", m);
    match probe.kind {
        ProbeKind::Curves if spec.train.is_none() => Err(on_kind("curves need a [train] table".into())),
        ProbeKind::Curves => match probe.metrics.iter().flatten().find(|m| !spec.metrics.record.contains(m)) {
            Some(m) => Err(("metrics", format!("curves draws `{}`, which [metrics] record does not list", m.name()))),
            None => Ok(()),
        },
        ProbeKind::Params if !spec.output.params => {
            Err(on_kind("set [output] params = true to record parameter paths".into()))
        }
        ProbeKind::Params => Ok(()),
        ProbeKind::Confusion => {
            class_labels(d).map_err(on_kind)?;
            match d.classes {
                Some(k) if k > MAX_CONFUSION_CLASSES => Err(on_kind(format!(
                    "confusion draws at most {MAX_CONFUSION_CLASSES} classes, the data has {k} (confusion.csv has them all)"
                ))),
                _ => Ok(()),
            }
        }
        ProbeKind::Misclassified if d.sample_shape().len() != 3 => {
            Err(on_kind("misclassified shows images [c, h, w]".into()))
        }
        ProbeKind::Misclassified if d.sample_shape()[1].max(d.sample_shape()[2]) > MAX_TILE_SIDE => {
            Err(on_kind(format!(
                "misclassified draws images of at most {MAX_TILE_SIDE} pixels a side, found {:?}",
                d.sample_shape()
            )))
        }
        ProbeKind::Misclassified => class_labels(d).map(|_| ()).map_err(on_kind),
        ProbeKind::Dataset | ProbeKind::DecisionBoundary | ProbeKind::TruthVsPrediction => {
            plane(d).map_err(on_kind)?;
            class_labels(d).map_err(on_kind)?;
            Ok(())
        }
        ProbeKind::Filters
        | ProbeKind::Activations
        | ProbeKind::Saliency
        | ProbeKind::InputXGradient
        | ProbeKind::Deconvnet
        | ProbeKind::GuidedBackprop
        | ProbeKind::GradientAscent
        | ProbeKind::Occlusion
        | ProbeKind::Adversarial => checks::precheck(probe, d, dag),
    }
}

fn confusion(ctx: &ProbeContext) -> Result<Vec<u8>, String> {
    let d = ctx.data;
    class_labels(d)?;
    let targets = d.target_matrix(ctx.out_width);
    let m = crate::metrics::confusion(&Scored {
        outputs: ctx.outputs,
        targets: &targets,
        cols: ctx.out_width,
        loss: 0.0,
        multi_label: false,
    });
    let labels: Vec<String> = (0..m.classes).map(|c| c.to_string()).collect();
    let title = format!("{}: confusion ({})", ctx.run_name, ctx.split.name());
    crate::plot::confusion_figure(&title, &labels, &m.m)
}

/// The grid's title says how many of the misclassified images it shows: "40 of 56
/// misclassified test images shown (of 1000)", or "all 12 ..." when it shows them all.
fn misclassified_title(run: &str, shown: usize, wrong: usize, total: usize, split: &str) -> String {
    if shown == wrong {
        let all = if wrong > 1 { "all " } else { "" };
        format!("{run}: {all}{wrong} misclassified {split} images shown (of {total})")
    } else {
        format!("{run}: {shown} of {wrong} misclassified {split} images shown (of {total})")
    }
}

/// Up to 40 misclassified images, in data order.
fn misclassified(ctx: &ProbeContext) -> Result<Vec<u8>, String> {
    let d = ctx.data;
    let labels = class_labels(d)?;
    let shape = d.sample_shape();
    let (h, w) = (shape[1], shape[2]);
    let predicted = predicted_classes(ctx.outputs, ctx.out_width);
    let tiles: Vec<Tile> = (0..d.len())
        .filter(|&i| predicted[i] != labels[i])
        .take(40)
        .map(|i| Tile {
            // The first channel of the image.
            pixels: d.input_row(i)[..h * w].to_vec(),
            height: h,
            width: w,
            caption: format!("true {} → {}", labels[i], predicted[i]),
        })
        .collect();
    let wrong = (0..d.len()).filter(|&i| predicted[i] != labels[i]).count();
    let title = misclassified_title(ctx.run_name, tiles.len(), wrong, d.len(), ctx.split.name());
    crate::plot::image_grid(&title, &tiles, 8)
}

#[cfg(test)]
mod picture_tests {
    use super::*;

    #[test]
    fn the_four_outcomes_have_four_colours_and_distinct_markers() {
        // Each outcome gets the points of its own (predicted, true) pair.
        let groups = outcome_groups(|p, t| vec![(p as f64, t as f64)]);
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["true positives", "true negatives", "false positives", "false negatives"]);
        let points: Vec<(f64, f64)> = groups.iter().map(|g| g.points[0]).collect();
        assert_eq!(points, [(1.0, 1.0), (0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]);
        let colours: std::collections::BTreeSet<(u8, u8, u8)> =
            groups.iter().map(|g| crate::plot::PALETTE[g.color]).collect();
        assert_eq!(colours.len(), 4, "false positives and false negatives must not share a colour");
        let looks: std::collections::BTreeSet<(bool, u32)> =
            groups.iter().map(|g| (g.marker == Marker::Circle, g.size)).collect();
        assert_eq!(looks.len(), 4);
    }

    #[test]
    fn the_misclassified_title_names_how_many_it_shows_of_how_many() {
        let t = misclassified_title("mnist", 40, 56, 1000, "test");
        assert_eq!(t, "mnist: 40 of 56 misclassified test images shown (of 1000)");
        assert_eq!(
            misclassified_title("mnist", 12, 12, 1000, "train"),
            "mnist: all 12 misclassified train images shown (of 1000)"
        );
    }
}
