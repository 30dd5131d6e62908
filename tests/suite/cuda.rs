//! The CUDA backend against the CPU. Every `Backend` op and its backward on seeded
//! inputs at odd sizes (transposed and broadcast cases, f32 and f64), whole runs of
//! xor, diamond and mnist_cnn with `--backend cuda` against `--backend cpu`, and a rerun
//! giving the same bytes. The op list and the runs are exercised on the CPU here
//! always (so the harness itself is tested); the CUDA half prints `skipped: TEST: no
//! CUDA device (REASON)` without a device, and fails instead with RUNNER_REQUIRE_CUDA=1.
//!
//! Tolerances, |cuda − cpu| ≤ atol + rtol·|cpu|: f64 (1e-11, 1e-9) and f32 (1e-5, 2e-4).
//! Sums and products differ only in summation order (cuBLAS tiles the shared dimension,
//! the kernels reduce in blocks of 256): n·u·Σ|terms| with n ≤ 500 here, about 3e-5
//! relative in f32 and 1e-13 in f64; exp/log/tanh differ by a few ulp. Whole runs:
//! losses within 1e-3 relative after 10 steps in f32 (errors grow through training).

use crate::common::*;
use runner::backend::cuda::{device_or_skip, CudaBackend, CudaElement};
use runner::backend::parity::assert_close;
use runner::backend::{
    AdamStep, Backend, Channels, Conv2d, CpuBackend, CpuKernels, LossKernel, Map, MatMul, Pool2d, RmsPropStep, SgdStep,
    Zip,
};
use std::path::Path;

/// Values in (−1.5, 1.5) from a fixed integer sequence, none within 0.01 of 0 (ReLU's
/// kink) and no two equal in a small window (max-pool ties).
fn values(n: usize, salt: u64) -> Vec<f64> {
    (0..n as u64)
        .map(|i| {
            let x = (i.wrapping_mul(2654435761).wrapping_add(salt.wrapping_mul(40503)) % 100_003) as f64 / 100_003.0;
            let v = 3.0 * x - 1.5;
            if v.abs() < 0.01 {
                v + 0.02
            } else {
                v
            }
        })
        .collect()
}

fn elems<T: CpuKernels>(v: &[f64]) -> Vec<T> {
    v.iter().map(|x| T::from_f64(*x)).collect()
}

/// Every op (and backward) on one backend, each output downloaded as f64 with a name.
fn run_ops<T: CpuKernels, B: Backend<T>>(be: &B) -> Vec<(String, Vec<f64>)> {
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    let mut totals: Vec<(String, Vec<f64>)> = Vec::new();
    let up = |n: usize, salt: u64| be.upload(&elems::<T>(&values(n, salt)));
    let mut keep = |name: String, buf: &B::Buf| out.push((name, be.download(buf).iter().map(|v| v.as_f64()).collect()));

    // Products at odd sizes, every transpose.
    let (m, k, n) = (37, 45, 29);
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let (a, b) = (up(m * k, 1), up(k * n, 2));
        let c = be.matmul(&a, &b, MatMul { m, k, n, trans_a: ta, trans_b: tb });
        keep(format!("matmul ta={ta} tb={tb}"), &c);
    }
    // Element-wise maps and their gradients.
    let len = 1031;
    let (x, dy) = (up(len, 3), up(len, 4));
    let maps = [
        Map::Identity,
        Map::Sigmoid,
        Map::Tanh,
        Map::Relu,
        Map::LeakyRelu(0.1),
        Map::Exp,
        Map::Square,
        Map::AddScalar(0.7),
        Map::MulScalar(-2.5),
    ];
    for f in maps {
        let y = be.map(f, &x);
        keep(format!("map {f:?}"), &y);
        keep(format!("map_grad {f:?}"), &be.map_grad(f, &x, &y, &dy));
    }
    let pos = be.map(Map::Exp, &x);
    let log = be.map(Map::Log, &pos);
    keep("map Log".into(), &log);
    keep("map_grad Log".into(), &be.map_grad(Map::Log, &pos, &log, &dy));
    for f in [Zip::Add, Zip::Sub, Zip::Mul] {
        keep(format!("zip {f:?}"), &be.zip(f, &x, &dy));
    }
    let mut acc = be.copy(&x);
    be.add_assign(&mut acc, &dy);
    keep("add_assign".into(), &acc);
    keep("filled".into(), &be.filled(77, 0.25));
    // Rows: a row broadcast over 33 rows of 47, column sums, the whole sum.
    let (rows, cols) = (33, 47);
    let xr = up(rows * cols, 5);
    keep("add_row".into(), &be.add_row(&xr, &up(cols, 6), cols));
    keep("sum_rows".into(), &be.sum_rows(&xr, cols));
    keep("sum_all".into(), &be.sum_all(&up(5003, 7)));
    let sm = be.softmax_rows(&xr, cols);
    keep("softmax_rows".into(), &sm);
    keep("softmax_rows_grad".into(), &be.softmax_rows_grad(&sm, &up(rows * cols, 8), cols));
    let (a, b) = (up(rows * 5, 9), up(rows * 3, 10));
    let cat = be.concat_cols(&[(&a, 5), (&b, 3), (&a, 5)], rows);
    keep("concat_cols".into(), &cat);
    keep("slice_cols".into(), &be.slice_cols(&cat, 13, 4, 6));
    // Losses: 33 rows of 7; one-hot targets for softmax cross-entropy, 0/1 for BCE.
    let (lr, lc) = (33, 7);
    let pred = up(lr * lc, 11);
    let onehot: Vec<f64> = (0..lr * lc).map(|i| f64::from(i % lc == (i / lc) % lc)).collect();
    let bits: Vec<f64> = (0..lr * lc).map(|i| f64::from((i * 7 + 3) % 5 < 2)).collect();
    let probs = be.map(Map::Sigmoid, &pred);
    for (kind, p, t) in [
        (LossKernel::SquaredError, &pred, values(lr * lc, 12)),
        (LossKernel::Bce, &probs, bits.clone()),
        (LossKernel::SigmoidBce, &pred, bits),
        (LossKernel::SoftmaxCrossEntropy, &pred, onehot),
    ] {
        let (total, grad) = be.loss(kind, p, &be.upload(&elems::<T>(&t)), lc);
        totals.push((format!("loss {kind:?} total"), vec![total]));
        keep(format!("loss {kind:?} gradient"), &grad);
    }
    // Convolutions: odd images, two geometries, with and without bias.
    for g in [
        Conv2d { batch: 3, c_in: 5, h: 13, w: 11, c_out: 7, kh: 3, kw: 3, stride: 1, pad: 1 },
        Conv2d { batch: 2, c_in: 3, h: 15, w: 9, c_out: 5, kh: 5, kw: 3, stride: 2, pad: 0 },
    ] {
        let xs = up(g.batch * g.c_in * g.h * g.w, 13);
        let w = up(g.c_out * g.patch(), 14);
        let bias = up(g.c_out, 15);
        keep(format!("conv2d {g:?}"), &be.conv2d(&xs, &w, Some(&bias), g));
        keep(format!("conv2d no bias {g:?}"), &be.conv2d(&xs, &w, None, g));
        let dyc = up(g.batch * g.c_out * g.oh() * g.ow(), 16);
        keep(format!("conv2d_grad_input {g:?}"), &be.conv2d_grad_input(&dyc, &w, g));
        keep(format!("conv2d_grad_weight {g:?}"), &be.conv2d_grad_weight(&xs, &dyc, g));
    }
    // Pooling: 2×2 stride 2 and 3×3 stride 1 over 13×11 planes.
    for (k, stride) in [(2, 2), (3, 1)] {
        let g = Pool2d { batch: 3, c: 5, h: 13, w: 11, k, stride };
        let xs = up(g.batch * g.c * g.h * g.w, 17);
        let dyp = up(g.batch * g.c * g.oh() * g.ow(), 18);
        keep(format!("max_pool2d {g:?}"), &be.max_pool2d(&xs, g));
        keep(format!("max_pool2d_grad {g:?}"), &be.max_pool2d_grad(&xs, &dyp, g));
        keep(format!("avg_pool2d {g:?}"), &be.avg_pool2d(&xs, g));
        keep(format!("avg_pool2d_grad {g:?}"), &be.avg_pool2d_grad(&dyp, g));
    }
    // Per-channel ops and batch-norm: images (spatial 35) and flat features (spatial 1).
    for g in [Channels { batch: 9, c: 5, spatial: 35 }, Channels { batch: 37, c: 13, spatial: 1 }] {
        let n = g.batch * g.c * g.spatial;
        let (xs, v, dyb) = (up(n, 19), up(g.c, 20), up(n, 21));
        keep(format!("add_channels {g:?}"), &be.add_channels(&xs, &v, g));
        keep(format!("scale_channels {g:?}"), &be.scale_channels(&xs, &v, g));
        keep(format!("sum_channels {g:?}"), &be.sum_channels(&xs, g));
        let beta = up(g.c, 22);
        let (y, mean, inv, var) = be.batch_norm(&xs, &v, &beta, g, 1e-5);
        for (name, b) in [("y", &y), ("mean", &mean), ("1/σ", &inv), ("variance", &var)] {
            keep(format!("batch_norm {name} {g:?}"), b);
        }
        let (dx, dg, db) = be.batch_norm_grad(&xs, &mean, &inv, &v, &dyb, g);
        for (name, b) in [("dx", &dx), ("dγ", &dg), ("dβ", &db)] {
            keep(format!("batch_norm_grad {name} {g:?}"), b);
        }
    }
    // Optimizers: three steps each, so the state buffers matter.
    let n = 333;
    for decoupled in [false, true] {
        let (mut p, mut m1, mut v1) = (up(n, 23), be.filled(n, 0.0), be.filled(n, 0.0));
        for t in 1..=3 {
            let step = AdamStep { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, decoupled, t };
            be.adam_update(&mut p, &up(n, 24 + t), &mut m1, &mut v1, step);
        }
        keep(format!("adam_update decoupled={decoupled}"), &p);
        keep(format!("adam_update decoupled={decoupled} m"), &m1);
        keep(format!("adam_update decoupled={decoupled} v"), &v1);
    }
    for momentum in [0.0, 0.9] {
        let (mut p, mut sq, mut mom) = (up(n, 30), be.filled(n, 0.0), be.filled(n, 0.0));
        for t in 0..3 {
            let step = RmsPropStep { lr: 0.01, alpha: 0.99, eps: 1e-8, weight_decay: 0.001, momentum };
            let m = (momentum > 0.0).then_some(&mut mom);
            be.rmsprop_update(&mut p, &up(n, 31 + t), &mut sq, m, step);
        }
        keep(format!("rmsprop_update momentum={momentum}"), &p);
        keep(format!("rmsprop_update momentum={momentum} square"), &sq);
    }
    for (momentum, nesterov) in [(0.0, false), (0.9, false), (0.9, true)] {
        let (mut p, mut vel) = (up(n, 40), be.filled(n, 0.0));
        for t in 0..3 {
            let step = SgdStep { lr: 0.1, momentum, nesterov, weight_decay: 0.001 };
            let v = (momentum > 0.0).then_some(&mut vel);
            be.sgd_update(&mut p, &up(n, 41 + t), v, step);
        }
        keep(format!("sgd_update momentum={momentum} nesterov={nesterov}"), &p);
    }
    be.check().unwrap_or_else(|e| panic!("{}: {e}", be.name()));
    out.extend(totals);
    out
}

/// The op list runs on the CPU, in both dtypes, with finite values of the right sizes
/// (the harness the GPU half uses, checked everywhere).
#[test]
fn the_op_list_runs_on_the_cpu_with_finite_values() {
    for outputs in [run_ops::<f32, _>(&CpuBackend::new()), run_ops::<f64, _>(&CpuBackend::new())] {
        assert!(outputs.len() > 90, "{} outputs", outputs.len());
        for (name, v) in &outputs {
            assert!(!v.is_empty(), "{name} is empty");
            assert!(v.iter().all(|x| x.is_finite()), "{name} has a non-finite value");
        }
        let (_, matmul) = &outputs[0];
        assert_eq!(matmul.len(), 37 * 29);
    }
}

fn ops_match<T: CpuKernels + CudaElement>(gpu: &CudaBackend, atol: f64, rtol: f64)
where
    CudaBackend: Backend<T>,
{
    let want = run_ops::<T, _>(&CpuBackend::new());
    let got = run_ops::<T, _>(gpu);
    assert_eq!(got.len(), want.len());
    for ((name, g), (_, w)) in got.iter().zip(&want) {
        assert_close(&format!("{name} ({})", T::DTYPE.name()), g, w, atol, rtol);
    }
}

#[test]
fn every_op_and_backward_matches_the_cpu_in_f64() {
    let Some(gpu) = device_or_skip("cuda::every_op_and_backward_matches_the_cpu_in_f64") else { return };
    ops_match::<f64>(&gpu, 1e-11, 1e-9);
}

#[test]
fn every_op_and_backward_matches_the_cpu_in_f32() {
    let Some(gpu) = device_or_skip("cuda::every_op_and_backward_matches_the_cpu_in_f32") else { return };
    ops_match::<f32>(&gpu, 1e-5, 2e-4);
}

/// The same ops twice on the GPU: the same bits (no float atomics, cuBLAS in its
/// deterministic mode on one stream).
#[test]
fn every_op_gives_the_same_bits_twice() {
    let Some(gpu) = device_or_skip("cuda::every_op_gives_the_same_bits_twice") else { return };
    let (a, b) = (run_ops::<f32, _>(&gpu), run_ops::<f32, _>(&gpu));
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        let same = x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(same, "{name} differs between two runs on the GPU");
    }
}

/// Short runs of shipped experiments: 10 steps, a metrics row every step.
const RUNS: [(&str, &[&str]); 3] = [
    ("experiments/xor.toml", &["--set", "train.iterations=10", "--set", "metrics.every=1"]),
    ("experiments/diamond.toml", &["--set", "train.iterations=10", "--set", "metrics.every=1"]),
    (
        "experiments/mnist_cnn.toml",
        &["--unset", "train.epochs", "--set", "train.iterations=10", "--set", "metrics.every=1", "--unset", "probes"],
    ),
];

fn run_on(spec: &str, extra: &[&str], backend: &str, results: &Path) -> std::path::PathBuf {
    let mut args = extra.to_vec();
    args.extend(["--backend", backend]);
    run_ok(spec, results, &args)
}

/// Every loss-like column of metrics.csv (loss, log_sse), by (step, split).
fn losses(dir: &Path) -> Vec<(String, f64)> {
    let (header, rows) = read_csv(&dir.join("metrics.csv"));
    let mut out = Vec::new();
    for r in &rows {
        for (i, h) in header.iter().enumerate().filter(|(_, h)| h.contains("loss") || h.contains("sse")) {
            if let Ok(v) = r[i].parse::<f64>() {
                out.push((format!("step {} {} {h}", r[0], r[2]), v));
            }
        }
    }
    out
}

/// The short runs on the CPU write ten steps of finite losses (the specs and edits the
/// GPU half uses are valid everywhere).
#[test]
fn the_short_runs_are_valid_on_the_cpu() {
    let tmp = tempfile::tempdir().unwrap();
    for (spec, extra) in RUNS {
        let dir = run_on(spec, extra, "cpu", tmp.path());
        let l = losses(&dir);
        assert!(l.len() >= 10, "{spec}: {l:?}");
        assert!(l.iter().all(|(_, v)| v.is_finite()), "{spec}: {l:?}");
    }
}

#[test]
fn short_runs_on_cuda_match_the_cpu_and_repeat_byte_for_byte() {
    let Some(gpu) = device_or_skip("cuda::short_runs_on_cuda_match_the_cpu_and_repeat_byte_for_byte") else {
        return;
    };
    drop(gpu);
    let tmp = tempfile::tempdir().unwrap();
    for (spec, extra) in RUNS {
        let cpu = run_on(spec, extra, "cpu", &tmp.path().join("cpu"));
        let cuda = run_on(spec, extra, "cuda", &tmp.path().join("cuda"));
        let again = run_on(spec, extra, "cuda", &tmp.path().join("again"));
        let (want, got) = (losses(&cpu), losses(&cuda));
        assert_eq!(got.len(), want.len(), "{spec}");
        for ((name, g), (_, w)) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-6 + 1e-3 * w.abs(), "{spec}: {name}: cuda {g} vs cpu {w}");
        }
        eprintln!("{spec}: {} loss values within 1e-6 + 1e-3·|cpu|", got.len());
        for file in ["metrics.csv", "model.safetensors"] {
            let (a, b) = (std::fs::read(cuda.join(file)), std::fs::read(again.join(file)));
            if let (Ok(a), Ok(b)) = (a, b) {
                assert!(a == b, "{spec}: {file} differs between two CUDA runs");
            }
        }
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(cuda.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(m["backend"], "cuda", "{m}");
    }
}

/// `runner probe --backend cuda` without a GPU: one line, exit 2, nothing added; with
/// `--backend cpu` the probe runs.
#[test]
fn probe_takes_a_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/xor.toml", tmp.path(), &["--set", "train.iterations=20", "--backend", "cpu"]);
    let folder = dir.to_str().unwrap();
    let out = runner(&["probe", folder, "--probe", "decision_boundary", "--backend", "cpu"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("decision_boundary"), "{}", out.stdout);
    if let Some(why) = runner::backend::cuda::unavailable() {
        let out = runner(&["probe", folder, "--probe", "decision_boundary", "--backend", "cuda"], &[]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert_eq!(out.stderr, format!("error: --backend cuda: {why}\n"));
    }
}

/// `runner sweep --backend cpu` passes the backend on to every run (its resolved spec
/// and manifest say so); `--backend cuda` without a GPU fails each run, not the sweep's
/// planning.
#[test]
fn sweep_passes_the_backend_on_to_every_run() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(root().join("experiments/xor.toml")).unwrap();
    let spec =
        spec.replace("iterations = 2000", "iterations = 20") + "\n[sweep]\ngrid = { \"train.lr\" = [0.1, 0.5] }\n";
    let path = write_spec(tmp.path(), "sweep.toml", &spec);
    let results = tmp.path().join("results");
    let args = ["sweep", path.to_str().unwrap(), "--results", results.to_str().unwrap(), "--backend", "cpu"];
    let out = runner(&args, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut manifests = 0;
    for entry in walk(&results) {
        if entry.file_name().is_some_and(|n| n == "manifest.json") {
            let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&entry).unwrap()).unwrap();
            if m.get("backend_choice").is_some() {
                let why = m["backend_choice"].as_str().unwrap_or_default();
                assert!(why.starts_with("cpu: asked for (") && why.ends_with("backend = \"cpu\")"), "{m}");
                manifests += 1;
            }
        }
    }
    assert_eq!(manifests, 2, "one manifest per run");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
