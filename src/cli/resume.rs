//! `runner resume RUN_FOLDER`: continue an interrupted or killed run.

use super::{stop_on_signals, with_progress};
use crate::error::Result;
use crate::experiment::{self, ResumeOptions};
use crate::train::Interrupt;
use clap::Args;
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
    let interrupt = Interrupt::new();
    stop_on_signals(&interrupt)?;
    let opts = ResumeOptions { folder: a.folder, interrupt: interrupt.clone() };
    with_progress(a.quiet, &interrupt, |progress| experiment::resume(&opts, progress))
}
