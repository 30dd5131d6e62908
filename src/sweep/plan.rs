//! From a sweep spec to the run list: every point loaded and checked (a sweep with one
//! invalid point fails before any run starts), named by a hash of its resolved spec,
//! and written as `runs.jsonl` plus one spec file per run in the sweep folder.

use crate::error::{Error, Result, Source};
use crate::spec::sweep::{value_label, value_text, SweepFile, SweepSpec};
use crate::spec::sweep_slurm::SlurmSpec;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One run of the sweep, as `runs.jsonl` holds it.
#[derive(Debug, Clone)]
pub struct RunEntry {
    /// First 12 hex digits of sha256(resolved spec, seed): the run folder's name.
    pub id: String,
    pub seed: u64,
    /// (key path, value as shown) for every swept key, in [`RunList::keys`] order.
    pub values: Vec<(String, String)>,
    /// The resolved spec, exactly as the run writes it to its spec.toml.
    pub spec: String,
}

/// Whether a grid key is the seed itself (a grid may sweep `seed` where there is no
/// `seeds`): the run's seed column and its `seed=` already say it.
pub fn is_seed_axis(key: &str) -> bool {
    key.trim() == "seed"
}

impl RunEntry {
    /// The swept values without the seed: runs that differ only by seed share it.
    pub fn setting(&self) -> String {
        self.values.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}

/// The sweep's runs, in order, and where they go.
#[derive(Debug)]
pub struct RunList {
    pub folder: PathBuf,
    pub keys: Vec<String>,
    /// How many of the last `keys` are the paired group (they move together).
    pub paired: usize,
    pub entries: Vec<RunEntry>,
    /// The sweep's `[sweep.slurm]` table, for `--executor slurm`.
    pub slurm: SlurmSpec,
}

impl RunList {
    pub fn runs_dir(&self) -> PathBuf {
        self.folder.join("runs")
    }

    pub fn spec_file(&self, entry: &RunEntry) -> PathBuf {
        self.folder.join("specs").join(format!("{}.toml", entry.id))
    }
}

fn sha12(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The run's identity. The resolved spec holds absolute data paths (the run must not
/// depend on the folder it is started from), so for file-backed data the hash is per
/// machine: the same sweep elsewhere names its runs differently.
pub fn run_id(resolved_spec: &str, seed: u64) -> String {
    sha12(&format!("{resolved_spec}\n# seed {seed}\n"))
}

/// The sweep table and where it is written, and the spec its points edit.
struct SweepSource {
    sweep: SweepSpec,
    base: PathBuf,
    source: Source,
}

fn read_sweep(path: &Path, edits: &[String], seed: Option<u64>) -> Result<SweepSource> {
    let text = crate::spec::read_spec_text(path)?;
    let source = Source { file: path.display().to_string(), text: text.clone(), overrides: vec![] };
    let table: Option<toml::Table> = toml::from_str(&text).ok();
    if table.as_ref().is_some_and(|t| t.contains_key("base")) {
        let file: SweepFile = toml::from_str(&text).map_err(|e: toml::de::Error| {
            let message = crate::spec::plain_message(e.message(), &e.to_string(), e.span().as_ref(), &source);
            source.error(e.span(), format!("sweep file: {}", message.as_deref().unwrap_or(e.message())))
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).join(&file.base);
        check_base(&source, &file.base, &base)?;
        return Ok(SweepSource { sweep: file.sweep, base, source });
    }
    // A spec with a [sweep] table: loading it reports any error in it, located.
    let loaded = crate::spec::load(path, edits, seed)?;
    let sweep = loaded.spec.sweep.ok_or_else(|| {
        Error::Usage(format!(
            "{}: no [sweep] table (and no `base = \"spec.toml\"` of a sweep file); `runner run` runs a single spec",
            path.display()
        ))
    })?;
    Ok(SweepSource { sweep, base: path.to_path_buf(), source })
}

/// A sweep file's `base` that cannot be its spec, reported at the `base` line of the
/// sweep file: the loader's own error would name only the base, not who asked for it.
fn check_base(source: &Source, given: &str, base: &Path) -> Result<()> {
    let span = || {
        let doc = toml::de::DeTable::parse(&source.text).ok()?;
        doc.get_ref().get("base").map(|v| v.span())
    };
    let problem = match std::fs::metadata(base) {
        Err(e) => format!("{}: {e}", base.display()),
        Ok(m) if m.is_dir() => format!("{} is a folder, not a spec file", base.display()),
        // A sweep file named as its own base (or another's) would be read as a spec.
        Ok(m) if m.is_file() && m.len() <= crate::spec::MAX_SPEC_BYTES => {
            let text = std::fs::read_to_string(base).unwrap_or_default();
            if !text.parse::<toml::Table>().is_ok_and(|t| t.contains_key("base")) {
                return Ok(());
            }
            format!("{} is a sweep file, not a spec; `base` names the spec the sweep edits", base.display())
        }
        Ok(_) => return Ok(()),
    };
    Err(source.error(span(), format!("base \"{given}\": {problem}")).into())
}

/// An error in an entry of `[sweep] set`, which the loader blames on a `--set` the user
/// never typed, moved to the entry's place in the sweep's file.
fn blame_set(source: &Source, sweep: &SweepSpec, e: Error) -> Error {
    let text = e.to_string();
    for (i, entry) in sweep.set.iter().enumerate() {
        let prefix = format!("{}: ", crate::error::clip(&format!("--set {entry}"), 120));
        if let Some(rest) = text.strip_prefix(&prefix) {
            return source.error(set_span(source, i), format!("[sweep] set \"{entry}\": {rest}")).into();
        }
    }
    e
}

/// The span of the `i`-th entry of `[sweep] set` (or of the list) in the sweep's text.
fn set_span(source: &Source, i: usize) -> Option<std::ops::Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(&source.text).ok()?;
    let DeValue::Table(t) = doc.get_ref().get("sweep")?.get_ref() else { return None };
    let set = t.get("set")?;
    match set.get_ref() {
        DeValue::Array(items) => items.get(i).map(|v| v.span()).or(Some(set.span())),
        _ => Some(set.span()),
    }
}

/// The span of `[sweep] <group>."<key>"` (or of the sweep table) in the sweep's text.
fn key_span(source: &Source, group: &str, key: &str) -> Option<std::ops::Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(&source.text).ok()?;
    let sweep = doc.get_ref().get("sweep")?;
    let DeValue::Table(t) = sweep.get_ref() else { return Some(sweep.span()) };
    let Some(g) = t.get(group) else { return Some(sweep.span()) };
    let DeValue::Table(axes) = g.get_ref() else { return Some(g.span()) };
    Some(axes.iter().find(|(k, _)| k.get_ref() == key).map_or(g.span(), |(k, _)| k.span()))
}

/// Loads and checks every point (data, graph, budget: what `runner check` does), then
/// writes the run list under `results/<name>-sweep-<hash>/`.
pub fn plan(path: &Path, edits: &[String], seed: Option<u64>, results: &Path) -> Result<RunList> {
    let SweepSource { sweep, base, source } = read_sweep(path, edits, seed)?;
    let edits: Vec<String> = sweep.set.iter().cloned().chain(edits.iter().cloned()).collect();
    let edits = edits.as_slice();
    if let Some(problem) = sweep.problem() {
        let span = key_span(&source, "grid", "").or_else(|| key_span(&source, "paired", ""));
        return Err(source.error(span, format!("[sweep]: {problem}")).into());
    }
    for (group, axes) in [("grid", &sweep.grid), ("paired", &sweep.paired)] {
        if let Some((key, problem)) = axes.keys().find_map(|k| sweep.key_problem(k).map(|p| (k, p))) {
            return Err(source
                .error(key_span(&source, group, key), format!("[sweep] {group} \"{key}\": {problem}"))
                .into());
        }
    }
    // `set` edits every run as the axes do, so the same keys are refused: a `seed`
    // beside `seeds` would be overridden by each run's seed without a word, and a
    // `sweep.*` one would change a table that no run reads.
    for (i, entry) in sweep.set.iter().enumerate() {
        let key = entry.split('=').next().unwrap_or("");
        if let Some(problem) = sweep.key_problem(key) {
            return Err(source.error(set_span(&source, i), format!("[sweep] set \"{entry}\": {problem}")).into());
        }
    }
    let base_spec = crate::spec::load(&base, edits, seed).map_err(|e| blame_set(&source, &sweep, e))?.spec;
    // Every key path first, against the base spec alone, so a misspelt one is reported
    // at its place in the sweep table, with the loader's did-you-mean.
    for (group, axes) in [("grid", &sweep.grid), ("paired", &sweep.paired)] {
        for (key, values) in axes {
            let mut sets = edits.to_vec();
            sets.push(format!("{key}={}", value_text(&values[0])));
            if let Err(e) = crate::spec::load(&base, &sets, seed) {
                let message = format!("[sweep] {group} \"{key}\": {e}");
                return Err(source.error(key_span(&source, group, key), message).into());
            }
        }
    }
    let keys = sweep.keys();
    let settings = sweep.settings();
    let seeds = sweep.seed_list(base_spec.seed);
    let total = settings.len() * seeds.len();
    let mut entries: Vec<RunEntry> = Vec::with_capacity(total);
    for setting in &settings {
        for point_seed in &seeds {
            let mut sets = edits.to_vec();
            sets.extend(setting.iter().map(|(k, v)| format!("{k}={}", value_text(v))));
            let values: Vec<(String, String)> = setting.iter().map(|(k, v)| (k.clone(), value_label(v))).collect();
            let shown = |s: u64| {
                let mut all: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                all.push(format!("seed={s}"));
                all.join(", ")
            };
            let mut prepared = crate::experiment::prepare(&base, &sets, point_seed.or(seed)).map_err(|e| {
                let s = point_seed.or(seed).unwrap_or(base_spec.seed);
                let at = path.display();
                Error::Usage(format!("{at}: sweep point {} of {total} ({}): {e}", entries.len() + 1, shown(s)))
            })?;
            prepared.loaded.spec.sweep = None;
            let spec = &prepared.loaded.spec;
            let text = toml::to_string(spec)
                .map_err(|e| Error::Data(format!("cannot write the resolved spec of a sweep point: {e}")))?;
            let id = run_id(&text, spec.seed);
            if let Some(same) = entries.iter().position(|e| e.id == id) {
                return Err(Error::Usage(format!(
                    "{}: sweep points {} and {} ({}) resolve to the same spec; sweep each setting once",
                    path.display(),
                    same + 1,
                    entries.len() + 1,
                    shown(spec.seed)
                )));
            }
            entries.push(RunEntry { id, seed: spec.seed, values, spec: text });
        }
    }
    let all_ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    let folder = results.join(format!("{}-sweep-{}", sanitize(&base_spec.name), sha12(&all_ids.join("\n"))));
    let slurm = sweep.slurm.clone().unwrap_or_default();
    let list = RunList { folder, keys, paired: sweep.paired.len(), entries, slurm };
    write_list(&list)?;
    Ok(list)
}

fn sanitize(name: &str) -> String {
    let s: String = name.chars().map(|c| if c.is_alphanumeric() || "-_".contains(c) { c } else { '_' }).collect();
    if s.is_empty() {
        "sweep".into()
    } else {
        s
    }
}

/// `runs.jsonl` (one self-contained line per run) and `specs/<id>.toml`, the file each
/// run is started from. Written whole each time: the same sweep writes the same bytes.
fn write_list(list: &RunList) -> Result<()> {
    let specs = list.folder.join("specs");
    std::fs::create_dir_all(&specs).map_err(|e| Error::io(&specs, e))?;
    let mut lines = String::new();
    for entry in &list.entries {
        let values: serde_json::Map<String, serde_json::Value> =
            entry.values.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        let line = serde_json::json!({
            "id": entry.id,
            "seed": entry.seed,
            "values": values,
            "spec_file": format!("specs/{}.toml", entry.id),
            "spec": entry.spec,
        });
        lines += &line.to_string();
        lines.push('\n');
        let file = list.spec_file(entry);
        std::fs::write(&file, &entry.spec).map_err(|e| Error::io(&file, e))?;
    }
    let path = list.folder.join("runs.jsonl");
    std::fs::write(&path, lines).map_err(|e| Error::io(&path, e))
}
