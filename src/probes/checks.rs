//! Checks before any compute for the probes that look inside a model: the layers they
//! name exist and have the shape the probe draws, the images and classes they pick
//! exist, and the data and model are of the kind the probe reads (images, a
//! classifier). Ranges that need neither graph nor data are checked in
//! `spec::validate_probe`.

use super::adversarial::{scores_for, scores_for_model};
use super::ascent::DEFAULT_JITTER;
use super::occlusion::{too_many_positions, DEFAULT_PATCH, DEFAULT_STRIDE};
use super::scores::Scores;
use crate::data::Dataset;
use crate::graph::{Dag, NodeOp};
use crate::spec::{ProbeKind, ProbeSpec, MAX_ASCENT_TARGETS};

type Checked = Result<(), (&'static str, String)>;

/// Whether `probe` can run on `d` with this graph; an error names the probe's key.
pub fn precheck(probe: &ProbeSpec, d: &Dataset, dag: &Dag) -> Checked {
    match probe.kind {
        ProbeKind::Filters => filters(probe, dag),
        ProbeKind::Activations => {
            images(d)?;
            indices(probe, d)?;
            activation_layers(probe, dag)
        }
        ProbeKind::Saliency | ProbeKind::InputXGradient | ProbeKind::Deconvnet | ProbeKind::GuidedBackprop => {
            classifier(d)?;
            scores_for_model(dag).map_err(on_kind)?;
            indices(probe, d)?;
            class_in_range("class", probe.class, dag)
        }
        ProbeKind::GradientAscent => {
            images(d)?;
            let shape = d.sample_shape();
            let jitter = probe.jitter.unwrap_or(DEFAULT_JITTER);
            if jitter >= shape[1].min(shape[2]) {
                let (h, w) = (shape[1], shape[2]);
                let most = h.min(w) - 1;
                return Err((
                    "jitter",
                    format!("`jitter` is {}; the images are {h} × {w}, so at most {most}", pixels(jitter)),
                ));
            }
            match (&probe.layer, probe.channel) {
                (Some(layer), Some(channel)) => channel_of(layer, channel, dag),
                _ => {
                    classifier(d)?;
                    let classes = scores_for_model(dag).map_err(on_kind)?.classes;
                    for &c in probe.classes.iter().flatten() {
                        class_in_range("classes", Some(c), dag)?;
                    }
                    if probe.classes.is_none() && classes > MAX_ASCENT_TARGETS {
                        return Err(("kind", format!(
                            "it makes one image per class, and the model scores {classes} classes; list at most {MAX_ASCENT_TARGETS} in `classes`"
                        )));
                    }
                    Ok(())
                }
            }
        }
        ProbeKind::Occlusion => {
            images(d)?;
            classifier(d)?;
            scores_for(dag, d).map_err(on_kind)?;
            indices(probe, d)?;
            let shape = d.sample_shape();
            let side = shape[1].min(shape[2]);
            if let Some(patch) = probe.patch.filter(|&p| p > side) {
                return Err(("patch", format!("`patch` is {}, larger than the {side}-pixel images", pixels(patch))));
            }
            // The default patch (6) on a smaller image.
            if probe.patch.is_none() && side < DEFAULT_PATCH {
                return Err((
                    "patch",
                    format!("the images are {} a side; set a `patch` of at most {side}", pixels(side)),
                ));
            }
            if let Some(stride) = probe.stride.filter(|&s| s > side) {
                return Err(("stride", format!("`stride` is {}, larger than the {side}-pixel images", pixels(stride))));
            }
            let patch = probe.patch.unwrap_or(DEFAULT_PATCH);
            let stride = probe.stride.unwrap_or(DEFAULT_STRIDE);
            too_many_positions((shape[0], shape[1], shape[2]), patch, stride).map_err(|m| ("stride", m))
        }
        ProbeKind::Adversarial => {
            classifier(d)?;
            scores_for(dag, d).map_err(on_kind)?;
            indices(probe, d)?;
            match probe.count {
                Some(n) if n > d.len() => {
                    Err(("count", format!("`count` is {n}, but the split has {} samples", d.len())))
                }
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// A model-and-data mismatch, about the probe as a whole.
fn on_kind(m: String) -> (&'static str, String) {
    ("kind", m)
}

/// The probe draws images: samples must be [channels, height, width].
fn images(d: &Dataset) -> Checked {
    let shape = d.sample_shape();
    if shape.len() == 3 && shape.iter().all(|&s| s > 0) {
        return Ok(());
    }
    Err((
        "kind",
        format!(
            "it looks at images [channels, height, width]; this data's samples are {shape:?} (not an image set such as mnist)"
        ),
    ))
}

/// One column of class labels (`classes` in [data]), as the probes read them.
fn classifier(d: &Dataset) -> Checked {
    if d.target_cols == 1 && d.classes.is_some() {
        return Ok(());
    }
    Err((
        "kind",
        "this probe reads a classifier's class scores; the targets are not class labels (set `classes` in [data])"
            .into(),
    ))
}

/// Every index of `images` is a sample of the split.
fn indices(probe: &ProbeSpec, d: &Dataset) -> Checked {
    let n = d.len();
    match probe.images.iter().flatten().find(|&&i| i >= n) {
        Some(i) => Err((
            "images",
            format!("`images` picks sample {i}, but the split has {n} samples (0 to {})", n.saturating_sub(1)),
        )),
        None => Ok(()),
    }
}

fn class_in_range(key: &'static str, class: Option<usize>, dag: &Dag) -> Checked {
    let classes = Scores::of(dag).classes;
    match class {
        Some(c) if c >= classes => {
            Err((key, format!("`{key}` names class {c}, but the model has {classes} classes (0 to {})", classes - 1)))
        }
        _ => Ok(()),
    }
}

fn find(name: &str, dag: &Dag) -> Result<usize, String> {
    dag.resolve(name)
}

fn filters(probe: &ProbeSpec, dag: &Dag) -> Checked {
    let Some(layer) = &probe.layer else {
        return match dag.nodes.iter().any(|n| matches!(n.op, NodeOp::Conv2d { .. })) {
            true => Ok(()),
            false => Err(("kind", "it draws a conv2d layer's kernels, and the model has no conv2d layer".into())),
        };
    };
    let i = find(layer, dag).map_err(|m| ("layer", m))?;
    let node = &dag.nodes[i];
    if matches!(node.op, NodeOp::Conv2d { .. }) {
        return Ok(());
    }
    let convs: Vec<&str> =
        dag.nodes.iter().filter(|n| matches!(n.op, NodeOp::Conv2d { .. })).map(|n| n.name.as_str()).collect();
    let which = match convs.as_slice() {
        [] => "the model has none".to_string(),
        names => format!("the model's are {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")),
    };
    let article = if node.op_name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    Err((
        "layer",
        format!("`{layer}` is {article} {} layer; filters are drawn of conv2d layers ({which})", node.op_name),
    ))
}

/// "1 pixel", "3 pixels".
fn pixels(n: usize) -> String {
    if n == 1 {
        "1 pixel".into()
    } else {
        format!("{n} pixels")
    }
}

/// A feature map: one value per channel and pixel of each sample.
fn is_map(dag: &Dag, i: usize) -> bool {
    let n = &dag.nodes[i];
    n.batched && n.shape.len() == 3
}

fn activation_layers(probe: &ProbeSpec, dag: &Dag) -> Checked {
    let Some(layers) = &probe.layers else {
        let any = (0..dag.nodes.len()).any(|i| {
            let op = &dag.nodes[i].op;
            let drawn = matches!(
                op,
                NodeOp::Conv2d { .. }
                    | NodeOp::MaxPool2d { .. }
                    | NodeOp::AvgPool2d { .. }
                    | NodeOp::Map(crate::backend::Map::Relu)
            );
            drawn && is_map(dag, i)
        });
        return match any {
            true => Ok(()),
            false => Err(("kind", "it draws conv, ReLU and pool feature maps, and the model has none".into())),
        };
    };
    for name in layers {
        let i = find(name, dag).map_err(|m| ("layers", m))?;
        if !is_map(dag, i) {
            let n = &dag.nodes[i];
            return Err((
                "layers",
                format!("`{name}` holds {:?} per sample, not feature maps [channels, height, width]", n.shape),
            ));
        }
    }
    Ok(())
}

/// `gradient_ascent` on a channel: the layer exists, is per sample, and has the channel.
fn channel_of(layer: &str, channel: usize, dag: &Dag) -> Checked {
    let i = find(layer, dag).map_err(|m| ("layer", m))?;
    let node = &dag.nodes[i];
    if !node.batched || node.shape.is_empty() || i == 0 {
        return Err(("layer", format!("`{layer}` has no channels to maximise")));
    }
    let channels = node.shape[0];
    if channel >= channels {
        let word = channel_word(node);
        return Err((
            "channel",
            format!("`channel` is {channel}, but `{layer}` has {channels} {word} (0 to {})", channels - 1),
        ));
    }
    Ok(())
}

/// What the first axis of a node's value is called where a spec sets its size: a dense
/// layer has `units`, another flat node features, an image node channels.
pub(crate) fn channel_word(node: &crate::graph::Node) -> &'static str {
    match node.op {
        crate::graph::NodeOp::Dense { .. } => "units",
        _ if node.shape.len() == 1 => "features",
        _ => "channels",
    }
}
