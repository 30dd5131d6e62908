//! Which tolerance applies to a value, and whether two values agree within it.

use crate::spec::DiffSpec;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

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
    /// Every key a value was looked up by (kept only while `names` has any): a name
    /// none of them matches is a typo that would otherwise leave its values exact.
    met: RefCell<BTreeSet<String>>,
}

impl Tolerances {
    /// The reference run's `[diff]` table (else the other run's), then the flags.
    pub fn resolve(spec: Option<&DiffSpec>, atol: Option<f64>, rtol: Option<f64>, names: &[(String, f64)]) -> Self {
        let base = spec.cloned().unwrap_or_default();
        let mut t = Tolerances {
            atol: atol.unwrap_or(base.atol),
            rtol: rtol.unwrap_or(base.rtol),
            names: base.metrics,
            met: RefCell::default(),
        };
        for (name, tol) in names {
            t.names.insert(name.clone(), *tol);
        }
        t
    }

    /// The tolerance for a value known by `keys`, most specific first; the first key
    /// with its own tolerance wins, else the global one.
    pub fn for_keys(&self, keys: &[&str]) -> Tol {
        if !self.names.is_empty() {
            let mut met = self.met.borrow_mut();
            for k in keys {
                if !met.contains(*k) {
                    met.insert(k.to_string());
                }
            }
        }
        keys.iter()
            .find_map(|k| self.names.get(*k))
            .map(|&atol| Tol { atol, rtol: 0.0 })
            .unwrap_or(Tol { atol: self.atol, rtol: self.rtol })
    }

    pub fn is_exact(&self) -> bool {
        self.atol == 0.0 && self.rtol == 0.0 && self.names.values().all(|v| *v == 0.0)
    }

    /// The per-name tolerances whose name no value was looked up by so far.
    pub fn unmet(&self) -> Vec<String> {
        let met = self.met.borrow();
        self.names.keys().filter(|n| !met.contains(*n)).cloned().collect()
    }

    /// Every key values were looked up by so far (recorded only while `names` has any).
    pub fn met(&self) -> Vec<String> {
        self.met.borrow().iter().cloned().collect()
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

    #[test]
    fn a_name_no_value_was_looked_up_by_is_unmet() {
        let t = Tolerances::resolve(None, None, None, &[("loss".into(), 0.1), ("lss".into(), 0.1)]);
        assert_eq!(t.unmet(), ["loss", "lss"], "nothing looked up yet");
        t.for_keys(&["train.loss", "loss", "metrics.csv"]);
        t.for_keys(&["train.loss", "loss", "metrics.csv"]);
        assert_eq!(t.unmet(), ["lss"]);
        assert_eq!(t.met(), ["loss", "metrics.csv", "train.loss"]);
        let none = Tolerances::resolve(None, Some(1.0), None, &[]);
        none.for_keys(&["loss"]);
        assert!(none.met().is_empty(), "nothing is recorded without per-name tolerances");
    }
}
