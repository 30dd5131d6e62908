//! The commands. Parsing and printing only: the work is in `experiment`.

mod diff;
mod list;
mod probe;
mod resume;
mod schema;
mod sweep;
mod watch;

use crate::error::{Error, Result};
use crate::experiment::{self, RunOptions};
use crate::train::Interrupt;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "runner",
    version,
    about = "Declarative neural-network experiments: one TOML spec in, a reproducible results folder out."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an experiment (also `runner SPEC.toml`); prints the run folder on the last line.
    Run(RunArgs),
    /// Validate a spec and print its layer table, without running it.
    Check(SpecArgs),
    /// Remove the hidden `.incomplete-*` folders of runs whose process is gone; prints each.
    Clean(CleanArgs),
    /// Continue an interrupted or killed run from its resume checkpoint; prints the run folder.
    Resume(resume::ResumeArgs),
    /// Compare two runs (or two sweeps run by run); exit 0 same, 1 different, 2 cannot compare.
    Diff(diff::DiffArgs),
    /// List the runs under a results folder with status, steps, final metrics and spec hash.
    List(list::ListArgs),
    /// Run probes on a finished run's trained model and add their files to its folder; prints each file.
    Probe(probe::ProbeArgs),
    /// Run every point of a spec's `[sweep]` (or a sweep file's), N at a time; prints the sweep folder.
    Sweep(sweep::SweepArgs),
    /// Serve a live view of a run or sweep folder's curves (in progress or finished) until Ctrl-C.
    Watch(watch::WatchArgs),
    /// Print the JSON Schema of specs (or with --sweep, of sweep files) for editors.
    Schema(schema::SchemaArgs),
}

#[derive(Args, Debug)]
pub struct CleanArgs {
    /// Root folder of results.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// The experiment file.
    pub spec: PathBuf,
    /// Override the spec's seed (0 to 18446744073709551615).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override any spec value: --set train.lr=0.1, --set model.layers.hidden.units=8.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,
    /// Remove a spec value before the --set ones apply: --unset train.iterations --set train.epochs=2.
    #[arg(long = "unset", value_name = "KEY.PATH")]
    pub unsets: Vec<String>,
}

impl SpecArgs {
    /// The --unset and --set arguments as the spec loader takes them (unsets marked).
    pub fn edits(&self) -> Vec<String> {
        let unsets = self.unsets.iter().map(|k| format!("{}{k}", crate::spec::UNSET_PREFIX));
        unsets.chain(self.sets.iter().cloned()).collect()
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Root folder of results.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// No progress bar and no summary; the run folder is still printed.
    #[arg(long)]
    pub quiet: bool,
    /// The run folder's exact name under --results (a sweep names its runs by a hash).
    #[arg(long, hide = true)]
    pub run_id: Option<String>,
    /// Serve a live view of the curves while the run trains: on 127.0.0.1 and a free
    /// port unless ADDR (`PORT` or `HOST:PORT`) says; the URL is printed on stderr.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:0")]
    pub serve: Option<String>,
    #[command(flatten)]
    pub backend: BackendArg,
}

/// `--backend`, shared by run, probe and sweep.
#[derive(Args, Debug, Default, Clone, Copy)]
pub struct BackendArg {
    /// Which backend computes: auto (CUDA when a device works, else the CPU), cpu, or
    /// cuda (an error without a usable GPU). Overrides the spec's `backend`.
    #[arg(long, value_enum)]
    pub backend: Option<crate::backend::BackendChoice>,
}

impl BackendArg {
    /// As a spec edit (`--set backend="cuda"`), for commands that pass it on to runs.
    pub fn as_edit(&self) -> Option<String> {
        self.backend.map(|b| format!("backend=\"{}\"", b.name()))
    }
}

/// `runner x.toml` means `runner run x.toml`.
pub fn normalise_args(mut args: Vec<String>) -> Vec<String> {
    const COMMANDS: [&str; 14] = [
        "run",
        "check",
        "clean",
        "resume",
        "probe",
        "sweep",
        "diff",
        "list",
        "watch",
        "schema",
        "help",
        "--help",
        "-h",
        "--version",
    ];
    if let Some(first) = args.get(1) {
        if !COMMANDS.contains(&first.as_str()) && !first.starts_with('-') {
            args.insert(1, "run".into());
        }
    }
    args
}

pub fn main_with(args: Vec<String>) -> Result<()> {
    let cli = match Cli::try_parse_from(normalise_args(args)) {
        Ok(c) => c,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            print!("{e}");
            return Ok(());
        }
        // clap's message starts with its own `error: `; main adds the one that is printed.
        Err(e) => {
            let message = e.to_string();
            let message = message.trim_end();
            return Err(Error::Usage(message.strip_prefix("error: ").unwrap_or(message).to_string()));
        }
    };
    match cli.command {
        Command::Check(a) => {
            print!("{}", experiment::check(&a.spec, &a.edits(), a.seed)?);
            Ok(())
        }
        Command::Run(a) => run(a),
        Command::Resume(a) => resume::resume(a),
        Command::Probe(a) => probe::probe(a),
        Command::Sweep(a) => sweep::sweep(a),
        Command::Clean(a) => {
            list::results_folder(&a.results)?;
            for dir in crate::results::remove_stale(&a.results)? {
                println!("removed {}", dir.display());
            }
            Ok(())
        }
        Command::Diff(a) => diff::run(a),
        Command::List(a) => list::run(a),
        Command::Watch(a) => watch::watch(a),
        Command::Schema(a) => schema::run(a),
    }
}

/// Ctrl-C or SIGTERM asks the run to stop after the step in progress and write its
/// files; a second one ends the process at once (exit 128 + signal), leaving the hidden
/// folder for `runner clean`.
pub(crate) fn stop_on_signals(interrupt: &Interrupt) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    for signal in [SIGINT, SIGTERM] {
        let fail = |e: std::io::Error| Error::Usage(format!("cannot handle signal {signal}: {e}"));
        // Before training there is nothing to keep: the default action ends the process.
        flag::register_conditional_default(signal, interrupt.preparing_flag()).map_err(fail)?;
        // The shutdown goes next: it fires only when an earlier signal set the flag.
        flag::register_conditional_shutdown(signal, 128 + signal, interrupt.flag()).map_err(fail)?;
        flag::register_usize(signal, interrupt.signal_slot(), signal as usize).map_err(fail)?;
        flag::register(signal, interrupt.flag()).map_err(fail)?;
    }
    Ok(())
}

/// The run (or sweep) folder is printed alone on the last line, which scripts read: a
/// line break in `--results` (or a run id) would cut that path over two lines.
pub(crate) fn one_line(flag: &str, value: &std::ffi::OsStr) -> Result<()> {
    let text = value.to_string_lossy();
    if text.contains(['\n', '\r']) {
        return Err(Error::Usage(format!(
            "{flag} {:?}: has a line break; the folder is printed as the last line, which scripts read, so \
             it cannot hold one",
            crate::error::clip(&text, 120)
        )));
    }
    Ok(())
}

fn run(a: RunArgs) -> Result<()> {
    one_line("--results", a.results.as_os_str())?;
    if let Some(id) = &a.run_id {
        one_line("--run-id", id.as_ref())?;
        // The id is joined to --results: `..` or `/` would put the run elsewhere, and an
        // empty one or `.x` names the root itself or a hidden folder `runner list` skips.
        if id.is_empty() || id.starts_with('.') || id.contains(['/', '\\']) {
            return Err(Error::Usage(format!(
                "--run-id {:?}: must be one folder name: not empty, without `/` or `\\`, not starting with `.`",
                crate::error::clip(id, 120)
            )));
        }
    }
    let interrupt = Interrupt::new();
    stop_on_signals(&interrupt)?;
    // Listening starts before anything is read, so a taken port fails at once; the
    // server stops with the run.
    let _live = match &a.serve {
        Some(addr) => {
            let addr = crate::serve::parse_address("--serve", addr)?;
            Some(crate::serve::start("--serve", addr, crate::serve::Watched::own_run(&a.results))?)
        }
        None => None,
    };
    let opts = RunOptions {
        sets: a.spec.edits(),
        spec_path: a.spec.spec,
        results_root: a.results,
        seed: a.spec.seed,
        run_id: a.run_id,
        interrupt: interrupt.clone(),
        backend: a.backend.backend,
    };
    with_progress(a.quiet, &interrupt, |progress| experiment::run(&opts, progress))
}

/// The progress bar's speed: `200 steps/s`, `4.2 steps/s`, `1.2 k steps/s`, `35 k steps/s`,
/// two or three significant digits (indicatif's own `{per_sec}` prints `200.1634/s`).
fn steps_per_second(rate: f64) -> String {
    if !rate.is_finite() || rate <= 0.0 {
        return "0 steps/s".into();
    }
    let mut x = rate;
    let mut prefix = "";
    for p in ["k ", "M ", "G "] {
        // 999.7 would print as 1000: the next prefix reads better.
        if x < 999.5 {
            break;
        }
        x /= 1000.0;
        prefix = p;
    }
    let digits = if x < 0.995 {
        format!("{x:.2}")
    } else if x < 9.95 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    };
    format!("{digits} {prefix}steps/s")
}

/// Runs `work` (a run or a resume) with a progress bar, prints its summary and folder,
/// and turns a stop by a signal into [`Error::Interrupted`] (exit 130 or 143).
pub(crate) fn with_progress(
    quiet: bool,
    interrupt: &Interrupt,
    work: impl FnOnce(&mut (dyn FnMut(usize, usize, f64) + Send)) -> Result<experiment::RunSummary>,
) -> Result<()> {
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} steps  loss {msg}  {rate}  eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&steps_per_second(state.per_sec()));
                })
                .progress_chars("=> "),
        );
        b
    };
    let mut progress = |step: usize, total: usize, loss: f64| {
        bar.set_length(total as u64);
        bar.set_position(step as u64);
        bar.set_message(format!("{loss:.5}"));
    };
    let result = work(&mut progress);
    bar.finish_and_clear();
    let summary = result?;
    // Even when quiet: a note says what was done to the user's files.
    for note in &summary.notes {
        eprintln!("note: {note}");
    }
    if !quiet {
        for dir in &summary.removed_stale {
            eprintln!("removed {} (left by a process that is gone)", dir.display());
        }
        let (status, wall, steps) = (&summary.status, summary.wall_seconds, summary.steps);
        match summary.attempts {
            1 => eprintln!("{status} in {wall:.2} s, {steps} steps"),
            n => eprintln!(
                "{status} in {wall:.2} s of compute over {n} attempts (the time stopped between them not counted), \
                 {steps} steps"
            ),
        }
        if summary.printed.metrics {
            for (name, value) in &summary.final_metrics {
                eprintln!("  {name:<20} {value:.6}");
            }
        }
        // The course's headline numbers are the run's result: on standard output,
        // before the folder (still the last line, which scripts read).
        for table in &summary.printed.tables {
            print!("{}", table.render());
        }
    }
    println!("{}", summary.dir.display());
    match interrupt.signal() {
        Some(signal) if summary.status == "interrupted" => {
            Err(Error::Interrupted { signal, steps: summary.steps, dir: summary.dir })
        }
        Some(signal) if !summary.probes_skipped.is_empty() => {
            Err(Error::ProbesSkipped { signal, kinds: summary.probes_skipped, dir: summary.dir })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::steps_per_second;

    #[test]
    fn the_speed_has_a_unit_and_few_digits() {
        assert_eq!(steps_per_second(200.1634), "200 steps/s");
        assert_eq!(steps_per_second(4.23), "4.2 steps/s");
        assert_eq!(steps_per_second(0.421), "0.42 steps/s");
        assert_eq!(steps_per_second(12.6), "13 steps/s");
        assert_eq!(steps_per_second(999.7), "1.0 k steps/s");
        assert_eq!(steps_per_second(1234.0), "1.2 k steps/s");
        assert_eq!(steps_per_second(35_210.0), "35 k steps/s");
        assert_eq!(steps_per_second(2.5e6), "2.5 M steps/s");
        assert_eq!(steps_per_second(0.0), "0 steps/s");
        assert_eq!(steps_per_second(f64::INFINITY), "0 steps/s");
    }
}
