//! `[diff]`: how closely `runner diff` holds another run of this spec to this one.
//! A value passes when |a − b| ≤ atol + rtol·|b|; `metrics = { name = tol }` gives a
//! name its own absolute tolerance (a metric, a final metric such as `test.accuracy`,
//! a CSV column, a tensor or a whole file). Nothing here changes what a run computes,
//! so `runner diff` ignores this table when it compares two runs' specs.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffSpec {
    /// Absolute tolerance; 0 (exact) by default.
    #[serde(default)]
    pub atol: f64,
    /// Relative tolerance, times the reference value |b|; 0 by default.
    #[serde(default)]
    pub rtol: f64,
    /// Per-name absolute tolerances, in place of atol and rtol for that name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
}

impl DiffSpec {
    /// The first tolerance that is negative or not finite, as `key = value`.
    pub fn invalid(&self) -> Option<String> {
        let bad = |v: f64| !v.is_finite() || v < 0.0;
        if bad(self.atol) {
            return Some(format!("atol = {}", self.atol));
        }
        if bad(self.rtol) {
            return Some(format!("rtol = {}", self.rtol));
        }
        self.metrics.iter().find(|(_, v)| bad(**v)).map(|(k, v)| format!("metrics.{k} = {v}"))
    }
}
