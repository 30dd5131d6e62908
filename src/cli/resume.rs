//! `runner resume RUN_FOLDER`: continue an interrupted or killed run.

use super::stop_on_signals;
use crate::error::{Error, Result};
use crate::experiment::{self, ResumeOptions};
use crate::train::Interrupt;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// The run folder: a visible one with status `interrupted` (or `failed`), or the
    /// hidden `.incomplete-*` folder of a killed run.
    pub folder: PathBuf,
    /// No progress bar and no summary; the run folder is still printed.
    #[arg(long)]
    pub quiet: bool,
}

pub fn resume(a: ResumeArgs) -> Result<()> {
    let bar = if a.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} steps  loss {msg}  eta {eta}")
        {
            b.set_style(style.progress_chars("=> "));
        }
        b
    };
    let interrupt = Interrupt::new();
    stop_on_signals(&interrupt)?;
    let opts = ResumeOptions { folder: a.folder, interrupt: interrupt.clone() };
    let mut progress = |step: usize, total: usize, loss: f64| {
        bar.set_length(total as u64);
        bar.set_position(step as u64);
        bar.set_message(format!("{loss:.5}"));
    };
    let result = experiment::resume(&opts, &mut progress);
    bar.finish_and_clear();
    let summary = result?;
    if !a.quiet {
        eprintln!("{} in {:.2} s, {} steps", summary.status, summary.wall_seconds, summary.steps);
        for (name, value) in &summary.final_metrics {
            eprintln!("  {name:<20} {value:.6}");
        }
    }
    println!("{}", summary.dir.display());
    match interrupt.signal() {
        Some(signal) if summary.status == "interrupted" => {
            Err(Error::Interrupted { signal, steps: summary.steps, dir: summary.dir })
        }
        _ => Ok(()),
    }
}
