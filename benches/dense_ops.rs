//! `cargo bench --bench dense_ops`: time of each op of one diamond training step (500
//! rows, 3 → 4 sigmoid → 1 sigmoid, summed BCE), to see where an iteration goes
//! (medians of 21 batches of 2,000 calls); then GFLOP/s of the f32 matrix products of
//! larger shapes: square ones and the CNN's (conv2 as an im2col GEMM per image, the
//! dense layer 3136 → 128 on a batch of 64 and its two gradients). Thread count:
//! `RAYON_NUM_THREADS`; CPU path: `RUNNER_CPU`. `cargo bench --bench dense_ops -- gemm`
//! runs the GEMM part alone.

// The allocator the runner binary uses, so timings match what a run sees.
#[global_allocator]
static ALLOC: runner::alloc::Allocator = runner::alloc::Allocator;

use runner::backend::{Backend, CpuBackend, LossKernel, Map, MatMul};
use std::hint::black_box;
use std::time::Instant;

fn time(name: &str, mut f: impl FnMut()) {
    const CALLS: usize = 2000;
    for _ in 0..CALLS {
        f();
    }
    let mut t: Vec<f64> = (0..21)
        .map(|_| {
            let s = Instant::now();
            for _ in 0..CALLS {
                f();
            }
            s.elapsed().as_secs_f64() * 1e9 / CALLS as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    println!("{name:>34}: {:7.1} ns", t[10]);
}

/// CPU time of the whole process, all threads, in seconds.
fn cpu_seconds() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// GFLOP/s of C = op(A)·op(B): the best of 11 timed batches of ~0.2 GFLOP by the wall
/// clock, and the median per CPU-second of the process (on a shared machine the
/// latter is the steadier figure; on one thread it is the single-core speed).
fn gflops(name: &str, be: &CpuBackend, d: MatMul) {
    let a: Vec<f32> = (0..d.m * d.k).map(|i| (i % 17) as f32 * 0.01 - 0.08).collect();
    let b: Vec<f32> = (0..d.k * d.n).map(|i| (i % 13) as f32 * 0.01 - 0.06).collect();
    let flop = 2.0 * (d.m * d.k * d.n) as f64;
    let calls = ((2e8 / flop) as usize).max(1);
    let batch = || {
        let (s, cpu) = (Instant::now(), cpu_seconds());
        for _ in 0..calls {
            drop(black_box(be.matmul(black_box(&a), black_box(&b), d)));
        }
        let work = flop * calls as f64 / 1e9;
        (work / s.elapsed().as_secs_f64(), work / (cpu_seconds() - cpu))
    };
    batch();
    let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (0..11).map(|_| batch()).unzip();
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!("{name:>34}: {:7.1} GFLOP/s wall (best), {:7.1} per CPU-second", wall[10], cpu[5]);
}

fn main() {
    runner::alloc::configure();
    let be = CpuBackend::new();
    println!("path {}, {} threads", be.path(), rayon::current_num_threads());
    let mm = |m, k, n, trans_a, trans_b| MatMul { m, k, n, trans_a, trans_b };
    gflops("512² · 512²", &be, mm(512, 512, 512, false, false));
    gflops("1024² · 1024²", &be, mm(1024, 1024, 1024, false, false));
    gflops("conv2 W·cols (64×288, 288×196)", &be, mm(64, 288, 196, false, false));
    gflops("fc x·Wᵀ (64×3136, 3136×128)", &be, mm(64, 3136, 128, false, true));
    gflops("fc dy·W (64×128, 128×3136)", &be, mm(64, 128, 3136, false, false));
    gflops("fc dyᵀ·x (128×64, 64×3136)", &be, mm(128, 64, 3136, true, false));
    // mnist_cnn's output layer, 1568 → 10 on a batch of 64, and its two gradients.
    gflops("out x·Wᵀ (64×1568, 1568×10)", &be, mm(64, 1568, 10, false, true));
    gflops("out dy·W (64×10, 10×1568)", &be, mm(64, 10, 1568, false, false));
    gflops("out dyᵀ·x (10×64, 64×1568)", &be, mm(10, 64, 1568, true, false));
    if std::env::args().any(|a| a == "gemm") {
        return;
    }
    let values = |n: usize, k: usize| -> Vec<f32> { (0..n).map(|i| (i % k) as f32 * 0.1 - 0.3).collect() };
    let (x, w1, a, w2) = (values(1500, 7), values(12, 12), values(2000, 5), values(4, 4));
    let (g, t) = (values(500, 3), (0..500).map(|i| (i % 2) as f32).collect::<Vec<f32>>());
    time("hidden = x·W1ᵀ (500×3, 3×4)", || drop(black_box(be.matmul(&x, &w1, mm(500, 3, 4, false, true)))));
    time("sigmoid (2,000)", || drop(black_box(be.map(Map::Sigmoid, &a))));
    time("logit = a·W2ᵀ (500×4, 4×1)", || drop(black_box(be.matmul(&a, &w2, mm(500, 4, 1, false, true)))));
    time("sigmoid (500)", || drop(black_box(be.map(Map::Sigmoid, &g))));
    time("sigmoid + BCE, fused (500)", || drop(black_box(be.loss(LossKernel::SigmoidBce, &g, &t, 1))));
    time("dW2 = gᵀ·a (1×500, 500×4)", || drop(black_box(be.matmul(&g, &a, mm(1, 500, 4, true, false)))));
    time("da = g·W2 (500×1, 1×4)", || drop(black_box(be.matmul(&g, &w2, mm(500, 1, 4, false, false)))));
    time("sigmoid gradient (2,000)", || drop(black_box(be.map_grad(Map::Sigmoid, &a, &a, &a))));
    time("dW1 = dzᵀ·x (4×500, 500×3)", || drop(black_box(be.matmul(&a, &x, mm(4, 500, 3, true, false)))));
}
