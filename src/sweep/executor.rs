//! Who runs the list. Each job is a self-contained `runner run` (or `runner resume`) of
//! a file in the sweep folder, depending on nothing of the sweep's process, so the
//! same list can run elsewhere: [`LocalExecutor`] starts child processes here; a Slurm
//! executor (a later issue) would submit the same commands as a job array.

use super::plan::RunList;
use crate::error::Result;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What to do for one run of the list.
#[derive(Debug, Clone)]
pub enum JobKind {
    /// Start it afresh in `runs/<id>`.
    Run,
    /// Continue it from its resume checkpoint, in this folder.
    Resume(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Job {
    /// Index into the list's entries.
    pub index: usize,
    pub kind: JobKind,
}

/// How a job's process ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub index: usize,
    pub ok: bool,
    /// The process's last line of stderr when it failed (the error runner printed).
    pub message: String,
    pub seconds: f64,
}

pub trait Executor {
    /// Runs the jobs, calling `on_finished` as each one ends (in the caller's thread);
    /// one failing job does not stop the others. Returns the finished ones: fewer than
    /// the jobs when it was asked to stop.
    fn run(&self, list: &RunList, jobs: &[Job], on_finished: &mut dyn FnMut(&Finished)) -> Result<Vec<Finished>>;
}

/// The command line of a job, as any executor would run it.
pub fn job_args(list: &RunList, job: &Job) -> Vec<String> {
    let entry = &list.entries[job.index];
    match &job.kind {
        JobKind::Run => vec![
            "run".into(),
            list.spec_file(entry).display().to_string(),
            "--results".into(),
            list.runs_dir().display().to_string(),
            "--run-id".into(),
            entry.id.clone(),
            "--quiet".into(),
        ],
        JobKind::Resume(folder) => vec!["resume".into(), folder.display().to_string(), "--quiet".into()],
    }
}

/// Runs `parallel` child processes of this program at a time, each with its share of
/// the cores (RAYON_NUM_THREADS; the manifest records it; results do not depend on it).
pub struct LocalExecutor {
    pub parallel: usize,
    pub program: PathBuf,
    /// Set (by a signal handler) to start no more runs; the ones going on finish (a
    /// Ctrl-C at a terminal reaches them too, and they stop with a checkpoint).
    pub stop: Arc<AtomicBool>,
}

impl LocalExecutor {
    pub fn threads_per_run(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / self.parallel.max(1)).max(1)
    }

    fn run_one(&self, list: &RunList, job: &Job) -> Finished {
        let started = Instant::now();
        let output = std::process::Command::new(&self.program)
            .args(job_args(list, job))
            .env("RAYON_NUM_THREADS", self.threads_per_run().to_string())
            .stdin(std::process::Stdio::null())
            .output();
        let seconds = started.elapsed().as_secs_f64();
        match output {
            Ok(out) if out.status.success() => Finished { index: job.index, ok: true, message: String::new(), seconds },
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
                let last = last.strip_prefix("error: ").unwrap_or(last).to_string();
                let message = match (out.status.code(), last.is_empty()) {
                    (_, false) => last,
                    (Some(code), true) => format!("exited with code {code}"),
                    (None, true) => "killed by a signal".into(),
                };
                Finished { index: job.index, ok: false, message, seconds }
            }
            Err(e) => Finished {
                index: job.index,
                ok: false,
                message: format!("cannot start {}: {e}", self.program.display()),
                seconds,
            },
        }
    }
}

impl Executor for LocalExecutor {
    fn run(&self, list: &RunList, jobs: &[Job], on_finished: &mut dyn FnMut(&Finished)) -> Result<Vec<Finished>> {
        let next = AtomicUsize::new(0);
        let (send, receive) = std::sync::mpsc::channel::<Finished>();
        let mut done = Vec::with_capacity(jobs.len());
        std::thread::scope(|scope| {
            for _ in 0..self.parallel.clamp(1, jobs.len().max(1)) {
                let send = send.clone();
                let next = &next;
                scope.spawn(move || loop {
                    if self.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    if send.send(self.run_one(list, job)).is_err() {
                        break;
                    }
                });
            }
            drop(send);
            for finished in receive {
                on_finished(&finished);
                done.push(finished);
            }
        });
        Ok(done)
    }
}
