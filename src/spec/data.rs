//! The `[data]` table: which data set, and how it is split, normalised and augmented.
//! Every value is checked as it is parsed (finite numbers, counts of at least 1,
//! fractions in [0, 1), rectangular inline rows), so the parser's error points at the
//! key or the row; checks that need the data itself are in `data::load`, located with
//! `spec::data_span` (which knows the `--set`s; [`data_key_span`] reads the file only).

mod checked;

pub use checked::data_key_span;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(transform = idx_is_mnist)]
pub enum DataKind {
    /// y = intercept + Σ coefficients_i · x_i + noise, x uniform in `range`.
    Linear,
    /// The truth table of a logic `gate`.
    Gates,
    /// Points uniform in `range`², labelled 1 where x and y differ in sign.
    Xor,
    /// Points uniform in `range`², labelled |x| + |y| < 1.
    Diamond,
    /// Points uniform in `range`², labelled max(|x|, |y|) < `radius` (0.5).
    Square,
    /// Points uniform in `range`², labelled x² + y² < `radius`² (0.75).
    Circle,
    /// Interleaved spirals, one per class (`classes`, 2 by default).
    Spirals,
    /// Two interleaved half circles.
    Moons,
    /// Gaussian blobs, one per class (`classes`, 3 by default).
    Blobs,
    /// `inputs` and `targets` written in the spec.
    Inline,
    /// A CSV file at `path` with a header row.
    Csv,
    /// IDX files in the standard MNIST layout (also Fashion-MNIST); `idx` is a synonym.
    #[serde(alias = "idx")]
    Mnist,
}

/// serde's alias is not seen by schemars: the schema lists `idx` beside `mnist`.
fn idx_is_mnist(schema: &mut schemars::Schema) {
    if let Some(serde_json::Value::Array(choices)) = schema.get_mut("oneOf") {
        choices.push(serde_json::json!({ "type": "string", "const": "idx", "description": "The same as `mnist`." }));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    And,
    Or,
    Nand,
    Nor,
    Xor,
    Xnor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BiasColumn {
    First,
    Last,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The data set: a generator, inline rows, a CSV file or MNIST-format IDX files.
    pub kind: Option<DataKind>,
    /// Number of samples a generator draws (`mnist`: the first `n` training images).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::sample_count")]
    #[schemars(range(min = 1))]
    pub n: Option<usize>,
    /// Standard deviation of Gaussian noise (label noise for `xor`, point jitter elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::noise")]
    #[schemars(range(min = 0.0, max = 1e6))]
    pub noise: Option<f64>,
    /// `linear`: y = intercept + Σ coefficients_i · x_i + noise.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::coefficients")]
    #[schemars(length(min = 1))]
    pub coefficients: Option<Vec<f64>>,
    /// `linear`: the constant term.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::intercept")]
    pub intercept: Option<f64>,
    /// Inputs are drawn uniformly from [low, high] on every axis (low < high).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::range")]
    pub range: Option<[f64; 2]>,
    /// `gates`: which gate's truth table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// `circle`: the circle's radius; `square`: half its side.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::radius")]
    #[schemars(range(max = 1e6), extend("exclusiveMinimum" = 0.0))]
    pub radius: Option<f64>,
    /// Number of classes; with it, targets are one column of class ids.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::classes")]
    #[schemars(range(min = 2))]
    pub classes: Option<usize>,
    /// Rows of finite numbers, all of one length (checked while parsing, so an error
    /// points at the row).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::inputs")]
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub inputs: Option<Vec<Vec<f64>>>,
    /// `inline`: one row per sample, as many as `inputs` (class ids when `classes` is given).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::targets")]
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub targets: Option<Vec<Vec<f64>>>,
    /// `csv`: the file; `mnist`: the folder of IDX files (relative to the spec).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `csv`: the input columns by header name (every column but the targets by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_columns: Option<Vec<String>>,
    /// `csv`: the target columns by header name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_columns: Option<Vec<String>>,
    /// Adds a constant-1 input column (the notes' design-matrix bias), first or last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias_column: Option<BiasColumn>,
    /// Fraction of samples held out as the test split, drawn by a seeded shuffle:
    /// round(n × fraction) samples, halves away from zero (scikit-learn's
    /// `train_test_split` takes the ceiling, so its test split can be one larger).
    #[serde(default, deserialize_with = "checked::test_fraction")]
    #[schemars(range(min = 0.0), extend("exclusiveMaximum" = 1.0))]
    pub test_fraction: f64,
    /// Fraction of the training samples (what the test split leaves) held out as the
    /// validation split (round(n × fraction) of them, as `test_fraction`).
    #[serde(default, deserialize_with = "checked::validation_fraction")]
    #[schemars(range(min = 0.0), extend("exclusiveMaximum" = 1.0))]
    pub validation_fraction: f64,
    /// `mnist`: use the first `test_n` test images (all by default).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "checked::test_count")]
    #[schemars(range(min = 1))]
    pub test_n: Option<usize>,
    /// Inputs become (x − mean) / std: given, or "train" to compute them from the training
    /// split, one mean and one std over every input value (not per column); the
    /// population std, numpy's `np.std` (ddof 0), not torch.std's sample std.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalize: Option<Normalize>,
    /// Random changes to training images, drawn afresh for every image of every batch:
    /// one affine map per image (shift, rotation about the centre, zoom), resampled
    /// bilinearly (torchvision's RandomAffine defaults to nearest); pixels from outside the image take the image's darkest value (black
    /// before normalisation, as torchvision's default fill of 0 on raw pixels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub augment: Option<AugmentSpec>,
}

// Deserialized by hand (in `checked`): serde's untagged enum says only "data did not
// match any variant", which names neither form.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Normalize {
    FromSplit(NormalizeFrom),
    /// Given constants: `{ mean = 0.1307, std = 0.3081 }`.
    Given {
        mean: f64,
        std: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NormalizeFrom {
    /// The mean and standard deviation of the training split's inputs.
    Train,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AugmentSpec {
    /// Largest translation in pixels, each axis, uniform in [−shift, shift] (not rounded
    /// to whole pixels).
    #[serde(default, deserialize_with = "checked::shift")]
    #[schemars(range(min = 0.0, max = 1000.0))]
    pub shift: f64,
    /// Largest rotation in degrees, uniform in [−rotate, rotate].
    #[serde(default, deserialize_with = "checked::rotate")]
    #[schemars(range(min = 0.0, max = 180.0))]
    pub rotate: f64,
    /// Largest relative zoom, uniform in [1 − scale, 1 + scale].
    #[serde(default, deserialize_with = "checked::scale")]
    #[schemars(range(min = 0.0), extend("exclusiveMaximum" = 1.0))]
    pub scale: f64,
}
