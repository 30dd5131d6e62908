//! `[[probes]]` (pictures and numbers made after training, or later by `runner probe`)
//! and `[[hooks]]` (per-layer statistics streamed while training). One flat table per
//! entry, every field optional, checked per kind in `validate_probe`: a flat struct
//! keeps exact key spans for messages.

use super::types::{Metric, Split};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// Metric curves over steps, one panel per metric, one line per split.
    #[default]
    Curves,
    /// The path of every parameter over steps.
    Params,
    /// The 2-D data set coloured by class.
    Dataset,
    /// The classifier's decision regions with the data on top.
    DecisionBoundary,
    /// True/false positives/negatives of a binary classifier in the input plane.
    TruthVsPrediction,
    /// The confusion matrix as a heat map.
    Confusion,
    /// A grid of misclassified images with their true and predicted labels.
    Misclassified,
    /// A conv layer's kernels as an image grid (deeper layers: one mean over input
    /// channels per output channel). `layer`: the first conv layer by default.
    Filters,
    /// Feature maps of `layers` (every conv, ReLU and pool node by default) for the
    /// chosen `images`.
    Activations,
    /// ∂score/∂input for the chosen `images`; the score is the logit of `class` (the
    /// predicted class by default).
    Saliency,
    /// input × ∂score/∂input, as `saliency`.
    InputXGradient,
    /// The deconvnet view: as `saliency`, but ReLUs pass back only positive signals.
    Deconvnet,
    /// Guided backprop: as `saliency`, ReLUs pass back positive signals where their
    /// input was positive.
    GuidedBackprop,
    /// Inputs optimised from a seeded start to maximise each of `classes` (every class
    /// by default), or `channel` of `layer`, with L2, jitter and blur regularisers.
    GradientAscent,
    /// A `patch` slid by `stride` over each image, set to `baseline`; the drop in the
    /// true class's probability as a heat map.
    Occlusion,
    /// FGSM and PGD at each of `epsilons` (pixel units), clamped to valid inputs:
    /// accuracy and confidence per epsilon, the curve, and example images.
    Adversarial,
}

impl ProbeKind {
    /// The name a spec uses (`guided_backprop`).
    pub fn name(self) -> String {
        toml::Value::try_from(self).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
    }
}

/// The attacks of an `adversarial` probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Attack {
    /// One step of ε·sign(∇) (Goodfellow et al.).
    Fgsm,
    /// `steps` steps of `step_size`·sign(∇), each projected back into the ε-ball
    /// (Madry et al.), from a random start when `random_start`.
    Pgd,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// What the probe draws or computes.
    pub kind: ProbeKind,
    /// Which split the probe reads: train by default for the 2-D pictures; for
    /// `confusion`, `misclassified` and probes of single samples (activations …
    /// adversarial) the test split where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
    /// Grid cells per axis of a decision boundary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<usize>,
    /// Metrics drawn by `curves` (all recorded ones by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<Metric>>,
    /// The node a probe looks at: `filters` (first conv by default), `gradient_ascent`
    /// with `channel`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// The nodes `activations` draws.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<String>>,
    /// Sample indices into the split (the first 8 by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<usize>>,
    /// The class whose score an attribution probe explains (the predicted one by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<usize>,
    /// The classes `gradient_ascent` maximises (every class by default; at most 256).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<usize>>,
    /// A channel of `layer` whose mean `gradient_ascent` maximises instead of a class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<usize>,
    /// Optimisation steps: `gradient_ascent` (200 by default), PGD (10 by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub steps: Option<usize>,
    /// `gradient_ascent`'s step size on the normalised input (0.1 by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// `gradient_ascent`'s L2 penalty weight on the input (1e-3 by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l2: Option<f64>,
    /// `gradient_ascent`'s random shift in pixels before each step (1 by default; 0: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter: Option<usize>,
    /// `gradient_ascent`'s Gaussian blur σ in pixels, applied every 4 steps (0.5 by default; 0: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blur: Option<f64>,
    /// `occlusion`'s square patch side in pixels (6 by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub patch: Option<usize>,
    /// `occlusion`'s patch stride in pixels (2 by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub stride: Option<usize>,
    /// `occlusion`'s patch value in raw units (pixels: 0 = black, the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// `adversarial`'s budgets in raw units (pixels in [0, 1]); [0, 0.05, 0.1, 0.15,
    /// 0.2, 0.25, 0.3] by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilons: Option<Vec<f64>>,
    /// `adversarial`'s attacks (both by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attacks: Option<Vec<Attack>>,
    /// PGD's step in raw units (2.5·ε/steps by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_size: Option<f64>,
    /// PGD starts from a uniform point of the ε-ball (true by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_start: Option<bool>,
    /// How many samples of the split `adversarial` attacks (all by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub count: Option<usize>,
}

impl ProbeSpec {
    pub fn of(kind: ProbeKind) -> Self {
        ProbeSpec { kind, ..Default::default() }
    }
}

/// The per-layer statistics a hook records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LayerStat {
    /// Mean of the node's value over the batch.
    Mean,
    /// Standard deviation (population) of the node's value over the batch.
    Std,
    /// The share of the node's units that are zero for every sample of the batch
    /// (dead ReLUs); recorded for ReLU nodes.
    Dead,
    /// L2 norm of ∂loss/∂value of the node over the batch.
    GradNorm,
    /// L2 norm of the node's parameters (layers with parameters).
    WeightNorm,
    /// L2 norm of ∂loss/∂parameters (layers with parameters).
    WeightGradNorm,
    /// ‖Δparameters‖ / ‖parameters‖ of the step's update (layers with parameters).
    UpdateRatio,
}

impl LayerStat {
    /// Every statistic, in the order of layers.csv's columns.
    pub const ALL: [LayerStat; 7] = [
        LayerStat::Mean,
        LayerStat::Std,
        LayerStat::Dead,
        LayerStat::GradNorm,
        LayerStat::WeightNorm,
        LayerStat::WeightGradNorm,
        LayerStat::UpdateRatio,
    ];

    /// The name a spec and layers.csv use (`grad_norm`).
    pub fn name(self) -> String {
        toml::Value::try_from(self).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
    }

    /// Its position in [`LayerStat::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// `[[hooks]]`: statistics of named nodes on the training batch, every `every` steps.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HookSpec {
    /// The nodes watched (every node but the input by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub nodes: Option<Vec<String>>,
    /// Steps between records (10 by default); step 0 and the last step are recorded too.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub every: Option<usize>,
    /// What is recorded (all statistics by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Vec<LayerStat>>,
}
