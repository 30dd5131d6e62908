//! `runner probe` on run folders whose files were broken after the run: each is refused
//! at once (exit 2, one `error: ` line naming the file) without blocking on a FIFO or
//! reading gigabytes, and the folder is left as it was.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEC: &str = r#"name = "inputs"
seed = 3
[data]
kind = "xor"
n = 40
test_fraction = 0.25
[[model.layers]]
name = "hidden"
op = "dense"
units = 4
[[model.layers]]
name = "act"
op = "tanh"
[[model.layers]]
name = "logit"
op = "dense"
units = 1
[[model.layers]]
name = "out"
op = "sigmoid"
[train]
loss = "bce"
lr = 0.5
iterations = 20
[[probes]]
kind = "saliency"
"#;

/// `runner probe FOLDER`, killed (and the test failed) if it takes over 30 s.
fn probe_within(folder: &Path, extra: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg("probe")
        .arg(folder)
        .args(extra)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runner starts");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("runner probe {} hung", folder.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Names, sizes and (for small regular files) bytes: what must not change.
fn snapshot(dir: &Path) -> Vec<(String, u64, Vec<u8>)> {
    let mut out: Vec<(String, u64, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let small = meta.is_file() && meta.len() < 1 << 20;
            let bytes = if small { std::fs::read(e.path()).unwrap() } else { vec![] };
            (e.file_name().to_string_lossy().into_owned(), meta.len(), bytes)
        })
        .collect();
    out.sort();
    out
}

/// A copy of the finished run `from`, broken by `damage`, is refused with `expect`.
fn refused_after(from: &Path, name: &str, damage: impl Fn(&Path), expect: &str) {
    let dir = from.parent().unwrap().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(from).unwrap().map(|e| e.unwrap()) {
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    damage(&dir);
    let before = snapshot(&dir);
    let out = probe_within(&dir, &[]);
    assert_eq!(out.code, 2, "{name}: {}", out.stderr);
    assert!(out.stderr.starts_with("error: ") && out.stderr.lines().count() == 1, "{name}: {}", out.stderr);
    assert!(out.stderr.contains(expect), "{name}: want `{expect}` in: {}", out.stderr);
    assert_eq!(snapshot(&dir), before, "{name}: the folder changed");
}

fn replace_with_fifo(path: &Path) {
    std::fs::remove_file(path).unwrap();
    let made = Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(made.success());
}

/// A sparse file of 20 GiB: no disk used, but read whole it would take 20 GiB of memory.
fn replace_with_sparse(path: &Path) {
    std::fs::File::create(path).unwrap().set_len(20 << 30).unwrap();
}

#[test]
fn broken_run_files_are_refused_at_once_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "inputs.toml", SPEC);
    let run = run_ok(spec.to_str().unwrap(), &tmp.path().join("results"), &[]);
    let m = |dir: &Path| -> PathBuf { dir.join("manifest.json") };
    let model = |dir: &Path| -> PathBuf { dir.join("model.safetensors") };

    refused_after(&run, "fifo manifest", |d| replace_with_fifo(&m(d)), "not a run folder");
    refused_after(&run, "huge manifest", |d| replace_with_sparse(&m(d)), "not a run folder");
    refused_after(&run, "garbage manifest", |d| std::fs::write(m(d), "{garbage").unwrap(), "not a run folder");
    refused_after(&run, "fifo model", |d| replace_with_fifo(&model(d)), "model.safetensors: is not a regular file");
    refused_after(
        &run,
        "huge model",
        |d| replace_with_sparse(&model(d)),
        "more than a checkpoint of this model's 17 parameters can take",
    );
    let cut = |d: &Path| {
        let bytes = std::fs::read(model(d)).unwrap();
        std::fs::write(model(d), &bytes[..bytes.len() - 5]).unwrap();
    };
    refused_after(&run, "cut model", cut, "model.safetensors: not a safetensors file");
    // Another architecture's checkpoint in place of the run's (an edited spec.toml is
    // refused before any checkpoint is read: tests/suite/probe_command.rs).
    let other = run_ok(spec.to_str().unwrap(), &tmp.path().join("wider"), &["--set", "model.layers.hidden.units=5"]);
    let wider = |d: &Path| {
        std::fs::copy(model(&other), model(d)).unwrap();
    };
    refused_after(&run, "other architecture", wider, "`hidden.weight` has shape [5, 2]; the model needs [4, 2]");

    // Settings other than the probes' would look at a model that was never trained so.
    let before = snapshot(&run);
    for edit in [["--set", "data.validation_fraction=0.5"], ["--unset", "model.layers.0.units"]] {
        let out = probe_within(&run, &edit);
        assert_eq!(out.code, 2, "{edit:?}: {}", out.stderr);
        let want = format!("error: {} {}: runner probe changes probe settings only", edit[0], edit[1]);
        assert!(out.stderr.starts_with(&want) && out.stderr.lines().count() == 1, "{}", out.stderr);
    }
    assert_eq!(snapshot(&run), before);

    // A folder whose path has spaces, and a kind asked twice: drawn once.
    let spaced = tmp.path().join("a run folder");
    std::fs::create_dir(&spaced).unwrap();
    for e in std::fs::read_dir(&run).unwrap().map(|e| e.unwrap()) {
        std::fs::copy(e.path(), spaced.join(e.file_name())).unwrap();
    }
    let out = probe_within(&spaced, &["--probe", "saliency", "--probe", "saliency"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 2, "saliency_test.png and .csv once each: {}", out.stdout);
    assert_eq!(
        std::fs::read(spaced.join("saliency_test.csv")).unwrap(),
        std::fs::read(run.join("saliency_test.csv")).unwrap()
    );
}
