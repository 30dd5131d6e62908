//! `[model]` checks that need no shapes: names, which settings each op takes, and the
//! range of each setting. Wiring and shapes are `graph`'s.

use super::types::*;
use super::validate::{op_name_of, show, Check, MAX_NAME_CHARS};
use crate::error::Result;

pub(crate) fn validate_model(c: &Check, model: &ModelSpec) -> Result<()> {
    c.ensure(!model.layers.is_empty(), "model.layers", || {
        "[model] has no layers; add at least one [[model.layers]] table".into()
    })?;
    if let Some(init) = &model.init {
        c.path_value("model.init.from", "[model] init `from`", &init.get_ref().from)?;
    }
    for (i, layer) in model.layers.iter().enumerate() {
        validate_layer(c, i, layer.get_ref())?;
    }
    Ok(())
}

/// A layer name is a CSV column, a checkpoint key and a `--set` segment.
pub fn name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if chars == 0 {
        return Some("a layer name cannot be empty".into());
    }
    if chars > MAX_NAME_CHARS {
        return Some(format!("a layer name is at most {MAX_NAME_CHARS} characters; this one has {chars}"));
    }
    if !name.chars().all(|ch| ch.is_alphanumeric() || ch == '_' || ch == '-') {
        return Some(format!("layer name `{name}`: use letters, digits, `_` and `-` only"));
    }
    if name.parse::<usize>().is_ok() {
        return Some(format!("layer name `{name}` is a number, which `--set` would read as an index"));
    }
    None
}

fn validate_layer(c: &Check, i: usize, l: &LayerSpec) -> Result<()> {
    let base = format!("model.layers.{i}");
    let key = |k: &str| format!("{base}.{k}");
    if let Some(problem) = name_problem(&l.name) {
        return Err(c.fail(&key("name"), problem));
    }
    for (j, input) in l.inputs.iter().flatten().enumerate() {
        c.ensure(!input.is_empty(), &key(&format!("inputs.{j}")), || "an input name cannot be empty".into())?;
    }
    let set = [
        ("units", l.units.is_some()),
        ("bias", l.bias.is_some()),
        ("init", l.init.is_some()),
        ("weights", l.weights.is_some()),
        ("biases", l.biases.is_some()),
        ("alpha", l.alpha.is_some()),
        ("value", l.value.is_some()),
        ("channels", l.channels.is_some()),
        ("kernel", l.kernel.is_some()),
        ("stride", l.stride.is_some()),
        ("padding", l.padding.is_some()),
        ("rate", l.rate.is_some()),
        ("momentum", l.momentum.is_some()),
        ("eps", l.eps.is_some()),
    ];
    let allowed: &[&str] = match l.op {
        LayerOp::Dense => &["units", "bias", "init", "weights", "biases"],
        LayerOp::Conv2d => &["channels", "kernel", "stride", "padding", "bias", "init"],
        LayerOp::MaxPool2d | LayerOp::AvgPool2d => &["kernel", "stride"],
        LayerOp::BatchNorm => &["momentum", "eps"],
        LayerOp::Dropout => &["rate"],
        LayerOp::LeakyRelu => &["alpha"],
        LayerOp::AddScalar | LayerOp::MulScalar => &["value"],
        _ => &[],
    };
    let what = format!("layer `{}` (op `{}`)", l.name, op_name_of(l.op));
    c.reject_extra(&base, &what, &set, allowed)?;
    let need = |ok: bool, field: &str| c.ensure(ok, &key("op"), || format!("{what} needs `{field}`"));
    match l.op {
        LayerOp::Dense => need(l.units.is_some(), "units")?,
        LayerOp::AddScalar | LayerOp::MulScalar => need(l.value.is_some(), "value")?,
        LayerOp::Conv2d => {
            need(l.channels.is_some(), "channels")?;
            need(l.kernel.is_some(), "kernel")?;
        }
        _ => {}
    }
    for field in ["units", "channels", "kernel", "stride"] {
        let value = match field {
            "units" => l.units,
            "channels" => l.channels,
            "kernel" => l.kernel,
            _ => l.stride,
        };
        c.at_least_one(&key(field), &format!("{what}: `{field}`"), value)?;
    }
    if let (Some(padding), kernel) = (l.padding, l.kernel.unwrap_or(1)) {
        // Padding of a whole window or more only adds outputs that see nothing but zeros.
        c.ensure(padding < kernel, &key("padding"), || {
            format!("{what}: `padding` must be less than `kernel` ({kernel}), found {padding}")
        })?;
    }
    if l.op == LayerOp::Dense && l.init.is_some() && l.weights.is_some() {
        return Err(c.fail(&key("weights"), format!("{what}: give either `weights` or `init`, not both")));
    }
    if l.bias == Some(false) && l.biases.is_some() {
        return Err(c.fail(&key("biases"), format!("{what} has `bias = false` and `biases`")));
    }
    if let Some(rate) = l.rate {
        c.fraction(&key("rate"), &format!("{what}: `rate`"), rate, 0.0, 1.0)?;
    }
    if let Some(momentum) = l.momentum {
        c.number(&key("momentum"), &format!("{what}: `momentum`"), momentum, 0.0, false, 1.0)?;
    }
    if let Some(eps) = l.eps {
        c.number(&key("eps"), &format!("{what}: `eps`"), eps, 0.0, true, 1.0)?;
    }
    if let Some(alpha) = l.alpha {
        c.finite(&key("alpha"), &format!("{what}: `alpha`"), alpha)?;
    }
    if let Some(value) = l.value {
        c.finite(&key("value"), &format!("{what}: `value`"), value)?;
    }
    for (r, row) in l.weights.iter().flatten().enumerate() {
        for (j, v) in row.iter().enumerate() {
            c.finite(&key(&format!("weights.{r}.{j}")), &format!("{what}: `weights[{r}][{j}]`"), *v)?;
        }
    }
    for (j, v) in l.biases.iter().flatten().enumerate() {
        c.finite(&key(&format!("biases.{j}")), &format!("{what}: `biases[{j}]`"), *v)?;
    }
    if let Some(init) = &l.init {
        validate_init(c, &key("init"), &what, init)?;
    }
    Ok(())
}

fn validate_init(c: &Check, base: &str, what: &str, init: &InitSpec) -> Result<()> {
    let kind = toml::Value::try_from(init.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let set = [
        ("low", init.low.is_some()),
        ("high", init.high.is_some()),
        ("std", init.std.is_some()),
        ("value", init.value.is_some()),
    ];
    let (allowed, needed): (&[&str], &[&str]) = match init.kind {
        InitKind::Uniform => (&["low", "high"], &["low", "high"]),
        InitKind::Normal => (&["std"], &["std"]),
        InitKind::Constant => (&["value"], &["value"]),
        _ => (&[], &[]),
    };
    c.reject_extra(base, &format!("{what}: init `{kind}`"), &set, allowed)?;
    for field in needed {
        let present = set.iter().any(|(f, p)| f == field && *p);
        c.ensure(present, &format!("{base}.kind"), || format!("{what}: init `{kind}` needs `{field}`"))?;
    }
    let key = |k: &str| format!("{base}.{k}");
    for (field, v) in [("low", init.low), ("high", init.high), ("value", init.value)] {
        if let Some(v) = v {
            c.finite(&key(field), &format!("{what}: init `{field}`"), v)?;
        }
    }
    if let Some(std) = init.std {
        c.number(&key("std"), &format!("{what}: init `std`"), std, 0.0, false, 1e6)?;
    }
    if let (Some(low), Some(high)) = (init.low, init.high) {
        c.ensure(low <= high, &key("low"), || {
            format!("{what}: init `low` ({}) is above `high` ({})", show(low), show(high))
        })?;
    }
    Ok(())
}
