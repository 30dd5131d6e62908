//! `[diff]`: how closely `runner diff` holds another run of this spec to this one.
//! A value passes when |a − b| ≤ atol + rtol·|b|; `metrics = { name = tol }` gives a
//! name its own absolute tolerance (a metric, a final metric such as `test.accuracy`,
//! a CSV column, a tensor or a whole file). Nothing here changes what a run computes,
//! so `runner diff` ignores this table when it compares two runs' specs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffSpec {
    /// Absolute tolerance; 0 (exact) by default.
    #[serde(default, deserialize_with = "tolerance")]
    #[schemars(range(min = 0.0))]
    pub atol: f64,
    /// Relative tolerance, times the reference value |b|; 0 by default.
    #[serde(default, deserialize_with = "tolerance")]
    #[schemars(range(min = 0.0))]
    pub rtol: f64,
    /// Per-name absolute tolerances, in place of atol and rtol for that name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "tolerances")]
    #[schemars(transform = tolerances_schema)]
    pub metrics: BTreeMap<String, f64>,
}

/// Per-name tolerances are numbers of at least 0, as [`tolerances`] checks.
fn tolerances_schema(schema: &mut schemars::Schema) {
    if let Some(serde_json::Value::Object(values)) = schema.get_mut("additionalProperties") {
        values.insert("minimum".into(), 0.0.into());
    }
}

/// A tolerance read from TOML: finite and at least 0 (the error lands at the value).
fn tolerance<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    checked(v).map_err(serde::de::Error::custom)
}

fn tolerances<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let map = BTreeMap::<String, f64>::deserialize(d)?;
    for (name, v) in &map {
        checked(*v).map_err(|m| serde::de::Error::custom(format!("`{name}`: {m}")))?;
    }
    Ok(map)
}

fn checked(v: f64) -> Result<f64, String> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("a tolerance must be finite and at least 0, found {v}"))
    }
}
