//! What `runner probe` drew from a stopped run, when the run is resumed: its pictures
//! show the model at the step the run stopped, which training then moves on from, so
//! they are removed (a picture of another model must never sit in the folder as the
//! run's), and the manifest's `probed` records of them are kept, marked as removed, so
//! the new manifest does not lose what was done.

use crate::error::{Error, Result};
use crate::results::{self, UtcTime};
use serde_json::{json, Value};
use std::path::Path;

/// The key a `probed` record gets when a resume removed its files.
pub const REMOVED_KEY: &str = "removed_by_resume";

pub struct StaleProbes {
    /// Every `probed` record of the folder's manifest, in order; those whose files were
    /// removed now carry [`REMOVED_KEY`].
    pub records: Vec<Value>,
    /// What to tell the user (empty when nothing was removed).
    pub notes: Vec<String>,
}

/// Removes, from the run folder `folder` (already taken over), the files its manifest's
/// `probed` records list, and returns the records marked so. `step` is the checkpoint's
/// step, the model those files were drawn from.
pub fn remove_stale_probe_files(folder: &Path, step: usize, now: &UtcTime) -> Result<StaleProbes> {
    // A killed run's hidden folder may have no manifest, or a cut one: nothing was probed.
    let manifest = results::read_manifest_text(&folder.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    let mut records: Vec<Value> =
        manifest.and_then(|m| m.get("probed").and_then(Value::as_array).cloned()).unwrap_or_default();
    let mut removed_all: Vec<String> = Vec::new();
    for record in records.iter_mut().filter(|r| r.is_object() && r.get(REMOVED_KEY).is_none()) {
        let files: Vec<String> = record
            .get("files")
            .and_then(Value::as_array)
            .map(|f| f.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let mut removed = Vec::new();
        // Only plain names of files a probe could have written: a hand-edited record
        // must not reach outside the folder or take the run's own files.
        for name in files.iter().filter(|n| results::is_probe_file_name(n)) {
            let path = folder.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(name.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        if let Some(obj) = record.as_object_mut() {
            obj.insert(
                REMOVED_KEY.into(),
                json!({
                    "at": now.iso(),
                    "files": removed,
                    "why": format!("drawn from the model at step {step}, which the resumed run trained further"),
                }),
            );
        }
        for name in removed {
            if !removed_all.contains(&name) {
                removed_all.push(name);
            }
        }
    }
    let notes = if removed_all.is_empty() {
        vec![]
    } else {
        vec![format!(
            "removed {} file{} `runner probe` drew from the stopped run's model at step {step}, which training \
             goes on from (they would not show the finished model): {}; the manifest's `probed` list keeps \
             what drew them; `runner probe` draws them again from the finished run",
            removed_all.len(),
            if removed_all.len() == 1 { "" } else { "s" },
            removed_all.join(", ")
        )]
    };
    Ok(StaleProbes { records, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_probe_files_go_and_their_records_stay_marked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().join("run");
        std::fs::create_dir(dir).unwrap();
        for name in ["saliency_test.png", "saliency_test.csv", "metrics.csv", "keep.png"] {
            std::fs::write(dir.join(name), name).unwrap();
        }
        std::fs::write(dir.join("../outside.png"), "x").unwrap();
        let manifest = json!({
            "program": "runner",
            "probed": [
                {"at": "t1", "files": ["saliency_test.png", "saliency_test.csv", "metrics.csv", "../outside.png"]},
                {"at": "t0", "files": ["gone.png"], REMOVED_KEY: {"at": "earlier", "files": ["gone.png"]}},
            ]
        });
        std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
        let now = results::from_unix(0.0);
        let stale = remove_stale_probe_files(dir, 40, &now).unwrap();
        assert!(!dir.join("saliency_test.png").exists() && !dir.join("saliency_test.csv").exists());
        assert!(dir.join("metrics.csv").exists(), "a run file is never a probe's to remove");
        assert!(dir.join("keep.png").exists() && dir.join("../outside.png").exists());
        assert_eq!(stale.records.len(), 2);
        let mark = &stale.records[0][REMOVED_KEY];
        assert_eq!(mark["files"], json!(["saliency_test.png", "saliency_test.csv"]));
        assert_eq!(mark["at"], now.iso());
        assert!(mark["why"].as_str().unwrap().contains("step 40"));
        assert_eq!(stale.records[1][REMOVED_KEY]["at"], "earlier", "an earlier mark is kept as it was");
        assert_eq!(stale.notes.len(), 1);
        assert!(stale.notes[0].starts_with("removed 2 files `runner probe` drew"), "{}", stale.notes[0]);
        assert!(stale.notes[0].contains("saliency_test.png, saliency_test.csv"), "{}", stale.notes[0]);
    }

    #[test]
    fn a_folder_without_a_manifest_has_nothing_probed() {
        let tmp = tempfile::tempdir().unwrap();
        let stale = remove_stale_probe_files(tmp.path(), 3, &results::from_unix(0.0)).unwrap();
        assert!(stale.records.is_empty() && stale.notes.is_empty());
    }
}
