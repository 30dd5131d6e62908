//! The only writer under results/. A run folder is written under a hidden temporary
//! name and renamed when complete, so an interrupted run never looks complete and a
//! re-run never mixes its files with an older run's.

mod clock;
mod files;

pub use clock::{now_utc, UtcTime};
pub use files::*;

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub struct RunDir {
    tmp: PathBuf,
    dest: PathBuf,
}

impl RunDir {
    /// Reserves `root/<name>/<id>` where id is the UTC start time and the seed, with a
    /// numeric suffix if that folder exists.
    pub fn create(root: &Path, name: &str, seed: u64, started: &UtcTime) -> Result<RunDir> {
        let parent = root.join(sanitize(name));
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let base = format!("{}-seed{seed}", started.compact());
        let mut id = base.clone();
        let mut k = 2;
        while parent.join(&id).exists() || parent.join(format!(".incomplete-{id}")).exists() {
            id = format!("{base}-{k}");
            k += 1;
        }
        let tmp = parent.join(format!(".incomplete-{id}"));
        std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(RunDir { tmp, dest: parent.join(id) })
    }

    pub fn write(&self, file: &str, bytes: &[u8]) -> Result<()> {
        let path = self.tmp.join(file);
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
    }

    /// Where the folder will be once finished.
    pub fn final_path(&self) -> &Path {
        &self.dest
    }

    pub fn finish(self) -> Result<PathBuf> {
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        Ok(self.dest)
    }
}

fn sanitize(name: &str) -> String {
    let s: String = name.chars().map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with('.') {
        format!("run{s}")
    } else {
        s
    }
}
