//! The files a run reads (its data and `[model] init`), made absolute in the resolved
//! spec so a run folder's spec.toml runs from any working directory, and hashed into
//! the manifest so a rerun of it can tell when they changed.

use crate::data::idx;
use crate::error::{Error, Result};
use crate::spec::{DataKind, LoadedSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// sha256 (hex) of each file read, by absolute path.
pub type DataHashes = BTreeMap<String, String>;

/// Rewrites the spec's data and init paths as absolute paths. Absolute rather than
/// relative to the run folder: a results folder can then be moved or copied and its
/// spec.toml still finds the data, and the recorded hashes say whether it is the same.
/// Paths that are not UTF-8 are left as written.
pub fn make_paths_absolute(loaded: &mut LoadedSpec, base_dir: &Path) {
    let absolute = |p: &str| -> Option<String> {
        let joined = base_dir.join(p);
        let abs = std::fs::canonicalize(&joined).or_else(|_| std::path::absolute(&joined)).ok()?;
        abs.to_str().map(String::from)
    };
    let data = loaded.spec.data.get_ref();
    if let Some(abs) = data.path.as_deref().and_then(absolute) {
        let span = loaded.spec.data.span();
        let mut resolved = data.clone();
        resolved.path = Some(abs);
        loaded.spec.data = toml::Spanned::new(span, resolved);
    }
    if let Some(init) = &loaded.spec.model.init {
        if let Some(abs) = absolute(&init.get_ref().from) {
            let span = init.span();
            let mut resolved = init.get_ref().clone();
            resolved.from = abs;
            loaded.spec.model.init = Some(toml::Spanned::new(span, resolved));
        }
    }
}

/// The files the spec's data and init read, as the loaders will find them. A file that
/// cannot be found is left out: the loader reports it with its own message.
fn files_read(loaded: &LoadedSpec, base_dir: &Path) -> Vec<PathBuf> {
    let data = loaded.spec.data.get_ref();
    let mut files = Vec::new();
    match data.kind {
        Some(DataKind::Csv) => files.extend(data.path.as_deref().map(|p| base_dir.join(p))),
        Some(DataKind::Mnist) => {
            let dir = base_dir.join(data.path.as_deref().unwrap_or("."));
            for name in [
                "train-images-idx3-ubyte",
                "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte",
            ] {
                files.extend(idx::locate(&dir, name).ok());
            }
        }
        _ => {}
    }
    if let Some(init) = &loaded.spec.model.init {
        files.push(base_dir.join(&init.get_ref().from));
    }
    files.retain(|f| f.is_file());
    files
}

/// Hashes every file the spec reads, by absolute path.
pub fn hash_files(loaded: &LoadedSpec, base_dir: &Path) -> Result<DataHashes> {
    let mut hashes = DataHashes::new();
    for file in files_read(loaded, base_dir) {
        let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
        let hex = crate::results::sha256_hex(&bytes);
        let abs = std::fs::canonicalize(&file).unwrap_or(file);
        hashes.insert(abs.display().to_string(), hex);
    }
    Ok(hashes)
}

/// When `spec_path` is a run folder's spec.toml (a manifest.json beside it), every file
/// both runs read must still have the content the manifest recorded. Files the rerun
/// does not read (its data was overridden) are not checked.
pub fn check_against_manifest(spec_path: &Path, hashes: &DataHashes) -> Result<()> {
    let manifest_path = spec_path.parent().unwrap_or(Path::new(".")).join("manifest.json");
    let Ok(text) = crate::results::read_manifest_text(&manifest_path) else {
        return Ok(());
    };
    // Someone else's manifest.json beside a spec is none of our business.
    let Ok(manifest) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(());
    };
    if manifest.get("program").and_then(|p| p.as_str()) != Some("runner") {
        return Ok(());
    }
    let Some(recorded) = manifest.get("data_files").and_then(|v| v.as_object()) else {
        return Ok(());
    };
    for (file, then) in recorded {
        let Some(now) = hashes.get(file) else { continue };
        if Some(now.as_str()) != then.as_str() {
            return Err(Error::Data(format!(
                "{file}: this data file changed since the run was made (sha256 {now}; {} records {}), so \
                 rerunning {} would not reproduce it",
                manifest_path.display(),
                then.as_str().unwrap_or("?"),
                spec_path.display()
            )));
        }
    }
    Ok(())
}
