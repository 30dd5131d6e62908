//! Resume: runs stopped (SIGINT, SIGTERM) or killed (SIGKILL) at seeded random steps,
//! resumed (sometimes stopped again and resumed twice), end with files byte-identical
//! to an uninterrupted run's; and `runner resume` refuses what it cannot continue.
//! The signals are real: `RUNNER_TEST_SIGNAL_AT=<step>:<signal>` makes the run raise
//! one on itself right before that step, which timing alone cannot aim at 2.5 µs steps.

use crate::common::*;
use std::path::{Path, PathBuf};

const SIGINT: i32 = 2;
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

/// The manifest fields that differ between a resumed and an uninterrupted run (as they
/// would between any two runs, plus the record of the resumes).
const TIMING_FIELDS: [&str; 6] =
    ["started", "finished", "wall_seconds", "train_samples_per_second", "inference_samples_per_second", "resumed"];

/// The diamond, 300 full-batch steps, a checkpoint every 40, every file it can write.
const DIAMOND: [&str; 10] = [
    "--set",
    "train.iterations=300",
    "--set",
    "train.checkpoint_every=40",
    "--set",
    "output.params=true",
    "--set",
    "output.predictions=true",
    "--set",
    "metrics.batch_every=7",
];

/// A small CNN with everything that carries state between steps: batch-norm running
/// statistics, dropout and augmentation streams, Adam's moments, the shuffled order
/// of an epoch, a step schedule and warm-up.
pub(crate) fn mnist_spec(dir: &Path) -> PathBuf {
    let data = root().join("data/mnist-10k");
    let text = format!(
        r#"name = "resume_cnn"
seed = 11
[data]
kind = "mnist"
path = "{}"
n = 256
test_n = 64
normalize = {{ mean = 0.1307, std = 0.3081 }}
augment = {{ shift = 2.0, rotate = 10.0 }}
[[model.layers]]
name = "conv1"
op = "conv2d"
channels = 4
kernel = 3
padding = 1
[[model.layers]]
name = "bn1"
op = "batchnorm"
[[model.layers]]
name = "relu1"
op = "relu"
[[model.layers]]
name = "pool1"
op = "maxpool2d"
kernel = 2
[[model.layers]]
name = "flat"
op = "flatten"
[[model.layers]]
name = "drop"
op = "dropout"
rate = 0.3
[[model.layers]]
name = "fc"
op = "dense"
units = 10
[train]
loss = "cross_entropy"
optimizer = "adam"
lr = 2e-3
warmup = 3
schedule = {{ kind = "step", every = 10, gamma = 0.5 }}
batch_size = 48
epochs = 3
checkpoint_every = 4
[metrics]
record = ["loss", "accuracy"]
batch_every = 2
[output]
predictions = true
"#,
        data.display()
    );
    write_spec(dir, "resume_cnn.toml", &text)
}

/// splitmix64: the test's own seeded choices.
struct Choices(u64);

impl Choices {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % below
    }
}

fn with_signal(at: Option<(usize, i32)>) -> Vec<(&'static str, String)> {
    at.map(|(step, signal)| vec![("RUNNER_TEST_SIGNAL_AT", format!("{step}:{signal}"))]).unwrap_or_default()
}

fn runner_env(args: &[&str], env: &[(&'static str, String)]) -> Output {
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    runner(args, &envs)
}

/// The one folder (visible or hidden) under `results/<name>`.
fn only_folder(results: &Path, name: &str) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(results.join(name)).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

/// Checks how a stopped attempt ended, and returns the folder to resume.
fn stopped(out: &Output, results: &Path, name: &str, signal: i32) -> PathBuf {
    let folder = only_folder(results, name);
    let hidden = folder.file_name().unwrap().to_string_lossy().starts_with(".incomplete-");
    if signal == SIGKILL {
        assert_eq!(out.code, -1, "killed: {}", out.stderr);
        assert!(hidden, "a killed run leaves its hidden folder");
        // A kill can land in the middle of a write: a half row past the checkpoint is
        // cut off by the resume, with the rows the checkpoint did not see.
        let mut metrics = std::fs::OpenOptions::new().append(true).open(folder.join("metrics.csv")).unwrap();
        std::io::Write::write_all(&mut metrics, b"999999,0,tra").unwrap();
        // …or in the middle of writing a checkpoint, which leaves its temporary file.
        std::fs::write(folder.join(".resume.safetensors.tmp"), b"half a checkpoi").unwrap();
    } else {
        assert_eq!(out.code, 128 + signal, "{}", out.stderr);
        assert!(!hidden && out.dir() == folder, "a stopped run is finished as `interrupted`");
        let manifest = read_manifest(&folder);
        assert_eq!(manifest["status"], "interrupted");
        assert!(manifest["files"].as_array().unwrap().iter().any(|f| f == "resume.safetensors"));
    }
    assert!(folder.join("resume.safetensors").is_file(), "{}", folder.display());
    folder
}

/// Every file but the manifest (and the page showing it) byte for byte; the manifest
/// but its timing fields.
fn assert_same_run(expected: &Path, got: &Path, also_differs: &[&str]) {
    let names = |d: &Path| {
        let mut v: Vec<String> =
            std::fs::read_dir(d).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    assert_eq!(names(expected), names(got), "the same files");
    // index.html shows the manifest (times, resumes): it differs where the manifest does,
    // and is the page of the files it sits beside.
    let page = std::fs::read_to_string(got.join("index.html")).unwrap();
    assert_eq!(page, runner::report::run_page(got), "{}", got.display());
    for name in names(expected).iter().filter(|n| *n != "manifest.json" && *n != "index.html") {
        let (a, b) = (std::fs::read(expected.join(name)).unwrap(), std::fs::read(got.join(name)).unwrap());
        assert!(a == b, "{name} differs ({} vs {} bytes) in {}", a.len(), b.len(), got.display());
    }
    let (mut a, mut b) = (read_manifest(expected), read_manifest(got));
    for field in TIMING_FIELDS.iter().chain(also_differs) {
        a.as_object_mut().unwrap().remove(*field);
        b.as_object_mut().unwrap().remove(*field);
    }
    assert_eq!(a, b, "manifests differ beyond their timing fields");
}

/// Runs `spec` uninterrupted, then once per scenario stopped at its steps and resumed
/// after each stop; every resumed run must equal the uninterrupted one.
pub(crate) fn stop_and_resume(
    spec: &str,
    name: &str,
    sets: &[&str],
    scenarios: &[Vec<(usize, i32)>],
    every: usize,
    one_thread_resume: bool,
) {
    let tmp = tempfile::tempdir().unwrap();
    let full = run_ok(spec, &tmp.path().join("full"), sets);
    assert!(!full.join("resume.safetensors").exists(), "a finished run keeps no resume checkpoint");
    let total = read_manifest(&full)["steps"].as_u64().unwrap() as usize;
    for (k, stops) in scenarios.iter().enumerate() {
        let results = tmp.path().join(format!("cut{k}"));
        let mut args = vec!["run", spec, "--quiet", "--results", results.to_str().unwrap()];
        args.extend_from_slice(sets);
        let mut out = runner_env(&args, &with_signal(Some(stops[0])));
        for (i, &(step, signal)) in stops.iter().enumerate() {
            let folder = stopped(&out, &results, name, signal);
            let next = stops.get(i + 1).copied();
            let mut env = with_signal(next);
            if one_thread_resume {
                env.push(("RAYON_NUM_THREADS", "1".into()));
            }
            out = runner_env(&["resume", folder.to_str().unwrap(), "--quiet"], &env);
            if next.is_none() {
                assert_eq!(out.code, 0, "resume after {step}:{signal}: {}", out.stderr);
            }
        }
        let resumed = out.dir();
        // Threads are recorded, and change no result.
        assert_same_run(&full, &resumed, if one_thread_resume { &["threads"] } else { &[] });
        let manifest = read_manifest(&resumed);
        assert_eq!(manifest["status"], "complete");
        assert_eq!(manifest["steps"].as_u64(), Some(total as u64));
        let resumes = manifest["resumed"].as_array().unwrap();
        assert_eq!(resumes.len(), stops.len(), "{resumes:?}");
        for (r, &(step, signal)) in resumes.iter().zip(stops) {
            let from = r["from_step"].as_u64().unwrap() as usize;
            if signal == SIGKILL {
                // From the last checkpoint before the kill.
                assert!(from <= step && step - from <= every, "killed at {step}, resumed from {from}");
                assert_eq!(r["after"], "killed");
            } else {
                assert_eq!((from, r["after"].as_str()), (step, Some("interrupted")));
            }
        }
    }
}

/// Seeded stops in `min_step..total`: one or two per scenario, in increasing steps, a
/// kill only once a checkpoint exists before it.
pub(crate) fn scenarios(seed: u64, count: usize, total: u64, every: u64) -> Vec<Vec<(usize, i32)>> {
    let mut c = Choices(seed);
    let signals = [SIGINT, SIGTERM, SIGKILL];
    (0..count)
        .map(|k| {
            let first = every + c.next(total / 2 - every);
            let mut stops = vec![(first as usize, signals[k % 3])];
            if k % 2 == 1 {
                let second = first + 1 + c.next(total - first - 1);
                stops.push((second as usize, signals[(k + 1 + c.next(2) as usize) % 3]));
            }
            stops
        })
        .collect()
}

#[test]
fn a_diamond_run_stopped_or_killed_and_resumed_is_byte_identical() {
    let plan = scenarios(8, 6, 300, 40);
    assert!(plan.iter().flatten().any(|s| s.1 == SIGKILL) && plan.iter().any(|s| s.len() == 2));
    stop_and_resume("experiments/diamond.toml", "diamond", &DIAMOND, &plan, 40, false);
}

#[test]
fn a_cnn_with_batch_norm_dropout_and_augmentation_resumes_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = mnist_spec(tmp.path());
    // 256 digits in batches of 48 is 6 steps an epoch (the last one short): stops fall
    // inside epochs and on their edges.
    let plan = scenarios(3, 4, 18, 4);
    stop_and_resume(spec.to_str().unwrap(), "resume_cnn", &[], &plan, 4, true);
}

fn refused(folder: &Path, expect: &str) {
    let out = runner(&["resume", folder.to_str().unwrap(), "--quiet"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("cannot resume") && out.stderr.contains(expect), "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

/// A resume checkpoint's bytes with its recorded step and total steps changed (the
/// safetensors header's metadata, nothing else); `resealed` also drops the metadata's
/// own sha256, as a checkpoint of a runner before it has none, so the checks behind the
/// checksum are reached.
fn with_position(checkpoint: &[u8], step: u64, total: u64, resealed: bool) -> Vec<u8> {
    with_resume_meta(checkpoint, |meta| {
        meta["position"]["step"] = step.into();
        meta["position"]["total"] = total.into();
        if resealed {
            meta.as_object_mut().unwrap().remove("meta_sha256").expect("the checkpoint records its metadata's sha256");
        }
    })
}

#[test]
fn resume_refuses_what_it_cannot_continue() {
    let tmp = tempfile::tempdir().unwrap();
    let results = |k: &str| tmp.path().join(k);
    let run = |k: &str, sets: &[&str], at: Option<(usize, i32)>| {
        let r = results(k);
        let mut args = vec!["run", "experiments/diamond.toml", "--quiet", "--results", r.to_str().unwrap()];
        args.extend_from_slice(sets);
        args.extend(["--set", "train.iterations=200"]);
        runner_env(&args, &with_signal(at))
    };

    // Finished.
    let done = run("done", &["--set", "train.checkpoint_every=50"], None).dir();
    refused(&done, "status `complete`");
    refused(&done.join("nowhere"), "no such run folder");

    // Killed before its first checkpoint: nothing to continue from.
    run("early", &["--set", "train.checkpoint_every=50"], Some((30, SIGKILL)));
    let early = only_folder(&results("early"), "diamond");
    refused(&early, "no resume checkpoint");

    // A killed run with a checkpoint survives a new run beside it; `runner clean` removes it.
    run("keep", &["--set", "train.checkpoint_every=50"], Some((120, SIGKILL)));
    let killed = only_folder(&results("keep"), "diamond");
    run_ok("experiments/diamond.toml", &results("keep"), &["--set", "train.iterations=3"]);
    assert!(killed.join("resume.safetensors").is_file(), "a resumable folder is not stale");

    // A damaged checkpoint: one flipped byte in a tensor, or a cut file.
    let out = run("damaged", &[], Some((77, SIGINT)));
    let folder = out.dir();
    let checkpoint = folder.join("resume.safetensors");
    let good = std::fs::read(&checkpoint).unwrap();
    let mut flipped = good.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x40;
    std::fs::write(&checkpoint, &flipped).unwrap();
    refused(&folder, "damaged");
    std::fs::write(&checkpoint, &good[..good.len() / 2]).unwrap();
    refused(&folder, "damaged");
    std::fs::write(&checkpoint, &good).unwrap();

    // A spec edited since the checkpoint.
    let spec_path = folder.join("spec.toml");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    assert!(spec.contains("lr = 0.001"), "{spec}");
    std::fs::write(&spec_path, spec.replace("lr = 0.001", "lr = 0.002")).unwrap();
    refused(&folder, "not the spec the checkpoint was written for");
    std::fs::write(&spec_path, &spec).unwrap();

    // A checkpoint whose position was edited past the run's end (its tensors, which the
    // checksum covers, untouched), or to another length of run.
    // Caught by the metadata's sha256 first, then, without one (an older runner's
    // checkpoint), by the checks of the position itself.
    let earlier = with_position(&good, 3, 200, false);
    assert_ne!(earlier, with_position(&good, 3, 200, true), "the checkpoint records its metadata's sha256");
    std::fs::write(&checkpoint, &earlier).unwrap();
    refused(&folder, "its metadata (the step and stream positions) does not match its recorded sha256");
    for (step, total, expect) in [(5000, 200, "at step 5000 of 200"), (100, 300, "the spec plans 200 steps")] {
        std::fs::write(&checkpoint, with_position(&good, step, total, true)).unwrap();
        refused(&folder, expect);
    }
    std::fs::write(&checkpoint, &good).unwrap();

    // metrics.csv cut shorter than the checkpoint saw.
    let metrics = std::fs::read(folder.join("metrics.csv")).unwrap();
    std::fs::write(folder.join("metrics.csv"), &metrics[..40]).unwrap();
    refused(&folder, "shorter than");
    std::fs::write(folder.join("metrics.csv"), &metrics).unwrap();

    // Each refusal left the folder as it was: it resumes now.
    let out = runner(&["resume", folder.to_str().unwrap(), "--quiet"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(read_manifest(&out.dir())["steps"], 200);

    let clean = runner(&["clean", "--results", results("keep").to_str().unwrap()], &[]);
    assert_eq!(clean.stdout.trim(), format!("removed {}", killed.display()));
}

#[test]
fn resume_refuses_a_run_whose_process_is_alive() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["run", "experiments/diamond.toml", "--quiet", "--results"])
        .arg(tmp.path())
        .args(["--set", "train.iterations=200000000", "--set", "train.checkpoint_every=1000"])
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let folder = loop {
        let found = std::fs::read_dir(tmp.path().join("diamond")).ok().and_then(|mut d| d.next()).and_then(|e| e.ok());
        if let Some(f) = found.map(|e| e.path()).filter(|p| p.join("resume.safetensors").is_file()) {
            break f;
        }
        assert!(std::time::Instant::now() < deadline, "no checkpoint appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    refused(&folder, "still going");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(folder.join("owner").is_file(), "the refusal took nothing over");
}

#[test]
fn checkpoint_every_must_be_at_least_one() {
    let out = runner(&["check", "experiments/diamond.toml", "--set", "train.checkpoint_every=0"], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`checkpoint_every` must be at least 1"), "{}", out.stderr);
}

/// Past 32,768 records a split's pictures draw a thinned sample; the resumed run
/// rebuilds that sample from metrics.csv and params.csv, so its curves and parameter
/// paths are the same pictures.
#[test]
fn a_run_long_enough_to_thin_its_pictures_resumes_byte_identical() {
    let sets = [
        "--set",
        "train.iterations=70000",
        "--set",
        "train.checkpoint_every=25000",
        "--set",
        "output.params=true",
        "--set",
        "data.n=50",
    ];
    let with_params_probe = [&sets[..], &["--set", "probes=[{kind=\"curves\"},{kind=\"params\"}]"]].concat();
    let plan = vec![vec![(60_001, SIGKILL)], vec![(41_234, SIGTERM), (66_000, SIGINT)]];
    stop_and_resume("experiments/diamond.toml", "diamond", &with_params_probe, &plan, 25_000, false);
}
