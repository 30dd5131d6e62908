//! TODO(issue 9): not built yet; replaced before this lands.

use super::{ProbeContext, ProbeFile};
use crate::spec::ProbeSpec;

pub fn render(probe: &ProbeSpec, _ctx: &ProbeContext) -> Result<Vec<ProbeFile>, String> {
    Err(format!("probe `{}` is not built yet", probe.kind.name()))
}
