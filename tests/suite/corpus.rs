//! The malformed-input corpus: every `tests/corpus/*.toml` is a spec that must fail
//! cleanly. A case's header comments say what the failure must look like:
//!
//! ```toml
//! # expect: spec.toml:7:9        (each `expect` line must appear in the error)
//! # expect: must be at least 1
//! # args: --set train.lr=0.1    (optional extra arguments, split on spaces)
//! # command: check               (optional: `run`, the default, or `check`)
//! # exit: 2                      (optional: the exit code, 2 by default)
//! ```
//!
//! Every case must exit with its code, print `error: ` once at the start of stderr, never
//! panic or abort, keep the message short (a huge input is not echoed back), and leave
//! no run folder behind. Data files the cases read live in `tests/corpus/files/`.

use crate::common::*;
use std::path::{Path, PathBuf};

/// The most an error message may take: enough for a located message with its source
/// line and a suggestion, far less than the inputs that try to make it echo megabytes.
const MAX_ERROR_BYTES: usize = 4096;

struct Case {
    path: PathBuf,
    expects: Vec<String>,
    args: Vec<String>,
    command: String,
    exit: i32,
}

fn read_case(path: &Path) -> Case {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]).into_owned();
    let mut case = Case { path: path.to_path_buf(), expects: vec![], args: vec![], command: "run".into(), exit: 2 };
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let Some((key, value)) = line.trim_start_matches('#').trim().split_once(':') else { continue };
        let value = value.trim().to_string();
        match key.trim() {
            "expect" => case.expects.push(value),
            "args" => case.args.extend(value.split_whitespace().map(String::from)),
            "command" => case.command = value,
            "exit" => case.exit = value.parse().unwrap_or_else(|_| panic!("{}: bad exit code", path.display())),
            _ => {}
        }
    }
    case
}

fn corpus_cases() -> Vec<PathBuf> {
    let dir = root().join("tests/corpus");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    cases.sort();
    cases
}

/// Runs one case; returns a description of what went wrong, if anything.
fn check_case(case: &Case) -> Option<String> {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let spec = case.path.to_str().unwrap();
    let mut args: Vec<&str> = vec![case.command.as_str(), spec];
    if case.command == "run" {
        args.extend(["--quiet", "--results", results.to_str().unwrap()]);
    }
    args.extend(case.args.iter().map(String::as_str));
    let out = runner(&args, &[]);
    let name = case.path.file_name().unwrap().to_string_lossy();
    let mut problems = vec![];
    if out.code != case.exit {
        problems.push(format!("exit code {} (want {})", out.code, case.exit));
    }
    if out.stderr.contains("panicked") {
        problems.push("panicked".into());
    }
    if !out.stderr.starts_with("error: ") || out.stderr.matches("error: ").count() != 1 {
        problems.push("the error is not printed once, as `error: …`".into());
    }
    if out.stderr.len() > MAX_ERROR_BYTES {
        problems.push(format!("the error is {} bytes long", out.stderr.len()));
    }
    for e in &case.expects {
        if !out.stderr.contains(e.as_str()) {
            problems.push(format!("no `{e}` in the error"));
        }
    }
    if let Ok(entries) = std::fs::read_dir(results.join("")) {
        let left: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        if !left.is_empty() && case.exit == 2 {
            problems.push(format!("left files in results/: {left:?}"));
        }
    }
    if problems.is_empty() {
        None
    } else {
        let shown: String = out.stderr.chars().take(600).collect();
        Some(format!("{name}: {}\n  stderr: {shown}", problems.join("; ")))
    }
}

#[test]
fn every_malformed_case_fails_cleanly_with_its_message() {
    let cases = corpus_cases();
    let failures: Vec<String> = cases.iter().filter_map(|p| check_case(&read_case(p))).collect();
    eprintln!("malformed-input corpus: {} cases, {} failing", cases.len(), failures.len());
    assert!(failures.is_empty(), "{} of {} corpus cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
