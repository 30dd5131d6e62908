//! The training loop: forward ▸ loss ▸ backward ▸ step, with metrics recorded at the
//! requested cadence. Step s's record describes the parameters after s updates, so
//! step 0 is the initial model, as in the notes' logs.

mod evaluate;
mod loss_plan;

pub use evaluate::{evaluate, input_gradients, node_values, Evaluation};
pub use loss_plan::LossPlan;

use crate::autodiff::Tape;
use crate::backend::{Backend, Element, SgdStep};
use crate::data::{Dataset, Splits};
use crate::layers::Model;
use crate::metrics::{score, Scored};
use crate::optim::Sgd;
use crate::rng;
use crate::spec::{BatchSize, Metric, Split, TrainSpec};

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub step: usize,
    pub epoch: usize,
    pub split: Split,
    pub values: Vec<f64>,
}

/// Everything the loop observed, for CSVs and pictures.
#[derive(Debug, Default)]
pub struct History {
    pub metrics: Vec<Metric>,
    pub records: Vec<Record>,
    /// (step, every parameter value flattened in graph order), when asked for.
    pub params: Vec<(usize, Vec<f64>)>,
    pub steps: usize,
    /// Set when the loss stopped being finite: (step, value).
    pub diverged: Option<(usize, f64)>,
    /// The target matrix of each recorded split, built once.
    targets: Vec<(Split, Vec<f64>)>,
}

impl History {
    fn new<T: Element, B: Backend<T>>(
        model: &Model<T, B>,
        data: &Splits,
        plan: &Recording,
    ) -> Self {
        let out_width = model.dag.nodes[model.dag.output].width();
        let targets = plan
            .splits
            .iter()
            .filter_map(|&s| split_data(data, s).map(|d| (s, d.target_matrix(out_width))))
            .collect();
        History {
            metrics: plan.metrics.to_vec(),
            targets,
            ..Default::default()
        }
    }
}

/// What to record, and how often.
pub struct Recording<'a> {
    pub metrics: &'a [Metric],
    pub splits: &'a [Split],
    pub every: usize,
    pub params: bool,
}

pub struct Plan<'a> {
    pub train: &'a TrainSpec,
    pub recording: Recording<'a>,
    pub seed: u64,
}

pub fn flat_params<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>) -> Vec<f64> {
    model
        .params
        .iter()
        .flatten()
        .flat_map(|b| be.download(b))
        .map(|v| v.as_f64())
        .collect()
}

pub fn split_data(splits: &Splits, s: Split) -> Option<&Dataset> {
    match s {
        Split::Train => Some(&splits.train),
        Split::Test => splits.test.as_ref(),
    }
}

fn to_elements<T: Element>(v: &[f64]) -> Vec<T> {
    v.iter().map(|x| T::from_f64(*x)).collect()
}

/// Scores every requested split at `step` (reusing `train_eval` for the train split
/// when the step's own forward pass already covered it).
#[allow(clippy::too_many_arguments)]
fn record<T: Element, B: Backend<T>>(
    be: &B,
    model: &Model<T, B>,
    data: &Splits,
    plan: &Recording,
    loss: &LossPlan,
    history: &mut History,
    step: usize,
    epoch: usize,
    train_eval: Option<Evaluation>,
) {
    let out_width = model.dag.nodes[model.dag.output].width();
    let mut train_eval = train_eval;
    for (split, targets) in &history.targets {
        let Some(d) = split_data(data, *split) else {
            continue;
        };
        let ev = match (train_eval.take(), split) {
            (Some(ev), Split::Train) => ev,
            _ => evaluate(be, model, d, loss),
        };
        let scored = Scored {
            outputs: &ev.outputs,
            targets,
            cols: out_width,
            loss: ev.loss,
        };
        let values = score(plan.metrics, &scored);
        history.records.push(Record {
            step,
            epoch,
            split: *split,
            values,
        });
    }
    if plan.params {
        history.params.push((step, flat_params(be, model)));
    }
}

pub fn train<T: Element, B: Backend<T>>(
    be: &B,
    model: &mut Model<T, B>,
    data: &Splits,
    plan: &Plan,
    mut progress: impl FnMut(usize, usize, f64),
) -> History {
    let t = plan.train;
    let loss = LossPlan::new(t, &model.dag);
    let out_width = model.dag.nodes[model.dag.output].width();
    let n = data.train.len();
    let batch = match t.batch_size {
        BatchSize::All => n,
        BatchSize::Size(k) => k.min(n),
    };
    let steps_per_epoch = n.div_ceil(batch);
    let total = t
        .iterations
        .unwrap_or_else(|| t.epochs.unwrap_or(1) * steps_per_epoch);
    let full_batch = batch == n;
    let mut history = History {
        steps: total,
        ..History::new(model, data, &plan.recording)
    };
    let mut sgd = Sgd::new(SgdStep {
        lr: t.lr,
        momentum: t.momentum,
        nesterov: t.nesterov,
        weight_decay: t.weight_decay,
    });
    let mut shuffle = rng::stream(plan.seed, "shuffle");
    let mut order: Vec<usize> = (0..n).collect();
    let full_x = be.upload(&to_elements::<T>(&data.train.inputs));
    let full_t = be.upload(&to_elements::<T>(&data.train.target_matrix(out_width)));
    let features = data.train.features;

    for step in 0..total {
        let in_epoch = step % steps_per_epoch;
        let epoch = step / steps_per_epoch;
        if in_epoch == 0 && t.shuffle && !full_batch {
            order = rng::permutation(&mut shuffle, n);
        }
        let batch_t;
        let (x, target, rows) = if full_batch {
            (be.copy(&full_x), &full_t, n)
        } else {
            let idx = &order[in_epoch * batch..((in_epoch + 1) * batch).min(n)];
            let b = data.train.select(idx);
            batch_t = be.upload(&to_elements::<T>(&b.target_matrix(out_width)));
            (be.upload(&to_elements::<T>(&b.inputs)), &batch_t, idx.len())
        };
        let mut tape = Tape::new(be);
        let xv = tape.leaf(x, vec![rows, features], false);
        let fwd = model.forward(&mut tape, xv, true);
        let (root, value) = loss.record(&mut tape, &fwd, target, rows);
        if !value.is_finite() {
            history.diverged = Some((step, value));
            history.steps = step;
            record(
                be,
                model,
                data,
                &plan.recording,
                &loss,
                &mut history,
                step,
                epoch,
                None,
            );
            return history;
        }
        if step % plan.recording.every == 0 {
            // A full, ordered batch is exactly the train split: reuse this forward pass.
            let reuse = full_batch.then(|| Evaluation {
                loss: value,
                outputs: be
                    .download(tape.value(fwd.nodes[model.dag.output]))
                    .iter()
                    .map(|v| v.as_f64())
                    .collect(),
            });
            record(
                be,
                model,
                data,
                &plan.recording,
                &loss,
                &mut history,
                step,
                epoch,
                reuse,
            );
        }
        let grads = tape.backward(root);
        let param_grads: Vec<Vec<Option<&B::Buf>>> = fwd
            .params
            .iter()
            .map(|ps| ps.iter().map(|v| grads.get(*v)).collect())
            .collect();
        sgd.update(be, &mut model.params, &param_grads);
        if step % 64 == 0 || step + 1 == total {
            progress(step + 1, total, value);
        }
    }
    record(
        be,
        model,
        data,
        &plan.recording,
        &loss,
        &mut history,
        total,
        total / steps_per_epoch.max(1),
        None,
    );
    history
}

/// Scores a model that is not trained by steps (fixed weights, or a closed-form fit)
/// once, as step 0.
pub fn score_once<T: Element, B: Backend<T>>(
    be: &B,
    model: &Model<T, B>,
    data: &Splits,
    recording: &Recording,
    loss: &LossPlan,
) -> History {
    let mut history = History::new(model, data, recording);
    record(be, model, data, recording, loss, &mut history, 0, 0, None);
    history
}
