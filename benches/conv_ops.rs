//! `cargo bench --bench conv_ops`: time of each CNN kernel at the mnist_cnn shapes
//! (batch 64), to see where a training step goes. Medians of 21 runs, and the fastest
//! (on a shared machine, the least disturbed). `RUNNER_CPU` picks the CPU path; the
//! kernels that ran are printed at the end.

// The allocator the runner binary uses, so timings match what a run sees.
#[global_allocator]
static ALLOC: runner::alloc::Allocator = runner::alloc::Allocator;

use runner::backend::{Backend, Channels, Conv2d, CpuBackend, Map, Pool2d};
use std::time::Instant;

fn time(name: &str, mut f: impl FnMut()) {
    f();
    let mut t: Vec<f64> = (0..21)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    println!("{name:>24}: {:8.1} µs (fastest {:8.1})", t[10], t[0]);
}

fn main() {
    runner::alloc::configure();
    let be = CpuBackend::new();
    for (name, g) in [
        ("conv1", Conv2d { batch: 64, c_in: 1, h: 28, w: 28, c_out: 16, kh: 5, kw: 5, stride: 1, pad: 2 }),
        ("conv2", Conv2d { batch: 64, c_in: 16, h: 14, w: 14, c_out: 32, kh: 5, kw: 5, stride: 1, pad: 2 }),
    ] {
        let x: Vec<f32> = (0..g.batch * g.c_in * g.h * g.w).map(|i| (i % 7) as f32 * 0.1).collect();
        let w: Vec<f32> = (0..g.c_out * g.patch()).map(|i| (i % 5) as f32 * 0.01).collect();
        let b: Vec<f32> = vec![0.1; g.c_out];
        let y = be.conv2d(&x, &w, Some(&b), g);
        time(&format!("{name} forward"), || drop(be.conv2d(&x, &w, Some(&b), g)));
        time(&format!("{name} grad input"), || drop(be.conv2d_grad_input(&y, &w, g)));
        time(&format!("{name} grad weight"), || drop(be.conv2d_grad_weight(&x, &y, g)));
        // The bias's gradient as its own pass over dy, and summed within the weight's.
        let ch = Channels { batch: g.batch, c: g.c_out, spatial: g.oh() * g.ow() };
        time(&format!("{name} grad weight, bias"), || {
            drop(be.conv2d_grad_weight(&x, &y, g));
            drop(be.sum_channels(&y, ch));
        });
        time(&format!("{name} grad weight + bias"), || drop(be.conv2d_grad_weight_and_bias(&x, &y, g)));
        time(&format!("{name} relu + grad"), || {
            let r = be.map(Map::Relu, &y);
            drop(be.map_grad(Map::Relu, &y, &r, &y));
        });
        let p = Pool2d { batch: g.batch, c: g.c_out, h: g.oh(), w: g.ow(), k: 2, stride: 2 };
        let py = be.max_pool2d(&y, p);
        time(&format!("{name} maxpool + grad"), || {
            drop(be.max_pool2d(&y, p));
            drop(be.max_pool2d_grad(&y, &py, p));
        });
    }
    let report = runner::backend::cpu::path::report();
    println!("path {} (detected {})", report.path, report.detected);
    for (family, kernels) in report.ops.iter().filter(|(_, k)| !k.is_empty()) {
        println!("{family:>24}: {}", kernels.join(", "));
    }
}
