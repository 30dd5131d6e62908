//! The `[data]` table: which data set, and how it is split, normalised and augmented.
//! Every value is checked as it is parsed (finite numbers, counts of at least 1,
//! fractions in [0, 1), rectangular inline rows), so the parser's error points at the
//! key or the row; checks that need the data itself are in `data::load`, located with
//! [`data_key_span`].

mod checked;

pub use checked::data_key_span;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    Linear,
    Gates,
    Xor,
    Diamond,
    Square,
    Circle,
    Spirals,
    Moons,
    Blobs,
    Inline,
    Csv,
    /// IDX files in the standard MNIST layout (also Fashion-MNIST); `idx` is a synonym.
    #[serde(alias = "idx")]
    Mnist,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    And,
    Or,
    Nand,
    Nor,
    Xor,
    Xnor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BiasColumn {
    First,
    Last,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    pub kind: Option<DataKind>,
    /// Number of samples a generator draws (`mnist`: the first `n` training images).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::sample_count")]
    pub n: Option<usize>,
    /// Standard deviation of Gaussian noise (label noise for `xor`, point jitter elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::noise")]
    pub noise: Option<f64>,
    /// `linear`: y = intercept + Σ coefficients_i · x_i + noise.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::coefficients")]
    pub coefficients: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::intercept")]
    pub intercept: Option<f64>,
    /// Inputs are drawn uniformly from [low, high] on every axis.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::range")]
    pub range: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::radius")]
    pub radius: Option<f64>,
    /// Number of classes; with it, targets are one column of class ids.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::classes")]
    pub classes: Option<usize>,
    /// Rows of finite numbers, all of one length (checked while parsing, so an error
    /// points at the row).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::inputs")]
    pub inputs: Option<Vec<Vec<f64>>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::targets")]
    pub targets: Option<Vec<Vec<f64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_columns: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_columns: Option<Vec<String>>,
    /// Adds a constant-1 input column (the notes' design-matrix bias), first or last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias_column: Option<BiasColumn>,
    /// Fraction of samples held out as the test split.
    #[serde(default, deserialize_with = "checked::test_fraction")]
    pub test_fraction: f64,
    /// Fraction of the training samples held out as the validation split.
    #[serde(default, deserialize_with = "checked::validation_fraction")]
    pub validation_fraction: f64,
    /// `mnist`: use the first `test_n` test images (all by default).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::test_count")]
    pub test_n: Option<usize>,
    /// Inputs become (x − mean) / std: given, or "train" to compute them from the training split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalize: Option<Normalize>,
    /// Random changes to training images, drawn afresh for every batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub augment: Option<AugmentSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Normalize {
    FromSplit(NormalizeFrom),
    Given { mean: f64, std: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormalizeFrom {
    Train,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AugmentSpec {
    /// Largest translation in pixels, each axis, uniform.
    #[serde(default, deserialize_with = "checked::shift")]
    pub shift: f64,
    /// Largest rotation in degrees, uniform in [−rotate, rotate].
    #[serde(default, deserialize_with = "checked::rotate")]
    pub rotate: f64,
    /// Largest relative zoom, uniform in [1 − scale, 1 + scale].
    #[serde(default, deserialize_with = "checked::scale")]
    pub scale: f64,
}
