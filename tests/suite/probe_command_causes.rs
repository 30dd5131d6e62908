//! `runner probe` refusals that blamed the wrong thing: a deleted model.safetensors
//! read as `checkpoint = false`, and a setting of a probe not asked for blocked the
//! ones asked for.

use crate::common::*;
use std::path::{Path, PathBuf};

/// A dense classifier on 100 MNIST digits (10 test), with an adversarial probe.
fn spec(dir: &Path) -> PathBuf {
    let text = format!(
        r#"name = "probe_causes"
seed = 4
[data]
kind = "mnist"
path = "{}"
n = 100
test_n = 10
[[model.layers]]
name = "flat"
op = "flatten"
[[model.layers]]
name = "fc"
op = "dense"
units = 10
[train]
loss = "cross_entropy"
lr = 0.1
batch_size = 50
iterations = 4
[[probes]]
kind = "adversarial"
split = "test"
count = 8
epsilons = [0.0, 0.1]
attacks = ["fgsm"]
"#,
        root().join("data/mnist-10k").display()
    );
    write_spec(dir, "probe_causes.toml", &text)
}

fn probe(folder: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["probe", folder.to_str().unwrap()];
    args.extend_from_slice(extra);
    runner(&args, &[])
}

#[test]
fn a_deleted_model_is_named_as_deleted_not_as_never_saved() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec(tmp.path());
    let dir = run_ok(spec.to_str().unwrap(), &tmp.path().join("results"), &[]);
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    let out = probe(&dir, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.starts_with("error: cannot probe ") && out.stderr.lines().count() == 1, "{}", out.stderr);
    assert!(out.stderr.contains("its model.safetensors is gone: the run wrote one"), "{}", out.stderr);
    assert!(!out.stderr.contains("checkpoint = false"), "{}", out.stderr);
}

#[test]
fn only_the_probes_asked_for_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec(tmp.path());
    let dir = run_ok(spec.to_str().unwrap(), &tmp.path().join("results"), &[]);
    // 32 of the 10 test digits: the adversarial probe cannot be drawn…
    let out = probe(&dir, &["--set", "probes.0.count=32"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("probes.0.count") && out.stderr.contains("`count` is 32"), "{}", out.stderr);
    assert!(!dir.join("saliency_test.png").exists());
    // …but saliency, asked alone, does not draw it and is not stopped by it.
    let out = probe(&dir, &["--probe", "saliency", "--set", "probes.0.count=32"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let files: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| f.contains("saliency_test.")), "{files:?}");
    let png = std::fs::read(dir.join("saliency_test.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // The same picture as with the setting left alone.
    let again = probe(&dir, &["--probe", "saliency"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(std::fs::read(dir.join("saliency_test.png")).unwrap(), png);
}
