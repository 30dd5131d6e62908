//! One experiment, end to end: spec → data → graph → train or evaluate → results
//! folder. The CLI calls this; everything it needs is in [`RunOptions`].

#[cfg(test)]
mod backend_failure;
pub mod budget;
mod checkpoint;
pub mod choice;
mod data_files;
mod execute;
mod outputs;
mod printed;
mod probe;
mod resume;
mod resume_probed;
mod table;

use crate::backend::DType;
use crate::data::{self, Splits};
use crate::error::{Error, Result};
use crate::graph::{summary_table, Dag};
use crate::results::{self, now_utc, RunDir};
use crate::spec::{self, LoadedSpec};
use crate::train::Interrupt;
pub use data_files::DataHashes;
pub use printed::Printed;
pub use probe::{probe, ProbeOptions, ProbeSummary};
pub use resume::{resume, ResumeOptions};
use std::path::{Path, PathBuf};
pub use table::Table;

pub struct RunOptions {
    pub spec_path: PathBuf,
    pub results_root: PathBuf,
    pub seed: Option<u64>,
    pub sets: Vec<String>,
    /// A fixed folder name under `results_root` (a sweep's hash of the run's spec);
    /// `None` names the folder by start time and seed under `results_root/<name>/`.
    pub run_id: Option<String>,
    /// Set (by a signal handler) to end training after the step in progress; the run
    /// then writes its files with status `interrupted`.
    pub interrupt: Interrupt,
    /// `--backend`; `None` takes the spec's `backend` (auto by default).
    pub backend: Option<crate::backend::BackendChoice>,
}

#[derive(Debug)]
pub struct RunSummary {
    pub dir: PathBuf,
    /// `complete` or `interrupted` (a diverged or failed run is an error).
    pub status: String,
    pub steps: usize,
    pub wall_seconds: f64,
    pub final_metrics: Vec<(String, f64)>,
    /// The numbers `[output] print` asks the summary to show.
    pub printed: Printed,
    /// Hidden folders of runs whose process is gone, removed before this run started.
    pub removed_stale: Vec<PathBuf>,
    /// The probes a stop while they were drawn left out (as the manifest's `probes_skipped`).
    pub probes_skipped: Vec<String>,
    /// Things done besides the run the user should hear of (a resume's removed files).
    pub notes: Vec<String>,
    /// The run's attempts: 1, plus one for each `runner resume`. `wall_seconds` adds
    /// their compute time, not the time the run lay stopped between them.
    pub attempts: usize,
}

/// Everything checked before any compute: the spec, its data and its graph.
pub struct Prepared {
    pub loaded: LoadedSpec,
    pub data: Splits,
    pub dag: Dag,
    /// Starting values from `[model] init`, by checkpoint name.
    pub initial: Option<std::collections::HashMap<String, Vec<f64>>>,
    /// sha256 of each file read (data and init), by absolute path.
    pub data_files: DataHashes,
}

/// The `spec_hash` a run of the spec at `path` records in its manifest: the spec
/// resolved as [`prepare`] resolves it (generator defaults written in, data paths made
/// absolute), without reading the data.
pub(crate) fn resolved_spec_hash(path: &Path) -> Result<String> {
    let mut loaded = spec::load(path, &[], None)?;
    write_data_defaults(&mut loaded);
    data_files::make_paths_absolute(&mut loaded, path.parent().unwrap_or(Path::new(".")));
    spec_hash_of(&loaded.spec).map_err(Error::Data)
}

/// The manifest's `spec_hash` of a resolved spec.
pub(crate) fn spec_hash_of(spec: &spec::Spec) -> std::result::Result<String, String> {
    let text = toml::to_string(spec).map_err(|e| format!("cannot write the resolved spec: {e}"))?;
    Ok(results::spec_hash(&text))
}

/// Records every default the data generator uses in the resolved spec.
fn write_data_defaults(loaded: &mut LoadedSpec) {
    let resolved = data::resolve_defaults(loaded.spec.data.get_ref());
    let span = loaded.spec.data.span();
    loaded.spec.data = toml::Spanned::new(span, resolved);
}

pub fn prepare(path: &Path, sets: &[String], seed: Option<u64>) -> Result<Prepared> {
    prepare_for(path, sets, seed, None)
}

/// [`prepare`], checking only the probes of `probe_kinds` when given (`runner probe
/// --probe KIND` draws no others).
pub(crate) fn prepare_for(
    path: &Path,
    sets: &[String],
    seed: Option<u64>,
    probe_kinds: Option<&[spec::ProbeKind]>,
) -> Result<Prepared> {
    crate::backend::cpu::path::select()?;
    let mut loaded = spec::load(path, sets, seed)?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    budget::enforce(&budget::data_estimate(&loaded, base_dir)?, &loaded)?;
    let data_files = data_files::hash_files(&loaded, base_dir)?;
    data_files::check_against_manifest(path, &data_files)?;
    let data = data::load(&loaded.spec.data, &loaded.source, loaded.spec.seed, base_dir, loaded.spec.dtype)?;
    write_data_defaults(&mut loaded);
    let dag = Dag::from_spec(&loaded.spec, &loaded.source, data.train.sample_shape())?;
    budget::enforce(&budget::estimate(&loaded, &data, &dag), &loaded)?;
    crate::graph::check_fit_for(&loaded, &data, &dag, probe_kinds)?;
    let initial = match &loaded.spec.model.init {
        Some(init) => {
            let file = base_dir.join(&init.get_ref().from);
            let values = checkpoint::read(&file, &dag)
                .map_err(|e| loaded.source.error(Some(init.span()), format!("[model] init: {e}")))?;
            Some(values)
        }
        None => None,
    };
    // After loading, so the loaders' messages name paths as the spec wrote them.
    data_files::make_paths_absolute(&mut loaded, base_dir);
    Ok(Prepared { loaded, data, dag, initial, data_files })
}

pub fn check(path: &Path, sets: &[String], seed: Option<u64>) -> Result<String> {
    let p = prepare(path, sets, seed)?;
    let mut out = summary_table(&p.dag);
    let validation = p.data.validation.as_ref().map(|v| format!(", {} validation", v.len())).unwrap_or_default();
    let test = p.data.test.as_ref().map(|t| format!(", {} test", t.len())).unwrap_or_default();
    out += &format!("data: {} train{validation}{test}, {} input features\n", p.data.train.len(), p.data.train.features);
    out += &budget::estimate(&p.loaded, &p.data, &p.dag).render();
    Ok(out)
}

/// Runs the experiment into a new folder under `opts.results_root` (after removing the
/// hidden folders of runs whose process is gone). Every folder it reserves ends up
/// visible with a manifest whose status says how it ended (`complete`, `interrupted`,
/// `diverged`, or `failed` with the error), or is removed when even that cannot be
/// written.
pub fn run(opts: &RunOptions, progress: &mut (dyn FnMut(usize, usize, f64) + Send)) -> Result<RunSummary> {
    let prepared = prepare(&opts.spec_path, &opts.sets, opts.seed)?;
    // Before any folder exists, so `cuda` without a GPU leaves nothing behind.
    let chosen = choice::choose(&choice::Asked::new(opts.backend, prepared.loaded.spec.backend, &opts.spec_path))?;
    // Best effort: a folder that cannot be removed is no reason not to run (`runner
    // clean` reports it).
    let removed_stale = crate::results::remove_stale_unresumable(&opts.results_root).unwrap_or_default();
    let started = now_utc();
    let spec = &prepared.loaded.spec;
    let dir = match &opts.run_id {
        Some(id) => RunDir::create_named(&opts.results_root, id)?,
        None => RunDir::create(&opts.results_root, &spec.name, spec.seed, &started)?,
    };
    let summary = execute_in(&prepared, &chosen, dir, opts, started, None, progress)?;
    Ok(RunSummary { removed_stale, ..summary })
}

/// Removes the file of the run's folder that `error` failed to write, unless it is one
/// of the streams whose earlier rows are whole (metrics.csv and the like, which resume
/// cuts back to whole lines). Says whether it removed one.
fn remove_cut_short(dir: &RunDir, error: &Error) -> bool {
    const STREAMS: [&str; 3] = ["metrics.csv", "params.csv", execute::LAYERS_FILE];
    let Error::Io { path, .. } = error else { return false };
    let inside = path.parent() == Some(dir.path_of("").as_path());
    let stream = path.file_name().is_some_and(|n| STREAMS.iter().any(|s| n == *s));
    inside && !stream && std::fs::remove_file(path).is_ok()
}

/// Runs (or, with `resuming`, continues) a prepared experiment in its reserved folder
/// and finishes the folder whatever happens.
fn execute_in(
    prepared: &Prepared,
    chosen: &choice::Chosen,
    dir: RunDir,
    opts: &RunOptions,
    started: crate::results::UtcTime,
    resuming: Option<&resume::Resuming>,
    progress: &mut (dyn FnMut(usize, usize, f64) + Send),
) -> Result<RunSummary> {
    opts.interrupt.training_begins();
    let spec = &prepared.loaded.spec;
    let executed = {
        let ctx = execute::RunContext { p: prepared, chosen, dir: &dir, opts, started, resuming };
        let executed = match (chosen, spec.dtype) {
            (choice::Chosen::Cpu { .. }, DType::F32) => execute::execute::<f32>(&ctx, progress),
            (choice::Chosen::Cpu { .. }, DType::F64) => execute::execute::<f64>(&ctx, progress),
            (choice::Chosen::Cuda { backend, .. }, DType::F32) => execute::execute_cuda::<f32>(&ctx, backend, progress),
            (choice::Chosen::Cuda { backend, .. }, DType::F64) => execute::execute_cuda::<f64>(&ctx, backend, progress),
        };
        executed.map_err(|error| {
            // On a full disk the file that failed is cut short and worth nothing; removing
            // it may free the room the failed manifest needs.
            let written = outputs::write_failed_manifest(&ctx, &error).is_ok()
                || (remove_cut_short(&dir, &error) && outputs::write_failed_manifest(&ctx, &error).is_ok());
            if !written {
                // Never a manifest cut short, which would read as a broken run.
                let _ = std::fs::remove_file(dir.path_of("manifest.json"));
            }
            (written, error)
        })
    };
    // A failed run keeps its folder, visible, with status `failed` and the error in its
    // manifest: its metrics and checkpoints so far may be worth hours. When even that
    // manifest cannot be written (a full disk), the folder is still kept and named.
    let executed = match executed {
        Ok(x) => x,
        Err((written, error)) => {
            let hidden = dir.path_of("");
            return Err(match (dir.finish(), written) {
                (Ok(dir), true) => Error::RunFailed { source: Box::new(results::relocated(error, &hidden, &dir)), dir },
                (Ok(dir), false) => {
                    Error::RunFailedUnrecorded { source: Box::new(results::relocated(error, &hidden, &dir)), dir }
                }
                (Err(_), _) => error,
            });
        }
    };
    let diverged = executed.diverged;
    let path = dir.finish()?;
    if let Some((step, value)) = diverged {
        return Err(Error::Diverged { step, value, dir: path });
    }
    Ok(RunSummary { dir: path, ..executed.summary })
}
