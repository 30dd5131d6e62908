//! `runner sweep`: the product and the run names, skip / re-run / --force / resume on a
//! second invocation, failure isolation, and errors found before any run starts.

use crate::common::{read_csv, runner, write_spec, Output};
use std::path::{Path, PathBuf};

/// A small XOR net (mse on a linear output, so a huge learning rate diverges), with
/// the sweep table appended.
fn spec(sweep: &str) -> String {
    format!(
        r#"name = "sx"
seed = 1
[data]
kind = "gates"
gate = "xor"
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
[train]
loss = "mse"
lr = 0.5
iterations = 200
checkpoint_every = 50
[metrics]
record = ["loss", "accuracy"]
every = 10
[sweep]
{sweep}
"#
    )
}

fn sweep(spec: &Path, results: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut args = vec!["sweep", spec.to_str().unwrap(), "--results", results.to_str().unwrap(), "-j", "2"];
    args.extend_from_slice(extra);
    runner(&args, envs)
}

/// The "N runs: a run, b resumed, c skipped …, d failed" line, as (a, b, c, d).
fn tally(out: &Output) -> (usize, usize, usize, usize) {
    let line = out.stderr.lines().find(|l| l.contains(" resumed, ")).unwrap_or_else(|| panic!("{}", out.stderr));
    let numbers: Vec<usize> =
        line.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    (numbers[1], numbers[2], numbers[3], numbers[4])
}

/// sweep.csv as (run id, status) per row, and the rows themselves.
fn statuses(folder: &Path) -> Vec<(String, String)> {
    let (header, rows) = read_csv(&folder.join("sweep.csv"));
    let status = header.iter().position(|h| h == "status").unwrap();
    rows.iter().map(|r| (r[0].clone(), r[status].clone())).collect()
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn setup(sweep_table: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_spec(tmp.path(), "s.toml", &spec(sweep_table));
    let results = tmp.path().join("results");
    (tmp, file, results)
}

#[test]
fn a_grid_runs_its_product_under_stable_names_and_a_second_invocation_skips_it() {
    let (_tmp, file, results) = setup(
        r#"grid = { "train.lr" = [0.1, 0.5], "model.layers.hidden.units" = [2, 3, 4] }
seeds = 2"#,
    );
    let first = sweep(&file, &results, &[], &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let folder = first.dir();
    assert!(folder.starts_with(&results));
    let runs = statuses(&folder);
    assert_eq!(runs.len(), 12);
    assert!(runs.iter().all(|(_, s)| s == "complete"), "{runs:?}");
    let list = std::fs::read_to_string(folder.join("runs.jsonl")).unwrap();
    let ids: Vec<String> = list
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, runs.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>());
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 12);
    for id in &ids {
        assert_eq!(id.len(), 12);
        let spec_toml = std::fs::read_to_string(folder.join("runs").join(id).join("spec.toml")).unwrap();
        assert!(!spec_toml.contains("[sweep]"), "the sweep table is removed from each run's spec");
    }
    // The seeds are the spec's seed + 0 and + 1.
    let (header, rows) = read_csv(&folder.join("sweep.csv"));
    let seed = header.iter().position(|h| h == "seed").unwrap();
    assert_eq!(rows.iter().filter(|r| r[seed] == "1").count(), 6);
    assert_eq!(rows.iter().filter(|r| r[seed] == "2").count(), 6);
    // summary.csv: 6 settings, each the mean of its two seeds' final loss.
    let loss = header.iter().position(|h| h == "train.loss").unwrap();
    let (sheader, srows) = read_csv(&folder.join("summary.csv"));
    assert_eq!(srows.len(), 6);
    let mean = sheader.iter().position(|h| h == "train.loss_mean").unwrap();
    let count = sheader.iter().position(|h| h == "train.loss_count").unwrap();
    let of_first: Vec<f64> = rows[..2].iter().map(|r| r[loss].parse().unwrap()).collect();
    let expected = (of_first[0] + of_first[1]) / 2.0;
    assert!((srows[0][mean].parse::<f64>().unwrap() - expected).abs() < 1e-12);
    assert_eq!(srows[0][count], "2");
    for png in ["curves.png", "train.loss-vs-train.lr.png", "train.accuracy-vs-model.layers.hidden.units.png"] {
        let bytes = std::fs::read(folder.join(png)).unwrap_or_else(|e| panic!("{png}: {e}"));
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
    }

    let manifest = folder.join("runs").join(&ids[5]).join("manifest.json");
    let before = modified(&manifest);
    let second = sweep(&file, &results, &[], &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.dir(), folder, "the same sweep names the same folder");
    assert_eq!(tally(&second), (0, 0, 12, 0));
    assert_eq!(modified(&manifest), before, "a finished run is not run again");

    let forced = sweep(&file, &results, &["--force"], &[]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(tally(&forced), (12, 0, 0, 0));
    assert_eq!(statuses(&folder).len(), 12);
}

#[test]
fn a_failing_run_does_not_stop_the_others_and_is_tried_again_next_time() {
    let (_tmp, file, results) = setup(r#"grid = { "train.lr" = [0.1, 10000.0, 0.2] }"#);
    let first = sweep(&file, &results, &[], &[]);
    assert_ne!(first.code, 0, "a sweep with a failed run fails");
    let folder = first.dir();
    let runs: Vec<String> = statuses(&folder).into_iter().map(|(_, s)| s).collect();
    assert_eq!(runs, ["complete", "diverged", "complete"]);
    assert!(first.stderr.contains("diverged at step"), "{}", first.stderr);
    assert_eq!(tally(&first), (3, 0, 0, 1));
    let again = sweep(&file, &results, &[], &[]);
    assert_ne!(again.code, 0);
    assert_eq!(tally(&again), (1, 0, 2, 1), "only the failed run is run again");
}

#[test]
fn killed_runs_are_resumed_by_the_next_invocation_to_the_same_bytes() {
    let (tmp, file, results) = setup(r#"grid = { "model.layers.hidden.units" = [2, 3] }"#);
    let killed = sweep(&file, &results, &[], &[("RUNNER_TEST_SIGNAL_AT", "120:9")]);
    assert_ne!(killed.code, 0);
    let folder = killed.dir();
    let runs = statuses(&folder);
    assert!(runs.iter().all(|(_, s)| s == "killed"), "{runs:?}");
    let resumed = sweep(&file, &results, &[], &[]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(tally(&resumed), (0, 2, 0, 0));
    for (id, status) in statuses(&folder) {
        assert_eq!(status, "complete");
        // The same spec run in one go gives the same metrics, byte for byte.
        let spec = folder.join("specs").join(format!("{id}.toml"));
        let plain = crate::common::run_ok(spec.to_str().unwrap(), &tmp.path().join("plain"), &[]);
        let run = folder.join("runs").join(&id);
        assert_eq!(std::fs::read(run.join("metrics.csv")).unwrap(), std::fs::read(plain.join("metrics.csv")).unwrap());
    }
}

#[test]
fn bad_keys_and_invalid_points_are_refused_before_any_run() {
    let table = r#"grid = { "train.lrr" = [0.1] }"#;
    let (_tmp, file, results) = setup(table);
    let out = sweep(&file, &results, &[], &[]);
    assert_eq!(out.code, 2);
    let line = spec(table).lines().position(|l| l == table).unwrap() + 1;
    assert!(out.stderr.contains(&format!("s.toml:{line}:10:")), "located at the sweep key: {}", out.stderr);
    assert!(out.stderr.contains("did you mean `lr`"), "{}", out.stderr);
    let (_tmp2, file, results) = setup(r#"grid = { "model.layers.hidden.units" = [2, 0] }"#);
    let out = sweep(&file, &results, &[], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("s.toml: sweep point 2 of 2 (model.layers.hidden.units=0, seed=1)"), "{}", out.stderr);
    assert!(!results.exists(), "nothing was run");
    let (_tmp3, file, results) = setup(r#"paired = { "train.lr" = [0.1], "train.momentum" = [0.1, 0.9] }"#);
    let out = sweep(&file, &results, &[], &[]);
    assert!(out.stderr.contains("equal lengths"), "{}", out.stderr);
}

/// Without `seeds`, a grid may sweep `seed` itself; sweep.csv then holds it once, in its
/// seed column (it had two columns named `seed`, which CSV readers rename or refuse).
#[test]
fn a_seed_axis_is_one_column_of_sweep_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_spec(
        tmp.path(),
        "s.toml",
        &spec(r#"grid = { "seed" = [3, 4], "train.lr" = [0.1] }"#).replace("iterations = 200", "iterations = 5"),
    );
    let out = sweep(&file, &tmp.path().join("results"), &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (header, rows) = read_csv(&out.dir().join("sweep.csv"));
    assert_eq!(header[..4], ["run", "train.lr", "seed", "status"]);
    assert_eq!(rows.iter().map(|r| r[1..4].join(" ")).collect::<Vec<_>>(), ["0.1 3 complete", "0.1 4 complete"]);
    // The progress lines name the seed once too.
    assert!(
        out.stderr.contains(" seed=3 train.lr=0.1 ") || out.stderr.contains(" train.lr=0.1 seed=3 "),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("seed=3 seed=3") && !out.stderr.contains("seed=3  seed"), "{}", out.stderr);
    assert_eq!(out.stderr.matches("seed=").count(), 2, "{}", out.stderr);
}

#[test]
fn set_applies_to_every_run_and_a_sweep_file_names_its_base() {
    let tmp = tempfile::tempdir().unwrap();
    write_spec(tmp.path(), "base.toml", spec("").replace("[sweep]\n", "").as_str());
    let file = write_spec(
        tmp.path(),
        "sweep.toml",
        "base = \"base.toml\"\n[sweep]\npaired = { \"train.lr\" = [0.1, 0.2], \"train.momentum\" = [0.0, 0.9] }\n",
    );
    let results = tmp.path().join("results");
    let out = sweep(&file, &results, &["--set", "train.iterations=30"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let folder = out.dir();
    let (header, rows) = read_csv(&folder.join("sweep.csv"));
    assert_eq!(header[1..3], ["train.lr", "train.momentum"]);
    assert_eq!(rows.iter().map(|r| r[1..3].join(" ")).collect::<Vec<_>>(), ["0.1 0.0", "0.2 0.9"]);
    for r in &rows {
        let text = std::fs::read_to_string(folder.join("runs").join(&r[0]).join("spec.toml")).unwrap();
        assert!(text.contains("iterations = 30"), "{text}");
    }
}

/// Mistakes in a sweep file are reported at their place in it, saying what is wrong,
/// before any run starts (each of these once gave a confusing or misplaced message).
#[test]
fn sweep_file_mistakes_name_the_file_the_line_and_the_entry() {
    let tmp = tempfile::tempdir().unwrap();
    write_spec(tmp.path(), "base.toml", spec("").replace("[sweep]\n", "").as_str());
    let results = tmp.path().join("results");
    let check = |text: &str, extra: &[&str], expected: &[&str]| {
        let file = write_spec(tmp.path(), "sweep.toml", text);
        let out = sweep(&file, &results, extra, &[]);
        assert_eq!(out.code, 2, "{text}: {}", out.stderr);
        for e in expected {
            let e = e.replace("FILE", file.to_str().unwrap());
            assert!(out.stderr.contains(&e), "{text}: expected {e:?} in:\n{}", out.stderr);
        }
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        out.stderr
    };
    let head = "base = \"base.toml\"\n[sweep]\n";
    let err = check(
        &format!("{head}seeds = -1\n"),
        &[],
        &["FILE:3:9: sweep file: seeds: expected a number of seeds (`seeds = 5`) or a list of seeds \
           (`seeds = [1, 7, 42]`), found -1"],
    );
    assert!(!err.contains("untagged"), "{err}");
    let err = check(
        &format!("{head}set = [\"train.lr\"]\n"),
        &[],
        &["FILE:3:8: [sweep] set \"train.lr\": expected key.path=value"],
    );
    assert!(!err.starts_with("error: --set"), "no --set was typed: {err}");
    check(
        &format!("{head}set = [\"train.lrr=0.1\"]\n"),
        &[],
        &["FILE:3:8: [sweep] set \"train.lrr=0.1\"", "did you mean `lr`?"],
    );
    let err = check(
        &format!("{head}seeds = 2\ngrid = {{ \"seed\" = [1, 2] }}\n"),
        &[],
        &["FILE:4:10: [sweep] grid \"seed\": sweeping `seed` conflicts with `seeds`"],
    );
    assert!(!err.contains("resolve to the same spec"), "{err}");
    check(
        &format!("{head}paired = {{ \"sweep.seeds\" = [1, 2] }}\n"),
        &[],
        &["FILE:3:12: [sweep] paired \"sweep.seeds\": sweep.* keys cannot be swept"],
    );
    // `set` is checked as the axes are: a seed it sets would be lost to `seeds`.
    check(
        &format!("{head}seeds = 2\nset = [\"train.lr=0.2\", \" seed = 5\"]\n"),
        &[],
        &["FILE:4:24: [sweep] set \" seed = 5\": sweeping `seed` conflicts with `seeds`"],
    );
    check(
        &format!("{head}set = [\"sweep.seeds=3\"]\n"),
        &[],
        &["FILE:3:8: [sweep] set \"sweep.seeds=3\": sweep.* keys cannot be swept"],
    );
    check(
        "base = \"nonexist.toml\"\n[sweep]\nseeds = 2\n",
        &[],
        &["FILE:1:8: base \"nonexist.toml\": ", "No such file or directory"],
    );
    check(
        "base = \"sweep.toml\"\n[sweep]\nseeds = 2\n",
        &[],
        &["FILE:1:8: base \"sweep.toml\": ", "is a sweep file, not a spec"],
    );
    assert!(!results.exists(), "nothing was run");
    let file = write_spec(tmp.path(), "sweep.toml", &format!("{head}seeds = 2\n"));
    let out = runner(&["sweep", file.to_str().unwrap(), "--results", results.to_str().unwrap(), "-j", "0"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("0 runs at a time would run nothing; give at least 1"), "{}", out.stderr);

    // `runner run` (or check) on a sweep file says which command runs it.
    let run = ["run", file.to_str().unwrap(), "--results", results.to_str().unwrap()];
    for args in [&run[..], &["check", file.to_str().unwrap()]] {
        let out = runner(args, &[]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        let expected = format!(
            "{}:1:1: this is a sweep file (it has `base`), not a spec; run it with `runner sweep",
            file.display()
        );
        assert!(out.stderr.contains(&expected), "expected {expected:?} in:\n{}", out.stderr);
    }
}

/// SIGTERM to the sweep process reaches the runs going on: each stops after its step
/// with a checkpoint (status interrupted), and no run is left going on its own.
#[test]
fn a_stopped_sweep_passes_the_stop_to_its_runs() {
    let tmp = tempfile::tempdir().unwrap();
    // Long enough that both runs are still training when the signal comes.
    let text = spec("seeds = 2").replace("iterations = 200", "iterations = 50000000");
    let file = write_spec(tmp.path(), "s.toml", &text);
    let results = tmp.path().join("results");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["sweep", file.to_str().unwrap(), "--results", results.to_str().unwrap(), "-j", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until both runs have recorded steps in their hidden folders.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let training = |dir: &Path| -> usize {
        let Ok(sweeps) = std::fs::read_dir(dir) else { return 0 };
        sweeps
            .flatten()
            .flat_map(|s| std::fs::read_dir(s.path().join("runs")).into_iter().flatten().flatten())
            .filter(|r| std::fs::read_to_string(r.path().join("metrics.csv")).is_ok_and(|t| t.lines().count() > 2))
            .count()
    };
    while training(&results) < 2 {
        assert!(std::time::Instant::now() < deadline, "the runs never started training");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the sweep took long to stop");
    assert_ne!(out.status.code(), Some(0), "a stopped sweep is not a complete one");
    let folder = PathBuf::from(String::from_utf8_lossy(&out.stdout).lines().last().unwrap().to_string());
    let runs: Vec<PathBuf> = std::fs::read_dir(folder.join("runs")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in &runs {
        let manifest = std::fs::read_to_string(run.join("manifest.json")).unwrap();
        assert!(manifest.contains("\"status\": \"interrupted\""), "{}: {manifest}", run.display());
        assert!(run.join("resume.safetensors").is_file(), "{} has no checkpoint", run.display());
    }
}

/// A run whose manifest says `complete` but whose files are not all there (metrics.csv
/// or a file the manifest lists, deleted since) is run again, with a note saying why,
/// instead of being skipped as finished.
#[test]
fn a_complete_run_missing_its_files_is_run_again_with_a_note() {
    let (_tmp, file, results) = setup("seeds = 3");
    let first = sweep(&file, &results, &[], &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let folder = first.dir();
    let ids: Vec<String> = statuses(&folder).into_iter().map(|(id, _)| id).collect();
    let runs = folder.join("runs");
    let metrics = std::fs::read(runs.join(&ids[0]).join("metrics.csv")).unwrap();
    std::fs::remove_file(runs.join(&ids[0]).join("metrics.csv")).unwrap();
    std::fs::remove_file(runs.join(&ids[1]).join("model.safetensors")).unwrap();
    let kept = modified(&runs.join(&ids[2]).join("manifest.json"));

    let second = sweep(&file, &results, &[], &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(tally(&second), (2, 0, 1, 0), "{}", second.stderr);
    for (id, missing) in [(&ids[0], "metrics.csv is missing"), (&ids[1], "model.safetensors is missing")] {
        let note =
            format!("note: {}: its manifest says complete, but {missing}; running it again", runs.join(id).display());
        assert!(second.stderr.contains(&note), "expected {note:?} in:\n{}", second.stderr);
    }
    assert_eq!(std::fs::read(runs.join(&ids[0]).join("metrics.csv")).unwrap(), metrics, "the same run, the same rows");
    assert!(runs.join(&ids[1]).join("model.safetensors").is_file());
    assert_eq!(modified(&runs.join(&ids[2]).join("manifest.json")), kept, "the whole run is left alone");
    assert!(statuses(&folder).iter().all(|(_, s)| s == "complete"));
    let third = sweep(&file, &results, &[], &[]);
    assert_eq!(tally(&third), (0, 0, 3, 0), "{}", third.stderr);
    assert!(!third.stderr.contains("note:"), "{}", third.stderr);
}
