//! How two runs' resolved specs differ, apart from what does not change results.
//! A difference in what the runs compute on (the data, the network's structure, the
//! dtype, the loss, the length of training, the metrics recorded) makes them
//! incomparable; a difference in a setting (the seed, a learning rate or other
//! optimizer setting, initial weights) is what one compares runs for, so it is named
//! beside the values it moved. Data files are compared by content (the manifest's
//! sha256), not by path, so a run made in another checkout (a golden) still compares.

use super::load::RunFolder;
use std::collections::BTreeMap;

/// Top-level keys that change no computed value: names, the files a run writes
/// (a changed file set is reported file by file), pictures and these tolerances.
const IGNORED: [&str; 5] = ["name", "description", "output", "probes", "diff"];

/// At most this many differing keys are named.
const SHOWN: usize = 6;

/// Training keys that change what is recorded rather than how well it trains.
const STRUCTURAL_TRAIN: [&str; 5] =
    ["train.iterations", "train.epochs", "train.batch_size", "train.solver", "train.loss"];

/// Whether a differing key is a setting (comparable) rather than structure.
fn is_setting(key: &str) -> bool {
    let layer_values = key.starts_with("model.layers.")
        && [".init", ".weights", ".biases"].iter().any(|s| key.contains(&format!("{s}.")) || key.ends_with(s));
    key == "seed"
        || (key.starts_with("train.") && !STRUCTURAL_TRAIN.contains(&key))
        || key.starts_with("model.init.")
        || layer_values
}

/// (structural differences, setting differences), each as one sentence or none.
pub fn differences(a: &RunFolder, b: &RunFolder) -> (Option<String>, Option<String>) {
    let (mut structural, mut settings) = (Vec::new(), Vec::new());
    for (key, text) in differing_keys(a, b) {
        if is_setting(&key) {
            settings.push(text);
        } else {
            structural.push(text);
        }
    }
    (sentence("different spec", &structural), sentence("different settings", &settings))
}

fn sentence(what: &str, differing: &[String]) -> Option<String> {
    if differing.is_empty() {
        return None;
    }
    let mut text = format!("{what}: {}", differing.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; "));
    if differing.len() > SHOWN {
        text += &format!("; and {} more", differing.len() - SHOWN);
    }
    Some(text)
}

/// (key, `key: a (A) vs b (B)`) for every key whose values differ.
fn differing_keys(a: &RunFolder, b: &RunFolder) -> Vec<(String, String)> {
    let (fa, fb) = (flatten_run(a), flatten_run(b));
    let mut keys: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    keys.sort();
    keys.dedup();
    let absent = String::from("(absent)");
    keys.into_iter()
        .filter(|k| fa.get(*k) != fb.get(*k))
        .map(|k| {
            let text = format!("{k}: {} (A) vs {} (B)", fa.get(k).unwrap_or(&absent), fb.get(k).unwrap_or(&absent));
            (k.clone(), text)
        })
        .collect()
}

fn flatten_run(run: &RunFolder) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, value) in &run.spec {
        if !IGNORED.contains(&key.as_str()) {
            flatten(key, value, &run.manifest.data_files, &mut out);
        }
    }
    out
}

fn flatten(
    prefix: &str,
    value: &toml::Value,
    data_files: &BTreeMap<String, String>,
    out: &mut BTreeMap<String, String>,
) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(&format!("{prefix}.{k}"), v, data_files, out);
            }
        }
        toml::Value::Array(items) if !items.is_empty() && items.iter().all(|v| v.is_table()) => {
            for (i, item) in items.iter().enumerate() {
                // Layers are known by name, so an inserted layer names itself.
                let label = item.get("name").and_then(|n| n.as_str()).map(String::from).unwrap_or(i.to_string());
                flatten(&format!("{prefix}.{label}"), item, data_files, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), data_content(s, data_files).unwrap_or_else(|| value.to_string()));
        }
        _ => {
            out.insert(prefix.to_string(), value.to_string());
        }
    }
}

/// A path the run read, as the sha256 of its file (or of the files under a folder).
fn data_content(path: &str, data_files: &BTreeMap<String, String>) -> Option<String> {
    // A manifest is input: its hashes are cut by characters, never mid-character.
    let short = |h: &str| h.chars().take(16).collect::<String>();
    if let Some(hash) = data_files.get(path) {
        return Some(format!("file sha256 {}", short(hash)));
    }
    let folder = format!("{}/", path.trim_end_matches('/'));
    let inside: Vec<String> = data_files
        .iter()
        .filter_map(|(p, h)| p.strip_prefix(&folder).map(|rel| format!("{rel} {}", short(h))))
        .collect();
    (!inside.is_empty()).then(|| format!("folder [{}]", inside.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_compared_and_structure_is_not() {
        for key in ["seed", "train.lr", "train.optimizer", "model.layers.hidden.init.low", "model.layers.fc.weights"] {
            assert!(is_setting(key), "{key}");
        }
        for key in ["train.iterations", "train.loss", "model.layers.hidden.units", "data.n", "dtype", "metrics.every"] {
            assert!(!is_setting(key), "{key}");
        }
        let files = BTreeMap::from([("/d/mnist/a.gz".to_string(), "é".repeat(20))]);
        assert_eq!(data_content("/d/mnist", &files), Some(format!("folder [a.gz {}]", "é".repeat(16))));
        assert_eq!(data_content("/elsewhere", &files), None);
    }
}
