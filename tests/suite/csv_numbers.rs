//! CSV numbers: the shortest decimal that reads back to the same value in the run's
//! dtype, exponent form for huge and tiny values, `nan`/`inf`/`-inf` for non-finite ones.

use crate::common::*;
use std::path::{Path, PathBuf};

/// Runs linear_regression with `sets` (each a `--set` value) and returns its folder;
/// `diverges`: whether the run must stop as diverged (exit 3) or succeed.
fn linear_regression(results: &Path, sets: &[&str], diverges: bool) -> PathBuf {
    let mut args = vec!["run", "experiments/linear_regression.toml", "--quiet", "--results", results.to_str().unwrap()];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = runner(&args, &[]);
    assert_eq!(out.code, if diverges { 3 } else { 0 }, "{}", out.stderr);
    std::fs::read_dir(results.join("linear_regression")).unwrap().next().unwrap().unwrap().path()
}

/// Every CSV of a run folder: (file name, its text).
fn csvs(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    assert!(out.iter().any(|(n, _)| n == "metrics.csv") && out.iter().any(|(n, _)| n == "params.csv"), "{out:?}");
    out
}

/// Significant digits of a decimal (`-1.2345e-7` has 5).
fn significant_digits(cell: &str) -> usize {
    let mantissa = cell.split(['e', 'E']).next().unwrap_or("");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let trimmed = digits.trim_start_matches('0');
    let trimmed = if mantissa.contains('.') { trimmed } else { trimmed.trim_end_matches('0') };
    trimmed.len()
}

#[test]
fn a_diverged_runs_csvs_have_short_lines_exponents_and_inf() {
    let tmp = tempfile::tempdir().unwrap();
    // f64: the loss climbs past 1e300 before it becomes inf at step 87.
    let dir = linear_regression(&tmp.path().join("results"), &["train.lr=1.0"], true);
    for (name, text) in csvs(&dir) {
        for line in text.lines() {
            assert!(line.len() <= 200, "{name}: a {}-character line: {line}", line.len());
        }
    }
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert!(metrics.contains("e30"), "values past 1e300 in exponent form:\n{metrics}");
    let last = metrics.lines().last().unwrap();
    assert!(last.ends_with(",inf,inf"), "the diverged step's sse and mse: {last}");
    // Every cell reads back as a number, `inf` and exponents included.
    let sse = metric(&dir, "train", "sse");
    assert_eq!(sse.last().map(|s| s.1), Some(f64::INFINITY));
    assert!(sse.iter().any(|s| s.1 > 1e300 && s.1.is_finite()));
    // `runner diff` reads them too: a run equals itself.
    let d = dir.to_str().unwrap();
    let out = runner(&["diff", d, d], &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn an_f32_runs_csvs_hold_f32_decimals_not_widened_noise() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = linear_regression(&tmp.path().join("results"), &["dtype=f32"], false);
    let mut cells = 0;
    for (name, text) in csvs(&dir) {
        for line in text.lines().skip(1) {
            for cell in line.split(',').filter(|c| c.parse::<f64>().is_ok()) {
                cells += 1;
                // An f32 needs at most 9 significant digits; an f32 widened to f64 and
                // written as f64 (0.800000011920929) has up to 17.
                assert!(significant_digits(cell) <= 9, "{name}: `{cell}` in `{line}`");
                let x: f32 = cell.parse().unwrap();
                assert_eq!(x.to_string(), cell, "{name}: the shortest f32 decimal");
            }
        }
    }
    assert!(cells > 100, "{cells} numbers checked");
}

#[test]
fn an_f32_diverged_run_writes_inf_where_values_leave_f32s_range() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = linear_regression(&tmp.path().join("results"), &["dtype=f32", "train.lr=1.0"], true);
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert!(metrics.lines().last().unwrap().ends_with(",inf,inf"), "{metrics}");
    assert!(metrics.contains("e3"), "large values in exponent form:\n{metrics}");
    assert!(metrics.lines().all(|l| l.len() <= 80), "{metrics}");
}
