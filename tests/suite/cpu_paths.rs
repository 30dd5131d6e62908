//! Whole runs on every CPU path this machine has (RUNNER_CPU=avx2, avx512) against the
//! same runs on the portable path, and RUNNER_CPU values that cannot be honoured. A
//! path this CPU lacks is an ignored test named after it (build.rs sets the cfg), so
//! `cargo test` lists it as skipped.
//!
//! The promise tested: every file of a run is the same bytes on every path (bar the
//! manifest, which names the path and the times, and the report page made from it).
//! Every kernel computes one definition in one order: products are one fused
//! multiply-add chain per element (backend/cpu/gemm/mod.rs), convolutions and pools are
//! defined once in backend/cpu/conv.rs, element-wise functions use the same fused
//! operations at any vector width.

use crate::common::*;
use runner::backend::cpu::path::CpuPath;
use std::path::Path;

/// Runs `spec` with `sets` on `path` into `results`, returning the run folder.
fn run_on(path: &str, spec: &str, results: &Path, sets: &[&str]) -> std::path::PathBuf {
    let mut args = vec!["run", spec, "--quiet", "--results", results.to_str().unwrap()];
    args.extend(sets.iter().flat_map(|s| ["--set", *s]));
    let out = runner(&args, &[("RUNNER_CPU", path)]);
    assert_eq!(out.code, 0, "RUNNER_CPU={path} runner {args:?}:\n{}", out.stderr);
    let dir = out.dir();
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["cpu"]["path"], path, "the manifest names the path that ran");
    dir
}

/// The run's files by name, bar the manifest and the page drawn from it.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "manifest.json" && n != "index.html")
        .collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap())).collect()
}

/// Quick xor, diamond (the tiny dense products), mnist_cnn (convolutions, 2×2 pools,
/// the packed GEMM, Adam) and mnist_cnn_bn (batch-norm, augmentation) on `path` and on
/// the portable path: every file the same bytes.
fn whole_runs_are_the_same_bytes_as_portable(path: CpuPath) {
    let tmp = tempfile::tempdir().unwrap();
    let mnist = ["data.n=256", "data.test_n=128", "train.epochs=1", "metrics.batch_every=1"];
    let cases: [(&str, &[&str]); 4] = [
        ("experiments/xor.toml", &["train.iterations=300"]),
        ("experiments/diamond.toml", &["train.iterations=300", "metrics.every=50"]),
        ("experiments/mnist_cnn.toml", &mnist),
        ("experiments/mnist_cnn_bn.toml", &mnist),
    ];
    for (i, (spec, sets)) in cases.into_iter().enumerate() {
        let portable = run_on("portable", spec, &tmp.path().join(format!("portable-{i}")), sets);
        let other = run_on(path.name(), spec, &tmp.path().join(format!("{path}-{i}")), sets);
        let (want, got) = (files(&portable), files(&other));
        let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&got), names(&want), "{spec}: the same files");
        assert!(want.iter().any(|(n, _)| n == "model.safetensors"), "{spec}: a checkpoint to compare");
        for ((name, a), (_, b)) in got.iter().zip(&want) {
            assert!(a == b, "{spec}: {name} differs between {path} and portable");
        }
        eprintln!("{spec}: {} files the same bytes on {path} and portable", got.len());
    }
}

#[test]
#[cfg_attr(not(runner_avx2), ignore = "this CPU lacks AVX2+FMA: the avx2 path is skipped")]
fn whole_runs_on_avx2_are_the_same_bytes_as_portable() {
    assert!(CpuPath::Avx2.available(), "built on a CPU with AVX2+FMA, running on one without: rebuild");
    whole_runs_are_the_same_bytes_as_portable(CpuPath::Avx2);
}

#[test]
#[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
fn whole_runs_on_avx512_are_the_same_bytes_as_portable() {
    assert!(CpuPath::Avx512.available(), "built on a CPU with AVX-512F, running on one without: rebuild");
    whole_runs_are_the_same_bytes_as_portable(CpuPath::Avx512);
}

/// A path this CPU lacks (on a machine that has them all, a bogus value stands in) is a
/// one-line error and exit 2 before anything runs, from `run` and `check` alike.
#[test]
fn a_cpu_path_that_cannot_run_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().to_str().unwrap();
    let mut refused =
        vec![("bogus", "RUNNER_CPU=\"bogus\" is not a CPU path; choose one of auto, portable, avx2, avx512")];
    if !CpuPath::Avx512.available() {
        refused.push(("avx512", "RUNNER_CPU=avx512: this CPU lacks AVX-512F"));
    }
    if !CpuPath::Avx2.available() {
        refused.push(("avx2", "RUNNER_CPU=avx2: this CPU lacks AVX2 or FMA"));
    }
    for (value, message) in refused {
        for args in [
            vec!["run", "experiments/diamond.toml", "--quiet", "--results", results],
            vec!["check", "experiments/diamond.toml"],
        ] {
            let out = runner(&args, &[("RUNNER_CPU", value)]);
            assert_eq!(out.code, 2, "RUNNER_CPU={value} {args:?}: {}", out.stderr);
            assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
            assert!(out.stderr.starts_with("error: ") && out.stderr.contains(message), "{}", out.stderr);
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        }
    }
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none(), "no run folder was made");
}

/// A thread count that is not one (rayon alone would ignore it, or try to start a
/// million threads) is a one-line error and exit 2 before anything runs; a sane one runs.
#[test]
fn a_thread_count_that_cannot_be_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().to_str().unwrap();
    for value in ["abc", "-1", "1000000"] {
        let out = runner(&["check", "experiments/diamond.toml"], &[("RAYON_NUM_THREADS", value)]);
        assert_eq!(out.code, 2, "RAYON_NUM_THREADS={value}: {}", out.stderr);
        let want = format!("error: RAYON_NUM_THREADS={value}: not a thread count (1 to 1024, or 0 for one per core)");
        assert_eq!(out.stderr.trim_end(), want);
    }
    let args = ["run", "experiments/xor.toml", "--quiet", "--results", results, "--set", "train.iterations=5"];
    let out = runner(&args, &[("RAYON_NUM_THREADS", "3")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}
