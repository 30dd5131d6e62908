//! `runner watch FOLDER`: the live view of a run folder (finished, or hidden and still
//! being written) or of a sweep folder, served until Ctrl-C.

use crate::error::Result;
use crate::serve::{self, Watched};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// A run folder (also a hidden `.incomplete-*` one in progress) or a sweep folder.
    pub folder: PathBuf,
    /// Where to listen: `PORT` or `HOST:PORT`; 127.0.0.1 and a free port by default.
    #[arg(long, visible_alias = "serve", value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub addr: String,
}

pub fn watch(a: WatchArgs) -> Result<()> {
    // Named `--addr` even when given as its alias `--serve`: clap does not say which
    // spelling was typed, and `--addr` is the one `runner watch --help` shows.
    let addr = serve::parse_address("--addr", &a.addr)?;
    let watched = Watched::from_folder(&a.folder)?;
    // Ctrl-C takes its default action and ends the process: there is nothing to save.
    serve::start("--addr", addr, watched)?.wait();
    Ok(())
}
