//! What the loop records: metric rows per split, parameter paths, throughput.

use super::{evaluate, split_data, Evaluation, LossPlan};
use crate::backend::{Backend, Element};
use crate::data::Splits;
use crate::layers::Model;
use crate::metrics::{score, Scored};
use crate::spec::{Metric, Split};

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub step: usize,
    pub epoch: usize,
    pub split: Split,
    pub values: Vec<f64>,
}

/// What to record, and how often.
pub struct Recording<'a> {
    pub metrics: &'a [Metric],
    pub splits: &'a [Split],
    /// Evaluate the splits every N steps (and after the last).
    pub every: Option<usize>,
    /// Evaluate the splits after every epoch.
    pub per_epoch: bool,
    /// Score the training batch itself every N steps.
    pub batch_every: Option<usize>,
    pub params: bool,
}

/// Everything the loop observed, for CSVs, pictures and the manifest.
#[derive(Debug, Default)]
pub struct History {
    pub metrics: Vec<Metric>,
    pub records: Vec<Record>,
    /// (step, every parameter value flattened in graph order), when asked for.
    pub params: Vec<(usize, Vec<f64>)>,
    pub steps: usize,
    /// Set when the loss stopped being finite: (step, value).
    pub diverged: Option<(usize, f64)>,
    /// Seconds in training steps and the samples they processed.
    pub train_seconds: f64,
    pub train_samples: usize,
    /// Seconds in evaluation forward passes and the samples they processed.
    pub eval_seconds: f64,
    pub eval_samples: usize,
    /// The target matrix of each recorded split, built once.
    targets: Vec<(Split, Vec<f64>)>,
}

impl History {
    pub fn new<T: Element, B: Backend<T>>(model: &Model<T, B>, data: &Splits, plan: &Recording) -> Self {
        let out_width = model.dag.nodes[model.dag.output].width();
        let targets =
            plan.splits.iter().filter_map(|&s| split_data(data, s).map(|d| (s, d.target_matrix(out_width)))).collect();
        History { metrics: plan.metrics.to_vec(), targets, ..Default::default() }
    }

    /// Training images (samples) per second.
    pub fn train_rate(&self) -> Option<f64> {
        (self.train_seconds > 0.0).then(|| self.train_samples as f64 / self.train_seconds)
    }

    /// Inference samples per second in evaluation passes.
    pub fn eval_rate(&self) -> Option<f64> {
        (self.eval_seconds > 0.0).then(|| self.eval_samples as f64 / self.eval_seconds)
    }

    /// Scores the training batch of this step from its own (training-mode) outputs.
    pub fn record_batch(
        &mut self,
        step: usize,
        epoch: usize,
        outputs: &[f64],
        targets: &[f64],
        cols: usize,
        loss: f64,
    ) {
        let values = score(&self.metrics, &Scored { outputs, targets, cols, loss });
        self.records.push(Record { step, epoch, split: Split::Batch, values });
    }

    /// Scores every requested split at `step` (reusing `train_eval` for the train split
    /// when the step's own forward pass already covered it).
    #[allow(clippy::too_many_arguments)]
    pub fn record<T: Element, B: Backend<T>>(
        &mut self,
        be: &B,
        model: &Model<T, B>,
        data: &Splits,
        plan: &Recording,
        loss: &LossPlan,
        step: usize,
        epoch: usize,
        mut train_eval: Option<Evaluation>,
    ) {
        let out_width = model.dag.nodes[model.dag.output].width();
        for (split, targets) in &self.targets {
            let Some(d) = split_data(data, *split) else { continue };
            let ev = match (train_eval.take(), split) {
                (Some(ev), Split::Train) => ev,
                _ => {
                    let start = std::time::Instant::now();
                    let ev = evaluate(be, model, d, loss);
                    self.eval_seconds += start.elapsed().as_secs_f64();
                    self.eval_samples += d.len();
                    ev
                }
            };
            let scored = Scored { outputs: &ev.outputs, targets, cols: out_width, loss: ev.loss };
            let values = score(&self.metrics, &scored);
            self.records.push(Record { step, epoch, split: *split, values });
        }
        if plan.params {
            self.params.push((step, super::flat_params(be, model)));
        }
    }
}
