//! `runner list [RESULTS]`: every run (and sweep) under a results folder, newest first
//! within a name: status, name, start, steps, final metrics, spec hash and folder.
//! Hidden `.incomplete-*` folders are shown as `running` while their process lives
//! and `killed` once it is gone.

use crate::diff::load::{read_manifest, read_text};
use crate::error::{Error, Result};
use crate::results::Owner;
use clap::Args;
use std::path::{Path, PathBuf};

const HIDDEN_PREFIX: &str = ".incomplete-";
/// Results roots nest `<name>/<run>`, a sweep one level more; deeper is not searched.
const MAX_DEPTH: usize = 4;
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
    /// Only this status: complete, interrupted, diverged, failed, running, killed, sweep.
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
    if a.results.exists() && !a.results.is_dir() {
        return Err(Error::Data(format!("{}: not a folder (give the results folder)", a.results.display())));
    }
    if !a.results.is_dir() {
        return Err(Error::Data(format!("{}: no such results folder", a.results.display())));
    }
    let mut entries = Vec::new();
    walk(&a.results, 0, &mut entries);
    entries.retain(|e| {
        a.name.as_deref().is_none_or(|p| name_matches(p, &e.name))
            && a.status.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(&e.status))
    });
    entries.sort_by(|x, y| x.name.cmp(&y.name).then(y.started.cmp(&x.started)).then(x.folder.cmp(&y.folder)));
    print!("{}", render(&entries));
    Ok(())
}

/// A status no line can have would list nothing and look like no such runs.
fn check_status(status: &str) -> Result<()> {
    if STATUSES.iter().any(|s| s.eq_ignore_ascii_case(status)) {
        return Ok(());
    }
    let hint = crate::spec::suggest(&status.to_ascii_lowercase(), STATUSES)
        .map(|s| format!("; did you mean `{s}`? The"))
        .unwrap_or_else(|| "; the".into());
    Err(Error::Usage(format!("--status {status}: not a status{hint} statuses are {}", STATUSES.join(", "))))
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<Entry>) {
    let Ok(listing) = std::fs::read_dir(dir) else { return };
    let mut children: Vec<PathBuf> =
        listing.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect();
    children.sort();
    for child in children {
        let file_name = child.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if file_name.starts_with(HIDDEN_PREFIX) {
            out.push(hidden(&child, &file_name));
        } else if child.join("manifest.json").is_file() {
            out.push(finished(&child));
        } else if child.join("sweep.csv").is_file() {
            out.push(sweep(&child));
        } else if depth + 1 < MAX_DEPTH && !file_name.starts_with('.') {
            walk(&child, depth + 1, out);
        }
    }
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
            metrics: e.to_string(),
            spec_hash: String::new(),
            folder: dir.to_path_buf(),
        },
    }
}

/// A run still being written, or left by a process that is gone.
fn hidden(dir: &Path, file_name: &str) -> Entry {
    let owner = std::fs::read_to_string(dir.join(crate::results::OWNER_FILE)).ok().and_then(|t| Owner::parse(&t));
    let status = match owner {
        Some(o) if !o.is_gone() => "running",
        _ => "killed",
    };
    let spec_hash = read_text(&dir.join("spec.toml")).map(|t| crate::results::spec_hash(&t)).unwrap_or_default();
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
    let text = read_text(&dir.join("sweep.csv")).unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let status_col = header.iter().position(|h| *h == "status");
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut runs = 0;
    for line in lines.filter(|l| !l.is_empty()) {
        runs += 1;
        if let Some(s) = status_col.and_then(|c| line.split(',').nth(c)) {
            *counts.entry(s.to_string()).or_default() += 1;
        }
    }
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
fn last_step(path: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    let complete = &text[..text.rfind('\n')?];
    complete.lines().skip(1).last()?.split(',').next()?.parse().ok()
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
                e.started.clone(),
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
}
