//! Checks that need the spec, the data and the DAG together, before any compute: the
//! loss and metrics fit the output and the targets, the splits named exist, the nodes
//! named exist, the probes can be drawn, and the step count fits in a number. Each
//! error is reported at its key.

use super::{Dag, NodeOp};
use crate::data::Splits;
use crate::error::Result;
use crate::spec::{error_at, LoadedSpec, LossKind, Metric, Solver, Split};

pub fn check_fit(loaded: &LoadedSpec, data: &Splits, dag: &Dag) -> Result<()> {
    check_fit_for(loaded, data, dag, None)
}

/// [`check_fit`], with only the probes of `probe_kinds` checked when given: `runner
/// probe --probe KIND` draws those alone, and another probe's setting that no longer
/// fits must not block them.
pub fn check_fit_for(
    loaded: &LoadedSpec,
    data: &Splits,
    dag: &Dag,
    probe_kinds: Option<&[crate::spec::ProbeKind]>,
) -> Result<()> {
    let (spec, source) = (&loaded.spec, &loaded.source);
    let at = |path: &str, m: String| error_at(source, path, m);
    check_loss(loaded, data, dag)?;
    let classes = is_classification(data);
    for (i, m) in spec.metrics.record.iter().enumerate() {
        let per_class = matches!(m, Metric::Accuracy | Metric::Precision | Metric::Recall | Metric::F1);
        if per_class && !classes {
            return Err(at(
                &format!("metrics.record.{i}"),
                format!(
                    "[metrics] `{}` counts classes, but the targets are not class labels (set `classes` in [data] for a classification data set)",
                    m.name()
                ),
            ));
        }
    }
    for (j, split) in spec.metrics.splits.iter().flatten().enumerate() {
        let path = format!("metrics.splits.{j}");
        if *split == Split::Batch {
            return Err(at(&path, "[metrics] `splits`: the `batch` rows are recorded by `batch_every`".into()));
        }
        if data.get(*split).is_none() {
            let how = if *split == Split::Test { "test_fraction" } else { "validation_fraction" };
            let present: Vec<&str> = data.present().iter().map(|s| s.name()).collect();
            return Err(at(
                &path,
                format!(
                    "[metrics] `splits` names `{}`, which the data does not have (it has {}; set `{how}` in [data])",
                    split.name(),
                    present.join(", ")
                ),
            ));
        }
    }
    let output = &spec.output;
    for (key, names) in [("nodes", &output.nodes), ("gradients", &output.gradients)] {
        for (j, name) in names.iter().enumerate() {
            dag.resolve(name).map_err(|m| at(&format!("output.{key}.{j}"), format!("[output] {key}: {m}")))?;
        }
    }
    for (i, h) in spec.hooks.iter().enumerate() {
        // Hooks read the training steps: a run without them has nothing to watch.
        let trains_by_steps = spec.train.as_ref().is_some_and(|t| t.get_ref().solver != Some(Solver::Lstsq));
        if !trains_by_steps {
            return Err(at(
                &format!("hooks.{i}"),
                "[[hooks]] watch training steps: they need a [train] table that trains by steps (not `solver = \"lstsq\"`)"
                    .into(),
            ));
        }
        // The input node may be watched too (its mean and std show what the layers are fed).
        for (j, name) in h.get_ref().nodes.iter().flatten().enumerate() {
            dag.resolve(name).map_err(|m| at(&format!("hooks.{i}.nodes.{j}"), format!("[[hooks]] nodes: {m}")))?;
        }
        if let Some((j, m)) = super::hook_stats::unrecordable(h.get_ref(), dag) {
            return Err(at(&format!("hooks.{i}.stats.{j}"), m));
        }
    }
    let mut stems: Vec<Vec<String>> = Vec::new();
    let drawn = |p: &crate::spec::ProbeSpec| probe_kinds.is_none_or(|k| k.contains(&p.kind));
    for (i, p) in spec.probes.iter().enumerate().filter(|(_, p)| drawn(p.get_ref())) {
        let mine = crate::probes::output_stems(p.get_ref(), data, dag);
        let clash =
            stems.iter().enumerate().find_map(|(j, theirs)| mine.iter().find(|s| theirs.contains(s)).map(|s| (j, s)));
        if let Some((j, stem)) = clash {
            let other_layer = match p.get_ref().kind {
                _ if p.get_ref().layer.is_some() => " or `layer`",
                crate::spec::ProbeKind::Activations => " or `layers`",
                _ => "",
            };
            return Err(at(
                &format!("probes.{i}.kind"),
                format!(
                    "this probe would write the same files as probe {j} (`{stem}.*`, one overwriting the other); give one of them another `split`{other_layer}"
                ),
            ));
        }
        stems.push(mine);
        let width = dag.nodes.get(dag.output).map(|n| n.width()).unwrap_or(0);
        if p.get_ref().kind == crate::spec::ProbeKind::TruthVsPrediction && width != 1 {
            return Err(at(
                &format!("probes.{i}.kind"),
                format!(
                    "probe `truth_vs_prediction` needs a binary classifier with one output; the output has {width}"
                ),
            ));
        }
        crate::probes::precheck(p.get_ref(), spec, data, dag).map_err(|(key, m)| {
            let kind = toml::Value::try_from(p.get_ref().kind).ok();
            let kind = kind.as_ref().and_then(|k| k.as_str()).unwrap_or("?");
            at(&format!("probes.{i}.{key}"), format!("probe `{kind}`: {m}"))
        })?;
    }
    Ok(())
}

/// Class ids, or 0/1 targets a classifier can be scored against.
fn is_classification(data: &Splits) -> bool {
    data.train.classes.is_some() || data.train.targets.iter().all(|t| *t == 0.0 || *t == 1.0)
}

/// The loss compares the output with the targets: their widths and kinds must agree, and
/// the number of steps must be a number.
fn check_loss(loaded: &LoadedSpec, data: &Splits, dag: &Dag) -> Result<()> {
    let Some(train) = &loaded.spec.train else {
        return Ok(());
    };
    let t = train.get_ref();
    let fail = |path: &str, m: String| -> Result<()> { Err(error_at(&loaded.source, path, m)) };
    let Some(out) = dag.nodes.get(dag.output) else { return fail("model", "[model] has no output".into()) };
    if data.train.target_cols == 0 {
        return fail("train.loss", "[train] needs targets, and the data set has none".into());
    }
    let output_key = if loaded.spec.model.output.is_some() { "model.output" } else { "train.loss" };
    if !out.batched || out.shape.len() != 1 {
        return fail(
            output_key,
            format!("[train] the output `{}` must be one row per sample to compare with targets", out.name),
        );
    }
    let width = out.width();
    let got = data.train.target_matrix(width).len() / data.train.len().max(1);
    if got != width {
        return fail(
            output_key,
            format!(
                "[train] the output `{}` has {width} value(s) per sample but the targets have {got}{}",
                out.name,
                data.train.classes.map(|k| format!(" ({k} classes)")).unwrap_or_default()
            ),
        );
    }
    if t.solver == Some(Solver::Lstsq) {
        if !(dag.nodes.len() == 2 && matches!(dag.nodes[1].op, NodeOp::Dense { .. })) {
            return fail("train.solver", "[train] solver = \"lstsq\" fits a model that is a single dense layer".into());
        }
        return Ok(());
    }
    match t.loss {
        Some(LossKind::CrossEntropy) if width < 2 => {
            return fail(
                "train.loss",
                format!(
                    "[train] `cross_entropy` needs one output per class (at least 2); `{}` has 1 (for two classes use `bce` after a sigmoid)",
                    out.name
                ),
            )
        }
        Some(LossKind::Bce) if out.op == NodeOp::Softmax => {
            return fail(
                "train.loss",
                format!("[train] `bce` after the softmax `{}`: use `cross_entropy` for one-of-k classes", out.name),
            )
        }
        Some(LossKind::Bce | LossKind::CrossEntropy) => {
            let targets = data.train.target_matrix(width);
            if let Some(i) = targets.iter().position(|v| !(0.0..=1.0).contains(v)) {
                let loss = if t.loss == Some(LossKind::Bce) { "bce" } else { "cross_entropy" };
                return fail(
                    "train.loss",
                    format!(
                        "[train] `{loss}` needs targets in [0, 1]; target {} of the training data is {}",
                        i / width,
                        crate::spec::show(targets[i])
                    ),
                );
            }
            // bce takes logarithms of the outputs: anything but a sigmoid can leave (0, 1)
            // and turn the loss into NaN a few steps in, a "divergence" with no place.
            if t.loss == Some(LossKind::Bce) && out.op != NodeOp::Map(crate::backend::Map::Sigmoid) {
                return fail(
                    output_key,
                    format!(
                        "[train] `bce` needs probabilities: end the model with a sigmoid (`{}` is not one)",
                        out.name
                    ),
                );
            }
        }
        _ => {}
    }
    if let Some(epochs) = t.epochs {
        let batch = match t.batch_size {
            crate::spec::BatchSize::All => data.train.len(),
            crate::spec::BatchSize::Size(k) => k.min(data.train.len()),
        };
        let per_epoch = data.train.len().div_ceil(batch.max(1));
        if epochs.checked_mul(per_epoch).is_none_or(|steps| steps > MAX_STEPS) {
            return fail(
                "train.epochs",
                format!("[train] {epochs} epochs of {per_epoch} batches is more than {MAX_STEPS} steps"),
            );
        }
    }
    if let Some(iterations) = t.iterations {
        if iterations > MAX_STEPS {
            return fail(
                "train.iterations",
                format!("[train] `iterations` is at most {MAX_STEPS}, found {iterations}"),
            );
        }
    }
    // Counted as training counts them, so the two cannot disagree on what a step is.
    let (_, per_epoch, total) = crate::train::planned_steps(t, data.train.len());
    if t.warmup > total {
        let run = match t.epochs {
            Some(epochs) if t.iterations.is_none() => format!("{epochs} epoch(s) of {per_epoch} batches"),
            _ => "`iterations`".to_string(),
        };
        return fail(
            "train.warmup",
            format!(
                "[train] `warmup` is {} steps but the run takes {total} ({run}): the learning rate would never \
                 reach `lr`; make `warmup` at most {total}",
                t.warmup
            ),
        );
    }
    no_parameters(loaded, dag)
}

/// Gradient descent on a model that learns nothing (only activations, pooling, reshapes)
/// would "train" for every step and change nothing. Without [train], or with the
/// closed-form solver (which needs a dense layer anyway), such a model is fine.
fn no_parameters(loaded: &LoadedSpec, dag: &Dag) -> Result<()> {
    if dag.nodes.iter().flat_map(|n| &n.params).any(|p| p.trainable) {
        return Ok(());
    }
    const SHOWN: usize = 6;
    let layers: Vec<String> =
        dag.nodes.iter().skip(1).take(SHOWN).map(|n| format!("`{}` ({})", n.name, n.op_name)).collect();
    let more = dag.nodes.len().saturating_sub(1 + SHOWN);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    Err(error_at(
        &loaded.source,
        "model",
        format!(
            "[model] has no trainable parameters (its layers {}{more} learn nothing), so [train] would change \
             nothing; add a layer with weights (e.g. `dense`), or drop [train] to only evaluate the model",
            layers.join(", ")
        ),
    ))
}

/// The most optimizer steps a run may take: 2^40, about ten years at 3,000 steps a second.
pub const MAX_STEPS: usize = 1 << 40;
