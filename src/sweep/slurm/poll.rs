//! Slurm's client commands: submit (`sbatch --parsable`), the array's tasks as
//! `squeue -t all -r` lists them, a task's exit code from `scontrol`, and `scancel`.
//! Polled by the caller; `sbatch --wait` is not used (it polls at 2, 8, then every 32 s).

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs a Slurm command; a missing command is one clear error.
fn slurm(program: &str, args: &[&str]) -> Result<Output> {
    Command::new(program).args(args).stdin(Stdio::null()).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Usage(format!(
                "{program} not found: --executor slurm needs Slurm's commands (sbatch, squeue, scontrol, scancel) on PATH"
            ))
        } else {
            Error::Usage(format!("cannot run {program}: {e}"))
        }
    })
}

fn last_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string()
}

/// Submits the script; returns the job id.
pub fn submit(script: &Path) -> Result<String> {
    let out = slurm("sbatch", &["--parsable", &script.display().to_string()])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    // `--parsable` prints `id` or `id;cluster`.
    let id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if !out.status.success() || id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        let why = last_line(&out.stderr);
        let why = if why.is_empty() { format!("it printed {:?}", stdout.trim()) } else { why };
        return Err(Error::Usage(format!("sbatch refused the job array ({}): {why}", script.display())));
    }
    Ok(id)
}

/// A task as squeue shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskState {
    pub state: String,
    pub reason: String,
}

impl TaskState {
    /// Whether the task has ended (any state but those of a task waiting or going on).
    pub fn ended(&self) -> bool {
        !matches!(
            self.state.as_str(),
            "PENDING"
                | "RUNNING"
                | "CONFIGURING"
                | "COMPLETING"
                | "SUSPENDED"
                | "REQUEUED"
                | "REQUEUE_HOLD"
                | "REQUEUE_FED"
                | "RESIZING"
                | "SIGNALING"
                | "STAGE_OUT"
                | "STOPPED"
                | "RESV_DEL_HOLD"
        )
    }
}

/// The array's tasks by task id; `None` when Slurm no longer knows the job (its
/// records outlive it by MinJobAge only).
pub fn tasks(job: &str) -> Result<Option<BTreeMap<usize, TaskState>>> {
    let args = ["-h", "-t", "all", "-r", "-j", job, "-o", "%i|%T|%r"];
    let mut out = slurm("squeue", &args)?;
    if out.status.code().is_none() {
        // Killed by the Ctrl-C meant for the sweep (it shares the terminal's process group).
        out = slurm("squeue", &args)?;
    }
    if !out.status.success() {
        let why = last_line(&out.stderr);
        if why.contains("Invalid job id") {
            return Ok(None);
        }
        return Err(Error::Usage(format!("squeue failed for job {job}: {why}")));
    }
    Ok(Some(parse_tasks(job, &String::from_utf8_lossy(&out.stdout))))
}

/// `13_3|FAILED|NonZeroExitCode` lines → task 3 of job 13. Lines of other jobs, or of
/// tasks not yet split out of a pending range (`13_[4-7]`, which `-r` expands), are skipped.
pub fn parse_tasks(job: &str, text: &str) -> BTreeMap<usize, TaskState> {
    let prefix = format!("{job}_");
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().splitn(3, '|');
            let task = fields.next()?.strip_prefix(&prefix)?.parse().ok()?;
            let state = fields.next()?.trim().to_string();
            let reason = fields.next().unwrap_or("").trim().to_string();
            Some((task, TaskState { state, reason }))
        })
        .collect()
}

/// The task's `ExitCode=code:signal`, when scontrol still knows it.
pub fn exit_code(job: &str, task: usize) -> Option<String> {
    let out = slurm("scontrol", &["-o", "show", "job", &format!("{job}_{task}")]).ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().find_map(|w| w.strip_prefix("ExitCode=")).map(String::from)
}

/// Cancels the whole array (Slurm sends each running task SIGTERM first, so the runs
/// stop after their step with a checkpoint).
pub fn cancel(job: &str) -> Result<()> {
    let out = slurm("scancel", &[job])?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Usage(format!("scancel {job} failed: {}", last_line(&out.stderr))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_become_tasks() {
        let t = parse_tasks(
            "13",
            "13_0|COMPLETED|None\n13_3|FAILED|NonZeroExitCode\n13_[4-7]|PENDING|None\n14_1|RUNNING|None\n",
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t[&3], TaskState { state: "FAILED".into(), reason: "NonZeroExitCode".into() });
        assert!(t[&0].ended() && t[&3].ended());
        assert!(!TaskState { state: "PENDING".into(), reason: String::new() }.ended());
    }
}
