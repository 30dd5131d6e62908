//! Golden results (tests/golden/goldens.toml): quick variants of every shipped
//! experiment, rerun on every CPU path this machine has and held to their committed
//! results by `runner diff`, so the goldens test the diff tool too. `just golden`
//! (RUNNER_GOLDEN=regenerate) rewrites them first, on the default path; the README
//! says when that is right.

use super::common::{root, runner};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Goldens {
    golden: Vec<Golden>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Golden {
    name: String,
    spec: String,
    #[serde(default)]
    set: Vec<String>,
    /// Written into the golden's spec.toml as its `[diff]` table.
    diff: Option<toml::Table>,
}

/// Checkpoints up to this size are committed; larger ones are kept by hash.
const MAX_COMMITTED_CHECKPOINT: u64 = 128 * 1024;

fn goldens() -> Vec<Golden> {
    let path = root().join("tests/golden/goldens.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    toml::from_str::<Goldens>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())).golden
}

fn golden_dir(name: &str) -> PathBuf {
    root().join("tests/golden").join(name)
}

/// Runs a golden's variant into `results`; `cpu` sets RUNNER_CPU.
fn run_variant(g: &Golden, results: &Path, cpu: Option<&str>) -> PathBuf {
    let mut args = vec!["run", &g.spec, "--quiet", "--results", results.to_str().unwrap()];
    for s in &g.set {
        args.extend(["--set", s]);
    }
    let envs: Vec<(&str, &str)> = cpu.map(|c| ("RUNNER_CPU", c)).into_iter().collect();
    let out = runner(&args, &envs);
    assert_eq!(out.code, 0, "{} on {cpu:?}: runner {args:?} failed:\n{}", g.name, out.stderr);
    out.dir()
}

/// Replaces tests/golden/<name>/ with a fresh run's results.
fn regenerate(g: &Golden, results: &Path) {
    let run = run_variant(g, results, None);
    let dest = golden_dir(&g.name);
    if dest.exists() {
        std::fs::remove_dir_all(&dest).unwrap();
    }
    std::fs::create_dir_all(&dest).unwrap();
    let mut spec = std::fs::read_to_string(run.join("spec.toml")).unwrap();
    if let Some(diff) = &g.diff {
        let table = toml::Table::from_iter([("diff".to_string(), toml::Value::Table(diff.clone()))]);
        spec += &format!("\n{}", toml::to_string(&table).unwrap());
    }
    std::fs::write(dest.join("spec.toml"), spec).unwrap();
    std::fs::copy(run.join("manifest.json"), dest.join("manifest.json")).unwrap();
    let mut hashes = String::new();
    let mut names: Vec<String> =
        std::fs::read_dir(&run).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    // index.html is made from the others and the manifest (times): runner diff skips it.
    for name in names.iter().filter(|n| !["spec.toml", "manifest.json", "index.html"].contains(&n.as_str())) {
        let from = run.join(name);
        let small = std::fs::metadata(&from).unwrap().len() <= MAX_COMMITTED_CHECKPOINT;
        if name.ends_with(".csv") || (name.ends_with(".safetensors") && small) {
            std::fs::copy(&from, dest.join(name)).unwrap();
        } else {
            let digest = runner::diff::load::sha256_hex(&std::fs::read(&from).unwrap());
            hashes += &format!("{digest}  {name}\n");
        }
    }
    if !hashes.is_empty() {
        std::fs::write(dest.join(runner::diff::HASHES_FILE), hashes).unwrap();
    }
}

#[test]
fn goldens_hold_on_every_cpu_path() {
    let list = goldens();
    let tmp = tempfile::tempdir().unwrap();
    if std::env::var("RUNNER_GOLDEN").as_deref() == Ok("regenerate") {
        for g in &list {
            regenerate(g, &tmp.path().join("regenerate"));
        }
    }
    let mut shipped: Vec<String> = std::fs::read_dir(root().join("experiments"))
        .unwrap()
        .flatten()
        .map(|e| format!("experiments/{}", e.file_name().to_string_lossy()))
        .filter(|p| p.ends_with(".toml"))
        .collect();
    shipped.sort();
    let missing: Vec<&String> = shipped.iter().filter(|s| !list.iter().any(|g| &&g.spec == s)).collect();
    assert!(missing.is_empty(), "shipped experiments without a golden in tests/golden/goldens.toml: {missing:?}");

    let paths: Vec<&str> = runner::backend::cpu::path::available().into_iter().map(|p| p.name()).collect();
    let mut failures = Vec::new();
    for g in &list {
        for cpu in &paths {
            let dir = run_variant(g, &tmp.path().join(cpu), Some(cpu));
            let golden = golden_dir(&g.name);
            let out = runner(&["diff", dir.to_str().unwrap(), golden.to_str().unwrap()], &[]);
            let verdict = out.stdout.lines().next().unwrap_or("").trim_start_matches("runner diff: ");
            println!("{:<24} {cpu:<9} {verdict}", g.name);
            if out.code != 0 {
                failures
                    .push(format!("{} on the {cpu} path (exit {}):\n{}{}", g.name, out.code, out.stdout, out.stderr));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden check(s) failed. If the change in numerics is intended, regenerate with `just golden` and \
         show this diff in the pull request (README: Golden results).\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
