//! `runner probe RUN_FOLDER`: draw probes from a finished run's checkpoint.

use crate::error::Result;
use crate::experiment::{self, ProbeOptions};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// A finished run folder (status `complete` or `interrupted`) with a model.safetensors.
    pub folder: PathBuf,
    /// Run only probes of this kind (repeatable); a kind the spec does not list runs with
    /// its defaults. Without it, every probe of the spec but `curves` and `params`.
    #[arg(long = "probe", value_name = "KIND")]
    pub probes: Vec<String>,
    /// Change a probe's settings: --set probes.0.images=[0,1,2] (only `probes.…`, and
    /// `data.path` for data that has moved: the model and data are the run's).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,
    /// Remove a spec value before the --set ones apply.
    #[arg(long = "unset", value_name = "KEY.PATH")]
    pub unsets: Vec<String>,
    /// The backend the probes' passes run on (the run's spec says, else auto).
    #[command(flatten)]
    pub backend: super::BackendArg,
}

pub fn probe(a: ProbeArgs) -> Result<()> {
    let unsets = a.unsets.iter().map(|k| format!("{}{k}", crate::spec::UNSET_PREFIX));
    let opts = ProbeOptions {
        folder: a.folder,
        kinds: a.probes,
        sets: unsets.chain(a.sets).collect(),
        backend: a.backend.backend,
    };
    let summary = experiment::probe(&opts)?;
    for note in &summary.skipped {
        eprintln!("note: {note}");
    }
    for file in &summary.files {
        println!("{}", file.display());
    }
    Ok(())
}
