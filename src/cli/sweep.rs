//! `runner sweep SPEC [-j N] [--executor slurm …]`: plan the list, run it (here, or as a
//! Slurm job array), print a line per finished run and the sweep folder last.

use super::SpecArgs;
use crate::error::{Error, Result};
use crate::spec::sweep_slurm::SlurmSpec;
use crate::sweep::slurm::SlurmExecutor;
use crate::sweep::{self, Executor, Finished, LocalExecutor, Outcome, RunEntry};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SweepArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// How many runs at a time (at least 1); each gets cores / N threads (at least 1).
    #[arg(short = 'j', long = "jobs", default_value_t = 1, value_parser = parse_jobs)]
    pub jobs: usize,
    /// Root folder of results; the sweep folder goes under it.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Run every point again, finished ones included.
    #[arg(long)]
    pub force: bool,
    /// Serve a live view of every run's curves while the sweep goes on: on 127.0.0.1
    /// and a free port unless ADDR (`PORT` or `HOST:PORT`) says; the URL is printed on stderr.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:0")]
    pub serve: Option<String>,
    /// Who runs the list: child processes here, or a Slurm job array (one task per run).
    #[arg(long, value_enum, default_value_t = ExecutorKind::Local)]
    pub executor: ExecutorKind,
    #[command(flatten)]
    pub slurm: SlurmArgs,
    /// Passed on to every run (as `--set backend=…`).
    #[command(flatten)]
    pub backend: super::BackendArg,
}

/// `-j 0` would run nothing at a time; it is refused rather than read as 1.
fn parse_jobs(text: &str) -> std::result::Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("0 runs at a time would run nothing; give at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("expected a number of runs at a time (1 or more), found `{text}`")),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExecutorKind {
    Local,
    Slurm,
}

/// `--executor slurm` settings; each wins over the same key of `[sweep.slurm]`.
#[derive(Args, Debug, Default)]
pub struct SlurmArgs {
    /// Slurm partition (sbatch --partition).
    #[arg(long, help_heading = "Slurm")]
    pub partition: Option<String>,
    /// Time limit per task, in Slurm's format (30, 2:00:00, 1-12:00:00).
    #[arg(long, help_heading = "Slurm")]
    pub time: Option<String>,
    /// CPUs per task; each run uses that many threads.
    #[arg(long, help_heading = "Slurm")]
    pub cpus_per_task: Option<u32>,
    /// Memory per task (sbatch --mem, e.g. 4G).
    #[arg(long, help_heading = "Slurm")]
    pub mem: Option<String>,
    /// Tasks running at once (the array's %K throttle).
    #[arg(long, help_heading = "Slurm")]
    pub max_parallel: Option<u32>,
    /// A further sbatch option, written as an #SBATCH line (repeatable).
    #[arg(long = "sbatch-arg", allow_hyphen_values = true, help_heading = "Slurm")]
    pub sbatch_args: Vec<String>,
    /// Print the array script and its task list; submit nothing.
    #[arg(long, help_heading = "Slurm")]
    pub dry_run: bool,
    /// On Ctrl-C, scancel the array without asking.
    #[arg(long, help_heading = "Slurm")]
    pub cancel_on_interrupt: bool,
}

impl SlurmArgs {
    /// The first option given, to refuse it without `--executor slurm`.
    fn any_given(&self) -> Option<&'static str> {
        [
            (self.partition.is_some(), "--partition"),
            (self.time.is_some(), "--time"),
            (self.cpus_per_task.is_some(), "--cpus-per-task"),
            (self.mem.is_some(), "--mem"),
            (self.max_parallel.is_some(), "--max-parallel"),
            (!self.sbatch_args.is_empty(), "--sbatch-arg"),
            (self.dry_run, "--dry-run"),
            (self.cancel_on_interrupt, "--cancel-on-interrupt"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
    }

    /// The sweep's `[sweep.slurm]` with these options over it.
    fn over(&self, table: &SlurmSpec) -> SlurmSpec {
        let mut s = table.clone();
        s.partition = self.partition.clone().or(s.partition);
        s.time = self.time.clone().or(s.time);
        s.cpus_per_task = self.cpus_per_task.or(s.cpus_per_task);
        s.mem = self.mem.clone().or(s.mem);
        s.max_parallel = self.max_parallel.or(s.max_parallel);
        s.sbatch_args.extend(self.sbatch_args.iter().cloned());
        s
    }
}

pub fn sweep(a: SweepArgs) -> Result<()> {
    super::one_line("--results", a.results.as_os_str())?;
    // A bad address is refused before the plan loads every point.
    let serve_at = a.serve.as_deref().map(|t| crate::serve::parse_address("--serve", t)).transpose()?;
    if a.executor == ExecutorKind::Local {
        if let Some(option) = a.slurm.any_given() {
            return Err(Error::Usage(format!("{option} is an option of --executor slurm")));
        }
    }
    if let Some(t) = &a.slurm.time {
        sweep::slurm::script::check_time(t)?;
    }
    let edits: Vec<String> = a.spec.edits().into_iter().chain(a.backend.as_edit()).collect();
    let list = sweep::plan(&a.spec.spec, &edits, a.spec.seed, &a.results)?;
    let _live = match serve_at {
        Some(addr) => Some(crate::serve::start("--serve", addr, crate::serve::Watched::sweep(&list.folder))?),
        None => None,
    };
    let program = std::env::current_exe().map_err(|e| Error::Usage(format!("cannot find the runner program: {e}")))?;
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("[{bar:40}] {pos}/{len} runs  {elapsed}  eta {eta}") {
            b.set_style(style.progress_chars("=> "));
        }
        b
    } else {
        ProgressBar::hidden()
    };
    // Ctrl-C or SIGTERM: start no more runs, pass the stop on to the runs going on (the
    // local executor sends each one SIGTERM; the Slurm one asks whether to scancel),
    // write the tables; a second one ends the sweep at once.
    let interrupt = crate::train::Interrupt::new();
    let slurm = a.slurm.over(&list.slurm);
    let executor: Box<dyn Executor> = match a.executor {
        ExecutorKind::Local => Box::new(LocalExecutor { parallel: a.jobs, program, stop: interrupt.flag() }),
        ExecutorKind::Slurm => {
            let said = bar.clone();
            let say = Box::new(move |m: &str| said.suspend(|| eprintln!("{m}")));
            let mut e = SlurmExecutor::new(slurm, program, interrupt.flag(), say);
            e.cancel_on_interrupt = a.slurm.cancel_on_interrupt;
            e.ask = std::io::stdin().is_terminal();
            if a.slurm.dry_run {
                return dry_run(&list, &e, a.force);
            }
            Box::new(e)
        }
    };
    super::stop_on_signals(&interrupt)?;
    // The plan is made: from here a signal stops the sweep cleanly instead of ending it.
    interrupt.training_begins();
    match a.executor {
        ExecutorKind::Local => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let parallel = a.jobs;
            eprintln!(
                "sweep of {} runs in {} ({} at a time, {} threads each)",
                list.entries.len(),
                list.folder.display(),
                parallel,
                (cores / parallel).max(1)
            );
        }
        ExecutorKind::Slurm => {
            eprintln!("sweep of {} runs in {} (a Slurm job array)", list.entries.len(), list.folder.display())
        }
    }
    let mut on_start = |jobs: usize, notes: &[String]| {
        bar.suspend(|| notes.iter().for_each(|n| eprintln!("note: {n}")));
        bar.set_length(jobs as u64)
    };
    let mut on_finished = |entry: &RunEntry, f: &Finished, o: &Outcome| {
        let metric = o.headline().map(|(k, v)| format!("  {k} {v:.6}")).unwrap_or_default();
        let status = match (&f.scheduler, f.ok) {
            (_, true) => o.status.clone(),
            (Some(word), false) if f.message.is_empty() => format!("FAILED ({word})"),
            (Some(word), false) => format!("FAILED ({}) [{word}]", f.message),
            (None, false) => format!("FAILED ({})", f.message),
        };
        let seed = if entry.values.iter().any(|(k, _)| crate::sweep::is_seed_axis(k)) {
            String::new()
        } else {
            format!(" seed={}", entry.seed)
        };
        bar.suspend(|| {
            eprintln!("{status:<9} {}{seed}{metric}  {:.2} s  runs/{}", entry.setting(), f.seconds, entry.id)
        });
        bar.inc(1);
    };
    let tally = sweep::run_list(&list, executor.as_ref(), a.force, &mut on_start, &mut on_finished)?;
    bar.finish_and_clear();
    eprintln!(
        "{} runs: {} run, {} resumed, {} skipped (finished before), {} failed{}",
        list.entries.len(),
        tally.ran,
        tally.resumed,
        tally.skipped,
        tally.failed,
        if tally.not_started > 0 { format!(", {} not started", tally.not_started) } else { String::new() }
    );
    println!("{}", list.folder.display());
    if tally.not_started > 0 {
        let what = match a.executor {
            ExecutorKind::Local => "not started",
            ExecutorKind::Slurm => "not finished",
        };
        return Err(Error::Usage(format!(
            "stopped: {} runs {what}; run the sweep again to continue it",
            tally.not_started
        )));
    }
    if tally.failed > 0 {
        return Err(Error::Usage(format!(
            "{} of {} runs did not complete; see {}",
            tally.failed,
            list.entries.len(),
            list.folder.join("sweep.csv").display()
        )));
    }
    Ok(())
}

/// `--dry-run`: the array script (written to the sweep folder) and its task list on
/// standard output; nothing is submitted and no run folder is touched.
fn dry_run(list: &sweep::RunList, executor: &SlurmExecutor, force: bool) -> Result<()> {
    let mut notes = Vec::new();
    let jobs = sweep::pending(list, force, false, true, &mut notes)?;
    for note in &notes {
        eprintln!("note: {note}");
    }
    if jobs.is_empty() {
        eprintln!("every run of the sweep is complete: nothing to submit");
        println!("{}", list.folder.display());
        return Ok(());
    }
    let (path, text) = executor.write_script(list, &jobs)?;
    let shown = format!(
        "# {}\n{text}\n# array tasks: task, run, run or resume, setting\n{}{}\n",
        path.display(),
        SlurmExecutor::task_list(list, &jobs),
        list.folder.display()
    );
    // A closed pipe (`| head`) is not an error of the sweep.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), shown.as_bytes());
    Ok(())
}
