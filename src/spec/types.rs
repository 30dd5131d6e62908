//! The typed form of an experiment file. Every table denies unknown keys so a typo is
//! an error with a "did you mean", and fields that only some kinds use are checked
//! per kind in `validate`. Tables are flat structs (not tagged enums) because toml
//! keeps exact key spans for those.

use super::data::DataSpec;
use super::probe::{HookSpec, ProbeSpec};
use crate::backend::DType;
use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub seed: u64,
    /// f32 by default; f64 on the CPU for exact comparison with numpy.
    #[serde(default)]
    pub dtype: DType,
    pub data: Spanned<DataSpec>,
    pub model: ModelSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<Spanned<TrainSpec>>,
    #[serde(default)]
    pub metrics: MetricsSpec,
    #[serde(default)]
    pub output: OutputSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Spanned<ProbeSpec>>,
    /// Per-layer statistics streamed to layers.csv while training.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Spanned<HookSpec>>,
    /// Tolerances for `runner diff` against a run of this spec (results are unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<super::diff::DiffSpec>,
    /// The points `runner sweep` runs; removed from each run's resolved spec, and
    /// ignored by `runner run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<super::sweep::SweepSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The node whose value is the model's output; the last layer by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Start from the weights in a checkpoint instead of initialising them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<Spanned<ModelInit>>,
    pub layers: Vec<Spanned<LayerSpec>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInit {
    /// A safetensors file (relative to the spec), with names and layouts as runner
    /// writes them: `<layer>.weight` [out, in, kh, kw] or [out, in], `<layer>.bias`, ….
    pub from: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerOp {
    Dense,
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu,
    Softmax,
    Identity,
    Add,
    Sub,
    Mul,
    Concat,
    AddScalar,
    MulScalar,
    Mean,
    Sum,
    Conv2d,
    #[serde(rename = "maxpool2d")]
    MaxPool2d,
    #[serde(rename = "avgpool2d")]
    AvgPool2d,
    #[serde(rename = "batchnorm")]
    BatchNorm,
    Dropout,
    Flatten,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    pub name: String,
    pub op: LayerOp,
    /// Names of earlier layers (or `input`); the previous layer by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<usize>,
    /// Whether a dense layer has a bias (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<InitSpec>,
    /// Given weights as an in×out matrix, as in the notes' x·W.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<Vec<f64>>>,
    /// Given bias values, one per unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub biases: Option<Vec<f64>>,
    /// Negative slope of `leaky_relu`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// The scalar of `add_scalar` and `mul_scalar`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Output channels of `conv2d`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<usize>,
    /// Square window size of `conv2d` and the pools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<usize>,
    /// Step of the window (1 for `conv2d`, the kernel size for pools, by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stride: Option<usize>,
    /// Zeros added around each side of a `conv2d` input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub padding: Option<usize>,
    /// Fraction of values `dropout` zeroes in training.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// `batchnorm`: weight of the newest batch in the running statistics (PyTorch's 0.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// `batchnorm`: added to the variance before the square root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitKind {
    Uniform,
    Normal,
    Xavier,
    /// PyTorch's default for Linear and Conv2d: U(−1/√fan_in, 1/√fan_in), bias too.
    Torch,
    He,
    Zeros,
    Constant,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InitSpec {
    pub kind: InitKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Mean (or sum) of squared errors.
    Mse,
    /// Sum of squared errors.
    Sse,
    /// Binary cross-entropy; fused with a final sigmoid into BCE on logits.
    Bce,
    /// Softmax cross-entropy on logits (a final softmax layer is fused in).
    CrossEntropy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    #[default]
    Mean,
    Sum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    #[default]
    Sgd,
    Adam,
    #[serde(rename = "adamw")]
    AdamW,
    #[serde(rename = "rmsprop")]
    RmsProp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// lr · gamma^⌊step / every⌋
    Step,
    /// Cosine from lr down to min_lr over the run.
    Cosine,
}

/// A learning-rate schedule, in optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    pub kind: ScheduleKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_lr: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// Closed-form least squares (the pseudo-inverse) for a single linear dense layer.
    Lstsq,
}

/// `batch_size = "all"` (full-batch gradient descent) or a number (1 is stochastic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchSize {
    #[default]
    All,
    Size(usize),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solver: Option<Solver>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<LossKind>,
    #[serde(default)]
    pub reduction: Reduction,
    /// Multiplies the loss (and so its gradient); the notes' linear regression uses
    /// the mean of (ŷ−y)·x, which is 0.5 × the MSE's gradient.
    #[serde(default = "one")]
    pub loss_scale: f64,
    #[serde(default)]
    pub optimizer: OptimizerKind,
    #[serde(default = "default_lr")]
    pub lr: f64,
    #[serde(default)]
    pub momentum: f64,
    #[serde(default)]
    pub nesterov: bool,
    /// L2 penalty (SGD, Adam, RMSProp) or decoupled weight decay (AdamW).
    #[serde(default)]
    pub weight_decay: f64,
    /// Adam's moment decay rates.
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// Added to the denominator of Adam and RMSProp.
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// RMSProp's square-average decay.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,
    /// Steps of linear warm-up from 0 to lr.
    #[serde(default)]
    pub warmup: usize,
    /// Scales the gradients down when their global L2 norm exceeds this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_norm: Option<f64>,
    #[serde(default)]
    pub batch_size: BatchSize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// Reshuffle the training split every epoch (mini-batch and stochastic).
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Write a resume checkpoint (`resume.safetensors`, positions in its metadata) every N steps,
    /// for `runner resume`; a stopped run writes one whatever this says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<usize>,
}

impl TrainSpec {
    /// Every setting at its default, as serde fills them in.
    pub fn default_optimizer_settings() -> TrainSpec {
        TrainSpec {
            checkpoint_every: None,
            solver: None,
            loss: None,
            reduction: Reduction::Mean,
            loss_scale: one(),
            optimizer: OptimizerKind::Sgd,
            lr: default_lr(),
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            alpha: default_alpha(),
            schedule: None,
            warmup: 0,
            clip_norm: None,
            batch_size: BatchSize::All,
            iterations: None,
            epochs: None,
            shuffle: yes(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Loss,
    Sse,
    LogSse,
    Accuracy,
    Precision,
    Recall,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    /// Held out from the training data by `validation_fraction`.
    Validation,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    #[serde(default = "default_metrics")]
    pub record: Vec<Metric>,
    /// Evaluate the splits every N steps (and after the last one); every step by
    /// default when training by iterations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<usize>,
    /// Evaluate the splits after every epoch; the default when training by epochs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_epoch: Option<bool>,
    /// Record the training batch's own metrics (split `batch`) every N steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_every: Option<usize>,
    /// Which splits to evaluate; every split the data has by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub splits: Option<Vec<Split>>,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        MetricsSpec { record: default_metrics(), every: None, per_epoch: None, batch_every: None, splits: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

fn one() -> f64 {
    1.0
}
fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}
fn default_alpha() -> f64 {
    0.99
}
fn yes() -> bool {
    true
}
fn default_lr() -> f64 {
    0.01
}
fn default_metrics() -> Vec<Metric> {
    vec![Metric::Loss]
}

impl Serialize for BatchSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            BatchSize::All => s.serialize_str("all"),
            BatchSize::Size(n) => s.serialize_u64(*n as u64),
        }
    }
}

impl<'de> Deserialize<'de> for BatchSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = BatchSize;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"all\" or a positive integer")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<BatchSize, E> {
                match usize::try_from(v) {
                    Ok(n) if n >= 1 => Ok(BatchSize::Size(n)),
                    _ => Err(E::custom(format!("batch_size must be at least 1, found {v}"))),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<BatchSize, E> {
                match usize::try_from(v) {
                    Ok(n) if n >= 1 => Ok(BatchSize::Size(n)),
                    _ => Err(E::custom(format!("batch_size must be from 1 to {}, found {v}", usize::MAX))),
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<BatchSize, E> {
                if v == "all" {
                    Ok(BatchSize::All)
                } else {
                    Err(E::custom(format!("batch_size must be \"all\" or a positive integer, found \"{v}\"")))
                }
            }
        }
        d.deserialize_any(V)
    }
}
