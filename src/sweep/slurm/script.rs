//! The job-array script: one `#SBATCH` header, then a `case` on the array task id
//! whose branches are the jobs' `runner run` / `runner resume` command lines, each
//! exec'd so that Slurm's signals (scancel, the time limit) reach runner itself.

use super::super::executor::{job_args, Job};
use super::super::plan::RunList;
use crate::error::{Error, Result};
use crate::spec::sweep_slurm::SlurmSpec;
use std::path::Path;

/// A word as bash reads it back unchanged: in single quotes, each `'` as `'\''`.
pub fn quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Checks a `--time` value against Slurm's formats: `M`, `M:S`, `H:M:S`, `D-H`,
/// `D-H:M`, `D-H:M:S`, or `UNLIMITED`/`INFINITE`; sbatch would otherwise refuse the
/// array only after the list was written.
pub fn check_time(time: &str) -> Result<()> {
    let bad = || {
        Error::Usage(format!(
            "--time {time:?}: not a Slurm time limit; write minutes (30), M:S, H:M:S (2:00:00), D-H, D-H:M or D-H:M:S (1-12:00:00)"
        ))
    };
    if ["UNLIMITED", "INFINITE"].contains(&time.to_ascii_uppercase().as_str()) {
        return Ok(());
    }
    let number = |s: &str| !s.is_empty() && s.len() <= 9 && s.chars().all(|c| c.is_ascii_digit());
    let (days, rest) = match time.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, time),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let fits = match days {
        Some(d) => number(d) && (1..=3).contains(&parts.len()),
        None => (1..=3).contains(&parts.len()),
    };
    if fits && parts.iter().all(|p| number(p)) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The script's `#SBATCH` lines and body for these jobs.
pub fn script(list: &RunList, jobs: &[Job], settings: &SlurmSpec, program: &Path, logs: &Path) -> String {
    let name = list.folder.file_name().map_or("sweep".into(), |n| n.to_string_lossy().into_owned());
    let mut text = String::from("#!/bin/bash\n");
    text += &format!("# runner sweep {}: one array task per run not yet complete\n", list.folder.display());
    let mut header = vec![format!("--job-name={}", quote(&format!("runner-{name}")))];
    let throttle = settings.max_parallel.map_or(String::new(), |k| format!("%{k}"));
    header.push(format!("--array=0-{}{throttle}", jobs.len().saturating_sub(1)));
    header.push(format!("--output={}", quote(&logs.join("%A_%a.log").display().to_string())));
    if let Some(p) = &settings.partition {
        header.push(format!("--partition={}", quote(p)));
    }
    if let Some(t) = &settings.time {
        header.push(format!("--time={}", quote(t)));
    }
    if let Some(c) = settings.cpus_per_task {
        header.push(format!("--cpus-per-task={c}"));
    }
    if let Some(m) = &settings.mem {
        header.push(format!("--mem={}", quote(m)));
    }
    header.extend(settings.sbatch_args.iter().cloned());
    for h in header {
        text += &format!("#SBATCH {h}\n");
    }
    text += "\n# Each run uses the CPUs Slurm gave its task (its manifest records the thread count).\n";
    text += "export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n";
    text += "case \"$SLURM_ARRAY_TASK_ID\" in\n";
    for (task, job) in jobs.iter().enumerate() {
        let mut words = vec![quote(&program.display().to_string())];
        words.extend(job_args(list, job).iter().map(|a| quote(a)));
        text += &format!("  {task}) exec {} ;;  # {}\n", words.join(" "), list.entries[job.index].id);
    }
    text += "esac\necho \"runner: no run for array task $SLURM_ARRAY_TASK_ID\" >&2\nexit 2\n";
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_time_formats() {
        for ok in ["30", "0:30", "2:00:00", "1-12", "1-12:30", "1-12:30:00", "UNLIMITED", "infinite"] {
            assert!(check_time(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1h", "1:2:3:4", "-5", "1-", "1-2:3:4:5", "a:b", "1.5"] {
            assert!(check_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoting_survives_spaces_and_quotes() {
        assert_eq!(quote("/a/b.toml"), "/a/b.toml");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }
}
