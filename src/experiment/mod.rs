//! One experiment, end to end: spec → data → graph → train or evaluate → results
//! folder. The CLI calls this; everything it needs is in [`RunOptions`].

mod checkpoint;
mod execute;
mod outputs;

use crate::backend::DType;
use crate::data::{self, Splits};
use crate::error::{Error, Result};
use crate::graph::{summary_table, Dag};
use crate::results::{now_utc, RunDir};
use crate::spec::{self, LoadedSpec};
use std::path::{Path, PathBuf};

pub struct RunOptions {
    pub spec_path: PathBuf,
    pub results_root: PathBuf,
    pub seed: Option<u64>,
    pub sets: Vec<String>,
}

#[derive(Debug)]
pub struct RunSummary {
    pub dir: PathBuf,
    pub status: String,
    pub steps: usize,
    pub wall_seconds: f64,
    pub final_metrics: Vec<(String, f64)>,
}

/// Everything checked before any compute: the spec, its data and its graph.
pub struct Prepared {
    pub loaded: LoadedSpec,
    pub data: Splits,
    pub dag: Dag,
    /// Starting values from `[model] init`, by checkpoint name.
    pub initial: Option<std::collections::HashMap<String, Vec<f64>>>,
}

pub fn prepare(path: &Path, sets: &[String], seed: Option<u64>) -> Result<Prepared> {
    let mut loaded = spec::load(path, sets, seed)?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let data = data::load(loaded.spec.data.get_ref(), loaded.spec.seed, base_dir)?;
    // Record every default the data generator used in the resolved spec.
    let resolved = data::resolve_defaults(loaded.spec.data.get_ref());
    let span = loaded.spec.data.span();
    loaded.spec.data = toml::Spanned::new(span, resolved);
    let dag = Dag::from_spec(&loaded.spec, &loaded.source, data.train.sample_shape())?;
    crate::graph::check_fit(&loaded, &data, &dag)?;
    let initial = match &loaded.spec.model.init {
        Some(init) => {
            let file = base_dir.join(&init.get_ref().from);
            let values = checkpoint::read(&file, &dag)
                .map_err(|e| loaded.source.error(Some(init.span()), format!("[model] init: {e}")))?;
            Some(values)
        }
        None => None,
    };
    Ok(Prepared { loaded, data, dag, initial })
}

pub fn check(path: &Path, sets: &[String], seed: Option<u64>) -> Result<String> {
    let p = prepare(path, sets, seed)?;
    let mut out = summary_table(&p.dag);
    let test = p.data.test.as_ref().map(|t| format!(", {} test", t.len())).unwrap_or_default();
    out += &format!("data: {} train{test}, {} input features\n", p.data.train.len(), p.data.train.features);
    Ok(out)
}

pub fn run(opts: &RunOptions, progress: &mut dyn FnMut(usize, usize, f64)) -> Result<RunSummary> {
    let prepared = prepare(&opts.spec_path, &opts.sets, opts.seed)?;
    let started = now_utc();
    let spec = &prepared.loaded.spec;
    let dir = RunDir::create(&opts.results_root, &spec.name, spec.seed, &started)?;
    let summary = match spec.dtype {
        DType::F32 => execute::execute::<f32>(&prepared, &dir, &opts.spec_path, started, progress)?,
        DType::F64 => execute::execute::<f64>(&prepared, &dir, &opts.spec_path, started, progress)?,
    };
    let diverged = summary.diverged;
    let path = dir.finish()?;
    if let Some((step, value)) = diverged {
        return Err(Error::Diverged { step, value, dir: path });
    }
    Ok(RunSummary { dir: path, ..summary.summary })
}
