//! `index.html`, the report page of a run folder or a sweep folder: what ran, how it
//! ended, the final metrics, every picture with a caption and every file, in one
//! self-contained page (no network: pictures and files are relative links). The page
//! is made from the folder's files alone, so the same files give the same bytes; it
//! differs between two runs of one spec only where their manifest.json does (times),
//! and `runner diff` skips it as it skips the manifest.

mod captions;
mod html;
mod run;
mod sweep;

use crate::error::{Error, Result};
use std::path::Path;

/// The page's file name in a run or sweep folder.
pub const PAGE: &str = "index.html";

/// The page of the run folder `folder`, from its files.
pub fn run_page(folder: &Path) -> String {
    run::render(folder)
}

/// The page of the sweep folder `folder`, from its files.
pub fn sweep_page(folder: &Path) -> String {
    sweep::render(folder)
}

/// Writes (or rewrites, after `runner probe` added pictures) a run folder's page.
pub fn write_run_page(folder: &Path) -> Result<()> {
    write_page(folder, &run_page(folder))
}

/// Writes (or rewrites) a sweep folder's page.
pub fn write_sweep_page(folder: &Path) -> Result<()> {
    write_page(folder, &sweep_page(folder))
}

/// Written aside and renamed, so a reader never sees half a page.
fn write_page(folder: &Path, text: &str) -> Result<()> {
    let tmp = folder.join(format!(".{PAGE}-{}", std::process::id()));
    let dest = folder.join(PAGE);
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(&dest, e)
    })
}
