//! The `[train]` table: loss, optimizer, schedule and batches.

use super::types::yes;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// The mean, as PyTorch's default: mse and bce over every output value (rows ×
    /// outputs), cross_entropy over the rows.
    #[default]
    Mean,
    /// The sum over every row (and output).
    Sum,
}

/// AdamW's `weight_decay` where the spec gives none (spec::load).
pub const ADAMW_WEIGHT_DECAY: f64 = 0.01;

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
    /// `mean` (as PyTorch: mse and bce average over every output value, cross_entropy
    /// over the rows) or `sum`.
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
    /// L2 penalty (SGD, Adam, RMSProp; default 0) or decoupled weight decay (AdamW;
    /// default 0.01, as PyTorch's).
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
    /// Steps of linear warm-up: step k of the first `warmup` (counting from 1) uses
    /// lr·k/warmup, so the first step already moves, at lr/warmup.
    #[serde(default)]
    pub warmup: usize,
    /// Scales the gradients down when their global L2 norm exceeds this: every gradient
    /// times clip_norm / (norm + 1e-6) when that is below 1, as torch.nn.utils.clip_grad_norm_.
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
fn default_lr() -> f64 {
    0.01
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
