//! Checks that need more than serde: which fields each kind accepts, the range of every
//! number, and values that must agree with each other. Each error is reported at its
//! key (or, for a `--set`, at the argument). Layer wiring and shapes are checked by
//! `graph`; the fit of loss, metrics and splits to the data by `graph::fit`.
//! The ranges are listed in the README's spec reference.

use super::data::*;
use super::types::*;
use crate::error::{Result, Source};

/// Larger learning rates, scales and sizes than these are typos, not experiments.
pub const MAX_LR: f64 = 1e4;
const MAX_SCALE: f64 = 1e6;
/// The smallest positive normal f32 (about 1.2e-38): a setting that must be positive
/// must be at least this, as runs compute in f32 by default.
pub const MIN_POSITIVE: f64 = f32::MIN_POSITIVE as f64;
/// Decision-boundary grids: cells per side (the picture has room for no more).
pub const RESOLUTIONS: std::ops::RangeInclusive<usize> = 8..=600;
/// Layer names become CSV columns, checkpoint keys and `--set` segments.
pub const MAX_NAME_CHARS: usize = 64;

/// Reports errors at keys of one spec.
pub(crate) struct Check<'a> {
    pub source: &'a Source,
}

impl Check<'_> {
    pub fn fail(&self, path: &str, message: impl Into<String>) -> crate::error::Error {
        super::load::error_at(self.source, path, message)
    }

    pub fn ensure(&self, ok: bool, path: &str, message: impl FnOnce() -> String) -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(self.fail(path, message()))
        }
    }

    /// `value` at `path` is finite and within [low, high] (or (low, high] when
    /// `low_open`); `high = f64::INFINITY` leaves it unbounded above. `what` names it
    /// in the message, e.g. "[train] `lr`".
    pub fn number(&self, path: &str, what: &str, value: f64, low: f64, low_open: bool, high: f64) -> Result<()> {
        let ok = value.is_finite() && value <= high && if low_open { value > low } else { value >= low };
        self.ensure(ok, path, || {
            format!("{what} must be a finite number {}, found {}", range(low, low_open, high), show(value))
        })?;
        // "> 0" means a number a run can compute with: a subnormal one is 0 in f32.
        let subnormal = low_open && low == 0.0 && value < MIN_POSITIVE;
        self.ensure(!subnormal, path, || {
            format!(
                "{what} must be a finite number {}, found {}, which is too small: below about 1.2e-38 a \
                 number is subnormal in f32 and computes as 0",
                range(low, low_open, high),
                show(value),
            )
        })
    }

    /// `value` is finite and in [low, high) (probabilities and decay rates).
    pub fn fraction(&self, path: &str, what: &str, value: f64, low: f64, high: f64) -> Result<()> {
        let ok = value.is_finite() && value >= low && value < high;
        self.ensure(ok, path, || format!("{what} must be in [{low}, {high}), found {}", show(value)))
    }

    pub fn finite(&self, path: &str, what: &str, value: f64) -> Result<()> {
        self.number(path, what, value, -MAX_SCALE, false, MAX_SCALE)
    }

    /// A file or folder named by the spec: joined to the spec's folder, an empty one
    /// would name that folder and fail later with an OS error that names neither key
    /// nor path. Only spaces is as empty: no one means a file named "   ".
    pub fn path_value(&self, path: &str, what: &str, value: &str) -> Result<()> {
        self.ensure(!value.trim().is_empty(), path, || {
            let only = if value.is_empty() { "" } else { " (only whitespace)" };
            format!("{what} is empty{only}; give a path relative to the spec")
        })?;
        self.ensure(!value.contains('\0'), path, || format!("{what} contains a NUL character, which no file name can"))
    }

    pub fn at_least_one(&self, path: &str, what: &str, value: Option<usize>) -> Result<()> {
        self.ensure(value != Some(0), path, || format!("{what} must be at least 1, found 0"))
    }

    /// Fields a kind does not take, reported at the first such key.
    pub fn reject_extra(&self, base: &str, what: &str, set: &[(&str, bool)], allowed: &[&str]) -> Result<()> {
        for (field, present) in set {
            if *present && !allowed.contains(field) {
                let list = if allowed.is_empty() {
                    "no settings".to_string()
                } else {
                    allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
                };
                return Err(
                    self.fail(&format!("{base}.{field}"), format!("{what} does not take `{field}` (it takes {list})"))
                );
            }
        }
        Ok(())
    }
}

/// The first entry of `list` that repeats an earlier one: (the earlier's index, its own).
/// Every "lists `x` twice" check finds the repeat this way, so all name the same entry.
pub fn repeated<T: PartialEq>(list: &[T]) -> Option<(usize, usize)> {
    (1..list.len()).find_map(|j| list[..j].iter().position(|x| *x == list[j]).map(|i| (i, j)))
}

/// The accepted range as the messages write it: `in [0, 1]`, or `> 0` without an upper
/// bound (a bound of f64::MAX written out is 309 digits that say nothing).
fn range(low: f64, low_open: bool, high: f64) -> String {
    if high >= f64::MAX {
        format!("{} {}", if low_open { ">" } else { ">=" }, show(low))
    } else {
        format!("in {}{}, {}]", if low_open { "(" } else { "[" }, show(low), show(high))
    }
}

/// NaN and infinities as TOML writes them.
pub fn show(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else if v != 0.0 && !(1e-4..1e9).contains(&v.abs()) {
        // 1e308 as 1e308, not as 309 digits.
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// `train_keys` are the keys written in `[train]` (after the command line's edits).
pub fn validate(spec: &Spec, source: &Source, train_keys: &[String]) -> Result<()> {
    let c = Check { source };
    validate_name(&c, &spec.name)?;
    validate_data(&c, &spec.data)?;
    super::validate_model::validate_model(&c, &spec.model)?;
    if let Some(train) = &spec.train {
        validate_train(&c, train.get_ref(), train_keys)?;
    }
    let m = &spec.metrics;
    c.at_least_one("metrics.every", "[metrics] `every`", m.every)?;
    c.at_least_one("metrics.batch_every", "[metrics] `batch_every`", m.batch_every)?;
    c.ensure(!m.splits.as_ref().is_some_and(Vec::is_empty), "metrics.splits", || {
        "[metrics] `splits` is empty; leave it out to evaluate every split".into()
    })?;
    c.ensure(!m.record.is_empty(), "metrics.record", || {
        "[metrics] `record` is empty; it needs at least one metric".into()
    })?;
    if let Some((_, j)) = repeated(&m.record) {
        let message = format!("[metrics] `record` lists `{}` twice", m.record[j].name());
        return Err(c.fail(&format!("metrics.record.{j}"), message));
    }
    let splits = m.splits.as_deref().unwrap_or_default();
    if let Some((_, j)) = repeated(splits) {
        let message = format!("[metrics] `splits` lists `{}` twice", splits[j].name());
        return Err(c.fail(&format!("metrics.splits.{j}"), message));
    }
    let print = spec.output.print.as_deref().unwrap_or_default();
    if let Some((_, j)) = repeated(print) {
        let message = format!("[output] `print` lists `{}` twice", print[j].name());
        return Err(c.fail(&format!("output.print.{j}"), message));
    }
    for (i, p) in spec.probes.iter().enumerate() {
        super::validate_probe::validate_probe(&c, i, p.get_ref())?;
    }
    for (i, h) in spec.hooks.iter().enumerate() {
        super::validate_hooks::validate_hook(&c, i, h.get_ref())?;
    }
    let hooks: Vec<&super::probe::HookSpec> = spec.hooks.iter().map(|h| h.get_ref()).collect();
    super::validate_hooks::no_node_twice(&c, &hooks)
}

/// The run's folder is named after it: no path separators, no hidden or parent folder,
/// and short enough for a file system's 255-byte names with a sweep's `-sweep-<hash>`
/// (19 bytes) after it, in any script (a CJK character is 3 bytes).
fn validate_name(c: &Check, name: &str) -> Result<()> {
    let chars = name.chars().count();
    let ok = chars > 0
        && chars <= 128
        && name.len() <= 200
        && !name.starts_with('.')
        && !name.chars().any(|ch| ch == '/' || ch == '\\' || ch.is_control());
    c.ensure(ok, "name", || {
        format!(
            "`name` names the results folder: 1 to 128 characters and at most 200 bytes as UTF-8 \
             (this one: {chars} characters, {} bytes), no `/`, `\\` or control characters, not starting with `.`",
            name.len()
        )
    })
}

/// Which keys each kind takes, what it needs, and the normalisation constants. The
/// values of the other `[data]` keys (counts, fractions, noise, ranges, augmentation,
/// inline rows) are checked where they are parsed, in `spec/data/checked.rs`.
fn validate_data(c: &Check, data: &toml::Spanned<DataSpec>) -> Result<()> {
    let d = data.get_ref();
    let Some(kind) = d.kind else {
        return Err(c.source.error(Some(data.span()), "[data] needs a `kind` (linear, gates, xor, diamond, square, circle, spirals, moons, blobs, inline, csv or mnist)").into());
    };
    let set = [
        ("n", d.n.is_some()),
        ("noise", d.noise.is_some()),
        ("coefficients", d.coefficients.is_some()),
        ("intercept", d.intercept.is_some()),
        ("range", d.range.is_some()),
        ("gate", d.gate.is_some()),
        ("radius", d.radius.is_some()),
        ("classes", d.classes.is_some()),
        ("inputs", d.inputs.is_some()),
        ("targets", d.targets.is_some()),
        ("path", d.path.is_some()),
        ("feature_columns", d.feature_columns.is_some()),
        ("target_columns", d.target_columns.is_some()),
        ("test_n", d.test_n.is_some()),
        ("augment", d.augment.is_some()),
    ];
    let allowed: &[&str] = match kind {
        DataKind::Linear => &["n", "noise", "coefficients", "intercept", "range"],
        DataKind::Gates => &["gate"],
        DataKind::Xor => &["n", "noise", "range"],
        DataKind::Diamond => &["n", "range"],
        DataKind::Square | DataKind::Circle => &["n", "range", "radius", "noise"],
        DataKind::Spirals | DataKind::Blobs => &["n", "noise", "classes"],
        DataKind::Moons => &["n", "noise"],
        DataKind::Inline => &["inputs", "targets", "classes"],
        DataKind::Csv => &["path", "feature_columns", "target_columns", "classes"],
        DataKind::Mnist => &["path", "n", "test_n", "augment"],
    };
    let name = format!("[data] kind = \"{}\"", kind_name(kind));
    c.reject_extra("data", &name, &set, allowed)?;
    let need = |ok: bool, what: &str| c.ensure(ok, "data.kind", || format!("{name} needs `{what}`"));
    match kind {
        DataKind::Gates => need(d.gate.is_some(), "gate")?,
        DataKind::Inline => need(d.inputs.is_some(), "inputs")?,
        DataKind::Mnist => need(d.path.is_some(), "path")?,
        DataKind::Csv => {
            need(d.path.is_some(), "path")?;
            validate_columns(c, d)?;
        }
        _ => {}
    }
    if let Some(path) = &d.path {
        c.path_value("data.path", "[data] `path`", path)?;
    }
    if let Some(Normalize::Given { mean, std }) = d.normalize {
        c.finite("data.normalize.mean", "[data] normalize `mean`", mean)?;
        c.number("data.normalize.std", "[data] normalize `std`", std, 0.0, true, MAX_SCALE)?;
    }
    if kind == DataKind::Mnist && d.test_fraction > 0.0 {
        return Err(c.fail(
            "data.test_fraction",
            "[data] kind = \"mnist\" has its own test split (the t10k files); use `test_n` to shorten it",
        ));
    }
    Ok(())
}

/// A CSV column is read once, as an input or as a target: a target among the inputs
/// would hand the network its answer.
fn validate_columns(c: &Check, d: &DataSpec) -> Result<()> {
    let features = d.feature_columns.as_deref().unwrap_or_default();
    let targets = d.target_columns.as_deref().unwrap_or_default();
    for (key, names) in [("feature_columns", features), ("target_columns", targets)] {
        if let Some((first, again)) = repeated(names) {
            return Err(c.fail(
                &format!("data.{key}"),
                format!("[data] `{key}` names `{}` twice (entries {} and {})", names[again], first + 1, again + 1),
            ));
        }
    }
    if let Some(name) = features.iter().find(|n| targets.contains(n)) {
        return Err(c.fail(
            "data.feature_columns",
            format!("[data] `{name}` is both a feature and a target column; the inputs would hold the answer"),
        ));
    }
    Ok(())
}

pub fn kind_name(kind: DataKind) -> String {
    toml::Value::try_from(kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

pub fn op_name_of(op: LayerOp) -> String {
    toml::Value::try_from(op).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

fn validate_train(c: &Check, t: &TrainSpec, given: &[String]) -> Result<()> {
    if t.solver == Some(Solver::Lstsq) {
        let key = if t.iterations.is_some() { "train.iterations" } else { "train.epochs" };
        return c.ensure(t.iterations.is_none() && t.epochs.is_none(), key, || {
            "[train] `solver = \"lstsq\"` is closed-form: drop `iterations` and `epochs`".into()
        });
    }
    c.ensure(t.loss.is_some(), "train", || "[train] needs a `loss` (mse, sse, bce or cross_entropy)".into())?;
    match (t.iterations, t.epochs) {
        (Some(_), Some(_)) => {
            return Err(c.fail(
                "train.epochs",
                "[train] give `iterations` or `epochs`, not both (`--unset train.iterations` removes one)",
            ))
        }
        (None, None) => return Err(c.fail("train", "[train] needs `iterations` or `epochs`")),
        _ => {}
    }
    c.at_least_one("train.iterations", "[train] `iterations`", t.iterations)?;
    c.at_least_one("train.epochs", "[train] `epochs`", t.epochs)?;
    let (optimizer, takes): (&str, &[&str]) = match t.optimizer {
        OptimizerKind::Sgd => ("sgd", &["momentum", "nesterov"]),
        OptimizerKind::Adam => ("adam", &["beta1", "beta2", "eps"]),
        OptimizerKind::AdamW => ("adamw", &["beta1", "beta2", "eps"]),
        OptimizerKind::RmsProp => ("rmsprop", &["alpha", "eps", "momentum"]),
    };
    // A default value is let through: the resolved spec.toml writes every setting.
    let defaults = TrainSpec::default_optimizer_settings();
    let set: Vec<(&str, bool)> = [
        ("momentum", t.momentum != defaults.momentum),
        ("nesterov", t.nesterov != defaults.nesterov),
        ("beta1", t.beta1 != defaults.beta1),
        ("beta2", t.beta2 != defaults.beta2),
        ("eps", t.eps != defaults.eps),
        ("alpha", t.alpha != defaults.alpha),
    ]
    .into_iter()
    .map(|(k, changed)| (k, changed && given.iter().any(|g| g == k)))
    .collect();
    c.reject_extra("train", &format!("[train] optimizer `{optimizer}`"), &set, takes)?;
    c.number("train.lr", "[train] `lr`", t.lr, 0.0, true, MAX_LR)?;
    c.number("train.loss_scale", "[train] `loss_scale`", t.loss_scale, 0.0, true, MAX_SCALE)?;
    c.fraction("train.momentum", "[train] `momentum`", t.momentum, 0.0, 1.0)?;
    c.ensure(!(t.nesterov && t.momentum == 0.0), "train.nesterov", || {
        "[train] `nesterov = true` needs `momentum` > 0".into()
    })?;
    c.number("train.weight_decay", "[train] `weight_decay`", t.weight_decay, 0.0, false, MAX_SCALE)?;
    c.fraction("train.beta1", "[train] `beta1`", t.beta1, 0.0, 1.0)?;
    c.fraction("train.beta2", "[train] `beta2`", t.beta2, 0.0, 1.0)?;
    c.number("train.eps", "[train] `eps`", t.eps, 0.0, true, 1.0)?;
    c.fraction("train.alpha", "[train] `alpha`", t.alpha, 0.0, 1.0)?;
    if let Some(s) = t.schedule {
        let set = [("every", s.every.is_some()), ("gamma", s.gamma.is_some()), ("min_lr", s.min_lr.is_some())];
        match s.kind {
            ScheduleKind::Step => {
                c.reject_extra("train.schedule", "schedule `step`", &set, &["every", "gamma"])?;
                c.ensure(s.every.unwrap_or(0) > 0, "train.schedule.every", || {
                    "[train] schedule `step` needs `every` (steps between decays, at least 1)".into()
                })?;
                if let Some(gamma) = s.gamma {
                    c.number("train.schedule.gamma", "[train] schedule `gamma`", gamma, 0.0, true, 1.0)?;
                }
            }
            ScheduleKind::Cosine => {
                c.reject_extra("train.schedule", "schedule `cosine`", &set, &["min_lr"])?;
                if let Some(min_lr) = s.min_lr {
                    c.number("train.schedule.min_lr", "[train] schedule `min_lr`", min_lr, 0.0, false, t.lr)?;
                }
            }
        }
    }
    if let Some(clip) = t.clip_norm {
        c.number("train.clip_norm", "[train] `clip_norm`", clip, 0.0, true, f64::INFINITY)?;
    }
    c.at_least_one("train.checkpoint_every", "[train] `checkpoint_every`", t.checkpoint_every)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_is_the_first_entry_seen_before() {
        assert_eq!(repeated(&["a", "b", "c"]), None);
        assert_eq!(repeated::<u8>(&[]), None);
        // `b` repeats before the second `a` does: the earliest repeat is named.
        assert_eq!(repeated(&["a", "b", "b", "a"]), Some((1, 2)));
        assert_eq!(repeated(&["x", "y", "x"]), Some((0, 2)));
    }

    #[test]
    fn ranges_read_as_written() {
        assert_eq!(range(0.0, true, 1.0), "in (0, 1]");
        assert_eq!(range(-1e6, false, 1e6), "in [-1000000, 1000000]");
        assert_eq!(range(0.0, false, 1e300), "in [0, 1e300]");
        // No upper bound: no 309-digit f64::MAX.
        assert_eq!(range(0.0, true, f64::INFINITY), "> 0");
        assert_eq!(range(0.0, true, f64::MAX), "> 0");
        assert_eq!(range(0.5, false, f64::INFINITY), ">= 0.5");
    }
}
