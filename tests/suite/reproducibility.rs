//! Same spec and seed, same bytes: across runs and across thread counts.

use crate::common::*;

fn files_equal(a: &std::path::Path, b: &std::path::Path, names: &[&str]) {
    for name in names {
        let x = std::fs::read(a.join(name)).unwrap();
        let y = std::fs::read(b.join(name)).unwrap();
        assert!(x == y, "{name} differs between {} and {}", a.display(), b.display());
    }
}

#[test]
fn one_seed_gives_identical_files_on_one_thread_or_two() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().to_str().unwrap();
    let args = ["run", "experiments/diamond.toml", "--quiet", "--results", results, "--set", "train.iterations=300"];
    let one = runner(&args, &[("RAYON_NUM_THREADS", "1")]);
    let two = runner(&args, &[("RAYON_NUM_THREADS", "2")]);
    let again = runner(&args, &[("RAYON_NUM_THREADS", "2")]);
    for o in [&one, &two, &again] {
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    let names =
        ["metrics.csv", "predictions.csv", "model.safetensors", "curves.png", "decision_boundary.png", "spec.toml"];
    files_equal(&one.dir(), &two.dir(), &names);
    files_equal(&two.dir(), &again.dir(), &names);
    assert_ne!(two.dir(), again.dir(), "a re-run gets its own folder");
    // No half-written folder is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("diamond"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".incomplete"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn mini_batches_are_reproducible_and_a_different_seed_differs() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    let set = ["--set", "train.batch_size=32", "--set", "train.iterations=200"];
    let a = run_ok("experiments/diamond.toml", r, &set);
    let b = run_ok("experiments/diamond.toml", r, &set);
    files_equal(&a, &b, &["metrics.csv", "predictions.csv"]);
    let mut other = set.to_vec();
    other.extend(["--seed", "8"]);
    let c = run_ok("experiments/diamond.toml", r, &other);
    assert_ne!(std::fs::read(a.join("metrics.csv")).unwrap(), std::fs::read(c.join("metrics.csv")).unwrap());
}

#[test]
fn the_resolved_spec_reruns_to_the_same_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run_ok("experiments/xor.toml", tmp.path(), &[]);
    let resolved = a.join("spec.toml");
    let b = run_ok(resolved.to_str().unwrap(), &tmp.path().join("again"), &[]);
    files_equal(&a, &b, &["metrics.csv", "predictions.csv"]);
}

#[test]
fn augmentation_batch_norm_and_dropout_are_the_same_on_one_thread_or_two() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().to_str().unwrap();
    for spec in ["experiments/mnist_cnn_bn.toml", "experiments/mnist_mlp.toml"] {
        let args = [
            "run",
            spec,
            "--quiet",
            "--results",
            results,
            "--set",
            "data.n=256",
            "--set",
            "data.test_n=64",
            "--set",
            "train.epochs=1",
        ];
        let one = runner(&args, &[("RAYON_NUM_THREADS", "1")]);
        let two = runner(&args, &[("RAYON_NUM_THREADS", "2")]);
        assert_eq!(one.code, 0, "{}", one.stderr);
        assert_eq!(two.code, 0, "{}", two.stderr);
        files_equal(&one.dir(), &two.dir(), &["metrics.csv", "model.safetensors", "confusion.csv"]);
    }
}

/// RUNNER_PROFILE prints where the steps' time went, op by op, on stderr, and changes
/// no file of the run.
#[test]
fn a_profiled_run_prints_its_ops_and_writes_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().to_str().unwrap();
    let args = [
        "run",
        "experiments/mnist_cnn.toml",
        "--quiet",
        "--results",
        results,
        "--set",
        "data.n=128",
        "--set",
        "data.test_n=64",
        "--set",
        "train.epochs=1",
    ];
    let plain = runner(&args, &[]);
    let profiled = runner(&args, &[("RUNNER_PROFILE", "1")]);
    for o in [&plain, &profiled] {
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    assert!(!plain.stderr.contains("RUNNER_PROFILE"), "no table unless asked: {}", plain.stderr);
    let table = &profiled.stderr;
    assert!(table.contains("profile (RUNNER_PROFILE):"), "{table}");
    // 128 images in batches of 64: each op twice, the convolutions and the fused pools
    // both ways.
    for op in ["forward conv2d [64, 32, 14, 14]", "backward conv2d [64, 16, 28, 28]", "max_pool2d + relu", "batch"] {
        let line = table.lines().find(|l| l.contains(op)).unwrap_or_else(|| panic!("{op} in {table}"));
        assert!(line.split_whitespace().nth(1) == Some("2"), "{op} ran twice: {line}");
    }
    files_equal(&plain.dir(), &profiled.dir(), &["metrics.csv", "model.safetensors", "spec.toml"]);
}
