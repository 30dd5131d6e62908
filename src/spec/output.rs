//! The `[metrics]` and `[output]` tables: what a run records and prints.

use super::types::yes;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// The training loss (`[train] loss`).
    Loss,
    /// Sum of squared errors.
    Sse,
    /// ln of the sum of squared errors.
    LogSse,
    /// Share of samples classified right (argmax of several outputs, 0.5 threshold of
    /// one); with several sigmoid outputs against 0/1 targets, share of outputs right.
    Accuracy,
    /// Precision: of class 1 for one output; else macro-averaged over the classes that
    /// occur (true or predicted), or over the labels of several sigmoid outputs.
    Precision,
    /// Recall, averaged as precision is.
    Recall,
    /// F1, averaged as precision is.
    F1,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Loss => "loss",
            Metric::Sse => "sse",
            Metric::LogSse => "log_sse",
            Metric::Accuracy => "accuracy",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::F1 => "f1",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// The samples trained on.
    Train,
    /// Held out from the training data by `validation_fraction`.
    Validation,
    /// Held out from all training by `test_fraction` (or the data's own test files).
    Test,
    /// The training batch of that step (metrics rows only).
    Batch,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
            Split::Batch => "batch",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    /// The metrics recorded to metrics.csv (not empty).
    #[serde(default = "default_metrics")]
    #[schemars(length(min = 1))]
    pub record: Vec<Metric>,
    /// Evaluate the splits every N steps (and after the last one); every step by
    /// default when training by iterations.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub every: Option<usize>,
    /// Evaluate the splits after every epoch; the default when training by epochs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_epoch: Option<bool>,
    /// Record the training batch's own metrics (split `batch`) every N steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub batch_every: Option<usize>,
    /// Which splits to evaluate; every split the data has by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub splits: Option<Vec<Split>>,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec { record: default_metrics(), every: None, per_epoch: None, batch_every: None, splits: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Write predictions.csv: inputs, targets and one column per output.
    #[serde(default)]
    pub predictions: bool,
    /// Nodes whose values go in predictions.csv; the model output by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Write params.csv: every parameter at every recorded step.
    #[serde(default)]
    pub params: bool,
    /// Write gradients.csv: d(output)/d(node) for these nodes (`input` included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gradients: Vec<String>,
    /// Write model.safetensors.
    #[serde(default = "yes")]
    pub checkpoint: bool,
    /// What the summary of a run prints (`runner run` without `--quiet`). Absent:
    /// `metrics`, plus `outputs` when the model's output on the split shown has at most
    /// 48 values, `params` when the model has 1 to 12 parameters, and `gradients` when
    /// `gradients` lists nodes. An empty list prints no numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub print: Option<Vec<PrintItem>>,
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec {
            predictions: false,
            nodes: vec![],
            params: false,
            gradients: vec![],
            checkpoint: true,
            print: None,
        }
    }
}

/// One part of the numbers a run's summary prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrintItem {
    /// The last recorded value of each metric on each split.
    Metrics,
    /// The values of `[output] nodes` (the model's output by default) on each sample of
    /// the split shown (test when there is one, else train), as a table.
    Outputs,
    /// Every parameter by name with its final value; a one-unit linear model's weights
    /// also as θ₀, θ₁, … in the order of the data's features.
    Params,
    /// The gradients `[output] gradients` asks for, as a table.
    Gradients,
}

impl PrintItem {
    pub fn name(self) -> &'static str {
        match self {
            PrintItem::Metrics => "metrics",
            PrintItem::Outputs => "outputs",
            PrintItem::Params => "params",
            PrintItem::Gradients => "gradients",
        }
    }
}

fn default_metrics() -> Vec<Metric> {
    vec![Metric::Loss]
}
