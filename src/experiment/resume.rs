//! `runner resume RUN_FOLDER`: continues an interrupted or killed run from its resume
//! checkpoint, so that its files end byte for byte as an uninterrupted run's would.
//! Everything is checked before the folder is touched; then the folder is taken over,
//! metrics.csv, params.csv and layers.csv are cut back to the checkpoint, and the run goes on.

use super::{prepare, Prepared, RunOptions, RunSummary};
use crate::backend::{Backend, Element};
use crate::error::{Error, Result};
use crate::layers::Model;
use crate::results::{self, ResumeEvent, ResumeMeta, RunDir, StoredTensor, RESUME_FILE};
use crate::spec::Split;
use crate::train::{self, History, Record, Recording, Start};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub struct ResumeOptions {
    pub folder: PathBuf,
    pub interrupt: crate::train::Interrupt,
}

/// A checkpoint being continued from.
pub struct Resuming {
    /// Its metadata, with this resume already added to `resumes`.
    pub meta: ResumeMeta,
    /// Its tensors by name.
    pub tensors: HashMap<String, StoredTensor>,
    /// When this attempt began (its compute time counts from here).
    pub began: results::UtcTime,
    /// The manifest's `probed` records (what `runner probe` drew from the stopped run),
    /// kept in the new manifest, those whose files this resume removed marked so.
    pub probed: Vec<serde_json::Value>,
}

impl Resuming {
    /// Seconds earlier attempts computed, up to the checkpoint. A checkpoint of a runner
    /// before `compute_seconds` has only its training and evaluation time, the most of it.
    pub fn compute_before(&self) -> f64 {
        let p = &self.meta.position;
        self.meta.compute_seconds.unwrap_or(p.train_seconds + p.eval_seconds)
    }
}

pub fn resume(opts: &ResumeOptions, progress: &mut (dyn FnMut(usize, usize, f64) + Send)) -> Result<RunSummary> {
    let found = results::find_unfinished(&opts.folder)?;
    let refuse = |reason: String| Error::Resume { dir: found.path.clone(), reason };
    let checkpoint = found.path.join(RESUME_FILE);
    if !checkpoint.is_file() {
        return Err(refuse(format!(
            "it has no resume checkpoint ({RESUME_FILE}): runs write one every `[train] checkpoint_every` \
             steps, and when stopped by Ctrl-C or SIGTERM"
        )));
    }
    let began = results::now_utc();
    let (meta, tensors) = results::read_checkpoint(&checkpoint).map_err(refuse)?;
    // Before `prepare`, whose own check of the data speaks of a rerun.
    check_data_files(&meta).map_err(refuse)?;
    let prepared = prepare(&found.path.join("spec.toml"), &[], None)?;
    check_matches(&prepared, &meta, &tensors, &found.path).map_err(refuse)?;
    // The spec's backend (a `--backend` given to the first run is not recorded in it); chosen
    // before the folder is adopted, so `cuda` without a GPU leaves it untouched.
    let chosen = super::choice::choose(&super::choice::Asked::new(
        None,
        prepared.loaded.spec.backend,
        &found.path.join("spec.toml"),
    ))?;
    let dir = RunDir::adopt(&found)?;
    // One time for the resume's record and the mark on what it removed, which it names.
    let taken = results::now_utc();
    let stale = super::resume_probed::remove_stale_probe_files(&dir.path_of(""), meta.position.step, &taken)?;
    let mut meta = meta;
    meta.resumes.push(ResumeEvent { at: taken.iso(), from_step: meta.position.step, after: found.after });
    // The checkpoint records this resume at once, so a resume of a resume that stops
    // before its next checkpoint still lists every attempt.
    let listed: Vec<(String, Vec<usize>, Vec<u8>)> =
        tensors.iter().map(|(n, t)| (n.clone(), t.shape.clone(), t.bytes.clone())).collect();
    results::write_checkpoint(&dir.path_of(""), &listed, prepared.loaded.spec.dtype, &mut meta)?;
    let run_opts = RunOptions {
        // The manifest names the spec the run was started from.
        spec_path: PathBuf::from(&meta.spec_file),
        results_root: found.parent.clone(),
        seed: None,
        sets: vec![],
        run_id: None,
        interrupt: opts.interrupt.clone(),
        backend: None,
    };
    let started = results::from_unix(meta.started_unix);
    let resuming = Resuming { meta, tensors, began, probed: stale.records };
    let summary = super::execute_in(&prepared, &chosen, dir, &run_opts, started, Some(&resuming), progress)?;
    Ok(RunSummary { notes: stale.notes, ..summary })
}

/// Every data file the checkpoint's run read still has the content it had then.
fn check_data_files(meta: &ResumeMeta) -> std::result::Result<(), String> {
    for (file, then) in &meta.data_files {
        let now = match std::fs::read(file) {
            Ok(bytes) => crate::results::sha256_hex(&bytes),
            Err(e) => return Err(format!("the data file {file}, which the run read, cannot be read now ({e})")),
        };
        if now != *then {
            return Err(format!(
                "the data file {file} changed since the run read it (sha256 now {now}, then {then}): \
                 the steps left would train on other data"
            ));
        }
    }
    Ok(())
}

/// Whether the checkpoint belongs to this folder's spec, data and files; the reason
/// when not.
fn check_matches(
    p: &Prepared,
    meta: &ResumeMeta,
    tensors: &HashMap<String, StoredTensor>,
    folder: &Path,
) -> std::result::Result<(), String> {
    let spec = &p.loaded.spec;
    let now = super::spec_hash_of(spec)?;
    if now != meta.spec_hash {
        return Err(spec_mismatch(spec.seed, &now, meta, folder));
    }
    // A position the run could not have reached (an edited checkpoint) would skip to the
    // end and record steps never trained.
    let position = &meta.position;
    let planned = spec.train.as_ref().map(|t| train::planned_steps(t.get_ref(), p.data.train.len()).2);
    if planned != Some(position.total) || position.step > position.total {
        return Err(format!(
            "the checkpoint is at step {} of {}, and the spec plans {}",
            position.step,
            position.total,
            planned.map_or("no training".into(), |t| format!("{t} steps"))
        ));
    }
    if spec.dtype.name() != meta.dtype {
        return Err(format!("the checkpoint is {} and the spec {}", meta.dtype, spec.dtype.name()));
    }
    for (file, hash) in &meta.data_files {
        if p.data_files.get(file) != Some(hash) {
            return Err(format!("the data file {file} changed since the checkpoint (or is gone)"));
        }
    }
    let mut expected = 0;
    for node in &p.dag.nodes {
        for param in &node.params {
            let name = format!("{}{}.{}", train::PARAM_PREFIX, node.name, param.name);
            let t = tensors.get(&name).ok_or_else(|| format!("the checkpoint has no `{name}`"))?;
            if t.shape != param.shape || t.dtype != spec.dtype {
                return Err(format!(
                    "`{name}` is {:?} {}; the model needs {:?} {}",
                    t.shape,
                    t.dtype.name(),
                    param.shape,
                    spec.dtype.name()
                ));
            }
            expected += 1;
        }
    }
    for (name, t) in tensors.iter().filter(|(n, _)| !n.starts_with(train::PARAM_PREFIX)) {
        let (i, j, _) = train::parse_optim_name(name).ok_or_else(|| format!("unknown tensor `{name}`"))?;
        let param =
            p.dag.nodes.get(i).and_then(|n| n.params.get(j)).ok_or_else(|| format!("`{name}` names no parameter"))?;
        if t.shape != [param.shape.iter().product::<usize>()] || t.dtype != spec.dtype {
            return Err(format!("`{name}` does not fit its parameter's shape {:?}", param.shape));
        }
    }
    if tensors.keys().filter(|n| n.starts_with(train::PARAM_PREFIX)).count() != expected {
        return Err("the checkpoint holds parameters the model does not have".into());
    }
    check_prefix(&folder.join("metrics.csv"), meta.metrics_bytes, meta.metrics_sha256.as_deref())?;
    match (spec.output.params, meta.params_bytes) {
        (true, Some(len)) => check_prefix(&folder.join("params.csv"), len, None)?,
        (false, None) => {}
        _ => return Err("the checkpoint and the spec disagree on params.csv".into()),
    }
    match (!spec.hooks.is_empty(), meta.layers_bytes) {
        (true, Some(len)) => check_prefix(&folder.join(super::execute::LAYERS_FILE), len, None)?,
        (false, None) => {}
        _ => return Err("the checkpoint and the spec disagree on layers.csv (`[[hooks]]`)".into()),
    }
    Ok(())
}

/// Why the checkpoint's spec hash is not the folder's spec's: the spec.toml was edited
/// (it no longer matches the manifest either), or the checkpoint came from another run
/// (another seed, or another spec) while the folder's spec is as the run made it.
fn spec_mismatch(seed: u64, now: &str, meta: &ResumeMeta, folder: &Path) -> String {
    let recorded = results::read_manifest_text(&folder.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|m| m.get("spec_hash").and_then(|h| h.as_str()).map(String::from));
    let edited = "its spec.toml is not the spec the checkpoint was written for (edited since?)";
    match (recorded.as_deref(), meta.seed) {
        (Some(r), _) if r != now => format!("{edited}: it no longer matches the manifest's spec_hash either"),
        (known, Some(theirs)) if theirs != seed => format!(
            "its {RESUME_FILE} is from a run with seed {theirs}, and this run's spec.toml has seed {seed}{}: \
             the checkpoint was copied in from another run's folder?",
            if known.is_some() { " (as its manifest records)" } else { "" }
        ),
        (Some(_), _) => format!(
            "its {RESUME_FILE} was written for another spec (spec hash {}) than this run's ({now}, as its \
             manifest records): the checkpoint was copied in from another run's folder?",
            meta.spec_hash
        ),
        (None, _) => edited.into(),
    }
}

/// The file holds at least `len` bytes, they end with a whole line, and (where the
/// checkpoint recorded one) they have the sha256 the checkpoint saw.
fn check_prefix(path: &Path, len: u64, sha: Option<&str>) -> std::result::Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let fail = |m: String| format!("{}: {m}", path.display());
    let mut file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let have = file.metadata().map_err(|e| fail(e.to_string()))?.len();
    if have < len || len == 0 {
        return Err(fail(format!("{have} bytes, shorter than the {len} the checkpoint saw")));
    }
    let mut last = [0u8];
    file.seek(SeekFrom::Start(len - 1)).and_then(|_| file.read_exact(&mut last)).map_err(|e| fail(e.to_string()))?;
    if last[0] != b'\n' {
        return Err(fail(format!("byte {len} is not the end of a row")));
    }
    if let Some(then) = sha {
        let now = results::prefix_sha256(path, len).map_err(|e| fail(e.to_string()))?;
        if now != then {
            return Err(fail(format!(
                "its first {len} bytes (the rows up to the checkpoint) are not those the checkpoint saw \
                 (sha256 {now}, the checkpoint recorded {then}): edited since? The resumed run would go on \
                 from rows that were not recorded"
            )));
        }
    }
    Ok(())
}

fn decode<T: Element>(t: &StoredTensor) -> Vec<T> {
    match t.dtype {
        crate::backend::DType::F32 => {
            t.bytes.chunks_exact(4).map(|b| T::from_f64(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)).collect()
        }
        crate::backend::DType::F64 => t
            .bytes
            .chunks_exact(8)
            .map(|b| T::from_f64(f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])))
            .collect(),
    }
}

/// Puts the checkpoint's parameters into `model` and returns where the loop goes on
/// from: positions, optimizer buffers, and the history of the rows before the
/// checkpoint (read back from metrics.csv and params.csv, which the run keeps).
pub fn restore<T: Element, B: Backend<T>>(
    be: &B,
    model: &mut Model<T, B>,
    r: &Resuming,
    recording: &Recording,
    data: &crate::data::Splits,
    folder: &Path,
) -> Result<Start<B::Buf>> {
    for (node, bufs) in model.dag.nodes.iter().zip(model.params.iter_mut()) {
        for (param, buf) in node.params.iter().zip(bufs.iter_mut()) {
            let name = format!("{}{}.{}", train::PARAM_PREFIX, node.name, param.name);
            if let Some(t) = r.tensors.get(&name) {
                *buf = be.upload(&decode::<T>(t));
            }
        }
    }
    let optimizer = r
        .tensors
        .iter()
        .filter_map(|(name, t)| train::parse_optim_name(name).map(|(i, j, w)| (i, j, w, be.upload(&decode::<T>(t)))))
        .collect();
    let mut history = History::new(model, data, recording);
    let metrics = recording.metrics.len();
    for_each_row(&folder.join("metrics.csv"), r.meta.metrics_bytes, |line| {
        history.replay(parse_metrics_row(line, metrics)?);
        Some(())
    })?;
    if let Some(len) = r.meta.params_bytes {
        for_each_row(&folder.join("params.csv"), len, |line| {
            let mut fields = line.split(',');
            let step = fields.next()?.parse().ok()?;
            let values: Vec<f64> = fields.map(|v| v.parse().ok()).collect::<Option<_>>()?;
            history.replay_params(step, values);
            Some(())
        })?;
    }
    Ok(Start { position: r.meta.position.clone(), optimizer, history })
}

/// Calls `row` on each line after the header within the first `len` bytes of `path`,
/// streaming (a long run's metrics.csv may be larger than memory).
fn for_each_row(path: &Path, len: u64, mut row: impl FnMut(&str) -> Option<()>) -> Result<()> {
    use std::io::{BufRead, Read};
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = std::io::BufReader::new(file.take(len));
    let mut line = String::new();
    let mut number = 0usize;
    loop {
        line.clear();
        number += 1;
        if reader.read_line(&mut line).map_err(|e| Error::io(path, e))? == 0 {
            return Ok(());
        }
        if number > 1 && row(line.trim_end_matches('\n')).is_none() {
            let shown = line.trim_end();
            return Err(Error::Data(format!("{}: row {number} does not parse: `{shown}`", path.display())));
        }
    }
}

/// `step,epoch,split,<values>` as metrics.csv writes it (shortest round-trip numbers,
/// so parsing gives the very values back).
fn parse_metrics_row(line: &str, metrics: usize) -> Option<Record> {
    let mut fields = line.split(',');
    let step = fields.next()?.parse().ok()?;
    let epoch = fields.next()?.parse().ok()?;
    let split = match fields.next()? {
        "train" => Split::Train,
        "validation" => Split::Validation,
        "test" => Split::Test,
        "batch" => Split::Batch,
        _ => return None,
    };
    let values: Vec<f64> = fields.map(|v| v.parse().ok()).collect::<Option<_>>()?;
    (values.len() == metrics).then_some(Record { step, epoch, split, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_rows_parse_back_to_the_values_written() {
        let r = Record {
            step: 12,
            epoch: 1,
            split: Split::Batch,
            values: vec![0.1 + 0.2, f64::NAN, -1e-300, f64::INFINITY],
        };
        let mut line = String::new();
        results::metrics_row(&mut line, &r, crate::backend::DType::F64);
        let back = parse_metrics_row(line.trim_end(), 4).unwrap();
        assert_eq!((back.step, back.epoch, back.split), (12, 1, Split::Batch));
        assert_eq!(back.values[0].to_bits(), r.values[0].to_bits());
        assert!(back.values[1].is_nan());
        assert_eq!(&back.values[2..], &r.values[2..]);
        // An f32 run writes `0.8`; the history it replays into rounds it back to the
        // f32 the run had (History holds values in the run's dtype).
        let f32_values = vec![0.8f32 as f64, 1e-40f32 as f64, f32::MAX as f64];
        let mut line = String::new();
        results::metrics_row(&mut line, &Record { values: f32_values.clone(), ..r }, crate::backend::DType::F32);
        assert_eq!(line, "12,1,batch,0.8,1e-40,3.4028235e38\n");
        let back = parse_metrics_row(line.trim_end(), 3).unwrap();
        let rounded: Vec<f64> = back.values.iter().map(|&v| results::in_dtype(v, crate::backend::DType::F32)).collect();
        assert_eq!(rounded, f32_values);
        assert_eq!(parse_metrics_row("1,0,train,0.5", 2), None, "a short row");
        assert_eq!(parse_metrics_row("1,0,nowhere,0.5", 1), None);
    }
}
