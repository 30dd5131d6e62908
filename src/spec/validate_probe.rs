//! Per-kind checks of `[[probes]]` and `[[hooks]]` entries: which keys each kind
//! takes and the range of each value. Names of layers and indices of images are
//! checked against the graph and the data in `probes::precheck`.

use super::probe::*;
use super::validate::{show, Check, MAX_LR, RESOLUTIONS};
use crate::error::Result;

/// The keys each probe kind takes besides `kind`.
fn allowed(kind: ProbeKind) -> &'static [&'static str] {
    match kind {
        ProbeKind::Curves => &["metrics"],
        ProbeKind::Params => &[],
        ProbeKind::DecisionBoundary => &["split", "resolution"],
        ProbeKind::Dataset | ProbeKind::TruthVsPrediction | ProbeKind::Confusion | ProbeKind::Misclassified => {
            &["split"]
        }
        ProbeKind::Filters => &["layer"],
        ProbeKind::Activations => &["split", "layers", "images"],
        ProbeKind::Saliency | ProbeKind::InputXGradient | ProbeKind::Deconvnet | ProbeKind::GuidedBackprop => {
            &["split", "images", "class"]
        }
        ProbeKind::GradientAscent => &["split", "layer", "classes", "channel", "steps", "lr", "l2", "jitter", "blur"],
        ProbeKind::Occlusion => &["split", "images", "patch", "stride", "baseline"],
        ProbeKind::Adversarial => {
            &["split", "images", "epsilons", "attacks", "steps", "step_size", "random_start", "count"]
        }
    }
}

pub(super) fn validate_probe(c: &Check, i: usize, p: &ProbeSpec) -> Result<()> {
    let base = format!("probes.{i}");
    let kind = p.kind.name();
    let set = [
        ("split", p.split.is_some()),
        ("resolution", p.resolution.is_some()),
        ("metrics", p.metrics.is_some()),
        ("layer", p.layer.is_some()),
        ("layers", p.layers.is_some()),
        ("images", p.images.is_some()),
        ("class", p.class.is_some()),
        ("classes", p.classes.is_some()),
        ("channel", p.channel.is_some()),
        ("steps", p.steps.is_some()),
        ("lr", p.lr.is_some()),
        ("l2", p.l2.is_some()),
        ("jitter", p.jitter.is_some()),
        ("blur", p.blur.is_some()),
        ("patch", p.patch.is_some()),
        ("stride", p.stride.is_some()),
        ("baseline", p.baseline.is_some()),
        ("epsilons", p.epsilons.is_some()),
        ("attacks", p.attacks.is_some()),
        ("step_size", p.step_size.is_some()),
        ("random_start", p.random_start.is_some()),
        ("count", p.count.is_some()),
    ];
    c.reject_extra(&base, &format!("probe `{kind}`"), &set, allowed(p.kind))?;
    if p.metrics.as_ref().is_some_and(Vec::is_empty) {
        return Err(c.fail(
            &format!("{base}.metrics"),
            format!("probe `{kind}`: `metrics` is empty; leave it out to draw every recorded one"),
        ));
    }
    if let Some(r) = p.resolution {
        c.ensure(RESOLUTIONS.contains(&r), &format!("{base}.resolution"), || {
            let (low, high) = (RESOLUTIONS.start(), RESOLUTIONS.end());
            format!("probe `{kind}`: `resolution` (grid cells per side) must be from {low} to {high}, found {r}")
        })?;
    }
    let v = Values { c, base: &base, kind: &kind };
    v.count("steps", p.steps, 1, MAX_PROBE_STEPS)?;
    v.count("jitter", p.jitter, 0, MAX_JITTER)?;
    v.count("patch", p.patch, 1, usize::MAX)?;
    v.count("stride", p.stride, 1, usize::MAX)?;
    v.count("count", p.count, 1, usize::MAX)?;
    v.number("lr", p.lr, 0.0, true, MAX_LR)?;
    v.number("l2", p.l2, 0.0, false, MAX_WEIGHT)?;
    v.number("blur", p.blur, 0.0, false, MAX_BLUR)?;
    v.number("baseline", p.baseline, -MAX_RAW, false, MAX_RAW)?;
    v.number("step_size", p.step_size, 0.0, true, MAX_RAW)?;
    let number = |n: &usize| n.to_string();
    v.list("images", p.images.as_deref(), MAX_IMAGES, "leave it out for the first 8", number)?;
    v.list("classes", p.classes.as_deref(), MAX_ASCENT_TARGETS, "leave it out for every class", number)?;
    let layers = p.layers.as_deref();
    v.list("layers", layers, usize::MAX, "leave it out for every conv, ReLU and pool node", |n: &String| n.clone())?;
    v.list("attacks", p.attacks.as_deref(), usize::MAX, "leave it out for both", |a: &Attack| attack_name(*a))?;
    let epsilons = p.epsilons.as_deref();
    v.list("epsilons", epsilons, MAX_EPSILONS, "leave it out for 0, 0.05, …, 0.3", |e: &f64| show(*e))?;
    for (j, e) in p.epsilons.iter().flatten().enumerate() {
        c.number(
            &format!("{base}.epsilons.{j}"),
            &format!("probe `{kind}`: each of `epsilons`"),
            *e,
            0.0,
            false,
            MAX_RAW,
        )?;
    }
    if let Some(layer) = &p.layer {
        c.ensure(!layer.is_empty(), &format!("{base}.layer"), || format!("probe `{kind}`: `layer` is empty"))?;
    }
    if p.kind == ProbeKind::GradientAscent {
        // A channel belongs to a layer, and the picture shows a class or a channel.
        if p.channel.is_some() && p.layer.is_none() {
            return Err(c.fail(
                &format!("{base}.channel"),
                format!("probe `{kind}`: `channel` needs the `layer` it is a channel of"),
            ));
        }
        if p.layer.is_some() && p.channel.is_none() {
            return Err(c.fail(
                &format!("{base}.layer"),
                format!("probe `{kind}`: `layer` needs a `channel` to maximise (or leave both out for classes)"),
            ));
        }
        if p.channel.is_some() && p.classes.is_some() {
            return Err(c.fail(
                &format!("{base}.classes"),
                format!("probe `{kind}`: give `classes` or `layer` and `channel`, not both"),
            ));
        }
    }
    Ok(())
}

/// `gradient_ascent` and PGD steps: each is a forward and a backward pass.
pub const MAX_PROBE_STEPS: usize = 100_000;
/// Jitter shifts the image by up to this many pixels (more moves a digit off the image).
const MAX_JITTER: usize = 64;
/// Blur σ in pixels: wider blurs every image to a flat field.
const MAX_BLUR: f64 = 10.0;
/// Penalty weights.
const MAX_WEIGHT: f64 = 1e6;
/// Values in raw input units (pixels, the 2-D data's coordinates).
const MAX_RAW: f64 = 1e6;
/// Images a probe draws: each is a row (or a tile) of its picture.
pub const MAX_IMAGES: usize = 64;
/// Classes `gradient_ascent` optimises: each is an input image made and drawn.
pub const MAX_ASCENT_TARGETS: usize = 256;
/// Epsilons an `adversarial` probe tries: each is a full attack.
const MAX_EPSILONS: usize = 64;

/// Range checks of one probe's optional values, at `probes.<i>.<key>`.
struct Values<'a> {
    c: &'a Check<'a>,
    base: &'a str,
    kind: &'a str,
}

impl Values<'_> {
    fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.base)
    }

    fn count(&self, key: &str, value: Option<usize>, low: usize, high: usize) -> Result<()> {
        let Some(v) = value else { return Ok(()) };
        let kind = self.kind;
        self.c.ensure(v >= low && v <= high, &self.path(key), || {
            if high == usize::MAX {
                format!("probe `{kind}`: `{key}` must be at least {low}, found {v}")
            } else {
                format!("probe `{kind}`: `{key}` must be from {low} to {high}, found {v}")
            }
        })
    }

    fn number(&self, key: &str, value: Option<f64>, low: f64, low_open: bool, high: f64) -> Result<()> {
        let Some(v) = value else { return Ok(()) };
        self.c.number(&self.path(key), &format!("probe `{}`: `{key}`", self.kind), v, low, low_open, high)
    }

    /// A list that is not empty, names nothing twice and holds at most `most` entries.
    fn list<T: PartialEq>(
        &self,
        key: &str,
        list: Option<&[T]>,
        most: usize,
        hint: &str,
        name: impl Fn(&T) -> String,
    ) -> Result<()> {
        let Some(list) = list else { return Ok(()) };
        let kind = self.kind;
        if list.is_empty() {
            return Err(self.c.fail(&self.path(key), format!("probe `{kind}`: `{key}` is empty; {hint}")));
        }
        if list.len() > most {
            return Err(self.c.fail(
                &self.path(&format!("{key}.{most}")),
                format!("probe `{kind}`: `{key}` lists {} entries; at most {most}", list.len()),
            ));
        }
        if let Some((_, j)) = super::validate::repeated(list) {
            return Err(self.c.fail(
                &self.path(&format!("{key}.{j}")),
                format!("probe `{kind}`: `{key}` lists `{}` twice", name(&list[j])),
            ));
        }
        Ok(())
    }
}

/// An attack's name as a spec writes it (`pgd`).
pub fn attack_name(a: Attack) -> String {
    toml::Value::try_from(a).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}
