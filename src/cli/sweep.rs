//! `runner sweep SPEC [-j N]`: plan the list, run it, print a line per finished run and
//! the sweep folder last.

use super::SpecArgs;
use crate::error::{Error, Result};
use crate::sweep::{self, Finished, LocalExecutor, Outcome, RunEntry};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SweepArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// How many runs at a time; each gets cores / N threads (at least 1).
    #[arg(short = 'j', long = "jobs", default_value_t = 1)]
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
}

pub fn sweep(a: SweepArgs) -> Result<()> {
    // A bad address is refused before the plan loads every point.
    let serve_at = a.serve.as_deref().map(crate::serve::parse_address).transpose()?;
    let list = sweep::plan(&a.spec.spec, &a.spec.edits(), a.spec.seed, &a.results)?;
    let _live = match serve_at {
        Some(addr) => Some(crate::serve::start(addr, crate::serve::Watched::sweep(&list.folder))?),
        None => None,
    };
    let program = std::env::current_exe().map_err(|e| Error::Usage(format!("cannot find the runner program: {e}")))?;
    // Ctrl-C or SIGTERM: start no more runs, pass the stop on to the runs going on (the
    // executor sends each one SIGTERM), write the tables; a second one ends the sweep
    // at once.
    let interrupt = crate::train::Interrupt::new();
    super::stop_on_signals(&interrupt)?;
    // The plan is made: from here a signal stops the sweep cleanly instead of ending it.
    interrupt.training_begins();
    let executor = LocalExecutor { parallel: a.jobs.max(1), program, stop: interrupt.flag() };
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("[{bar:40}] {pos}/{len} runs  {elapsed}  eta {eta}") {
            b.set_style(style.progress_chars("=> "));
        }
        b
    } else {
        ProgressBar::hidden()
    };
    eprintln!(
        "sweep of {} runs in {} ({} at a time, {} threads each)",
        list.entries.len(),
        list.folder.display(),
        executor.parallel,
        executor.threads_per_run()
    );
    let mut on_start = |jobs: usize| bar.set_length(jobs as u64);
    let mut on_finished = |entry: &RunEntry, f: &Finished, o: &Outcome| {
        let metric = o.headline().map(|(k, v)| format!("  {k} {v:.6}")).unwrap_or_default();
        let status = if f.ok { o.status.clone() } else { format!("FAILED ({})", f.message) };
        bar.suspend(|| {
            eprintln!(
                "{status:<9} {} seed={}{metric}  {:.2} s  runs/{}",
                entry.setting(),
                entry.seed,
                f.seconds,
                entry.id
            )
        });
        bar.inc(1);
    };
    let tally = sweep::run_list(&list, &executor, a.force, &mut on_start, &mut on_finished)?;
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
        return Err(Error::Usage(format!(
            "stopped: {} runs not started; run the sweep again to continue it",
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
