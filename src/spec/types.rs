//! The typed form of an experiment file. Every table denies unknown keys so a typo is
//! an error with a "did you mean", and fields that only some kinds use are checked
//! per kind in `validate`. Tables are flat structs (not tagged enums) because toml
//! keeps exact key spans for those.

use super::data::DataSpec;
use super::probe::{HookSpec, ProbeSpec};
use crate::backend::{BackendChoice, DType};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The experiment's name, which names its results folder: 1 to 128 characters, no `/`
    /// or `\`, not starting with `.`.
    #[schemars(length(min = 1, max = 128))]
    pub name: String,
    /// One line saying what the experiment shows (kept in the run's manifest).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Every random draw (init, shuffle, split, dropout, probes) comes from this seed.
    #[serde(default)]
    pub seed: u64,
    /// f32 by default; f64 on the CPU for exact comparison with numpy.
    #[serde(default)]
    pub dtype: DType,
    /// `auto` (CUDA when a device works, else the CPU), `cpu` or `cuda` (an error without
    /// a usable GPU). `runner run --backend` overrides it. Written to the resolved spec
    /// only when not `auto`.
    #[serde(default, skip_serializing_if = "BackendChoice::is_auto")]
    pub backend: BackendChoice,
    /// `[data]`: which data set, and how it is split, normalised and augmented.
    #[schemars(with = "DataSpec")]
    pub data: Spanned<DataSpec>,
    /// `[model]`: the network as named layers (`[[model.layers]]`), run in order.
    pub model: ModelSpec,
    /// `[train]`: loss, optimizer, learning rate, batch size and length of training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<TrainSpec>")]
    pub train: Option<Spanned<TrainSpec>>,
    /// `[metrics]`: what is recorded to metrics.csv, on which splits, how often.
    #[serde(default)]
    pub metrics: MetricsSpec,
    /// `[output]`: which files a run writes besides metrics.csv, and what its summary prints.
    #[serde(default)]
    pub output: OutputSpec,
    /// `[[probes]]`: pictures and numbers made after training (curves, decision boundary, saliency…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<ProbeSpec>")]
    pub probes: Vec<Spanned<ProbeSpec>>,
    /// Per-layer statistics streamed to layers.csv while training.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<HookSpec>")]
    pub hooks: Vec<Spanned<HookSpec>>,
    /// Tolerances for `runner diff` against a run of this spec (results are unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<super::diff::DiffSpec>,
    /// The points `runner sweep` runs; removed from each run's resolved spec, and
    /// ignored by `runner run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<super::sweep::SweepSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The node whose value is the model's output; the last layer by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Start from the weights in a checkpoint instead of initialising them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ModelInit>")]
    pub init: Option<Spanned<ModelInit>>,
    /// The layers, in order; each reads the previous one unless `inputs` says otherwise.
    #[schemars(with = "Vec<LayerSpec>", length(min = 1))]
    pub layers: Vec<Spanned<LayerSpec>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelInit {
    /// A safetensors file (relative to the spec), with names and layouts as runner
    /// writes them: `<layer>.weight` [out, in, kh, kw] or [out, in], `<layer>.bias`, ….
    pub from: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LayerOp {
    /// x·W + b: `units`, `bias`, `init` or given `weights` and `biases`.
    Dense,
    /// 1 / (1 + e^−x), element-wise.
    Sigmoid,
    /// tanh(x), element-wise.
    Tanh,
    /// max(0, x), element-wise.
    Relu,
    /// x for x > 0, `alpha`·x otherwise.
    LeakyRelu,
    /// Softmax over each sample's values.
    Softmax,
    /// The input unchanged.
    Identity,
    /// Element-wise sum of two `inputs`.
    Add,
    /// Element-wise difference of two `inputs` (first − second).
    Sub,
    /// Element-wise product of two `inputs`.
    Mul,
    /// The `inputs` side by side (feature axis).
    Concat,
    /// x + `value`.
    AddScalar,
    /// x · `value`.
    MulScalar,
    /// Mean of all values: a scalar.
    Mean,
    /// Sum of all values: a scalar.
    Sum,
    /// 2-D convolution: `channels`, `kernel`, `stride`, `padding`.
    Conv2d,
    /// Max over each `kernel`×`kernel` window.
    #[serde(rename = "maxpool2d")]
    MaxPool2d,
    /// Mean over each `kernel`×`kernel` window.
    #[serde(rename = "avgpool2d")]
    AvgPool2d,
    /// Batch normalisation per channel (`momentum`, `eps`).
    #[serde(rename = "batchnorm")]
    BatchNorm,
    /// Zeroes a fraction `rate` of values in training (scaling the rest).
    Dropout,
    /// Images to one feature vector per sample.
    Flatten,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// The layer's name (1–64 letters, digits, `_`, `-`), by which later layers,
    /// probes and `--set model.layers.NAME.key` refer to it.
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    /// What the layer computes.
    pub op: LayerOp,
    /// Names of earlier layers (or `input`); the previous layer by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    /// Output width of a `dense` layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub units: Option<usize>,
    /// Whether a dense layer has a bias (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<bool>,
    /// How the weights are drawn: `{ kind = "uniform", low = -1.0, high = 1.0 }`, xavier, he, …
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
    #[schemars(range(min = 1))]
    pub channels: Option<usize>,
    /// Square window size of `conv2d` and the pools.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub kernel: Option<usize>,
    /// Step of the window (1 for `conv2d`, the kernel size for pools, by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub stride: Option<usize>,
    /// Zeros added around each side of a `conv2d` input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub padding: Option<usize>,
    /// Fraction of values `dropout` zeroes in training, in [0, 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0), extend("exclusiveMaximum" = 1.0))]
    pub rate: Option<f64>,
    /// `batchnorm`: weight of the newest batch in the running statistics (PyTorch's 0.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub momentum: Option<f64>,
    /// `batchnorm`: added to the variance before the square root.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 1.0), extend("exclusiveMinimum" = 0.0))]
    pub eps: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InitKind {
    /// U(`low`, `high`).
    Uniform,
    /// N(0, `std`²).
    Normal,
    /// Glorot: U(±√(6 / (fan_in + fan_out))).
    Xavier,
    /// PyTorch's default for Linear and Conv2d: U(−1/√fan_in, 1/√fan_in), bias too.
    Torch,
    /// Kaiming: N(0, 2 / fan_in).
    He,
    /// All zeros.
    Zeros,
    /// Every weight `value`.
    Constant,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InitSpec {
    /// The distribution the weights are drawn from.
    pub kind: InitKind,
    /// `uniform`: the lower bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    /// `uniform`: the upper bound (at least `low`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    /// `normal`: the standard deviation.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1e6))]
    pub std: Option<f64>,
    /// `constant`: the value of every weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// The loss is the mean over the batch.
    #[default]
    Mean,
    /// The loss is the sum over the batch.
    Sum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Gradient descent, with `momentum` and `nesterov`.
    #[default]
    Sgd,
    /// Adam (`beta1`, `beta2`, `eps`; `weight_decay` as an L2 penalty).
    Adam,
    /// Adam with decoupled `weight_decay`.
    #[serde(rename = "adamw")]
    AdamW,
    /// RMSProp (`alpha`, `eps`, `momentum`).
    #[serde(rename = "rmsprop")]
    RmsProp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// lr · gamma^⌊step / every⌋
    Step,
    /// Cosine from lr down to min_lr over the run.
    Cosine,
}

/// A learning-rate schedule, in optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// How the learning rate changes over the run.
    pub kind: ScheduleKind,
    /// `step`: steps between decays.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub every: Option<usize>,
    /// `step`: the factor each decay multiplies lr by, in (0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 1.0), extend("exclusiveMinimum" = 0.0))]
    pub gamma: Option<f64>,
    /// `cosine`: the learning rate at the end, in [0, lr].
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub min_lr: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// Solve instead of training by gradient descent (no `iterations` or `epochs` then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solver: Option<Solver>,
    /// The loss minimised (required unless `solver` is given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<LossKind>,
    /// Mean or sum of the per-sample losses.
    #[serde(default)]
    pub reduction: Reduction,
    /// Multiplies the loss (and so its gradient); the notes' linear regression uses
    /// the mean of (ŷ−y)·x, which is 0.5 × the MSE's gradient.
    #[serde(default = "one")]
    #[schemars(range(max = 1e6), extend("exclusiveMinimum" = 0.0))]
    pub loss_scale: f64,
    /// The update rule.
    #[serde(default)]
    pub optimizer: OptimizerKind,
    /// Learning rate, in (0, 10⁴].
    #[serde(default = "default_lr")]
    #[schemars(range(max = 1e4), extend("exclusiveMinimum" = 0.0))]
    pub lr: f64,
    /// Momentum of SGD and RMSProp, in [0, 1).
    #[serde(default)]
    #[schemars(range(min = 0.0), extend("exclusiveMaximum" = 1.0))]
    pub momentum: f64,
    /// Nesterov momentum (SGD; needs `momentum` > 0).
    #[serde(default)]
    pub nesterov: bool,
    /// L2 penalty (SGD, Adam, RMSProp) or decoupled weight decay (AdamW).
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1e6))]
    pub weight_decay: f64,
    /// Adam's decay rate of the first moment, in [0, 1).
    #[serde(default = "default_beta1")]
    #[schemars(range(min = 0.0), extend("exclusiveMaximum" = 1.0))]
    pub beta1: f64,
    /// Adam's decay rate of the second moment, in [0, 1).
    #[serde(default = "default_beta2")]
    #[schemars(range(min = 0.0), extend("exclusiveMaximum" = 1.0))]
    pub beta2: f64,
    /// Added to the denominator of Adam and RMSProp, in (0, 1].
    #[serde(default = "default_eps")]
    #[schemars(range(max = 1.0), extend("exclusiveMinimum" = 0.0))]
    pub eps: f64,
    /// RMSProp's square-average decay, in [0, 1).
    #[serde(default = "default_alpha")]
    #[schemars(range(min = 0.0), extend("exclusiveMaximum" = 1.0))]
    pub alpha: f64,
    /// A learning-rate schedule: `{ kind = "step", every = N, gamma = 0.5 }` or `{ kind = "cosine" }`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,
    /// Steps of linear warm-up from 0 to lr.
    #[serde(default)]
    pub warmup: usize,
    /// Scales the gradients down when their global L2 norm exceeds this.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0.0))]
    pub clip_norm: Option<f64>,
    /// `"all"` (full-batch gradient descent) or samples per batch (1: stochastic).
    #[serde(default)]
    pub batch_size: BatchSize,
    /// Optimizer steps to train for (or give `epochs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub iterations: Option<usize>,
    /// Passes over the training split to train for (or give `iterations`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub epochs: Option<usize>,
    /// Reshuffle the training split every epoch (mini-batch and stochastic).
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Write a resume checkpoint (`resume.safetensors`, positions in its metadata) every N steps,
    /// for `runner resume`; a stopped run writes one whatever this says.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// The training loss (`[train] loss`).
    Loss,
    /// Sum of squared errors.
    Sse,
    /// ln of the sum of squared errors.
    LogSse,
    /// Share of samples classified right.
    Accuracy,
    /// Macro-averaged precision over the classes.
    Precision,
    /// Macro-averaged recall over the classes.
    Recall,
    /// Macro-averaged F1 over the classes.
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

/// What the deserializer below accepts: "all" or a whole number of at least 1.
impl JsonSchema for BatchSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BatchSize".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                { "type": "string", "enum": ["all"], "description": "Full-batch gradient descent." },
                { "type": "integer", "minimum": 1, "description": "Samples per mini-batch (1: stochastic)." }
            ]
        })
    }
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
