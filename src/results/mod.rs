//! The only writer under results/. A run folder is written under a hidden temporary
//! name (`.incomplete-<id>`, holding an `owner` file) and renamed when complete, so an
//! interrupted run never looks complete and a re-run never mixes its files with an
//! older run's. Names are reserved atomically: runs started together never collide.
//! `runner probe` adds files to a finished folder later (see `added`).

mod added;
mod clock;
mod files;
mod number;
mod owner;
mod resume;
mod safetensors_header;
mod stream;
mod walk;

pub use added::{add_files, finished_run, is_probe_file_name, read_manifest_text, FinishedRun, ProbeEvent};
pub use clock::{from_unix, now_utc, UtcTime};
pub use files::*;
pub use number::{as_written, format_value, in_dtype, push_cell};
pub use owner::{is_stale, remove_stale, remove_stale_unresumable, Owner, HIDDEN_PREFIX, OWNER_FILE};
pub use walk::{walk, Found};

pub use resume::{
    find_unfinished, read_checkpoint, write_checkpoint, ResumeEvent, ResumeMeta, StoredTensor, Unfinished, RESUME_FILE,
};
pub use safetensors_header::check_safetensors_header;
pub use stream::{layers_row, prefix_sha256, sha256_hex, LayersStream, LineStream, MetricsStream, ParamsStream};

use crate::error::{Error, Result};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

pub struct RunDir {
    parent: PathBuf,
    /// `<UTC start>-seed<seed>`: the id before any `-<k>` suffix.
    base: String,
    suffix: usize,
    id: String,
    tmp: PathBuf,
}

impl RunDir {
    /// Reserves `root/<name>/<id>` where id is the UTC start time and the seed, with a
    /// numeric suffix when that name is taken: by a finished folder, or by a hidden one
    /// that another run created first (`create_dir` fails for all but one of them).
    pub fn create(root: &Path, name: &str, seed: u64, started: &UtcTime) -> Result<RunDir> {
        let parent = root.join(sanitize(name));
        create_folders(&parent)?;
        let base = format!("{}-seed{seed}", started.compact());
        for suffix in 1.. {
            let id = with_suffix(&base, suffix);
            if parent.join(&id).exists() {
                continue;
            }
            let tmp = parent.join(format!("{HIDDEN_PREFIX}{id}"));
            match std::fs::create_dir(&tmp) {
                Ok(()) => {
                    let dir = RunDir { parent, base, suffix, id, tmp };
                    dir.write(OWNER_FILE, Owner::this_process().to_text().as_bytes())?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&tmp, e)),
            }
        }
        unreachable!("an unbounded range always yields another suffix")
    }

    /// Reserves `parent/<id>` under exactly that name (a sweep names its runs by a hash
    /// of their spec, so a second invocation finds them). Unlike [`RunDir::create`] a
    /// taken name is an error: the caller decides what to do with an existing folder.
    pub fn create_named(parent: &Path, id: &str) -> Result<RunDir> {
        create_folders(parent)?;
        let taken = |path: &Path| Error::Usage(format!("{}: the run folder exists already", path.display()));
        if parent.join(id).exists() {
            return Err(taken(&parent.join(id)));
        }
        let tmp = parent.join(format!("{HIDDEN_PREFIX}{id}"));
        match std::fs::create_dir(&tmp) {
            Ok(()) => {
                // A suffix can never be needed: `finish` only adds one when the name is
                // taken, which the sweep that owns these names prevents.
                let dir =
                    RunDir { parent: parent.to_path_buf(), base: id.to_string(), suffix: 1, id: id.to_string(), tmp };
                dir.write(OWNER_FILE, Owner::this_process().to_text().as_bytes())?;
                Ok(dir)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(taken(&tmp)),
            Err(e) => Err(Error::io(&tmp, e)),
        }
    }

    pub fn write(&self, file: &str, bytes: &[u8]) -> Result<()> {
        let path = self.tmp.join(file);
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
    }

    /// Where `file` is while the run is written.
    pub fn path_of(&self, file: &str) -> PathBuf {
        self.tmp.join(file)
    }

    /// Where the folder will be once finished, unless another run takes that name first.
    pub fn final_path(&self) -> PathBuf {
        self.parent.join(&self.id)
    }

    /// Gives the folder its visible name; returns it. When a run that reserved the same
    /// name earlier finished first (possible only in the moment between our check and
    /// our reservation), the next free suffix is taken.
    pub fn finish(mut self) -> Result<PathBuf> {
        let owner = self.tmp.join(OWNER_FILE);
        std::fs::remove_file(&owner).map_err(|e| Error::io(&owner, e))?;
        loop {
            let dest = self.parent.join(&self.id);
            // rename(2) would replace an empty folder, so a taken name is checked first;
            // a run that takes it between the check and the rename makes the rename
            // fail, as every finished run folder holds files.
            if !dest.exists() {
                match std::fs::rename(&self.tmp, &dest) {
                    Ok(()) => return Ok(dest),
                    Err(_) if dest.exists() => {}
                    Err(e) => return Err(Error::io(&dest, e)),
                }
            }
            self.suffix += 1;
            self.id = with_suffix(&self.base, self.suffix);
        }
    }
}

/// `error` as it reads once the run folder written at `from` (its hidden name) has
/// been renamed to `to`: a file the error names inside the folder is named at its
/// final path, which the user can open; the hidden one no longer exists.
pub fn relocated(error: Error, from: &Path, to: &Path) -> Error {
    match error {
        Error::Io { path, source } => match path.strip_prefix(from) {
            Ok(rest) => Error::Io { path: to.join(rest), source },
            Err(_) => Error::Io { path, source },
        },
        other => other,
    }
}

/// `create_dir_all`, but a file where a folder belongs (`--results` naming a file) is
/// named as such: the OS says only "Not a directory" about the path below it. So is a
/// symbolic link that leads nowhere (a loop, or a missing target), of which the OS says
/// "File exists".
fn create_folders(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        if let Some(m) = dir.ancestors().find_map(broken_link) {
            return Error::Usage(format!("{m}; the results folder {} cannot be made (see `--results`)", dir.display()));
        }
        let in_the_way = dir.ancestors().find(|a| a.exists()).filter(|a| !a.is_dir());
        match in_the_way {
            Some(file) => Error::Usage(format!(
                "{}: is a file, not a folder; the results folder {} must be a folder (see `--results`)",
                file.display(),
                dir.display()
            )),
            None => Error::io(dir, e),
        }
    })
}

/// What is wrong with `path` when it is a symbolic link that cannot be followed.
fn broken_link(path: &Path) -> Option<String> {
    let link = std::fs::symlink_metadata(path).ok()?;
    if !link.file_type().is_symlink() {
        return None;
    }
    let err = std::fs::metadata(path).err()?;
    let target = std::fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into());
    Some(match err.raw_os_error() {
        Some(libc::ELOOP) => {
            format!("{}: is a symbolic link in a loop (to {target}, which leads back to itself)", path.display())
        }
        _ => format!("{}: is a symbolic link to {target}, which cannot be reached ({err})", path.display()),
    })
}

fn with_suffix(base: &str, k: usize) -> String {
    if k == 1 {
        base.to_string()
    } else {
        format!("{base}-{k}")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_where_the_results_folder_belongs_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("afile");
        std::fs::write(&file, "not a folder").unwrap();
        let started = clock::from_unix(1_795_812_543.0);
        let err = RunDir::create(&file, "xor", 3, &started).err().unwrap().to_string();
        assert_eq!(
            err,
            format!(
                "{}: is a file, not a folder; the results folder {} must be a folder (see `--results`)",
                file.display(),
                file.join("xor").display()
            )
        );
        let err = RunDir::create_named(&file.join("sweep"), "abc").err().unwrap().to_string();
        assert!(err.starts_with(&format!("{}: is a file, not a folder;", file.display())), "{err}");
        // The file is left as it was.
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder");
    }

    #[test]
    fn an_error_about_a_file_of_the_hidden_folder_names_it_in_the_final_one() {
        let (from, to) = (Path::new("/r/xor/.incomplete-20261127-seed3"), Path::new("/r/xor/20261127-seed3"));
        let full = || std::io::Error::from_raw_os_error(28);
        let moved = relocated(Error::io(from.join("curves.png"), full()), from, to).to_string();
        assert_eq!(moved, format!("/r/xor/20261127-seed3/curves.png: {}", full()));
        let outside = relocated(Error::io("/data/x.csv", full()), from, to).to_string();
        assert_eq!(outside, format!("/data/x.csv: {}", full()));
        assert_eq!(relocated(Error::Data("d".into()), from, to).to_string(), "d");
    }

    #[test]
    fn a_name_taken_before_the_rename_gets_the_next_suffix() {
        let tmp = tempfile::tempdir().unwrap();
        let started = clock::from_unix(1_795_812_543.0);
        let a = RunDir::create(tmp.path(), "x", 3, &started).unwrap();
        let b = RunDir::create(tmp.path(), "x", 3, &started).unwrap();
        assert_eq!(a.final_path(), tmp.path().join("x/20261127-204903-seed3"));
        assert_eq!(b.final_path(), tmp.path().join("x/20261127-204903-seed3-2"));
        // Another process finished a run under a's name between a's check and its
        // reservation: a moves on to the next free name (b's, which b has not used yet),
        // and b then to the one after.
        let taken = tmp.path().join("x/20261127-204903-seed3");
        std::fs::create_dir(&taken).unwrap();
        std::fs::write(taken.join("manifest.json"), "{}").unwrap();
        a.write("metrics.csv", b"step\n").unwrap();
        let a_done = a.finish().unwrap();
        assert_eq!(a_done, tmp.path().join("x/20261127-204903-seed3-2"));
        assert_eq!(std::fs::read(a_done.join("metrics.csv")).unwrap(), b"step\n");
        assert!(!a_done.join(OWNER_FILE).exists());
        assert_eq!(b.finish().unwrap(), tmp.path().join("x/20261127-204903-seed3-3"));
        assert_eq!(std::fs::read(taken.join("manifest.json")).unwrap(), b"{}", "the other run is untouched");
    }
}
