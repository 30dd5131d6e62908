//! Per-kind checks of `[[probes]]` and `[[hooks]]` entries: which keys each kind
//! takes and the range of each value. Names of layers and indices of images are
//! checked against the graph and the data in `probes::precheck`.

use super::probe::*;
use super::validate::{Check, RESOLUTIONS};
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
    Ok(())
}
