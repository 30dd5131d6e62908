//! `runner list [RESULTS]`: every run (and sweep) under a results folder, newest first
//! within a name: status, name, start, steps, final metrics, spec hash and folder.
//! Hidden `.incomplete-*` folders are shown as `running` while their process lives
//! and `killed` once it is gone.

use crate::diff::load::ManifestView;
use crate::error::{Error, Result};
use crate::results::HIDDEN_PREFIX;
use clap::Args;
use std::path::{Path, PathBuf};

/// Every status a line can show: a manifest's, a hidden folder's, a sweep's, and
/// `unknown` (a manifest without one) or `unreadable` (one that does not parse).
const STATUSES: [&str; 9] =
    ["complete", "interrupted", "diverged", "failed", "running", "killed", "sweep", "unknown", "unreadable"];

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Root folder of results.
    #[arg(default_value = "results")]
    pub results: PathBuf,
    /// Only names matching this pattern (`*` and `?` wildcards; a plain word matches
    /// any name containing it).
    #[arg(long)]
    pub name: Option<String>,
    /// Only this status: complete, interrupted, diverged, failed, running, killed, sweep,
    /// unknown, unreadable.
    #[arg(long)]
    pub status: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub status: String,
    pub name: String,
    pub started: String,
    pub steps: Option<usize>,
    pub metrics: String,
    pub spec_hash: String,
    pub folder: PathBuf,
}

pub fn run(a: ListArgs) -> Result<()> {
    if let Some(status) = &a.status {
        check_status(status)?;
    }
    results_folder(&a.results)?;
    let mut entries = Vec::new();
    walk(&a.results, &mut entries);
    entries.retain(|e| {
        a.name.as_deref().is_none_or(|p| name_matches(p, &e.name))
            && a.status.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(&e.status))
    });
    entries.sort_by(|x, y| x.name.cmp(&y.name).then(y.started.cmp(&x.started)).then(x.folder.cmp(&y.folder)));
    print!("{}", render(&entries));
    Ok(())
}

/// A status no line can have would list nothing and look like no such runs.
/// A `--results` that is a folder, for the commands that read one (`list`, `clean`): a
/// misspelt one would otherwise list or clean nothing, silently.
pub(super) fn results_folder(results: &Path) -> Result<()> {
    if results.exists() && !results.is_dir() {
        return Err(Error::Data(format!("{}: not a folder (give the results folder)", results.display())));
    }
    if !results.is_dir() {
        return Err(Error::Data(format!("{}: no such results folder", results.display())));
    }
    Ok(())
}

fn check_status(status: &str) -> Result<()> {
    if STATUSES.iter().any(|s| s.eq_ignore_ascii_case(status)) {
        return Ok(());
    }
    let hint = crate::spec::suggest(&status.to_ascii_lowercase(), STATUSES)
        .map(|s| format!("; did you mean `{s}`? The"))
        .unwrap_or_else(|| "; the".into());
    Err(Error::Usage(format!("--status {status}: not a status{hint} statuses are {}", STATUSES.join(", "))))
}

fn walk(root: &Path, out: &mut Vec<Entry>) {
    use crate::results::Found;
    for found in crate::results::walk(root) {
        out.push(match found {
            Found::Hidden(dir) => hidden(&dir),
            Found::Run(dir) => finished(&dir),
            Found::Sweep(dir) => sweep(&dir),
        });
    }
}

/// A run folder's manifest, read through the guard that refuses a huge file (a list
/// of a folder someone left a 1 TB sparse file in must not read it all).
fn read_manifest(dir: &Path) -> std::result::Result<ManifestView, String> {
    let path = dir.join("manifest.json");
    let text = crate::results::read_manifest_text(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// At most `limit` bytes of a file: the end of it with `tail`, else the start.
fn read_bounded(path: &Path, limit: u64, tail: bool) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let len = file.metadata().ok()?.len();
    if tail && len > limit {
        file.seek(SeekFrom::Start(len - limit)).ok()?;
    }
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn finished(dir: &Path) -> Entry {
    match read_manifest(dir) {
        Ok(m) => {
            let metrics: Vec<String> = m
                .final_metrics
                .iter()
                .map(|(k, v)| format!("{k}={}", v.map(compact).unwrap_or_else(|| "NaN".into())))
                .collect();
            Entry {
                status: if m.status.is_empty() { "unknown".into() } else { m.status },
                name: m.name,
                started: m.started,
                steps: Some(m.steps),
                metrics: metrics.join(" "),
                spec_hash: m.spec_hash,
                folder: dir.to_path_buf(),
            }
        }
        Err(e) => Entry {
            status: "unreadable".into(),
            name: parent_name(dir),
            started: String::new(),
            steps: None,
            metrics: e,
            spec_hash: String::new(),
            folder: dir.to_path_buf(),
        },
    }
}

/// A run still being written, or left by a process that is gone: the same test
/// `runner clean` makes, so every `killed` line is one it removes.
fn hidden(dir: &Path) -> Entry {
    let file_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let status = if crate::results::is_stale(dir) { "killed" } else { "running" };
    let spec = dir.join("spec.toml");
    let spec_hash = std::fs::metadata(&spec)
        .is_ok_and(|m| m.len() <= crate::spec::MAX_SPEC_BYTES)
        .then(|| read_bounded(&spec, crate::spec::MAX_SPEC_BYTES, false))
        .flatten()
        .map(|t| crate::results::spec_hash(&t))
        .unwrap_or_default();
    Entry {
        status: status.into(),
        name: parent_name(dir),
        started: started_from_id(&file_name[HIDDEN_PREFIX.len()..]),
        steps: last_step(&dir.join("metrics.csv")),
        metrics: String::new(),
        spec_hash,
        folder: dir.to_path_buf(),
    }
}

fn sweep(dir: &Path) -> Entry {
    // A row per run, and a sweep plans at most MAX_RUNS of them. Read as CSV: a cell
    // (an error message) may hold commas and line breaks inside its quotes.
    let text = read_bounded(&dir.join("sweep.csv"), 64 << 20, false).unwrap_or_default();
    let (runs, counts) = sweep_counts(&text);
    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    Entry {
        status: "sweep".into(),
        name: parent_name(dir),
        started: started_from_id(&dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()),
        steps: None,
        metrics: format!("{runs} runs: {}", summary.join(", ")),
        spec_hash: String::new(),
        folder: dir.to_path_buf(),
    }
}

/// How many rows sweep.csv has, and how many of them have each status.
fn sweep_counts(text: &str) -> (usize, std::collections::BTreeMap<String, usize>) {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let status_col = reader.headers().ok().and_then(|h| h.iter().position(|c| c == "status"));
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut runs = 0;
    for record in reader.records().flatten() {
        runs += 1;
        if let Some(s) = status_col.and_then(|c| record.get(c)) {
            *counts.entry(s.to_string()).or_default() += 1;
        }
    }
    (runs, counts)
}

/// Four significant digits, in a column that stays narrow.
pub fn compact(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if (1e-3..1e5).contains(&x.abs()) {
        let decimals = (3.0 - x.abs().log10().floor()).clamp(0.0, 6.0) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.3e}")
    }
}

fn parent_name(dir: &Path) -> String {
    dir.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `20261130-155206-seed42…` → `2026-11-30T15:52:06Z`; empty when the id is not one.
fn started_from_id(id: &str) -> String {
    let b = id.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r.clone()).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() >= 15 && digits(0..8) && b[8] == b'-' && digits(9..15) {
        format!("{}-{}-{}T{}:{}:{}Z", &id[0..4], &id[4..6], &id[6..8], &id[9..11], &id[11..13], &id[13..15])
    } else {
        String::new()
    }
}

/// The step of metrics.csv's last complete line (a killed run's file may end mid-line).
/// Only the file's end is read: a long run's metrics.csv may hold millions of rows.
fn last_step(path: &Path) -> Option<usize> {
    const TAIL: u64 = 64 << 10;
    let text = read_bounded(path, TAIL, true)?;
    let whole = std::fs::metadata(path).ok()?.len() <= TAIL;
    let complete = &text[..text.rfind('\n')?];
    // The header is the first line only when the whole file was read.
    let rows = complete.lines().skip(usize::from(whole));
    rows.last()?.split(',').next()?.parse().ok()
}

/// `*` any run of characters, `?` one; without wildcards, a substring.
fn name_matches(pattern: &str, name: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return name.contains(pattern);
    }
    fn glob(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => glob(&p[1..], n) || (!n.is_empty() && glob(p, &n[1..])),
            (Some('?'), Some(_)) => glob(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => glob(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    glob(&p, &n)
}

fn render(entries: &[Entry]) -> String {
    let head = ["status", "name", "started", "steps", "spec hash", "final metrics", "folder"];
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|e| {
            [
                e.status.clone(),
                e.name.clone(),
                // A hidden folder not named by a run id, or a manifest without a time:
                // a dash, as for steps, not a gap that shifts the columns' meaning.
                if e.started.is_empty() { "-".into() } else { e.started.clone() },
                e.steps.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                e.spec_hash.clone(),
                e.metrics.clone(),
                e.folder.display().to_string(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(head.to_vec());
    for r in &rows {
        out += &line(r.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_by_substring_or_wildcards() {
        assert!(name_matches("mnist", "mnist_cnn_bn"));
        assert!(name_matches("mnist_*_bn", "mnist_cnn_bn"));
        assert!(!name_matches("mnist_*_bn", "mnist_cnn"));
        assert!(name_matches("x?r", "xor"));
        assert_eq!(started_from_id("20261130-155206-seed42-2"), "2026-11-30T15:52:06Z");
        assert_eq!(started_from_id("abc"), "");
        assert!(check_status("Killed").is_ok());
        let e = check_status("compete").unwrap_err().to_string();
        assert!(e.starts_with("--status compete: not a status; did you mean `complete`?"), "{e}");
        assert!(e.ends_with("killed, sweep, unknown, unreadable"), "{e}");
        assert_eq!(
            [compact(0.97153), compact(0.00012086), compact(2.3221), compact(1234.5), compact(0.0)],
            ["0.9715", "1.209e-4", "2.322", "1234", "0"]
        );
    }

    #[test]
    fn a_start_time_no_one_knows_is_a_dash() {
        let tmp = tempfile::tempdir().unwrap();
        let bare = tmp.path().join("xor").join(".incomplete-x");
        std::fs::create_dir_all(&bare).unwrap();
        let entry = hidden(&bare);
        assert_eq!((entry.started.as_str(), entry.steps), ("", None));
        let table = render(&[entry]);
        let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
        // status, name, started, steps, then the folder (no hash, no metrics).
        assert_eq!(row[1..4], ["xor", "-", "-"], "{table}");
        assert_eq!(row.len(), 5, "{table}");
    }

    #[test]
    fn a_sweep_counts_its_rows_whatever_their_errors_hold() {
        let text = "run,train.lr,seed,status,folder,error\n\
                    a,0.1,1,complete,runs/a,\n\
                    b,\"x,y\",1,failed,runs/b,\"bad, very\nThe run's folder is kept\"\n\
                    c,0.3,1,complete,runs/c,\n";
        let (runs, counts) = sweep_counts(text);
        assert_eq!(runs, 3);
        assert_eq!(counts.into_iter().collect::<Vec<_>>(), [("complete".to_string(), 2), ("failed".to_string(), 1)]);
    }

    #[test]
    fn huge_or_odd_files_are_not_read_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        std::fs::create_dir(&run).unwrap();
        // 1 TiB, sparse: read whole it would take all memory.
        std::fs::File::create(run.join("manifest.json")).unwrap().set_len(1 << 40).unwrap();
        let e = finished(&run);
        assert_eq!(e.status, "unreadable");
        assert!(e.metrics.contains("manifest.json: over"), "{}", e.metrics);
        let killed = tmp.path().join(".incomplete-x");
        std::fs::create_dir(&killed).unwrap();
        std::fs::File::create(killed.join("spec.toml")).unwrap().set_len(1 << 40).unwrap();
        let mut rows = String::from("step,epoch,split,loss\n");
        for step in 0..20_000 {
            rows += &format!("{step},0,train,0.5\n");
        }
        rows += "20000,0,tr";
        std::fs::write(killed.join("metrics.csv"), &rows).unwrap();
        let e = hidden(&killed);
        assert_eq!((e.steps, e.spec_hash.as_str()), (Some(19_999), ""));
        std::fs::write(killed.join("metrics.csv"), "step,epoch,split,loss\n").unwrap();
        assert_eq!(hidden(&killed).steps, None, "a header alone is no step");
        std::fs::write(killed.join("metrics.csv"), "step,epoch,split,loss\n3,0,train,1\n").unwrap();
        assert_eq!(hidden(&killed).steps, Some(3));
    }

    /// The README's `runner list` paragraph names exactly the statuses a line can show:
    /// its one-word backticked words are the statuses, no more, no fewer.
    #[test]
    fn the_readme_names_every_status_and_no_other() {
        let readme = include_str!("../../README.md");
        let start = readme.find("`runner list [RESULTS]` lists").expect("the README describes runner list");
        let paragraph = &readme[start..start + readme[start..].find("\n\n").unwrap()];
        let mut named: Vec<&str> = paragraph
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
            .collect();
        named.sort();
        named.dedup();
        let mut statuses = STATUSES.to_vec();
        statuses.sort();
        assert_eq!(named, statuses, "{paragraph}");
    }
}
