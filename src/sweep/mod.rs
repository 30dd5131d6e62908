//! `runner sweep`: a spec's `[sweep]` expanded into a run list (see [`plan`]), each run
//! named by a hash of its resolved spec so a second invocation skips finished runs,
//! resumes interrupted or killed ones and re-runs failed ones; then an [`Executor`]
//! runs the list and the sweep folder gets its tables (see [`report`]).

mod executor;
mod plan;
pub mod report;
pub mod slurm;

pub use executor::{job_args, Executor, Finished, Job, JobKind, LocalExecutor};
pub use plan::{is_seed_axis, plan, run_id, RunEntry, RunList};
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
/// `notes` hears why a run that looked finished is run again.
fn decide(
    runs: &Path,
    id: &str,
    force: bool,
    owners_gone: bool,
    dry_run: bool,
    notes: &mut Vec<String>,
) -> Result<Option<JobKind>> {
    let visible = runs.join(id);
    let hidden = runs.join(format!("{HIDDEN_PREFIX}{id}"));
    let remove = |p: &Path| if dry_run { Ok(()) } else { std::fs::remove_dir_all(p).map_err(|e| Error::io(p, e)) };
    if hidden.is_dir() {
        // The test `runner list` and `runner clean` make: a folder whose owner file is
        // missing or cut short is taken for a run starting now until it has been quiet
        // a while, never cleared under a live run.
        if !owners_gone && !crate::results::is_stale(&hidden) {
            let owned = std::fs::read_to_string(hidden.join(OWNER_FILE)).ok().and_then(|t| Owner::parse(&t));
            let why = match owned {
                Some(_) => "this run is running in another process".to_string(),
                None => format!(
                    "this run's folder has no readable `{OWNER_FILE}` file and changed in the last minutes: it may \
                     be a run starting; run the sweep again later, or remove the folder if no run is going on"
                ),
            };
            return Err(Error::Usage(format!("{}: {why}", hidden.display())));
        }
        if !force && hidden.join(RESUME_FILE).is_file() {
            return Ok(Some(JobKind::Resume(hidden)));
        }
        remove(&hidden)?;
    }
    if visible.is_dir() {
        let status = read_outcome(&visible).map(|o| o.status).unwrap_or_default();
        if !force && status == "complete" {
            match missing_files(&visible) {
                None => return Ok(None),
                Some(missing) => notes.push(format!(
                    "{}: its manifest says complete, but {missing}; running it again",
                    visible.display()
                )),
            }
        }
        if !force && status == "interrupted" && visible.join(RESUME_FILE).is_file() {
            return Ok(Some(JobKind::Resume(visible)));
        }
        remove(&visible)?;
    }
    Ok(Some(JobKind::Run))
}

/// What a folder whose manifest says `complete` lacks to be whole: metrics.csv, or any
/// file the manifest lists (a file deleted since would leave a sweep's tables, charts
/// and diffs short of a run it counts as done). `None` when nothing is missing.
fn missing_files(folder: &Path) -> Option<String> {
    let listed: Vec<String> = crate::results::read_manifest_text(&folder.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|m| m.get("files")?.as_array().cloned())
        .map(|files| files.iter().filter_map(|f| f.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let mut missing: Vec<String> = Vec::new();
    for name in std::iter::once("metrics.csv".to_string()).chain(listed) {
        if !folder.join(&name).is_file() && !missing.contains(&name) {
            missing.push(name);
        }
    }
    match missing.as_slice() {
        [] => None,
        [one] => Some(format!("{one} is missing")),
        many => Some(format!("{} are missing", many.join(", "))),
    }
}

/// The jobs the list needs now: runs not complete, resumed where they can be. Clears
/// the folders of runs that start afresh (unless `dry_run`). `notes` hears of each
/// run that looked finished but is not whole, and is run again.
pub fn pending(
    list: &RunList,
    force: bool,
    owners_gone: bool,
    dry_run: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<Job>> {
    let runs = list.runs_dir();
    let mut jobs = Vec::new();
    for (index, entry) in list.entries.iter().enumerate() {
        if let Some(kind) = decide(&runs, &entry.id, force, owners_gone, dry_run, notes)? {
            jobs.push(Job { index, kind });
        }
    }
    Ok(jobs)
}

/// Runs what is left of the list: `on_start` hears how many runs will go and why any
/// that looked finished goes again; `on_finished` hears of each run as it ends, with
/// its outcome as its folder records it. The tables are written at the end.
pub fn run_list(
    list: &RunList,
    executor: &dyn Executor,
    force: bool,
    on_start: &mut dyn FnMut(usize, &[String]),
    on_finished: &mut dyn FnMut(&RunEntry, &Finished, &Outcome),
) -> Result<Tally> {
    let runs = list.runs_dir();
    std::fs::create_dir_all(&runs).map_err(|e| Error::io(&runs, e))?;
    let mut tally = Tally::default();
    // An earlier invocation's runs still going on (a Slurm array) are followed, not
    // started again.
    let mut notes = Vec::new();
    let jobs = match executor.reattach(list)? {
        Some(jobs) => jobs,
        None => pending(list, force, executor.owns_every_run(), false, &mut notes)?,
    };
    tally.skipped = list.entries.len() - jobs.len();
    on_start(jobs.len(), &notes);

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

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(path: &Path, secs: u64) {
        let then = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        std::fs::File::open(path).unwrap().set_modified(then).unwrap();
    }

    #[test]
    fn a_hidden_folder_without_a_readable_owner_is_left_alone_until_it_has_been_quiet() {
        let tmp = tempfile::tempdir().unwrap();
        let hidden = tmp.path().join(format!("{HIDDEN_PREFIX}abc"));
        std::fs::create_dir(&hidden).unwrap();
        std::fs::write(hidden.join(OWNER_FILE), "pi").unwrap();
        let mut notes = vec![];
        let e = decide(tmp.path(), "abc", false, false, false, &mut notes).unwrap_err().to_string();
        assert!(e.contains("has no readable `owner` file and changed in the last minutes"), "{e}");
        assert!(hidden.join(OWNER_FILE).is_file(), "nothing removed");
        aged(&hidden.join(OWNER_FILE), 3600);
        aged(&hidden, 3600);
        assert!(matches!(decide(tmp.path(), "abc", false, false, false, &mut notes), Ok(Some(JobKind::Run))));
        assert!(!hidden.exists() && notes.is_empty());
    }

    #[test]
    fn a_complete_run_is_skipped_only_while_its_files_are_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("abc");
        std::fs::create_dir(&run).unwrap();
        let manifest = r#"{"status": "complete", "files": ["metrics.csv", "a.png", "manifest.json"]}"#;
        std::fs::write(run.join("manifest.json"), manifest).unwrap();
        std::fs::write(run.join("metrics.csv"), "step\n").unwrap();
        std::fs::write(run.join("a.png"), "png").unwrap();
        let mut notes = vec![];
        assert!(matches!(decide(tmp.path(), "abc", false, false, true, &mut notes), Ok(None)));
        assert_eq!(missing_files(&run), None);
        std::fs::remove_file(run.join("a.png")).unwrap();
        std::fs::remove_file(run.join("metrics.csv")).unwrap();
        assert_eq!(missing_files(&run).as_deref(), Some("metrics.csv, a.png are missing"));
        // A dry run decides without removing anything.
        assert!(matches!(decide(tmp.path(), "abc", false, false, true, &mut notes), Ok(Some(JobKind::Run))));
        assert!(run.join("manifest.json").is_file());
        let note = format!(
            "{}: its manifest says complete, but metrics.csv, a.png are missing; running it again",
            run.display()
        );
        assert_eq!(notes, [note]);
    }

    #[test]
    fn a_manifest_that_is_a_fifo_does_not_hang_the_sweep() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("abc");
        std::fs::create_dir(&run).unwrap();
        let fifo = std::ffi::CString::new(run.join("manifest.json").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        assert!(read_outcome(&run).is_none());
        let mut notes = vec![];
        assert!(matches!(decide(tmp.path(), "abc", false, false, false, &mut notes), Ok(Some(JobKind::Run))));
        assert!(!run.exists(), "cleared for a fresh run");
    }
}
