//! Reads a run folder for `runner diff` and `runner list`: its manifest, its resolved
//! spec and the sha256 of files kept only by hash. A folder that is not a finished run
//! (no manifest, a killed run's hidden folder, a manifest that does not parse) is an
//! error naming the file, never a panic.

use crate::error::{Error, Result};
use crate::spec::DiffSpec;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A folder may keep some files only by hash (a golden keeps its PNGs so):
/// `hashes.sha256` in `sha256sum` format, `<hex>  <file name>` per line.
pub const HASHES_FILE: &str = "hashes.sha256";

/// The manifest fields the diff and the list read; the rest is ignored, so an older
/// or newer manifest still loads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ManifestView {
    pub name: String,
    pub spec_hash: String,
    pub seed: u64,
    pub backend: String,
    pub cpu: Option<CpuView>,
    pub dtype: String,
    pub started: String,
    pub status: String,
    pub error: Option<String>,
    pub steps: usize,
    /// serde_json writes a non-finite value as null: it is read back as NaN.
    pub final_metrics: BTreeMap<String, Option<f64>>,
    pub files: Vec<String>,
    pub data_files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CpuView {
    pub path: String,
    pub ops: BTreeMap<String, Vec<String>>,
}

impl ManifestView {
    pub fn final_value(&self, name: &str) -> Option<f64> {
        self.final_metrics.get(name).map(|v| v.unwrap_or(f64::NAN))
    }

    /// `backend`, or `cpu/avx512` with the CPU path.
    pub fn engine(&self) -> String {
        match &self.cpu {
            Some(c) => format!("{}/{}", self.backend, c.path),
            None => self.backend.clone(),
        }
    }
}

pub struct RunFolder {
    pub dir: PathBuf,
    pub manifest: ManifestView,
    /// spec.toml as a TOML table.
    pub spec: toml::Table,
    pub tolerances: Option<DiffSpec>,
    /// Files kept only by hash, by name.
    pub hashes: BTreeMap<String, String>,
}

impl RunFolder {
    pub fn load(dir: &Path) -> Result<RunFolder> {
        if !dir.is_dir() {
            return Err(Error::Data(format!("{}: not a folder", dir.display())));
        }
        let manifest = read_manifest(dir)?;
        let spec_path = dir.join("spec.toml");
        let text = read_text(&spec_path, crate::spec::MAX_SPEC_BYTES)?;
        let raw: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| Error::Data(format!("{}: {}", spec_path.display(), e.message())))?;
        // Read through this version's Spec and written back, so a key that a run of an
        // older version left out compares as its default; a spec this version cannot
        // read is compared as written.
        let spec = toml::from_str::<crate::spec::Spec>(&text)
            .ok()
            .and_then(|s| toml::to_string(&s).ok())
            .and_then(|t| t.parse::<toml::Table>().ok())
            .unwrap_or(raw);
        let tolerances = match spec.get("diff") {
            None => None,
            Some(value) => {
                let t: DiffSpec = value.clone().try_into().map_err(|e: toml::de::Error| {
                    Error::Data(format!("{}: [diff]: {}", spec_path.display(), e.message()))
                })?;
                Some(t)
            }
        };
        let hashes = read_hashes(dir)?;
        Ok(RunFolder { dir: dir.to_path_buf(), manifest, spec, tolerances, hashes })
    }

    /// The files to compare: those the manifest lists, less the manifest and the spec
    /// (compared on their own) and the report page (made from the others and the
    /// manifest, whose times it shows).
    pub fn result_files(&self) -> Vec<String> {
        let skip = ["manifest.json", "spec.toml", crate::report::PAGE];
        let mut files: Vec<String> =
            self.manifest.files.iter().filter(|f| !skip.contains(&f.as_str())).cloned().collect();
        files.sort();
        files.dedup();
        files
    }
}

pub fn read_manifest(dir: &Path) -> Result<ManifestView> {
    let path = dir.join("manifest.json");
    if !path.exists() {
        let hidden = dir.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".incomplete-"));
        let why = if hidden {
            "a run still being written, or one that was killed (see `runner list`, `runner clean`)"
        } else {
            "not a run folder, or a run that never finished"
        };
        return Err(Error::Data(format!("{}: no manifest.json: {why}", dir.display())));
    }
    let text = read_text(&path, MAX_MANIFEST_BYTES)?;
    serde_json::from_str(&text).map_err(|e| Error::Data(format!("{}: {e}", path.display())))
}

/// The largest manifest.json read: runner writes a few kilobytes (as `results` reads it).
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// The largest hashes.sha256 read: a line of about 100 bytes per file kept by hash.
pub const MAX_HASHES_BYTES: u64 = 16 << 20;

/// The text of a file of a run folder, at most `limit` bytes: read through the limit,
/// not by the size the file claims (a FIFO has none, a sparse file claims a terabyte),
/// and only from a regular file (a FIFO would block the diff).
pub fn read_text(path: &Path, limit: u64) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::Data(format!("{}: not a regular file", path.display())));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::Data(format!(
            "{}: over {limit} bytes ({}), the most runner reads of this file; it is not one runner wrote",
            path.display(),
            mib(limit)
        )));
    }
    String::from_utf8(bytes)
        .map_err(|e| Error::Data(format!("{}: not UTF-8 text (byte {})", path.display(), e.utf8_error().valid_up_to())))
}

/// `16 MiB`.
fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

fn read_hashes(dir: &Path) -> Result<BTreeMap<String, String>> {
    let path = dir.join(HASHES_FILE);
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = read_text(&path, MAX_HASHES_BYTES)?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#')) {
        let parsed = line.split_once(char::is_whitespace).map(|(h, n)| (h, n.trim_start().trim_start_matches('*')));
        match parsed {
            Some((hash, name))
                if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && !name.is_empty() =>
            {
                out.insert(name.to_string(), hash.to_ascii_lowercase());
            }
            _ => {
                return Err(Error::Data(format!(
                    "{}:{}: expected `<sha256 hex>  <file name>`, found {line:?}",
                    path.display(),
                    i + 1
                )))
            }
        }
    }
    Ok(out)
}

/// sha256 of a file's bytes, as lowercase hex (the results folder's own spelling).
pub use crate::results::sha256_hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_or_odd_file_is_refused_with_its_name_and_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path();
        // 1 TiB, sparse: read whole it would take all memory.
        std::fs::File::create(run.join("manifest.json")).unwrap().set_len(1 << 40).unwrap();
        let e = read_manifest(run).unwrap_err().to_string();
        let manifest = run.join("manifest.json");
        assert_eq!(
            e,
            format!(
                "{}: over 16777216 bytes (16 MiB), the most runner reads of this file; it is not one runner wrote",
                manifest.display()
            )
        );
        std::fs::write(&manifest, "{}").unwrap();
        std::fs::File::create(run.join("spec.toml")).unwrap().set_len(crate::spec::MAX_SPEC_BYTES + 1).unwrap();
        let e = RunFolder::load(run).err().unwrap().to_string();
        assert!(e.ends_with("spec.toml: over 33554432 bytes (32 MiB), the most runner reads of this file; it is not one runner wrote"), "{e}");
        // At the limit exactly, the file is read.
        let spec = run.join("spec.toml");
        std::fs::write(&spec, "a = 1\n").unwrap();
        assert_eq!(read_text(&spec, 6).unwrap(), "a = 1\n");
        assert!(read_text(&spec, 5).unwrap_err().to_string().contains("over 5 bytes"));
        std::fs::File::create(run.join(HASHES_FILE)).unwrap().set_len(MAX_HASHES_BYTES + 1).unwrap();
        let e = RunFolder::load(run).err().unwrap().to_string();
        assert!(e.contains("hashes.sha256: over 16777216 bytes (16 MiB)"), "{e}");
        // A folder is no text file (a FIFO would block the same way a read of one does).
        std::fs::remove_file(&spec).unwrap();
        std::fs::create_dir(&spec).unwrap();
        assert!(read_text(&spec, 10).unwrap_err().to_string().ends_with("spec.toml: not a regular file"));
    }
}
