//! The `[model]` table: layers, their ops and initialisation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The node whose value is the model's output; the last layer by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Start from the weights in a checkpoint instead of initialising them: the file
    /// must hold every parameter, and its values win over each layer's `init` (and given
    /// `weights` and `biases`), which are then unused.
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
