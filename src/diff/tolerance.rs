//! Which tolerance applies to a value, and whether two values agree within it.

use crate::spec::DiffSpec;
use std::collections::BTreeMap;

/// `|a − b| ≤ atol + rtol·|b|`, b being the reference (the second run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tol {
    pub atol: f64,
    pub rtol: f64,
}

impl Tol {
    pub const EXACT: Tol = Tol { atol: 0.0, rtol: 0.0 };

    pub fn is_exact(self) -> bool {
        self.atol == 0.0 && self.rtol == 0.0
    }

    /// The allowed |a − b| around reference `b`.
    pub fn bound(self, b: f64) -> f64 {
        self.atol + self.rtol * b.abs()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Tolerances {
    pub atol: f64,
    pub rtol: f64,
    /// Per-name absolute tolerances (metric, `split.metric`, column, tensor or file).
    pub names: BTreeMap<String, f64>,
}

impl Tolerances {
    /// The reference run's `[diff]` table (else the other run's), then the flags.
    pub fn resolve(spec: Option<&DiffSpec>, atol: Option<f64>, rtol: Option<f64>, names: &[(String, f64)]) -> Self {
        let base = spec.cloned().unwrap_or_default();
        let mut t =
            Tolerances { atol: atol.unwrap_or(base.atol), rtol: rtol.unwrap_or(base.rtol), names: base.metrics };
        for (name, tol) in names {
            t.names.insert(name.clone(), *tol);
        }
        t
    }

    /// The tolerance for a value known by `keys`, most specific first; the first key
    /// with its own tolerance wins, else the global one.
    pub fn for_keys(&self, keys: &[&str]) -> Tol {
        keys.iter()
            .find_map(|k| self.names.get(*k))
            .map(|&atol| Tol { atol, rtol: 0.0 })
            .unwrap_or(Tol { atol: self.atol, rtol: self.rtol })
    }

    pub fn is_exact(&self) -> bool {
        self.atol == 0.0 && self.rtol == 0.0 && self.names.values().all(|v| *v == 0.0)
    }
}

/// How two values compare: the same bits (NaN matches NaN), within the tolerance, or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Agreement {
    Identical,
    Within,
    Beyond,
}

pub fn agree(a: f64, b: f64, tol: Tol) -> Agreement {
    if a == b || (a.is_nan() && b.is_nan()) {
        // 0.0 and -0.0 are equal numbers but not the same bits; call them within.
        return if a.to_bits() == b.to_bits() || a.is_nan() { Agreement::Identical } else { Agreement::Within };
    }
    if a.is_nan() || b.is_nan() || a.is_infinite() || b.is_infinite() {
        return Agreement::Beyond;
    }
    if (a - b).abs() <= tol.bound(b) {
        Agreement::Within
    } else {
        Agreement::Beyond
    }
}

/// Parses `name=tol` from `--metric`.
pub fn parse_name_tol(text: &str) -> Result<(String, f64), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("--metric {text}: expected name=tolerance"))?;
    let name = name.trim();
    let tol: f64 = value.trim().parse().map_err(|_| format!("--metric {text}: `{}` is not a number", value.trim()))?;
    if name.is_empty() {
        return Err(format!("--metric {text}: the name is empty"));
    }
    check_tol(&format!("--metric {text}"), tol)?;
    Ok((name.to_string(), tol))
}

pub fn check_tol(what: &str, tol: f64) -> Result<f64, String> {
    if tol.is_finite() && tol >= 0.0 {
        Ok(tol)
    } else {
        Err(format!("{what}: a tolerance must be finite and at least 0, found {tol}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_pass_within_atol_plus_rtol_times_the_reference() {
        let t = Tol { atol: 1e-3, rtol: 0.1 };
        assert_eq!(agree(1.0, 1.0, Tol::EXACT), Agreement::Identical);
        assert_eq!(agree(1.0, 1.0 + 1e-12, Tol::EXACT), Agreement::Beyond);
        assert_eq!(agree(10.9, 10.0, t), Agreement::Within, "0.9 ≤ 1e-3 + 0.1·10");
        assert_eq!(agree(11.1, 10.0, t), Agreement::Beyond);
        assert_eq!(agree(f64::NAN, f64::NAN, Tol::EXACT), Agreement::Identical);
        assert_eq!(agree(f64::NAN, 1.0, Tol { atol: 1e9, rtol: 1e9 }), Agreement::Beyond);
        assert_eq!(agree(f64::INFINITY, f64::INFINITY, Tol::EXACT), Agreement::Identical);
        assert_eq!(agree(f64::INFINITY, 1e308, Tol { atol: 1e9, rtol: 1e9 }), Agreement::Beyond);
        assert_eq!(agree(0.0, -0.0, Tol::EXACT), Agreement::Within);
    }

    #[test]
    fn a_name_of_its_own_wins_over_the_global_tolerance() {
        let spec = DiffSpec { atol: 1.0, rtol: 0.5, metrics: [("loss".to_string(), 0.25)].into() };
        let t = Tolerances::resolve(Some(&spec), None, Some(0.0), &[("test.accuracy".into(), 0.01)]);
        assert_eq!(t.for_keys(&["train.loss", "loss"]), Tol { atol: 0.25, rtol: 0.0 });
        assert_eq!(t.for_keys(&["test.accuracy", "accuracy"]), Tol { atol: 0.01, rtol: 0.0 });
        assert_eq!(t.for_keys(&["out"]), Tol { atol: 1.0, rtol: 0.0 }, "--rtol 0 replaces the spec's");
        assert!(parse_name_tol("loss=-1").is_err());
        assert!(parse_name_tol("loss").is_err());
        assert_eq!(parse_name_tol(" loss = 1e-6 ").unwrap(), ("loss".to_string(), 1e-6));
    }
}
