//! `runner sweep --executor slurm`: the jobs left in the list become one Slurm job
//! array (see [`script`]), submitted with `sbatch --parsable` and followed by polling
//! `squeue` (see [`poll`]). Each task is a plain `runner run` (or `runner resume`) of
//! its run on the shared filesystem, so the sweep folder fills exactly as with the
//! local executor, and the same code writes sweep.csv and the charts at the end.
//!
//! `slurm/job.json` in the sweep folder records the array's id and tasks: a later
//! invocation that finds the array still going on follows it instead of submitting the
//! runs twice.

pub mod poll;
pub mod script;

use super::executor::{Executor, Finished, Job, JobKind};
use super::plan::RunList;
use super::report::read_outcome;
use crate::error::{Error, Result};
use crate::spec::sweep_slurm::SlurmSpec;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a scheduler's word on a failed run starts in sweep.csv's error cell.
pub const NOTE_PREFIX: &str = "Slurm ";

/// Between two looks at the queue: squeue answers in about 10 ms, and Slurm starts
/// tasks on a tick of about a second.
const POLL: Duration = Duration::from_millis(250);

/// squeue failures in a row tolerated while following an array.
const SQUEUE_FAILURES: usize = 40;

/// Polls in a row that must miss a task before it counts as gone from Slurm's records.
const MISSES: usize = 3;

pub struct SlurmExecutor {
    pub settings: SlurmSpec,
    pub program: PathBuf,
    /// Set by the signal handler (Ctrl-C, SIGTERM).
    pub stop: Arc<AtomicBool>,
    /// On a stop, scancel without asking.
    pub cancel_on_interrupt: bool,
    /// On a stop, ask whether to scancel (standard input is a terminal).
    pub ask: bool,
    /// Prints a line to the user (above the progress bar).
    pub say: Box<dyn Fn(&str)>,
    /// The array found going on by [`Executor::reattach`] and the array task of each
    /// job it returned (those not ended yet), followed by the next `run`.
    attached: Mutex<Option<(String, Vec<usize>)>>,
}

impl SlurmExecutor {
    pub fn new(settings: SlurmSpec, program: PathBuf, stop: Arc<AtomicBool>, say: Box<dyn Fn(&str)>) -> Self {
        SlurmExecutor {
            settings,
            program,
            stop,
            cancel_on_interrupt: false,
            ask: false,
            say,
            attached: Mutex::new(None),
        }
    }

    pub fn dir(list: &RunList) -> PathBuf {
        list.folder.join("slurm")
    }

    /// Writes the array script for these jobs; returns its path and text.
    pub fn write_script(&self, list: &RunList, jobs: &[Job]) -> Result<(PathBuf, String)> {
        if let Some(t) = &self.settings.time {
            script::check_time(t)?;
        }
        let dir = Self::dir(list);
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
        let text = script::script(list, jobs, &self.settings, &self.program, &logs);
        let path = dir.join("array.sbatch");
        std::fs::write(&path, &text).map_err(|e| Error::io(&path, e))?;
        Ok((path, text))
    }

    /// One line per array task: task, run id, whether it starts or resumes, its setting.
    pub fn task_list(list: &RunList, jobs: &[Job]) -> String {
        jobs.iter()
            .enumerate()
            .map(|(task, job)| {
                let entry = &list.entries[job.index];
                let kind = if matches!(job.kind, JobKind::Resume(_)) { "resume" } else { "run" };
                format!("{task}\t{}\t{kind}\t{} seed={}\n", entry.id, entry.setting(), entry.seed)
            })
            .collect()
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// After a stop: cancel the array (asking first on a terminal), or leave it
    /// running. Returns whether it was cancelled.
    fn on_stop(&self, job: &str, left: usize) -> Result<bool> {
        let cancel = if self.cancel_on_interrupt {
            true
        } else if self.ask {
            eprint!("\nscancel job array {job} ({left} runs not finished)? [y/N] ");
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            matches!(answer.trim(), "y" | "Y" | "yes")
        } else {
            false
        };
        if cancel {
            poll::cancel(job)?;
            (self.say)(&format!(
                "cancelled job array {job}: running tasks stop after their step with a checkpoint; run the sweep again to resume them"
            ));
        } else {
            (self.say)(&format!(
                "left job array {job} running: `scancel {job}` cancels it; the same `runner sweep … --executor slurm` follows it again"
            ));
        }
        Ok(cancel)
    }

    /// Polls the array until every job has ended; `tasks[i]` is the array task of `jobs[i]`;
    /// `fresh`: submitted just now (not reattached), so its first start is worth a line.
    fn follow(
        &self,
        list: &RunList,
        jobs: &[Job],
        (job, tasks): (&str, &[usize]),
        fresh: bool,
        on_finished: &mut dyn FnMut(&Finished),
    ) -> Result<Vec<Finished>> {
        let submitted = Instant::now();
        let logs = Self::dir(list).join("logs");
        let mut started: Vec<Option<Instant>> = vec![None; jobs.len()];
        let mut done = vec![false; jobs.len()];
        let mut misses = vec![0usize; jobs.len()];
        let mut finished = Vec::with_capacity(jobs.len());
        let mut stop_handled = false;
        let mut failures = 0;
        loop {
            // A busy slurmctld times out now and then: give up only after ~10 s of failures.
            let listing = match poll::tasks(job) {
                Ok(listing) => {
                    failures = 0;
                    listing
                }
                Err(_) if failures < SQUEUE_FAILURES => {
                    failures += 1;
                    std::thread::sleep(POLL);
                    continue;
                }
                Err(e) => return Err(e),
            };
            for (i, (j, &task)) in jobs.iter().zip(tasks).enumerate() {
                if done[i] {
                    continue;
                }
                let entry = &list.entries[j.index];
                let state = listing.as_ref().and_then(|l| l.get(&task));
                match state {
                    Some(s) if !s.ended() => {
                        misses[i] = 0;
                        if s.state == "RUNNING" && started[i].is_none() {
                            started[i] = Some(Instant::now());
                            if fresh && started.iter().flatten().count() == 1 {
                                let after = submitted.elapsed().as_secs_f64();
                                (self.say)(&format!("first task running {after:.1} s after submission"));
                            }
                        }
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        misses[i] += 1;
                        if misses[i] < MISSES {
                            continue;
                        }
                    }
                }
                let outcome = read_outcome(&list.runs_dir().join(&entry.id));
                let observed = started[i].unwrap_or(submitted).elapsed().as_secs_f64();
                let seconds = outcome.as_ref().and_then(|o| o.wall_seconds).unwrap_or(observed);
                let f = match state {
                    Some(s) if s.state == "COMPLETED" => {
                        Finished { index: j.index, ok: true, message: String::new(), seconds, scheduler: None }
                    }
                    Some(s) => {
                        let code = poll::exit_code(job, task).map(|c| format!("; exit code {c}")).unwrap_or_default();
                        Finished {
                            index: j.index,
                            ok: false,
                            message: log_error(&logs.join(format!("{job}_{task}.log"))),
                            seconds,
                            scheduler: Some(format!("{NOTE_PREFIX}{} ({}{code})", s.state, s.reason)),
                        }
                    }
                    None => {
                        let ok = outcome.as_ref().is_some_and(|o| o.status == "complete");
                        let scheduler = (!ok).then(|| format!("{NOTE_PREFIX}no longer lists task {job}_{task}"));
                        Finished { index: j.index, ok, message: String::new(), seconds, scheduler }
                    }
                };
                done[i] = true;
                on_finished(&f);
                finished.push(f);
            }
            if done.iter().all(|&d| d) {
                return Ok(finished);
            }
            if self.stop.load(Ordering::Relaxed) && !stop_handled {
                stop_handled = true;
                let left = done.iter().filter(|&&d| !d).count();
                if !self.on_stop(job, left)? {
                    return Ok(finished);
                }
            }
            std::thread::sleep(POLL);
        }
    }
}

/// A task's error as runner printed it: the last line of its log.
fn log_error(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

/// `slurm/job.json`: the array's id and, per task, the job it runs.
fn write_record(list: &RunList, job: &str, jobs: &[Job]) -> Result<()> {
    let tasks: Vec<serde_json::Value> = jobs
        .iter()
        .map(|j| {
            let resume = match &j.kind {
                JobKind::Run => serde_json::Value::Null,
                JobKind::Resume(p) => p.display().to_string().into(),
            };
            serde_json::json!({ "index": j.index, "id": list.entries[j.index].id, "resume": resume })
        })
        .collect();
    let text = serde_json::to_string_pretty(&serde_json::json!({ "job_id": job, "tasks": tasks }))
        .map_err(|e| Error::Data(format!("cannot write the Slurm job record: {e}")))?;
    let path = SlurmExecutor::dir(list).join("job.json");
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))
}

/// The recorded array and its jobs, when the record is there and names runs of this list.
fn read_record(list: &RunList) -> Option<(String, Vec<Job>)> {
    let text = std::fs::read_to_string(SlurmExecutor::dir(list).join("job.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let job = v.get("job_id")?.as_str()?.to_string();
    let mut jobs = Vec::new();
    for t in v.get("tasks")?.as_array()? {
        let index = usize::try_from(t.get("index")?.as_u64()?).ok()?;
        if list.entries.get(index)?.id != t.get("id")?.as_str()? {
            return None;
        }
        let kind = match t.get("resume")?.as_str() {
            Some(p) => JobKind::Resume(PathBuf::from(p)),
            None => JobKind::Run,
        };
        jobs.push(Job { index, kind });
    }
    Some((job, jobs))
}

impl Executor for SlurmExecutor {
    fn run(&self, list: &RunList, jobs: &[Job], on_finished: &mut dyn FnMut(&Finished)) -> Result<Vec<Finished>> {
        let attached = Self::lock(&self.attached).take();
        let fresh = attached.is_none();
        let (job, tasks) = match attached {
            Some(attached) => attached,
            None if jobs.is_empty() => return Ok(vec![]),
            None => {
                let (path, _) = self.write_script(list, jobs)?;
                let job = poll::submit(&path)?;
                write_record(list, &job, jobs)?;
                let throttle = self.settings.max_parallel.map_or(String::new(), |k| format!(", {k} at a time"));
                (self.say)(&format!(
                    "submitted job array {job}: {} tasks{throttle}; `squeue -r -j {job}` shows them, logs in {}",
                    jobs.len(),
                    Self::dir(list).join("logs").display()
                ));
                (job, (0..jobs.len()).collect())
            }
        };
        self.follow(list, jobs, (&job, &tasks), fresh, on_finished)
    }

    fn reattach(&self, list: &RunList) -> Result<Option<Vec<Job>>> {
        let Some((job, jobs)) = read_record(list) else { return Ok(None) };
        let Some(states) = poll::tasks(&job)? else { return Ok(None) };
        // The tasks not ended yet (a task not listed yet is still pending).
        let (tasks, left): (Vec<usize>, Vec<Job>) =
            jobs.into_iter().enumerate().filter(|(t, _)| states.get(t).is_none_or(|s| !s.ended())).unzip();
        if left.is_empty() {
            return Ok(None);
        }
        (self.say)(&format!(
            "job array {job} of this sweep is still going on: following its {} tasks left",
            left.len()
        ));
        *Self::lock(&self.attached) = Some((job, tasks));
        Ok(Some(left))
    }

    fn owns_every_run(&self) -> bool {
        true
    }
}
