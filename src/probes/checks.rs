//! TODO(issue 9): checks before any compute for the probes that look inside a model.

use crate::data::Dataset;
use crate::graph::Dag;
use crate::spec::ProbeSpec;

/// Whether `probe` can run on `d` with this graph; an error names the probe's key.
pub fn precheck(_probe: &ProbeSpec, _d: &Dataset, _dag: &Dag) -> Result<(), (&'static str, String)> {
    Ok(())
}
