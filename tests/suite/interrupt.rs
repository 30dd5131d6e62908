//! A stopped run keeps its work: Ctrl-C and SIGTERM end training after the step in
//! progress and write the files, SIGKILL leaves the hidden folder with its metrics so
//! far, and such folders are cleaned once their process is gone.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A diamond run far longer than any test waits for, into `results`.
fn start_long_run(results: &Path) -> Child {
    start_long_run_with(results, &[])
}

fn start_long_run_with(results: &Path, sets: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["run", "experiments/diamond.toml", "--quiet", "--results"])
        .arg(results)
        .args(["--set", "train.iterations=200000000"])
        .args(sets.iter().flat_map(|s| ["--set", s]))
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runner starts")
}

/// The hidden folders under `results/diamond`.
fn hidden_folders(results: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(results.join("diamond")) else { return vec![] };
    entries.flatten().map(|e| e.path()).filter(|p| file_name(p).starts_with(".incomplete-")).collect()
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Waits until the run's hidden folder has a metrics.csv with rows in it.
fn wait_for_rows(results: &Path, child: &mut Child) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(dir) = hidden_folders(results).into_iter().next() {
            let rows = std::fs::read_to_string(dir.join("metrics.csv")).map(|t| t.lines().count()).unwrap_or(0);
            if rows > 10 {
                return dir;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended before it was stopped: {status}");
        }
        assert!(Instant::now() < deadline, "no metrics rows appeared in {}", results.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn send(signal: &str, child: &Child) {
    let status = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success(), "kill {signal} failed");
}

/// Every line of a metrics.csv ends in a newline and has the header's number of fields;
/// but for a SIGKILL during a write: Linux stops a write to a file at a page boundary
/// when a fatal signal is pending, so a killed run's file may end there mid-line (a
/// resumed run cuts it back to whole lines). Such a last piece is not counted.
fn assert_well_formed(metrics: &Path) -> usize {
    let mut text = std::fs::read_to_string(metrics).unwrap();
    if !text.ends_with('\n') {
        assert_eq!(text.len() % 4096, 0, "{} ends mid-line, not at a page boundary", metrics.display());
        text.truncate(text.rfind('\n').map_or(0, |at| at + 1));
    }
    let mut lines = text.lines();
    let fields = lines.next().unwrap().split(',').count();
    let mut rows = 0;
    for line in lines {
        assert_eq!(line.split(',').count(), fields, "malformed row `{line}`");
        rows += 1;
    }
    rows
}

fn stops_cleanly(signal: &str, exit: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = start_long_run(tmp.path());
    let hidden = wait_for_rows(tmp.path(), &mut child);
    assert!(hidden.join("owner").is_file(), "a hidden folder names its process");
    // A live run's folder is not stale.
    let clean = runner(&["clean", "--results", tmp.path().to_str().unwrap()], &[]);
    assert_eq!((clean.code, clean.stdout.as_str()), (0, ""), "{}", clean.stderr);
    assert!(hidden.is_dir());

    send(signal, &child);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(exit), "stderr: {stderr}");
    let dir = PathBuf::from(stdout.lines().last().unwrap_or_else(|| panic!("no folder printed; stderr: {stderr}")));
    assert_eq!(dir.parent(), hidden.parent());
    assert_eq!(format!(".incomplete-{}", file_name(&dir)), file_name(&hidden), "the reserved name");
    assert!(!hidden.exists() && !dir.join("owner").exists());
    assert!(stderr.contains("interrupted"), "{stderr}");

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "interrupted");
    let steps = manifest["steps"].as_u64().unwrap() as usize;
    assert!(steps > 0 && steps < 200_000_000, "steps {steps}");
    let rows = assert_well_formed(&dir.join("metrics.csv"));
    // One train row per step (metrics.every = 1), then the state after the last step.
    assert_eq!(rows, steps + 1, "a row for step 0..={steps}");
    let last = metric(&dir, "train", "accuracy");
    assert_eq!(last.last().unwrap().0, steps);
    assert_eq!(manifest["final_metrics"]["train.accuracy"].as_f64(), Some(last.last().unwrap().1));

    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let checkpoint = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert!(checkpoint.names().len() >= 2, "{:?}", checkpoint.names());
    for png in ["curves.png", "decision_boundary.png"] {
        assert!(std::fs::metadata(dir.join(png)).unwrap().len() > 1000, "{png}");
    }
}

#[test]
fn ctrl_c_stops_after_the_step_and_keeps_the_files() {
    stops_cleanly("-INT", 130);
}

#[test]
fn sigterm_stops_after_the_step_and_keeps_the_files() {
    stops_cleanly("-TERM", 143);
}

#[test]
fn a_second_ctrl_c_stops_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    // 40,000 points take ~300 ms to write and draw after the first Ctrl-C (500 take ~80).
    let mut child = start_long_run_with(tmp.path(), &["data.n=40000"]);
    let hidden = wait_for_rows(tmp.path(), &mut child);
    send("-INT", &child);
    // Apart, so the two are not merged into one pending signal; soon enough that the
    // run is still writing its files.
    std::thread::sleep(Duration::from_millis(30));
    send("-INT", &child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "no finished folder is printed");
    assert!(hidden.join("metrics.csv").is_file(), "the hidden folder stays, for `runner clean`");
    assert!(!hidden.join("manifest.json").exists());
}

/// SIGKILL: nothing runs, yet the metrics so far are on disk; the folder is stale
/// once its process is gone.
fn killed_run(results: &Path) -> PathBuf {
    let mut child = start_long_run(results);
    let hidden = wait_for_rows(results, &mut child);
    // Past one flush interval, so rows written after the wait are on disk too.
    std::thread::sleep(Duration::from_millis(700));
    send("-KILL", &child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal");
    let rows = assert_well_formed(&hidden.join("metrics.csv"));
    assert!(rows > 10, "{rows} rows");
    assert!(hidden.join("spec.toml").is_file() && hidden.join("owner").is_file());
    hidden
}

#[test]
fn a_killed_run_leaves_its_metrics_until_cleaned() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().to_str().unwrap();
    let hidden = killed_run(tmp.path());
    let clean = runner(&["clean", "--results", results], &[]);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    assert_eq!(clean.stdout.trim(), format!("removed {}", hidden.display()));
    assert!(!hidden.exists());
    let again = runner(&["clean", "--results", results], &[]);
    assert_eq!(again.stdout, "", "nothing left to remove");

    // The next run in the same results folder removes stale folders too.
    let hidden = killed_run(tmp.path());
    let dir = run_ok("experiments/diamond.toml", tmp.path(), &["--set", "train.iterations=5"]);
    assert!(!hidden.exists(), "{} was left", hidden.display());
    assert!(dir.join("manifest.json").is_file());
}

/// A stop while a finished run draws its probes skips the probes not begun (no waiting
/// through them, and no second signal's exit that would leave the trained run hidden):
/// the run is written complete, its manifest names the skipped probes, and
/// `runner probe` draws them afterwards.
#[test]
fn a_stop_among_the_probes_writes_the_run_and_names_the_probes_left() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().to_str().unwrap();
    let args = ["run", "experiments/diamond.toml", "--quiet", "--results", results, "--set", "train.iterations=50"];
    let out = runner(&args, &[("RUNNER_TEST_SIGNAL_AT", "probe2:15")]);
    assert_eq!(out.code, 128 + 15, "{}", out.stderr);
    let dir = out.dir();
    assert!(
        out.stderr
            .contains("stopped by SIGTERM while drawing probes: truth_vs_prediction, decision_boundary not drawn"),
        "{}",
        out.stderr
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["probes_skipped"], serde_json::json!(["truth_vs_prediction", "decision_boundary"]));
    assert!(dir.join("model.safetensors").is_file() && dir.join("curves.png").is_file());
    let boundary = |dir: &Path| {
        std::fs::read_dir(dir).unwrap().flatten().any(|e| file_name(&e.path()).starts_with("decision_boundary"))
    };
    assert!(!boundary(&dir), "the skipped probe drew nothing");
    let probe = runner(&["probe", dir.to_str().unwrap(), "--probe", "decision_boundary"], &[]);
    assert_eq!(probe.code, 0, "{}", probe.stderr);
    assert!(boundary(&dir), "runner probe drew it");
}
