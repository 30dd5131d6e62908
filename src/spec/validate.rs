//! Checks that need more than serde: which fields each kind accepts, and values that
//! must agree with each other. Layer wiring and shapes are checked by `graph`.

use super::data::*;
use super::types::*;
use crate::error::{Result, Source};

pub fn validate(spec: &Spec, source: &Source) -> Result<()> {
    validate_data(&spec.data, source)?;
    for layer in &spec.model.layers {
        validate_layer(layer, source)?;
    }
    if let Some(train) = &spec.train {
        validate_train(train, source)?;
    }
    if spec.metrics.every == Some(0) || spec.metrics.batch_every == Some(0) {
        return Err(source.error(None, "[metrics] every and batch_every must be at least 1").into());
    }
    Ok(())
}

fn reject_extra(
    source: &Source,
    span: std::ops::Range<usize>,
    what: &str,
    set: &[(&str, bool)],
    allowed: &[&str],
) -> Result<()> {
    for (field, present) in set {
        if *present && !allowed.contains(field) {
            let list = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
            return Err(source.error(Some(span), format!("{what} does not take `{field}` (it takes {list})")).into());
        }
    }
    Ok(())
}

fn validate_data(data: &toml::Spanned<DataSpec>, source: &Source) -> Result<()> {
    let d = data.get_ref();
    let span = data.span();
    let Some(kind) = d.kind else {
        return Err(source.error(Some(span), "[data] needs a `kind` (linear, gates, xor, diamond, square, circle, spirals, moons, blobs, inline or csv)").into());
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
    reject_extra(source, span.clone(), &name, &set, allowed)?;
    if !(0.0..1.0).contains(&d.validation_fraction) {
        return Err(source
            .error(
                Some(span.clone()),
                format!("validation_fraction must be in [0, 1), found {}", d.validation_fraction),
            )
            .into());
    }
    if !(0.0..1.0).contains(&d.test_fraction) {
        return Err(source
            .error(Some(span), format!("test_fraction must be in [0, 1), found {}", d.test_fraction))
            .into());
    }
    let need = |ok: bool, what: &str| -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(source.error(Some(span.clone()), format!("{name} needs `{what}`")).into())
        }
    };
    match kind {
        DataKind::Gates => need(d.gate.is_some(), "gate")?,
        DataKind::Inline => need(d.inputs.is_some(), "inputs")?,
        DataKind::Mnist => need(d.path.is_some(), "path")?,
        DataKind::Csv => {
            need(d.path.is_some(), "path")?;
            need(d.feature_columns.is_some(), "feature_columns")?;
        }
        _ => {}
    }
    if let Some(Normalize::Given { std, .. }) = d.normalize {
        if std.is_nan() || std <= 0.0 {
            return Err(source.error(Some(span), format!("normalize std must be positive, found {std}")).into());
        }
    }
    if kind == DataKind::Mnist && d.test_fraction > 0.0 {
        return Err(source
            .error(
                Some(span),
                "[data] kind = \"mnist\" has its own test split (the t10k files); use `test_n` to shorten it",
            )
            .into());
    }
    if let Some(r) = d.range {
        if r[0] >= r[1] {
            return Err(source
                .error(Some(span), format!("range must be [low, high] with low < high, found [{}, {}]", r[0], r[1]))
                .into());
        }
    }
    Ok(())
}

pub fn kind_name(kind: DataKind) -> String {
    toml::Value::try_from(kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

pub fn op_name_of(op: LayerOp) -> String {
    toml::Value::try_from(op).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

fn validate_layer(layer: &toml::Spanned<LayerSpec>, source: &Source) -> Result<()> {
    let l = layer.get_ref();
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
    reject_extra(source, layer.span(), &what, &set, allowed)?;
    let fail = |m: String| -> Result<()> { Err(source.error(Some(layer.span()), format!("{what}: {m}")).into()) };
    match l.op {
        LayerOp::Dense if l.units.is_none() => fail("needs `units`".into())?,
        LayerOp::Dense if l.units == Some(0) => fail("`units` must be at least 1".into())?,
        LayerOp::Dense if l.init.is_some() && l.weights.is_some() => {
            fail("give either `weights` or `init`, not both".into())?
        }
        LayerOp::Dense if l.bias == Some(false) && l.biases.is_some() => {
            fail("has `bias = false` and `biases`".into())?
        }
        LayerOp::AddScalar | LayerOp::MulScalar if l.value.is_none() => fail("needs `value`".into())?,
        _ => {}
    }
    if let Some(init) = &l.init {
        let ok = match init.kind {
            InitKind::Uniform => init.low.is_some() && init.high.is_some(),
            InitKind::Normal => init.std.is_some(),
            InitKind::Constant => init.value.is_some(),
            _ => true,
        };
        if !ok {
            fail("init `uniform` needs `low` and `high`, `normal` needs `std`, `constant` needs `value`".into())?;
        }
    }
    Ok(())
}

fn validate_train(train: &toml::Spanned<TrainSpec>, source: &Source) -> Result<()> {
    let t = train.get_ref();
    let fail = |m: &str| -> Result<()> { Err(source.error(Some(train.span()), format!("[train] {m}")).into()) };
    if t.solver == Some(Solver::Lstsq) {
        if t.iterations.is_some() || t.epochs.is_some() {
            fail("`solver = \"lstsq\"` is closed-form: drop `iterations` and `epochs`")?;
        }
        return Ok(());
    }
    if t.loss.is_none() {
        fail("needs a `loss` (mse, sse, bce or cross_entropy)")?;
    }
    match (t.iterations, t.epochs) {
        (Some(_), Some(_)) => fail("give `iterations` or `epochs`, not both")?,
        (None, None) => fail("needs `iterations` or `epochs`")?,
        _ => {}
    }
    if !(t.lr > 0.0 && t.lr.is_finite()) {
        fail("`lr` must be a positive number")?;
    }
    if !(0.0..1.0).contains(&t.momentum) {
        fail("`momentum` must be in [0, 1)")?;
    }
    if t.nesterov && t.momentum == 0.0 {
        fail("`nesterov = true` needs `momentum` > 0")?;
    }
    if !(0.0..1.0).contains(&t.beta1) || !(0.0..1.0).contains(&t.beta2) {
        fail("`beta1` and `beta2` must be in [0, 1)")?;
    }
    if let Some(s) = t.schedule {
        if s.kind == ScheduleKind::Step && s.every.unwrap_or(0) == 0 {
            fail("schedule `step` needs `every` (steps between decays, at least 1)")?;
        }
    }
    if t.clip_norm.is_some_and(|c| c.is_nan() || c <= 0.0) {
        fail("`clip_norm` must be positive")?;
    }
    if t.checkpoint_every == Some(0) {
        fail("`checkpoint_every` must be at least 1 (steps between resume checkpoints)")?;
    }
    Ok(())
}
