//! `--backend auto|cpu|cuda` and the spec's `backend`: what each takes, what the
//! manifest says, and that `cuda` without a GPU fails cleanly before any folder exists.
//! The no-GPU halves skip visibly where a CUDA device works.

use crate::common::*;
use std::path::Path;

const SPEC: &str = r#"name = "t"
seed = 1

[data]
kind = "xor"
n = 40

[[model.layers]]
name = "hidden"
op = "dense"
units = 3

[[model.layers]]
name = "act"
op = "tanh"

[[model.layers]]
name = "out"
op = "dense"
units = 1

[train]
loss = "mse"
lr = 0.1
iterations = 5
"#;

/// Why CUDA is unusable here, or `None` (after a skip line) where a device works.
fn no_cuda(test: &str) -> Option<String> {
    match runner::backend::cuda::probe() {
        Err(why) => Some(why.to_string()),
        Ok(_) => {
            eprintln!("skipped: {test}: a CUDA device works here");
            None
        }
    }
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn run(dir: &Path, spec_text: &str, extra: &[&str]) -> Output {
    let spec = write_spec(dir, "spec.toml", spec_text);
    let results = dir.join("results");
    let mut args = vec!["run", spec.to_str().unwrap(), "--quiet", "--results", results.to_str().unwrap()];
    args.extend_from_slice(extra);
    runner(&args, &[])
}

#[test]
fn cuda_without_a_gpu_is_one_line_exit_2_and_no_folder() {
    let Some(why) = no_cuda("cuda_without_a_gpu_is_one_line_exit_2_and_no_folder") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), SPEC, &["--backend", "cuda"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stderr, format!("error: --backend cuda: {why}\n"));
    assert!(out.stderr.contains("libcuda") || out.stderr.contains("NVRTC") || out.stderr.contains("device"));
    assert!(!tmp.path().join("results").exists(), "no results folder may be made");
}

#[test]
fn the_spec_key_cuda_without_a_gpu_names_the_spec() {
    let Some(why) = no_cuda("the_spec_key_cuda_without_a_gpu_names_the_spec") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), &SPEC.replace("seed = 1", "seed = 1\nbackend = \"cuda\""), &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let spec = tmp.path().join("spec.toml");
    assert_eq!(out.stderr, format!("error: {}: backend = \"cuda\": {why}\n", spec.display()));
    assert!(!tmp.path().join("results").exists());
    // The flag overrides the key.
    let out = run(tmp.path(), &SPEC.replace("seed = 1", "seed = 1\nbackend = \"cuda\""), &["--backend", "cpu"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(manifest(&out.dir())["backend_choice"], "cpu: asked for (--backend cpu)");
}

#[test]
fn auto_runs_on_the_cpu_and_says_why() {
    let Some(why) = no_cuda("auto_runs_on_the_cpu_and_says_why") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), SPEC, &["--backend", "auto"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let m = manifest(&out.dir());
    assert_eq!(m["backend"], "cpu");
    assert_eq!(m["backend_choice"], format!("auto: cpu, because {why}"));
    assert!(m.get("cuda").is_none(), "no cuda block on the CPU: {m}");
    // No flag and no key is auto too.
    let out = run(tmp.path(), SPEC, &[]);
    assert_eq!(manifest(&out.dir())["backend_choice"], format!("auto: cpu, because {why}"));
}

#[test]
fn cpu_writes_the_same_bytes_as_auto() {
    if no_cuda("cpu_writes_the_same_bytes_as_auto").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (a, c) = (tmp.path().join("a"), tmp.path().join("c"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&c).unwrap();
    let spec = SPEC.replace("[train]", "[output]\npredictions = true\nparams = true\n\n[train]");
    let auto = run(&a, &spec, &[]).dir();
    let cpu = run(&c, &spec, &["--backend", "cpu"]).dir();
    let m = manifest(&cpu);
    assert_eq!(m["backend"], "cpu");
    assert_eq!(m["backend_choice"], "cpu: asked for (--backend cpu)");
    let mut names: Vec<String> =
        m["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    // The manifest (times, the choice) and the page made from it may differ; nothing else.
    for name in names.iter().filter(|n| !["manifest.json", "index.html"].contains(&n.as_str())) {
        let (x, y) = (std::fs::read(auto.join(name)).unwrap(), std::fs::read(cpu.join(name)).unwrap());
        assert!(x == y, "{name} differs between auto and cpu");
    }
    let (mut ma, mut mc) = (manifest(&auto), m);
    for key in [
        "started",
        "finished",
        "wall_seconds",
        "backend_choice",
        "spec_file",
        "train_samples_per_second",
        "inference_samples_per_second",
    ] {
        ma.as_object_mut().unwrap().remove(key);
        mc.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(ma, mc);
}

#[test]
fn a_bad_flag_value_lists_the_valid_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), SPEC, &["--backend", "gpu"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("invalid value 'gpu' for '--backend <BACKEND>'"), "{}", out.stderr);
    assert!(out.stderr.contains("[possible values: auto, cpu, cuda]"), "{}", out.stderr);
    assert!(!tmp.path().join("results").exists());
}

#[test]
fn a_bad_key_value_or_a_typo_in_the_key_is_a_spec_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), &SPEC.replace("seed = 1", "seed = 1\nbackend = \"gpu\""), &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("spec.toml:3:11: unknown variant `gpu`, expected one of `auto`, `cpu`, `cuda`"),
        "{}",
        out.stderr
    );
    let out = run(tmp.path(), &SPEC.replace("seed = 1", "seed = 1\nbackedn = \"cpu\""), &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("spec.toml:3:1: unknown field `backedn`"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `backend`?"), "{}", out.stderr);
    assert!(!tmp.path().join("results").exists());
}

#[test]
fn the_key_is_in_the_resolved_spec_only_when_not_auto() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), &SPEC.replace("seed = 1", "seed = 1\nbackend = \"cpu\""), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let resolved = std::fs::read_to_string(out.dir().join("spec.toml")).unwrap();
    assert!(resolved.lines().any(|l| l == "backend = \"cpu\""), "{resolved}");
    assert_eq!(
        manifest(&out.dir())["backend_choice"],
        format!("cpu: asked for ({}: backend = \"cpu\")", tmp.path().join("spec.toml").display())
    );
    let out = run(tmp.path(), SPEC, &["--backend", "cpu"]);
    let resolved = std::fs::read_to_string(out.dir().join("spec.toml")).unwrap();
    assert!(!resolved.contains("backend"), "the flag is not written into the spec: {resolved}");
}
