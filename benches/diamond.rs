//! `just bench`: the diamond experiment's training loop (forward, backward, update,
//! and log SSE + accuracy recorded every iteration, as the notes do) against the
//! notes' numpy loop at the same sizes, run side by side; prints both and the ratio,
//! with the CPU model, the CPU path (RUNNER_CPU) and the kernels that ran. With
//! BENCH_OUT set, also writes `diamond.json` there for bench/summary.py.

// The allocator the runner binary uses, so timings match what a run sees.
#[global_allocator]
static ALLOC: runner::alloc::Allocator = runner::alloc::Allocator;

use runner::backend::{CpuBackend, DType};
use runner::experiment::prepare;
use runner::layers::Model;
use runner::results::MetricsStream;
use runner::train::{train, Observer, Plan, Record, Recording};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Streams every record to a metrics.csv, as a run does, so its cost is in the timing.
struct Streamed(MetricsStream);

impl Observer for Streamed {
    fn record(&mut self, record: &Record) {
        self.0.push(record);
    }
}

fn main() {
    runner::alloc::configure();
    let iterations: usize = std::env::var("BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(20000);
    let repeats = 5;
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/diamond.toml");
    let sets = [format!("train.iterations={iterations}")];
    let p = prepare(&spec_path, &sets, None).expect("the diamond spec loads");
    let spec = &p.loaded.spec;
    let t = spec.train.as_ref().expect("diamond trains").get_ref();
    let be = CpuBackend::new();
    let splits = [runner::spec::Split::Train];
    // The loop as the notes' numpy loop does it (records kept, nothing written), then as
    // a run does it (every record also formatted into metrics.csv while training).
    let mut ours_us = f64::NAN;
    let mut streamed_us = f64::NAN;
    // bench/cpu.sh's description when run by `just bench`; the bare model name otherwise.
    let cpu_model = std::env::var("BENCH_CPU").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| {
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into())
    });
    println!("CPU: {cpu_model}; RUNNER_CPU={}", std::env::var("RUNNER_CPU").unwrap_or_else(|_| "auto".into()));
    for streamed in [false, true] {
        let mut times = Vec::new();
        let mut accuracy = 0.0;
        for _ in 0..repeats {
            let mut model = Model::<f32, CpuBackend>::new(p.dag.clone(), &be, spec.seed, None);
            let recording = Recording {
                metrics: &spec.metrics.record,
                splits: &splits,
                every: Some(1),
                per_epoch: false,
                batch_every: None,
                params: false,
            };
            let plan = Plan { train: t, recording, seed: spec.seed, augment: None, hooks: vec![] };
            let folder = tempfile::tempdir().expect("a temporary folder");
            let start = Instant::now();
            let h = if streamed {
                let stream =
                    MetricsStream::create(&folder.path().join("metrics.csv"), &spec.metrics.record, DType::F32)
                        .expect("metrics.csv can be created");
                let mut observer = Streamed(stream);
                let h = train(&be, &mut model, &p.data, &plan, &mut observer);
                observer.0.finish().expect("metrics.csv is written");
                h
            } else {
                train(&be, &mut model, &p.data, &plan, &mut ())
            };
            times.push(start.elapsed().as_secs_f64());
            accuracy = h.last.last().map(|r| r.values[0]).unwrap_or(0.0);
        }
        times.sort_by(f64::total_cmp);
        let median = times[repeats / 2];
        let us = 1e6 * median / iterations as f64;
        let what = if streamed { ", metrics.csv streamed" } else { "" };
        println!(
            "runner (cpu, f32, {} threads{what}): {median:.3} s median of {repeats} for {iterations} iterations = {us:.2} µs/iteration, final accuracy {accuracy:.3}",
            rayon::current_num_threads()
        );
        if streamed {
            streamed_us = us;
        } else {
            ours_us = us;
        }
    }
    let report = runner::backend::cpu::path::report();
    let kernels: Vec<String> =
        report.ops.iter().filter(|(_, k)| !k.is_empty()).map(|(f, k)| format!("{f}: {}", k.join(","))).collect();
    println!("  cpu path {} (detected {}); kernels that ran: {}", report.path, report.detected, kernels.join("; "));
    let mut numpy_us = f64::NAN;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/diamond_numpy.py");
    // PYTHON names the interpreter with numpy (as for `just bench`), python3 by default.
    let python = std::env::var("PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into());
    let out = Command::new(&python).arg(&script).arg(iterations.to_string()).arg("3").output();
    match out {
        Ok(o) if o.status.success() => {
            let line = String::from_utf8_lossy(&o.stdout);
            let v: serde_json::Value = serde_json::from_str(line.trim()).expect("the numpy script prints JSON");
            let theirs_us = v["us_per_iteration"].as_f64().unwrap_or(f64::NAN);
            println!(
                "{}: {:.3} s median of 3 = {theirs_us:.2} µs/iteration, final accuracy {:.3}",
                v["reference"].as_str().unwrap_or("numpy"),
                v["median_seconds"].as_f64().unwrap_or(f64::NAN),
                v["final_accuracy"].as_f64().unwrap_or(f64::NAN)
            );
            println!("speed-up per iteration: {:.1}× (goal ≥ 10×)", theirs_us / ours_us);
            numpy_us = theirs_us;
        }
        Ok(o) => println!(
            "numpy reference skipped: {}",
            String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("failed")
        ),
        Err(e) => println!("numpy reference skipped: {python} not runnable ({e})"),
    }
    if let Ok(dir) = std::env::var("BENCH_OUT") {
        let json = serde_json::json!({
            "us_per_iteration": ours_us, "streamed_us_per_iteration": streamed_us, "numpy_us_per_iteration": numpy_us,
            "path": report.path, "cpu_model": cpu_model, "ops": report.ops,
        });
        std::fs::write(Path::new(&dir).join("diamond.json"), json.to_string()).expect("BENCH_OUT is writable");
    }
}
