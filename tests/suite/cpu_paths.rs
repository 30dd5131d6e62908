//! Whole runs on every CPU path this machine has (RUNNER_CPU=avx2, avx512) against the
//! same runs on the portable path, and RUNNER_CPU values that cannot be honoured. A
//! path this CPU lacks is an ignored test named after it (build.rs sets the cfg), so
//! `cargo test` lists it as skipped.
//!
//! The tolerance, from the arithmetic: each training step's sums (at most n terms) are
//! within 2γₙ·Σ|terms| of each other on two paths, γₙ = n·u/(1 − n·u), u = 2⁻²⁴. To
//! first order these per-step differences add up over the steps, so after s steps a
//! loss may differ, relative to itself, by s·2γₙ. That bound is loose (the runs measure
//! 1e-8 here, not 1e-3), but a wrong kernel misses it by orders of magnitude.

use crate::common::*;
use runner::backend::cpu::path::CpuPath;
use std::path::Path;

/// s·2γₙ (see the module notes).
fn drift_bound(steps: usize, terms: usize) -> f64 {
    let nu = terms as f64 * f64::from(f32::EPSILON) / 2.0;
    steps as f64 * 2.0 * nu / (1.0 - nu)
}

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

/// Every loss-like metric (`loss`, `log_sse`) of `dir` within `relative` of `reference`'s,
/// row by row; returns the worst relative difference.
fn losses_agree(dir: &Path, reference: &Path, relative: f64) -> f64 {
    let (header, rows) = read_csv(&dir.join("metrics.csv"));
    let (ref_header, ref_rows) = read_csv(&reference.join("metrics.csv"));
    assert_eq!(header, ref_header);
    assert_eq!(rows.len(), ref_rows.len(), "the same records");
    let mut worst = 0.0f64;
    for (row, ref_row) in rows.iter().zip(&ref_rows) {
        assert_eq!(row[..3], ref_row[..3], "step, epoch, split");
        for (i, name) in header.iter().enumerate().filter(|(_, h)| *h == "loss" || *h == "log_sse") {
            let (got, want): (f64, f64) = (row[i].parse().unwrap(), ref_row[i].parse().unwrap());
            let diff = (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
            assert!(diff <= relative, "{name} at step {}: {got} vs portable {want} ({diff:e} > {relative:e})", row[0]);
            worst = worst.max(diff);
        }
    }
    worst
}

/// The diamond (dense layers of width 4 and 1 on 500 points: the packed small GEMMs on
/// avx512) and a short MNIST CNN (the direct convolutions, the channel-lane weight
/// gradient, the 2×2 pool), on `path` and on the portable path.
fn whole_runs_agree_with_portable(path: CpuPath) {
    let tmp = tempfile::tempdir().unwrap();
    let diamond = ["train.iterations=300", "metrics.every=50"];
    // Four Adam steps of 64 digits.
    let mnist = ["data.n=256", "data.test_n=100", "train.epochs=1", "metrics.batch_every=1"];
    let cases: [(&str, &[&str], f64); 2] = [
        // 300 steps; each gradient sums over the 500 points.
        ("experiments/diamond.toml", &diamond, drift_bound(300, 500)),
        // 4 steps; the largest sum is conv2's weight gradient, 64 images × 14·14 pixels.
        ("experiments/mnist_cnn.toml", &mnist, drift_bound(4, 64 * 14 * 14)),
    ];
    for (spec, sets, bound) in cases {
        let portable = run_on("portable", spec, &tmp.path().join("portable"), sets);
        let other = run_on(path.name(), spec, &tmp.path().join(path.name()), sets);
        if path == CpuPath::Avx2 {
            // avx2 differs from portable only in the element-wise loops' vector width,
            // which gives the same bits (backend::cpu::parity::exp_ln_sigmoid): the
            // same run, byte for byte.
            let read = |d: &Path| std::fs::read(d.join("metrics.csv")).unwrap();
            assert_eq!(read(&other), read(&portable), "{spec}: avx2 and portable metrics.csv differ");
        }
        let worst = losses_agree(&other, &portable, bound);
        eprintln!("{spec} on {path}: worst relative loss difference {worst:.2e} (bound {bound:.2e})");
    }
}

#[test]
#[cfg_attr(not(runner_avx2), ignore = "this CPU lacks AVX2+FMA: the avx2 path is skipped")]
fn whole_runs_on_avx2_agree_with_portable() {
    assert!(CpuPath::Avx2.available(), "built on a CPU with AVX2+FMA, running on one without: rebuild");
    whole_runs_agree_with_portable(CpuPath::Avx2);
}

#[test]
#[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
fn whole_runs_on_avx512_agree_with_portable() {
    assert!(CpuPath::Avx512.available(), "built on a CPU with AVX-512F, running on one without: rebuild");
    whole_runs_agree_with_portable(CpuPath::Avx512);
}

/// A short MNIST CNN (convolutions, 2×2 max-pools, a dense layer through the GEMM) on
/// every path this CPU has: the same metrics.csv and model.safetensors, byte for byte,
/// as the portable path's. Convolutions and pooling are defined once (backend/cpu/conv.rs)
/// and every kernel computes that definition; the dense layer's GEMM has one summation
/// order (backend/cpu/gemm.rs). Paths this CPU lacks are not run (the two tests above
/// name them as skipped).
#[test]
fn a_short_mnist_cnn_is_the_same_bytes_on_every_path() {
    let tmp = tempfile::tempdir().unwrap();
    let sets = ["data.n=256", "data.test_n=128", "train.epochs=1", "metrics.batch_every=1"];
    let spec = "experiments/mnist_cnn.toml";
    let portable = run_on("portable", spec, &tmp.path().join("portable"), &sets);
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    let mut compared = 0;
    for path in [CpuPath::Avx2, CpuPath::Avx512].into_iter().filter(|p| p.available()) {
        let other = run_on(path.name(), spec, &tmp.path().join(path.name()), &sets);
        for file in ["metrics.csv", "model.safetensors"] {
            assert!(read(&other, file) == read(&portable, file), "{file}: {path} and portable differ");
        }
        compared += 1;
    }
    eprintln!("mnist_cnn: {compared} path(s) the same bytes as portable");
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
