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
    /// The experiment's name, which names its results folder: 1 to 128 characters and at
    /// most 200 bytes as UTF-8, no `/` or `\`, not starting with `.`.
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

pub use super::model::*;
pub use super::output::*;
pub use super::train::*;

pub(super) fn yes() -> bool {
    true
}
