//! `runner diff A B`: two run folders compared value by value within tolerances, or
//! two sweeps (folders of run folders) compared run by run. It first checks that the
//! runs can be compared (the same resolved spec apart from names, outputs, pictures
//! and tolerances; the same steps, splits and files) and says why not when they
//! cannot, rather than comparing unrelated numbers.

mod compare;
mod images;
pub mod load;
pub mod names;
mod render;
mod report;
mod spec_keys;
mod table;
mod tensors;
pub mod tolerance;

pub use load::{RunFolder, HASHES_FILE};
pub use render::{render, Format};
pub use report::{Item, Outcome, Report, Status, Verdict};

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub atol: Option<f64>,
    pub rtol: Option<f64>,
    /// `--metric name=tol`, in order (a later one wins).
    pub names: Vec<(String, f64)>,
    /// Where difference images go; none are written without it.
    pub out: Option<PathBuf>,
}

pub fn diff(a: &Path, b: &Path, opts: &Options) -> Outcome {
    let mut outcome = Outcome {
        verdict: Verdict::Same,
        a: a.display().to_string(),
        b: b.display().to_string(),
        reasons: vec![],
        pairs: vec![],
    };
    match (is_run(a), is_run(b)) {
        (true, true) => outcome.pairs.push(compare::compare_runs("", a, b, opts)),
        (false, false) if a.is_dir() && b.is_dir() => compare_collections(a, b, opts, &mut outcome),
        _ => {
            for (path, side) in [(a, "A"), (b, "B")] {
                let what = if !path.exists() {
                    "does not exist".to_string()
                } else if is_run(path) {
                    "is a run folder".to_string()
                } else if path.is_dir() {
                    "is a folder of runs (a sweep)".to_string()
                } else {
                    "is not a folder".to_string()
                };
                outcome.reasons.push(format!("{side} {what}: {}", path.display()));
            }
        }
    }
    outcome.settle();
    outcome
}

/// A run folder holds a spec.toml or a manifest.json (a killed run's has only the spec).
fn is_run(dir: &Path) -> bool {
    dir.is_dir() && (dir.join("manifest.json").is_file() || dir.join("spec.toml").is_file())
}

/// Two sweeps (or any folders of run folders): runs paired by folder name, which in a
/// sweep comes from the run's resolved spec and seed.
fn compare_collections(a: &Path, b: &Path, opts: &Options, outcome: &mut Outcome) {
    let (ra, rb) = (runs_in(a), runs_in(b));
    if ra.is_empty() && rb.is_empty() {
        outcome.reasons.push(format!("no run folders in {} or {}", a.display(), b.display()));
        return;
    }
    for (runs, other, side) in [(&ra, &rb, "A"), (&rb, &ra, "B")] {
        let only: Vec<&str> =
            runs.iter().filter(|(n, _)| !other.iter().any(|(m, _)| m == n)).map(|(n, _)| n.as_str()).collect();
        if !only.is_empty() {
            outcome.reasons.push(format!("runs only in {side}: {}", only.join(", ")));
        }
    }
    for (name, pa) in &ra {
        if let Some((_, pb)) = rb.iter().find(|(m, _)| m == name) {
            outcome.pairs.push(compare::compare_runs(name, pa, pb, opts));
        }
    }
}

/// The runs of a sweep (its `sweep.csv` `run_folder` column, where it has one) or the
/// run folders directly inside a folder, by name.
fn runs_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut runs: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(t) = table::read_csv(&dir.join("sweep.csv")) {
        if let Some(c) = t.header.iter().position(|h| h == "run_folder") {
            for row in &t.rows {
                let given = Path::new(&row[c]);
                let path = if given.is_absolute() || given.exists() { given.to_path_buf() } else { dir.join(given) };
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                runs.push((name, path));
            }
        }
    }
    if runs.is_empty() {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') && is_run(&e.path()) {
                    runs.push((name, e.path()));
                }
            }
        }
    }
    runs.sort();
    runs
}
