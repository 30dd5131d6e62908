//! `runner sweep`: a spec's `[sweep]` expanded into a run list (see [`plan`]), each run
//! named by a hash of its resolved spec so a second invocation skips finished runs,
//! resumes interrupted or killed ones and re-runs failed ones; then an [`Executor`]
//! runs the list and the sweep folder gets its tables (see [`report`]).

mod executor;
mod plan;
pub mod report;
pub mod slurm;

pub use executor::{job_args, Executor, Finished, Job, JobKind, LocalExecutor};
pub use plan::{plan, run_id, RunEntry, RunList};
pub use report::{read_outcome, write_reports, Outcome};

use crate::error::{Error, Result};
use crate::results::{Owner, HIDDEN_PREFIX, OWNER_FILE, RESUME_FILE};
use std::path::Path;

/// How the runs of one invocation went.
#[derive(Debug, Default)]
pub struct Tally {
    pub ran: usize,
    pub resumed: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Runs not started because the sweep was asked to stop.
    pub not_started: usize,
}

/// What a run's folder says should happen to it now. `owners_gone`: the executor knows
/// that none of its runs is going on (a Slurm array that has ended), so a hidden folder
/// whose writer was on another machine is a killed run, not one running there.
/// `dry_run`: decide without clearing any folder.
fn decide(runs: &Path, id: &str, force: bool, owners_gone: bool, dry_run: bool) -> Result<Option<JobKind>> {
    let visible = runs.join(id);
    let hidden = runs.join(format!("{HIDDEN_PREFIX}{id}"));
    let remove = |p: &Path| if dry_run { Ok(()) } else { std::fs::remove_dir_all(p).map_err(|e| Error::io(p, e)) };
    if hidden.is_dir() {
        let owner = std::fs::read_to_string(hidden.join(OWNER_FILE)).ok().and_then(|t| Owner::parse(&t));
        if !owners_gone && owner.as_ref().is_some_and(|o| !o.is_gone()) {
            return Err(Error::Usage(format!("{}: this run is running in another process", hidden.display())));
        }
        if !force && hidden.join(RESUME_FILE).is_file() {
            return Ok(Some(JobKind::Resume(hidden)));
        }
        remove(&hidden)?;
    }
    if visible.is_dir() {
        let status = read_outcome(&visible).map(|o| o.status).unwrap_or_default();
        if !force && status == "complete" {
            return Ok(None);
        }
        if !force && status == "interrupted" && visible.join(RESUME_FILE).is_file() {
            return Ok(Some(JobKind::Resume(visible)));
        }
        remove(&visible)?;
    }
    Ok(Some(JobKind::Run))
}

/// The jobs the list needs now: runs not complete, resumed where they can be. Clears
/// the folders of runs that start afresh (unless `dry_run`).
pub fn pending(list: &RunList, force: bool, owners_gone: bool, dry_run: bool) -> Result<Vec<Job>> {
    let runs = list.runs_dir();
    let mut jobs = Vec::new();
    for (index, entry) in list.entries.iter().enumerate() {
        if let Some(kind) = decide(&runs, &entry.id, force, owners_gone, dry_run)? {
            jobs.push(Job { index, kind });
        }
    }
    Ok(jobs)
}

/// Runs what is left of the list: `on_finished` hears of each run as it ends, with
/// its outcome as its folder records it. The tables are written at the end.
pub fn run_list(
    list: &RunList,
    executor: &dyn Executor,
    force: bool,
    on_start: &mut dyn FnMut(usize),
    on_finished: &mut dyn FnMut(&RunEntry, &Finished, &Outcome),
) -> Result<Tally> {
    let runs = list.runs_dir();
    std::fs::create_dir_all(&runs).map_err(|e| Error::io(&runs, e))?;
    let mut tally = Tally::default();
    // An earlier invocation's runs still going on (a Slurm array) are followed, not
    // started again.
    let jobs = match executor.reattach(list)? {
        Some(jobs) => jobs,
        None => pending(list, force, executor.owns_every_run(), false)?,
    };
    tally.skipped = list.entries.len() - jobs.len();
    on_start(jobs.len());

    let finished = executor.run(list, &jobs, &mut |f: &Finished| {
        let entry = &list.entries[f.index];
        let outcome = read_outcome(&runs.join(&entry.id)).unwrap_or_else(|| Outcome::missing(&f.message));
        on_finished(entry, f, &outcome);
    })?;
    tally.resumed = finished
        .iter()
        .filter(|f| jobs.iter().any(|j| j.index == f.index && matches!(j.kind, JobKind::Resume(_))))
        .count();
    tally.ran = finished.len() - tally.resumed;
    tally.not_started = jobs.len() - finished.len();
    tally.failed = finished.iter().filter(|f| !f.ok).count();
    let messages: Vec<(usize, String)> =
        finished.iter().filter(|f| !f.ok).map(|f| (f.index, message(list, f))).collect();
    write_reports(list, &messages)?;
    Ok(tally)
}

/// What sweep.csv says of a job that failed: its error, and the scheduler's word on it.
/// A run with a manifest has its own error there; the scheduler's word goes after it
/// (see [`report::outcomes`]).
fn message(list: &RunList, f: &Finished) -> String {
    let has_manifest = list.runs_dir().join(&list.entries[f.index].id).join("manifest.json").is_file();
    match &f.scheduler {
        Some(word) if has_manifest || f.message.is_empty() => word.clone(),
        Some(word) => format!("{word}: {}", f.message),
        None => f.message.clone(),
    }
}
