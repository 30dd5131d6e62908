//! A backend that fails mid-run (the CUDA backend running out of memory, faked on the
//! CPU by `backend::failing`) ends the run as a typed error: the rows recorded before
//! the failure stay in metrics.csv with the CPU's values, no row after it holds a
//! placeholder, and the folder is marked `failed` with the backend's message.

use super::{choice, execute, outputs, prepare, RunOptions};
use crate::backend::failing::{FailingBackend, MESSAGE};
use crate::error::Error;
use crate::results::{now_utc, RunDir};
use std::sync::atomic::Ordering;

/// xor for 40 steps, a metrics row every 5, on `be`; (the run's result, metrics.csv,
/// manifest.json).
fn xor_on(be: &FailingBackend, files: bool) -> (crate::error::Result<execute::Executed>, String, String) {
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/xor.toml");
    let mut sets = vec!["train.iterations=40".to_string(), "metrics.every=5".into()];
    if !files {
        // Training only: no probes (their passes would hold most of the ops).
        sets.push(format!("{}probes", crate::spec::UNSET_PREFIX));
        sets.push("output.predictions=false".into());
    }
    let p = prepare(&spec, &sets, None).unwrap_or_else(|e| panic!("{e}"));
    let root = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        spec_path: spec.clone(),
        results_root: root.path().to_path_buf(),
        seed: None,
        sets: sets.clone(),
        run_id: None,
        interrupt: Default::default(),
        backend: None,
    };
    let chosen = choice::Chosen::Cpu { why: "test".into() };
    let started = now_utc();
    let dir = RunDir::create(root.path(), "xor", 42, &started).unwrap();
    let ctx = execute::RunContext { p: &p, chosen: &chosen, dir: &dir, opts: &opts, started, resuming: None };
    let result = execute::execute_on::<f64, FailingBackend>(&ctx, be, &mut |_, _, _| {});
    if let Err(e) = &result {
        outputs::write_failed_manifest(&ctx, e).unwrap();
    }
    let path = dir.finish().unwrap();
    let read = |f: &str| std::fs::read_to_string(path.join(f)).unwrap_or_default();
    (result, read("metrics.csv"), read("manifest.json"))
}

#[test]
fn a_backend_that_fails_mid_run_ends_it_failed_with_its_message_and_keeps_the_rows_before() {
    let whole = FailingBackend::after(usize::MAX);
    let (result, full_metrics, _) = xor_on(&whole, false);
    assert!(result.is_ok(), "{:?}", result.err());
    let ops = whole.ran.load(Ordering::Relaxed);
    let full_rows: Vec<&str> = full_metrics.lines().collect();
    assert!(full_rows.len() > 8, "{full_metrics}");

    // Fail about half-way through.
    let failing = FailingBackend::after(ops / 2);
    let (result, metrics, manifest) = xor_on(&failing, false);
    let Err(Error::Backend(e)) = &result else { panic!("expected a backend error, got {:?}", result.map(|_| ())) };
    assert_eq!(e.message, MESSAGE);
    let message = e.to_string();
    assert!(manifest.contains("\"failed\""), "{manifest}");
    assert!(manifest.contains(&message), "{manifest} lacks {message}");
    // The rows before the failure are the complete run's rows, byte for byte; none after.
    let rows: Vec<&str> = metrics.lines().collect();
    assert!(rows.len() > 2 && rows.len() < full_rows.len(), "{} rows of {}", rows.len(), full_rows.len());
    assert_eq!(rows, full_rows[..rows.len()], "rows before the failure differ from the complete run's");
    // Nothing is written once the backend failed: no checkpoint.
    assert!(!manifest.contains("model.safetensors"), "{manifest}");
}

#[test]
fn a_failure_in_the_last_file_fails_the_run_instead_of_writing_placeholders() {
    let whole = FailingBackend::after(usize::MAX);
    let (result, _, complete) = xor_on(&whole, true);
    assert!(result.is_ok());
    // A few ops before the end: inside the predictions' pass, after training.
    let ops = whole.ran.load(Ordering::Relaxed);
    let failing = FailingBackend::after(ops - 3);
    let (result, metrics, manifest) = xor_on(&failing, true);
    assert!(matches!(result, Err(Error::Backend(_))), "{:?}", result.map(|_| ()));
    assert!(manifest.contains("\"failed\""), "{manifest}");
    assert!(metrics.lines().count() > 8, "training's rows are kept: {metrics}");
    // The file being computed when the backend failed, and any after it, are missing.
    let files = |m: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(m).unwrap();
        v["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect()
    };
    let (all, written) = (files(&complete), files(&manifest));
    let missing: Vec<&String> = all.iter().filter(|f| !written.contains(f)).collect();
    assert!(!missing.is_empty(), "{written:?}");
    assert!(
        missing.iter().all(|f| f.ends_with(".png") || f.ends_with(".csv") || f.ends_with(".safetensors")),
        "{missing:?}"
    );
}
