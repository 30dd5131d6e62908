//! Who runs the list. Each job is a self-contained `runner run` (or `runner resume`) of
//! a file in the sweep folder, depending on nothing of the sweep's process, so the
//! same list can run elsewhere: [`LocalExecutor`] starts child processes here; a Slurm
//! executor (a later issue) would submit the same commands as a job array.

use super::plan::RunList;
use crate::error::Result;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// The scheduler's word on a job that did not end well (Slurm's state, reason and
    /// exit code); `None` for local runs.
    pub scheduler: Option<String>,
}

pub trait Executor {
    /// Runs the jobs, calling `on_finished` as each one ends (in the caller's thread);
    /// one failing job does not stop the others. Returns the finished ones: fewer than
    /// the jobs when it was asked to stop.
    fn run(&self, list: &RunList, jobs: &[Job], on_finished: &mut dyn FnMut(&Finished)) -> Result<Vec<Finished>>;

    /// The jobs of an earlier invocation that are still going on, to follow instead of
    /// starting anything (a Slurm array outlives the process that submitted it).
    fn reattach(&self, _list: &RunList) -> Result<Option<Vec<Job>>> {
        Ok(None)
    }

    /// Whether every run of the list that could be going on is one this executor knows
    /// of (so a hidden folder it does not follow belongs to a run that was killed).
    fn owns_every_run(&self) -> bool {
        false
    }
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
    /// Set (by a signal handler) to start no more runs; the runs going on are sent
    /// SIGTERM, so they stop after their step with a checkpoint, and the next
    /// invocation resumes them.
    pub stop: Arc<AtomicBool>,
}

/// The process ids of the runs going on, and whether the stop has been passed on to
/// them; one lock, so every run is told exactly once (a second SIGTERM would make a run
/// exit at once, without its checkpoint).
#[derive(Default)]
struct Running(Mutex<(Vec<u32>, bool)>);

impl Running {
    fn with<R>(&self, f: impl FnOnce(&mut (Vec<u32>, bool)) -> R) -> R {
        // A worker that panicked while holding the lock left a list still worth using.
        let mut state = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut state)
    }

    /// A run has started; told at once if the stop was already passed on.
    fn started(&self, id: u32) {
        self.with(|(ids, told)| {
            ids.push(id);
            if *told {
                terminate(id);
            }
        });
    }

    fn ended(&self, id: u32) {
        self.with(|(ids, _)| ids.retain(|&i| i != id));
    }

    /// SIGTERM to every run going on, and to every run that starts from now on.
    fn pass_on_stop(&self) {
        self.with(|(ids, told)| {
            if !*told {
                *told = true;
                ids.iter().for_each(|&id| terminate(id));
            }
        });
    }
}

fn terminate(id: u32) {
    let Ok(pid) = libc::pid_t::try_from(id) else { return };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours. The id is a
    // child we started: it is in `Running` from spawn until just after
    // `wait_with_output` reaps it. The one gap is that instant between the reaping and
    // the removal; Linux hands out pids in sequence, so another process gets this pid
    // only after the pid space wraps around, not in microseconds.
    unsafe { libc::kill(pid, libc::SIGTERM) };
}

impl LocalExecutor {
    pub fn threads_per_run(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / self.parallel.max(1)).max(1)
    }

    fn run_one(&self, list: &RunList, job: &Job, running: &Running) -> Finished {
        use std::process::Stdio;
        let started = Instant::now();
        let output = std::process::Command::new(&self.program)
            .args(job_args(list, job))
            .env("RAYON_NUM_THREADS", self.threads_per_run().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|child| {
                let id = child.id();
                running.started(id);
                let out = child.wait_with_output();
                running.ended(id);
                out
            });
        let seconds = started.elapsed().as_secs_f64();
        match output {
            Ok(out) if out.status.success() => {
                Finished { index: job.index, ok: true, message: String::new(), seconds, scheduler: None }
            }
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
                let last = last.strip_prefix("error: ").unwrap_or(last).to_string();
                let message = match (out.status.code(), last.is_empty()) {
                    (_, false) => last,
                    (Some(code), true) => format!("exited with code {code}"),
                    (None, true) => "killed by a signal".into(),
                };
                Finished { index: job.index, ok: false, message, seconds, scheduler: None }
            }
            Err(e) => Finished {
                index: job.index,
                ok: false,
                message: format!("cannot start {}: {e}", self.program.display()),
                seconds,
                scheduler: None,
            },
        }
    }
}

impl Executor for LocalExecutor {
    fn run(&self, list: &RunList, jobs: &[Job], on_finished: &mut dyn FnMut(&Finished)) -> Result<Vec<Finished>> {
        let next = AtomicUsize::new(0);
        let running = Running::default();
        let (send, receive) = std::sync::mpsc::channel::<Finished>();
        let mut done = Vec::with_capacity(jobs.len());
        std::thread::scope(|scope| {
            for _ in 0..self.parallel.clamp(1, jobs.len().max(1)) {
                let send = send.clone();
                let next = &next;
                let running = &running;
                scope.spawn(move || loop {
                    if self.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    if send.send(self.run_one(list, job, running)).is_err() {
                        break;
                    }
                });
            }
            drop(send);
            loop {
                match receive.recv_timeout(Duration::from_millis(50)) {
                    Ok(finished) => {
                        on_finished(&finished);
                        done.push(finished);
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
                if self.stop.load(Ordering::Relaxed) {
                    running.pass_on_stop();
                }
            }
        });
        Ok(done)
    }
}
