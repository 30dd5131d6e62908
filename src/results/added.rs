//! Files added to a finished run folder later (`runner probe`): each is written under a
//! hidden temporary name and renamed into place, then manifest.json's `files` list is
//! rewritten the same way. A failure part way leaves every file that was there before
//! as it was (a probe file written again is replaced whole, never cut short).

use super::HIDDEN_PREFIX;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// What `runner probe` needs to know of a run folder it may add to.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    pub folder: PathBuf,
    /// `complete` or `interrupted`.
    pub status: String,
    /// Learned values: a model with none has no model.safetensors.
    pub parameters: usize,
    /// The manifest's `spec_hash`: the resolved spec the run was made with.
    pub spec_hash: Option<String>,
    /// The sha256 of each data file the run read (the manifest's `data_files` values).
    pub data_sha256: Vec<String>,
}

/// Files a run writes itself: a later probe must never replace them.
const RUN_FILES: [&str; 13] = [
    "spec.toml",
    "manifest.json",
    crate::report::PAGE,
    "metrics.csv",
    "params.csv",
    "layers.csv",
    "model.safetensors",
    "predictions.csv",
    "gradients.csv",
    "confusion.csv",
    "classes.csv",
    super::RESUME_FILE,
    super::OWNER_FILE,
];

/// Whether `name` could be a file `runner probe` wrote into a run folder: a plain name
/// (no folder, not hidden) that is none of the run's own files.
pub fn is_probe_file_name(name: &str) -> bool {
    let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\']);
    plain && !RUN_FILES.contains(&name)
}

/// Looks at `folder`: a visible run folder whose manifest says `complete` or
/// `interrupted`. The reason it is refused otherwise.
pub fn finished_run(folder: &Path) -> std::result::Result<FinishedRun, String> {
    let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.starts_with(HIDDEN_PREFIX) {
        return Err("its run is still going, or was killed (`runner resume` finishes it)".into());
    }
    if !folder.exists() {
        return Err("no such run folder".into());
    }
    if !folder.is_dir() {
        return Err("not a folder (give the run folder that holds manifest.json)".into());
    }
    let manifest = folder.join("manifest.json");
    let value = read_manifest_text(&manifest)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .filter(|m| m.get("program").and_then(|p| p.as_str()) == Some("runner"));
    let Some(value) = value else {
        return Err("not a run folder (it has no readable manifest.json written by runner)".into());
    };
    let status = value.get("status").and_then(|s| s.as_str()).unwrap_or("").to_string();
    match status.as_str() {
        "complete" | "interrupted" => {}
        "failed" | "diverged" => {
            return Err(format!("the run ended with status `{status}`: its model is not a trained one to look at"))
        }
        other => return Err(format!("the manifest's status is `{other}`, not `complete` or `interrupted`")),
    }
    if !folder.join("spec.toml").is_file() {
        return Err("it has no spec.toml".into());
    }
    let parameters = value.get("parameters").and_then(|p| p.as_u64()).unwrap_or(0) as usize;
    let spec_hash = value.get("spec_hash").and_then(|h| h.as_str()).map(str::to_string);
    let data_sha256 = value
        .get("data_files")
        .and_then(|d| d.as_object())
        .map(|d| d.values().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    Ok(FinishedRun { folder: folder.to_path_buf(), status, parameters, spec_hash, data_sha256 })
}

/// A manifest is a few kilobytes; one this large is not runner's.
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// The text of a run's manifest.json: a regular file (a FIFO would block, /dev/zero
/// never end) of at most [`MAX_MANIFEST_BYTES`].
pub fn read_manifest_text(path: &Path) -> std::io::Result<String> {
    use std::io::{Error as IoError, ErrorKind, Read};
    if !std::fs::metadata(path)?.is_file() {
        return Err(IoError::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX_MANIFEST_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(IoError::new(ErrorKind::InvalidData, format!("over {MAX_MANIFEST_BYTES} bytes")));
    }
    Ok(text)
}

/// What made the files one `runner probe` added: kept in the manifest's `probed` list,
/// so a reader of the folder can tell which settings drew each picture (the spec.toml
/// beside them says what the run's own probes were, not these).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProbeEvent {
    /// When the probes ran (UTC, ISO 8601).
    pub at: String,
    /// `--probe` kinds as given; empty: every probe of the spec a checkpoint can draw.
    pub kinds: Vec<String>,
    /// `--unset` keys, then `--set` edits, as given (applied in that order).
    pub unsets: Vec<String>,
    pub sets: Vec<String>,
    /// The backend the probes ran on, and why (as the manifest's `backend_choice`).
    pub backend: String,
    /// Every `[[probes]]` entry that ran, as it ran: after the edits, a kind the spec
    /// did not list with its defaults.
    pub probes: Vec<serde_json::Value>,
    /// The files written.
    pub files: Vec<String>,
}

/// Adds `files` (name, bytes) to a finished run folder and lists them in its manifest
/// (once each, before `manifest.json`), with `event` appended to its `probed` list.
/// Returns their paths.
pub fn add_files(run: &FinishedRun, files: &[(String, Vec<u8>)], event: &ProbeEvent) -> Result<Vec<PathBuf>> {
    let folder = &run.folder;
    for (name, _) in files {
        if !is_probe_file_name(name) {
            return Err(Error::Data(format!("a probe file may not be named `{name}`")));
        }
    }
    // Two `runner probe` at once would each list only their own files: one at a time.
    let _lock = lock_folder(folder)?;
    let manifest_path = folder.join("manifest.json");
    let text = read_manifest_text(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let event = serde_json::to_string_pretty(event).map_err(|e| Error::Data(format!("the probe record: {e}")))?;
    let manifest = with_files_listed(&text, &names, &event).ok_or_else(|| {
        Error::Data(format!(
            "{}: no `files` list to add to, or a `probed` that is not a list (not as runner writes it)",
            manifest_path.display()
        ))
    })?;
    // Everything is written aside first: a full disk stops here, with nothing changed.
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut stage = |name: &str, bytes: &[u8]| -> Result<()> {
        let tmp = folder.join(format!(".adding-{}-{name}", std::process::id()));
        let written = std::fs::write(&tmp, bytes).and_then(|_| std::fs::File::open(&tmp)?.sync_all());
        staged.push((tmp.clone(), folder.join(name)));
        written.map_err(|e| Error::io(&tmp, e))
    };
    let all = files.iter().try_for_each(|(name, bytes)| stage(name, bytes));
    let all = all.and_then(|_| stage("manifest.json", manifest.as_bytes()));
    if let Err(e) = all {
        for (tmp, _) in &staged {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    // The manifest goes last, so it never lists a file that is not there.
    let mut paths = Vec::new();
    for (k, (tmp, dest)) in staged.iter().enumerate() {
        if let Err(e) = std::fs::rename(tmp, dest) {
            for (rest, _) in &staged[k..] {
                let _ = std::fs::remove_file(rest);
            }
            return Err(Error::io(dest, e));
        }
        if k < files.len() {
            paths.push(dest.clone());
        }
    }
    Ok(paths)
}

/// An exclusive lock on the run folder itself (flock on its directory handle), held
/// until the returned handle is dropped; the lock needs no file of its own.
pub(super) fn lock_folder(folder: &Path) -> Result<std::fs::File> {
    use std::os::unix::io::AsRawFd;
    let handle = std::fs::File::open(folder).map_err(|e| Error::io(folder, e))?;
    // SAFETY: flock on a descriptor this function owns; it touches no memory.
    if unsafe { libc::flock(handle.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Error::io(folder, std::io::Error::last_os_error()));
    }
    Ok(handle)
}

/// `text` (a manifest as runner writes it) with `names` in its top-level `files` list,
/// each once, and `event` (a JSON object, pretty-printed) at the end of its `probed`
/// list, which is made when there is none. Both are edited in place so every other byte
/// stays as it was; the result is parsed back to make sure only they changed.
fn with_files_listed(text: &str, names: &[&str], event: &str) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_str(text).ok()?;
    // Parsed from the very text written, so the check below compares like with like.
    let entry: serde_json::Value = serde_json::from_str(event).ok()?;
    let top = value.as_object_mut()?;
    let had_probed = match top.get_mut("probed") {
        Some(list) => {
            list.as_array_mut()?.push(entry);
            true
        }
        None => {
            top.insert("probed".into(), serde_json::Value::Array(vec![entry]));
            false
        }
    };
    let list = value.get_mut("files")?.as_array_mut()?;
    let mut listed: Vec<String> = list.iter().map(|v| v.as_str().map(String::from)).collect::<Option<_>>()?;
    let at = listed.iter().position(|n| n == "manifest.json").unwrap_or(listed.len());
    let new: Vec<String> = names
        .iter()
        .enumerate()
        .filter(|(k, n)| !listed.iter().any(|l| l == *n) && !names[..*k].contains(n))
        .map(|(_, n)| n.to_string())
        .collect();
    listed.splice(at..at, new);
    *list = listed.iter().map(|n| serde_json::Value::String(n.clone())).collect();
    let edited = edit_in_place(text, &listed).and_then(|t| with_event(&t, event, had_probed));
    match edited.filter(|e| serde_json::from_str::<serde_json::Value>(e).ok().as_ref() == Some(&value)) {
        Some(e) => Some(e),
        // Not laid out as runner writes it (edited by hand): every key kept, in
        // serde_json's order.
        None => serde_json::to_string_pretty(&value).ok(),
    }
}

/// The manifest's text with its `files` list replaced, as the pretty printer lays it
/// out: the top-level key at two spaces, each entry on a line at four, the closing
/// bracket at two.
fn edit_in_place(text: &str, listed: &[String]) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start = lines.iter().position(|l| l.starts_with("  \"files\": ["))?;
    let end = start + lines[start..].iter().position(|l| l.starts_with("  ]"))?;
    let closing = lines[end].trim_end_matches('\n').trim_start();
    let mut block = String::from("  \"files\": [\n");
    for (k, n) in listed.iter().enumerate() {
        let quoted = serde_json::to_string(n).ok()?;
        block.push_str(&format!("    {quoted}{}\n", if k + 1 < listed.len() { "," } else { "" }));
    }
    block.push_str(&format!("  {closing}\n"));
    let edited: String = lines[..start].concat() + &block + &lines[end + 1..].concat();
    match edited.strip_suffix('\n') {
        Some(cut) if !text.ends_with('\n') => Some(cut.to_string()),
        _ => Some(edited),
    }
}

/// The manifest's text with `event` appended to its top-level `probed` list, laid out
/// as the pretty printer would: a new last key when `had_probed` is false.
fn with_event(text: &str, event: &str, had_probed: bool) -> Option<String> {
    let entry: String = event.lines().map(|l| format!("    {l}\n")).collect();
    let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
    let ends_with_newline = text.ends_with('\n');
    if !ends_with_newline {
        lines.last_mut()?.push('\n');
    }
    if had_probed {
        let start = lines.iter().position(|l| l.starts_with("  \"probed\": ["))?;
        let head = lines[start].trim();
        if head == "\"probed\": []," || head == "\"probed\": []" {
            let comma = if head.ends_with(',') { "," } else { "" };
            lines[start] = format!("  \"probed\": [\n{entry}  ]{comma}\n");
        } else {
            let end = start + lines[start..].iter().position(|l| l.starts_with("  ]"))?;
            let last = lines.get_mut(end - 1)?;
            *last = format!("{},\n", last.trim_end_matches('\n'));
            lines.insert(end, entry);
        }
    } else {
        let close = lines.iter().rposition(|l| l.trim_end() == "}")?;
        let last = lines.get_mut(close.checked_sub(1)?)?;
        *last = format!("{},\n", last.trim_end_matches('\n'));
        lines.insert(close, format!("  \"probed\": [\n{entry}  ]\n"));
    }
    let out = lines.concat();
    Some(if ends_with_newline { out } else { out.trim_end_matches('\n').to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = "{\n  \"at\": \"t\",\n  \"sets\": [\n    \"probes.0.images=[1]\"\n  ]\n}";
    /// EVENT as the pretty printer lays it out at the `probed` list's depth.
    const EVENT_IN_LIST: &str =
        "    {\n      \"at\": \"t\",\n      \"sets\": [\n        \"probes.0.images=[1]\"\n      ]\n    }\n";

    fn event(files: &[&str]) -> ProbeEvent {
        ProbeEvent {
            at: "2026-11-27T20:49:03Z".into(),
            kinds: vec!["saliency".into()],
            unsets: vec![],
            sets: vec!["probes.0.images=[0,1]".into()],
            backend: "cpu".into(),
            probes: vec![serde_json::json!({"kind": "saliency", "images": [0, 1]})],
            files: files.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn new_files_go_before_the_manifest_once_and_the_event_last_and_nothing_else_changes() {
        let text = "{\n  \"program\": \"runner\",\n  \"files\": [\n    \"spec.toml\",\n    \"manifest.json\"\n  ],\n  \"data_files\": {}\n}";
        let out = with_files_listed(text, &["a.png", "spec.toml", "a.png", "b.csv"], EVENT).unwrap();
        assert_eq!(
            out,
            format!(
                "{{\n  \"program\": \"runner\",\n  \"files\": [\n    \"spec.toml\",\n    \"a.png\",\n    \"b.csv\",\n    \
                 \"manifest.json\"\n  ],\n  \"data_files\": {{}},\n  \"probed\": [\n{EVENT_IN_LIST}  ]\n}}"
            )
        );
        // A second probe: listed files stay once, its event goes after the first.
        let again = with_files_listed(&out, &["b.csv"], EVENT).unwrap();
        assert_eq!(
            again,
            out.replace(
                &format!("{EVENT_IN_LIST}  ]"),
                &format!("{}{EVENT_IN_LIST}  ]", EVENT_IN_LIST.trim_end().to_string() + ",\n")
            )
        );
        let v: serde_json::Value = serde_json::from_str(&again).unwrap();
        assert_eq!(v["probed"].as_array().unwrap().len(), 2);
        // An empty list written on one line, not the last key.
        let empty = "{\n  \"probed\": [],\n  \"files\": [\n    \"manifest.json\"\n  ]\n}\n";
        let out = with_files_listed(empty, &["x.png"], EVENT).unwrap();
        assert_eq!(
            out,
            format!("{{\n  \"probed\": [\n{EVENT_IN_LIST}  ],\n  \"files\": [\n    \"x.png\",\n    \"manifest.json\"\n  ]\n}}\n")
        );
        // A manifest laid out differently is rewritten whole, every key kept.
        let compact = r#"{"program":"runner","files":["spec.toml"],"z":1}"#;
        let v: serde_json::Value =
            serde_json::from_str(&with_files_listed(compact, &["x.png"], EVENT).unwrap()).unwrap();
        assert_eq!(v["files"], serde_json::json!(["spec.toml", "x.png"]));
        assert_eq!(v["z"], 1);
        assert_eq!(v["probed"][0]["sets"][0], "probes.0.images=[1]");
        assert_eq!(with_files_listed(r#"{"program":"runner"}"#, &["x.png"], EVENT), None);
        assert_eq!(with_files_listed(r#"{"files":[],"probed":{}}"#, &["x.png"], EVENT), None, "not a list");
    }

    #[test]
    fn files_are_added_with_what_made_them_and_a_bad_name_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        std::fs::create_dir(&dir).unwrap();
        let manifest = "{\n  \"program\": \"runner\",\n  \"status\": \"complete\",\n  \"parameters\": 3,\n  \"files\": [\n    \"spec.toml\",\n    \"manifest.json\"\n  ]\n}\n";
        std::fs::write(dir.join("manifest.json"), manifest).unwrap();
        std::fs::write(dir.join("spec.toml"), "name = \"x\"\n").unwrap();
        let run = finished_run(&dir).unwrap();
        assert_eq!((run.status.as_str(), run.parameters), ("complete", 3));
        let files = [("a.png".into(), b"A".to_vec()), ("spec.toml".into(), b"".to_vec())];
        let bad = add_files(&run, &files, &event(&["a.png", "spec.toml"]));
        assert!(bad.is_err());
        assert_eq!(std::fs::read_to_string(dir.join("manifest.json")).unwrap(), manifest);
        assert!(!dir.join("a.png").exists());
        let paths = add_files(&run, &[("a.png".into(), b"A".to_vec())], &event(&["a.png"])).unwrap();
        assert_eq!(paths, [dir.join("a.png")]);
        assert_eq!(std::fs::read(dir.join("a.png")).unwrap(), b"A");
        let listed = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
        assert!(
            listed.contains("    \"spec.toml\",\n    \"a.png\",\n    \"manifest.json\"\n  ],\n  \"probed\": [\n"),
            "{listed}"
        );
        let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
        let probed = &v["probed"][0];
        assert_eq!(probed["sets"], serde_json::json!(["probes.0.images=[0,1]"]));
        assert_eq!(probed["probes"], serde_json::json!([{"kind": "saliency", "images": [0, 1]}]));
        assert_eq!(probed["files"], serde_json::json!(["a.png"]));
        assert_eq!((v["status"].as_str(), v["parameters"].as_u64()), (Some("complete"), Some(3)));
        let names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names.len(), 3, "no temporary file is left: {names:?}");
        assert!(finished_run(&tmp.path().join(".incomplete-x")).unwrap_err().contains("still going"));
        assert!(finished_run(&tmp.path().join("nothing")).unwrap_err().contains("no such run folder"));
    }
}
