//! Resume checkpoints in a run folder, and taking an unfinished run folder over to
//! continue it. The checkpoint is one file, `resume.safetensors`: the tensors, and in
//! its metadata (key `runner.resume`) a JSON [`ResumeMeta`] with the positions. One
//! file renamed into place after an fsync, so a kill at any moment leaves either the
//! previous checkpoint or the new one, never half of one or a mix of two.

use super::owner::{HIDDEN_PREFIX, OWNER_FILE};
use super::{Owner, RunDir};
use crate::backend::DType;
use crate::error::{Error, Result};
use crate::train::LoopPosition;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const RESUME_FILE: &str = "resume.safetensors";
const TEMP_FILE: &str = ".resume.safetensors.tmp";
const META_KEY: &str = "runner.resume";
const FORMAT: u32 = 1;

/// An earlier stop of a resumed run, for the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeEvent {
    /// When `runner resume` took the run over (UTC, ISO 8601).
    pub at: String,
    /// The checkpoint's step: the run continued from there.
    pub from_step: usize,
    /// How the earlier attempt ended: `interrupted`, `failed` or `killed`.
    pub after: String,
}

/// Everything besides tensors that a checkpoint holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeMeta {
    pub format: u32,
    pub position: LoopPosition,
    /// Length of metrics.csv (and params.csv) when the checkpoint was taken: rows past
    /// it were written after, by the steps a resumed run redoes.
    pub metrics_bytes: u64,
    pub params_bytes: Option<u64>,
    /// Length of layers.csv when the run has `[[hooks]]` (absent in checkpoints of
    /// runners before hooks, which wrote no layers.csv).
    #[serde(default)]
    pub layers_bytes: Option<u64>,
    /// sha256 of metrics.csv's first `metrics_bytes` bytes: a row edited in place before
    /// the checkpoint (same length) would otherwise go unnoticed, and the resumed run
    /// would draw its curves from it. Absent in checkpoints of runners before it, which
    /// are checked by length only. (This and the fields below are skipped when absent,
    /// so an older checkpoint's metadata reads and hashes as it was written.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_sha256: Option<String>,
    /// The run's seed: a checkpoint copied in from another seed's run is named as such,
    /// not as an edited spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Seconds the run has computed up to this checkpoint, over all its attempts: the
    /// manifest's `wall_seconds` of a resumed run adds them, not the time it lay stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_seconds: Option<f64>,
    /// Hash of the resolved spec (as the manifest's `spec_hash`).
    pub spec_hash: String,
    pub dtype: String,
    /// The spec file the run was started from, and when (the manifest keeps both).
    pub spec_file: String,
    pub started_unix: f64,
    pub data_files: BTreeMap<String, String>,
    pub resumes: Vec<ResumeEvent>,
    /// sha256 over every tensor's name and bytes, in name order: a damaged file is
    /// refused rather than continued from.
    pub tensors_sha256: String,
    /// sha256 of this metadata's JSON written with `meta_sha256` empty: a changed step
    /// or stream position (one flipped bit turned step 16 into 12, which then recorded
    /// four steps twice) is refused like a changed tensor. Absent in checkpoints of
    /// runners before it, which are read unchecked as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_sha256: Option<String>,
}

/// The `meta_sha256` of `meta`: the hash of its JSON with that field empty.
fn meta_digest(meta: &ResumeMeta) -> Result<String> {
    let blank = ResumeMeta { meta_sha256: Some(String::new()), ..meta.clone() };
    let json = serde_json::to_string(&blank).map_err(|e| Error::Data(format!("resume checkpoint: {e}")))?;
    Ok(super::sha256_hex(json.as_bytes()))
}

/// Whether the metadata as stored (`json`) hashes to `recorded` with that field blanked.
/// The stored text is hashed, not the parsed values written again: a float that does
/// not read back to the same bits (serde_json parses ~10% of f64s one ulp off unless
/// its `float_roundtrip` is on, which only the test build had) wrote different text,
/// and every checkpoint with such a `started_unix` was refused as damaged.
fn meta_text_matches(json: &str, recorded: &str) -> bool {
    let field = format!("\"meta_sha256\":\"{recorded}\"");
    match (json.find(&field), json.rfind(&field)) {
        (Some(at), Some(last)) if at == last => {
            let blank = format!("{}\"meta_sha256\":\"\"{}", &json[..at], &json[at + field.len()..]);
            super::sha256_hex(blank.as_bytes()) == recorded
        }
        _ => false,
    }
}

/// A tensor read back: shape, dtype, little-endian bytes.
pub struct StoredTensor {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub bytes: Vec<u8>,
}

fn tensors_digest<'a>(tensors: impl Iterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut sorted: Vec<(&str, &[u8])> = tensors.collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Sha256::new();
    for (name, bytes) in sorted {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    super::stream::hex(&h.finalize())
}

/// Writes `dir/resume.safetensors` atomically (temp file, fsync, rename, fsync of the
/// folder). `meta.tensors_sha256` and `meta.meta_sha256` are filled in here.
pub fn write_checkpoint(
    dir: &Path,
    tensors: &[(String, Vec<usize>, Vec<u8>)],
    dtype: DType,
    meta: &mut ResumeMeta,
) -> Result<()> {
    meta.tensors_sha256 = tensors_digest(tensors.iter().map(|(n, _, b)| (n.as_str(), b.as_slice())));
    meta.meta_sha256 = Some(meta_digest(meta)?);
    let json = serde_json::to_string(meta).map_err(|e| Error::Data(format!("resume checkpoint: {e}")))?;
    let dt = match dtype {
        DType::F32 => safetensors::Dtype::F32,
        DType::F64 => safetensors::Dtype::F64,
    };
    let views = tensors
        .iter()
        .map(|(n, shape, bytes)| safetensors::tensor::TensorView::new(dt, shape.clone(), bytes).map(|v| (n.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Data(format!("resume checkpoint: {e}")))?;
    let metadata = HashMap::from([(META_KEY.to_string(), json)]);
    let bytes = safetensors::tensor::serialize(views, Some(metadata))
        .map_err(|e| Error::Data(format!("resume checkpoint: {e}")))?;
    let tmp = dir.join(TEMP_FILE);
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(|e| Error::io(&tmp, e))?;
    drop(file);
    let dest = dir.join(RESUME_FILE);
    std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
    // The rename itself reaches the disk with the folder's entry.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads and checks a checkpoint; a reason (for [`Error::Resume`]) when it cannot be used.
pub fn read_checkpoint(path: &Path) -> std::result::Result<(ResumeMeta, HashMap<String, StoredTensor>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let corrupt = |m: String| format!("{} is damaged ({m})", path.display());
    super::check_safetensors_header(&bytes).map_err(corrupt)?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| corrupt(format!("no `{META_KEY}` metadata")))?;
    let meta: ResumeMeta = serde_json::from_str(json).map_err(|e| corrupt(format!("its metadata: {e}")))?;
    if let Some(recorded) = &meta.meta_sha256 {
        if !meta_text_matches(json, recorded) {
            return Err(corrupt(
                "its metadata (the step and stream positions) does not match its recorded sha256".into(),
            ));
        }
    }
    if meta.format != FORMAT {
        return Err(format!("{} has format {}; this runner reads format {FORMAT}", path.display(), meta.format));
    }
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        let dtype = match view.dtype() {
            safetensors::Dtype::F32 => DType::F32,
            safetensors::Dtype::F64 => DType::F64,
            other => return Err(corrupt(format!("`{name}` has dtype {other:?}"))),
        };
        tensors.insert(name, StoredTensor { shape: view.shape().to_vec(), dtype, bytes: view.data().to_vec() });
    }
    let digest = tensors_digest(tensors.iter().map(|(n, t)| (n.as_str(), t.bytes.as_slice())));
    if digest != meta.tensors_sha256 {
        return Err(corrupt("its tensors do not match their recorded sha256".into()));
    }
    Ok((meta, tensors))
}

/// A run folder that `runner resume` may continue, as found (nothing changed yet).
#[derive(Debug)]
pub struct Unfinished {
    /// Where the folder is now (visible, or hidden `.incomplete-<id>`).
    pub path: PathBuf,
    pub parent: PathBuf,
    pub id: String,
    /// How the last attempt ended: `interrupted`, `failed` (visible, with a manifest)
    /// or `killed` (hidden, its process gone).
    pub after: String,
}

/// Looks at `folder`: a visible run folder whose manifest says `interrupted` or
/// `failed`, or a hidden one whose writer is gone. Everything else is refused.
pub fn find_unfinished(folder: &Path) -> Result<Unfinished> {
    let refuse = |reason: String| Error::Resume { dir: folder.to_path_buf(), reason };
    let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = folder.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    if !folder.is_dir() {
        return Err(refuse(not_a_folder(folder, &parent, &name)));
    }
    if let Some(id) = name.strip_prefix(HIDDEN_PREFIX) {
        // The test `runner list` and `runner clean` make: what they call killed, resume
        // continues (an owner file cut short by the kill included, once the folder
        // has been quiet a while).
        if super::is_stale(folder) {
            return Ok(Unfinished { path: folder.to_path_buf(), parent, id: id.to_string(), after: "killed".into() });
        }
        let owner = std::fs::read_to_string(folder.join(OWNER_FILE)).ok().and_then(|t| Owner::parse(&t));
        return Err(refuse(match owner {
            Some(o) => format!(
                "its run is still going (process {} on {}), or cannot be told to be gone from here",
                o.pid,
                o.host.unwrap_or_else(|| "an unknown host".into())
            ),
            None => "it has no readable owner file and changed in the last minutes: it may be a run starting \
                     (`runner list` shows it as running)"
                .into(),
        }));
    }
    let manifest_path = folder.join("manifest.json");
    let shown = manifest_path.display();
    let text = super::read_manifest_text(&manifest_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => refuse("it has no manifest.json: not a runner run folder".into()),
        _ => refuse(format!("{shown} cannot be read: {e}")),
    })?;
    let manifest: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| refuse(format!("{shown} is not valid JSON ({e}): damaged or cut short")))?;
    let status = manifest
        .get("status")
        .and_then(|s| s.as_str())
        .map(String::from)
        .ok_or_else(|| refuse(format!("{shown} has no `status`: not a manifest runner wrote")))?;
    match status.as_str() {
        "interrupted" | "failed" => Ok(Unfinished { path: folder.to_path_buf(), parent, id: name, after: status }),
        "complete" => Err(refuse("the run is finished (status `complete`): there is nothing to resume".into())),
        other => Err(refuse(format!("the run ended with status `{other}`, which resuming would repeat"))),
    }
}

/// Why `folder`, which is not a folder, cannot be resumed: a file, a run being resumed
/// right now (a resume hides the folder under its `.incomplete-` name while it runs),
/// or nothing there.
fn not_a_folder(folder: &Path, parent: &Path, name: &str) -> String {
    if folder.exists() {
        return "it is a file, not a run folder (give the folder that holds manifest.json)".into();
    }
    let hidden = parent.join(format!("{HIDDEN_PREFIX}{name}"));
    if !name.starts_with(HIDDEN_PREFIX) && hidden.is_dir() {
        if super::is_stale(&hidden) {
            return format!(
                "its resume ended without finishing (its process is gone); continue it with `runner resume {}`",
                hidden.display()
            );
        }
        let owner = std::fs::read_to_string(hidden.join(OWNER_FILE)).ok().and_then(|t| Owner::parse(&t));
        let by = owner
            .map(|o| format!(" (process {} on {})", o.pid, o.host.unwrap_or_else(|| "an unknown host".into())))
            .unwrap_or_default();
        return format!("it is being resumed now{by}, as {} until it is done", hidden.display());
    }
    "no such run folder".into()
}

impl RunDir {
    /// Takes an unfinished folder over: a visible one goes back to its hidden name, a
    /// killed one's owner file is replaced by this process's. Only one of several
    /// processes resuming the same folder at once succeeds: each looks and takes under
    /// a lock on the folder.
    pub fn adopt(found: &Unfinished) -> Result<RunDir> {
        let refuse = |reason: String| Error::Resume { dir: found.path.clone(), reason };
        let tmp = found.parent.join(format!("{HIDDEN_PREFIX}{}", found.id));
        let (base, suffix) = split_suffix(&found.id);
        let dir = if found.path != tmp {
            if tmp.exists() {
                return Err(refuse(format!("{} exists: another resume is under way", tmp.display())));
            }
            // The owner file goes in before the rename, so the hidden folder is never
            // without one (which `runner clean` could take for a killed run's); the
            // lock keeps a second resume from writing its own over it meanwhile.
            let _lock = super::added::lock_folder(&found.path)
                .map_err(|e| refuse(format!("cannot take it over (another resume took it first?): {e}")))?;
            let owner = found.path.join(OWNER_FILE);
            if !found.path.join("manifest.json").is_file() {
                return Err(refuse("another resume took it over first".into()));
            }
            std::fs::write(&owner, Owner::this_process().to_text()).map_err(|e| Error::io(&owner, e))?;
            if let Err(e) = std::fs::rename(&found.path, &tmp) {
                let _ = std::fs::remove_file(&owner);
                return Err(refuse(format!("cannot take it over: {e}")));
            }
            RunDir { parent: found.parent.clone(), base, suffix, id: found.id.clone(), tmp }
        } else {
            // One resume at a time looks and takes: under the lock, a resume that took
            // the folder first has written its own owner file, which is alive.
            let _lock = super::added::lock_folder(&tmp)?;
            if !super::is_stale(&tmp) {
                return Err(refuse("another resume took it over first".into()));
            }
            let dir = RunDir { parent: found.parent.clone(), base, suffix, id: found.id.clone(), tmp };
            dir.write(OWNER_FILE, Owner::this_process().to_text().as_bytes())?;
            dir
        };
        // A kill in the middle of a checkpoint leaves its temporary file.
        remove_if_present(&dir.path_of(TEMP_FILE))?;
        Ok(dir)
    }

    /// Removes the resume checkpoint (a finished run has no use for it).
    pub fn remove_checkpoint(&self) -> Result<()> {
        remove_if_present(&self.path_of(TEMP_FILE))?;
        remove_if_present(&self.path_of(RESUME_FILE))
    }
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// `<base>-<k>` → (base, k) when the id carries a numeric suffix after its seed.
fn split_suffix(id: &str) -> (String, usize) {
    if let Some((head, tail)) = id.rsplit_once('-') {
        let seed_before = head.rsplit_once('-').is_some_and(|(_, s)| s.starts_with("seed"));
        if let (true, Ok(k)) = (seed_before, tail.parse::<usize>()) {
            return (head.to_string(), k);
        }
    }
    (id.to_string(), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(path: &Path, secs: u64) {
        let then = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        std::fs::File::open(path).unwrap().set_modified(then).unwrap();
    }

    /// A killed run whose owner file was cut short: `runner list` calls it killed once
    /// it has been quiet, and resume takes it then, not while it may be starting.
    #[test]
    fn a_killed_run_with_a_damaged_owner_file_is_resumed_once_quiet() {
        let tmp = tempfile::tempdir().unwrap();
        let hidden = tmp.path().join(format!("{HIDDEN_PREFIX}20261127-204903-seed3"));
        std::fs::create_dir(&hidden).unwrap();
        std::fs::write(hidden.join(OWNER_FILE), "pid ").unwrap();
        let e = find_unfinished(&hidden).unwrap_err().to_string();
        assert!(e.contains("no readable owner file and changed in the last minutes"), "{e}");
        aged(&hidden.join(OWNER_FILE), 3600);
        aged(&hidden, 3600);
        let found = find_unfinished(&hidden).unwrap();
        assert_eq!(found.after, "killed");
        let dir = RunDir::adopt(&found).unwrap();
        let owner = Owner::parse(&std::fs::read_to_string(hidden.join(OWNER_FILE)).unwrap()).unwrap();
        assert_eq!(owner, Owner::this_process());
        assert_eq!(dir.path_of(""), hidden.join(""));
        // Taken: a second resume is refused, as this process is alive.
        assert!(find_unfinished(&hidden).unwrap_err().to_string().contains("its run is still going"));
        assert!(RunDir::adopt(&found).err().unwrap().to_string().contains("another resume took it over first"));
    }

    /// Writes a checkpoint of one tensor whose metadata is `json` as given, its
    /// `meta_sha256` set to the hash of that very text (with the field blanked).
    fn checkpoint_with_meta_text(path: &Path, json: &str) {
        let bytes = 1.5f32.to_le_bytes();
        let tensors_sha = tensors_digest([("param.w.weight", &bytes[..])].into_iter());
        let json = json.replace("TENSORS", &tensors_sha);
        let json = json.replace("META", &super::super::sha256_hex(json.replace("META", "").as_bytes()));
        let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &bytes).unwrap();
        let metadata = HashMap::from([(META_KEY.to_string(), json)]);
        std::fs::write(path, safetensors::tensor::serialize([("param.w.weight", view)], Some(metadata)).unwrap())
            .unwrap();
    }

    /// The metadata's hash covers its text as stored. It was checked against the parsed
    /// values written out again, so a float written in any other form than serde_json's
    /// own (and, in the release binary, where serde_json read ~10% of floats one ulp off,
    /// a `started_unix` such as 1796216393.2544305) made a sound checkpoint "damaged".
    #[test]
    fn the_metadata_hash_is_checked_on_the_text_as_stored() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(RESUME_FILE);
        let json = r#"{"format":1,"position":{"step":12,"total":40,"optimizer_steps":12,"shuffle":0,"augment":0,"dropout":0,"shuffle_epoch_start":0,"train_seconds":0.25,"train_samples":48,"eval_seconds":0.0,"eval_samples":0},"metrics_bytes":100,"params_bytes":null,"layers_bytes":null,"seed":1,"compute_seconds":0.5,"spec_hash":"ee3d0ea91b6fd54d","dtype":"f32","spec_file":"t.toml","started_unix":1796216393.25443050,"data_files":{},"resumes":[],"tensors_sha256":"TENSORS","meta_sha256":"META"}"#;
        checkpoint_with_meta_text(&path, json);
        let (meta, tensors) = read_checkpoint(&path).unwrap();
        assert_eq!(meta.started_unix, 1796216393.2544305);
        assert_eq!(meta.position.step, 12);
        assert_eq!(tensors["param.w.weight"].bytes, 1.5f32.to_le_bytes());
        // A step changed after the hash was taken is still refused.
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.windows(11).position(|w| w == br#"\"step\":12"#).unwrap();
        bytes[at + 10] = b'6';
        std::fs::write(&path, &bytes).unwrap();
        let e = read_checkpoint(&path).err().unwrap();
        assert!(
            e.ends_with("is damaged (its metadata (the step and stream positions) does not match its recorded sha256)"),
            "{e}"
        );
    }

    #[test]
    fn ids_split_into_base_and_suffix() {
        assert_eq!(split_suffix("20261127-204903-seed3"), ("20261127-204903-seed3".into(), 1));
        assert_eq!(split_suffix("20261127-204903-seed3-4"), ("20261127-204903-seed3".into(), 4));
    }
}
