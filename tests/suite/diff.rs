//! `runner diff` and `runner list` through the binary, on real runs: exit codes for
//! equal, within-tolerance, different and incomparable runs, the Markdown and JSON
//! outputs, pictures, folders of runs, damaged folders, and the run list.

use super::common::{read_csv, run_ok, runner, Output};
use std::path::{Path, PathBuf};

const XOR: &str = "experiments/xor.toml";
const SHORT: [&str; 2] = ["--set", "train.iterations=50"];

fn xor(results: &Path, extra: &[&str]) -> PathBuf {
    let mut args = SHORT.to_vec();
    args.extend_from_slice(extra);
    run_ok(XOR, results, &args)
}

fn diff(a: &Path, b: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["diff", a.to_str().unwrap(), b.to_str().unwrap()];
    args.extend_from_slice(extra);
    runner(&args, &[])
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
}

/// The report's item for a file, in the first pair.
fn item<'a>(report: &'a serde_json::Value, file: &str) -> &'a serde_json::Value {
    let items = report["pairs"][0]["items"].as_array().unwrap();
    items.iter().find(|i| i["file"] == file).unwrap_or_else(|| panic!("no item {file} in {report}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn the_same_spec_and_seed_twice_are_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (xor(tmp.path(), &[]), xor(tmp.path(), &[]));
    assert_ne!(a, b);
    let out = diff(&a, &b, &["--format", "json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let report = json(&out);
    assert_eq!(report["verdict"], "same");
    // 50 iterations recorded every 10: 6 rows of epoch, loss and accuracy.
    assert_eq!(item(&report, "metrics.csv")["compared"], 18);
    assert_eq!(item(&report, "model.safetensors")["compared"], 17, "xor's 2-4-1 network has 17 parameters");
    for i in report["pairs"][0]["items"].as_array().unwrap() {
        assert_eq!(i["status"], "identical", "{i}");
    }
    let table = diff(&a, &b, &[]);
    assert!(table.stdout.starts_with("runner diff: identical (exit 0)"), "{}", table.stdout);
    // A --out that is a file could take no difference picture: refused even here.
    let file = tmp.path().join("not_a_folder");
    std::fs::write(&file, "x").unwrap();
    let out = diff(&a, &b, &["--out", file.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("not_a_folder: not a folder (a file is there)"), "{}", out.stderr);
}

#[test]
fn a_different_learning_rate_is_different_and_says_where() {
    let tmp = tempfile::tempdir().unwrap();
    let a = xor(tmp.path(), &[]);
    let b = xor(tmp.path(), &["--set", "train.lr=0.1"]);
    let out = diff(&a, &b, &["--format", "json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("the runs differ beyond tolerance"), "{}", out.stderr);
    let report = json(&out);
    assert_eq!(report["verdict"], "different");
    let note = report["pairs"][0]["settings_note"].as_str().unwrap();
    assert!(note.contains("train.lr: 0.5 (A) vs 0.1 (B)"), "{note}");
    // The worst cell the report names holds the values the two metrics.csv files hold.
    let metrics = item(&report, "metrics.csv");
    assert_eq!(metrics["status"], "different");
    let worst = &metrics["worst"];
    let at = worst["at"].as_str().unwrap(); // "step 50 train"
    let mut words = at.split(' ').skip(1);
    let (step, split) = (words.next().unwrap(), words.next().unwrap());
    let column = worst["column"].as_str().unwrap();
    let cell = |dir: &Path| -> String {
        let (header, rows) = read_csv(&dir.join("metrics.csv"));
        let c = header.iter().position(|h| h == column).unwrap();
        rows.iter().find(|r| r[0] == step && r[2] == split).unwrap()[c].clone()
    };
    let (va, vb): (f64, f64) = (cell(&a).parse().unwrap(), cell(&b).parse().unwrap());
    assert_eq!(worst["a"].as_str().unwrap().parse::<f64>().unwrap(), va);
    assert_eq!(worst["b"].as_str().unwrap().parse::<f64>().unwrap(), vb);
    assert_eq!(worst["abs_diff"].as_f64().unwrap(), (va - vb).abs());
    assert!(metrics["beyond"].as_u64().unwrap() > 0);

    let md = diff(&a, &b, &["--format", "md"]);
    assert_eq!(md.code, 1);
    assert!(md.stdout.starts_with("### ❌ runner diff: DIFFERENT"), "{}", md.stdout);
    assert!(md.stdout.contains("| `metrics.csv` | DIFFERENT |"), "{}", md.stdout);
    assert!(md.stdout.contains("train.lr: 0.5 (A) vs 0.1 (B)"), "{}", md.stdout);
}

/// Adds `delta` to the first value of `column` in a CSV file; returns the new cell.
fn nudge(path: &Path, column: &str, delta: f64) -> f64 {
    let (header, mut rows) = read_csv(path);
    let c = header.iter().position(|h| h == column).unwrap();
    let moved = rows[0][c].parse::<f64>().unwrap() + delta;
    rows[0][c] = moved.to_string();
    let mut text = header.join(",") + "\n";
    for r in rows {
        text += &(r.join(",") + "\n");
    }
    std::fs::write(path, text).unwrap();
    moved
}

#[test]
fn a_cell_moved_by_1e_9_passes_a_tolerance_but_not_an_exact_diff() {
    let tmp = tempfile::tempdir().unwrap();
    let b = xor(tmp.path(), &[]);
    let a = tmp.path().join("tampered");
    copy_dir(&b, &a);
    nudge(&a.join("predictions.csv"), "out", 1e-9);

    let exact = diff(&a, &b, &["--format", "json"]);
    assert_eq!(exact.code, 1, "{}", exact.stdout);
    let predictions = item(&json(&exact), "predictions.csv").clone();
    assert_eq!((predictions["beyond"].as_u64(), predictions["worst"]["at"].as_str()), (Some(1), Some("line 2")));

    for flags in [&["--atol", "1e-8"][..], &["--metric", "out=1e-8"], &["--rtol", "1e-5"]] {
        let out = diff(&a, &b, &[flags, &["--format", "json"]].concat());
        assert_eq!(out.code, 0, "{flags:?}: {}", out.stdout);
        let p = item(&json(&out), "predictions.csv").clone();
        assert_eq!((p["status"].as_str(), p["within"].as_u64()), (Some("within"), Some(1)), "{flags:?}");
    }
    assert_eq!(diff(&a, &b, &["--atol", "1e-10"]).code, 1);
    assert_eq!(diff(&a, &b, &["--metric", "loss=1"]).code, 1, "a tolerance for another name does not apply");

    // The reference's [diff] table gives the tolerance without flags; flags override it.
    let spec = b.join("spec.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, format!("{text}\n[diff]\natol = 1e-8\n")).unwrap();
    assert_eq!(diff(&a, &b, &[]).code, 0);
    assert_eq!(diff(&a, &b, &["--atol", "0"]).code, 1);
    std::fs::write(&spec, format!("{text}\n[diff]\natol = -1.0\n")).unwrap();
    let bad = diff(&a, &b, &[]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("spec.toml: [diff]: a tolerance must be finite and at least 0, found -1"),
        "{}",
        bad.stderr
    );
    assert_eq!(diff(&a, &b, &["--metric", "out=-1"]).code, 2);
}

#[test]
fn runs_of_different_models_or_lengths_cannot_be_compared() {
    let tmp = tempfile::tempdir().unwrap();
    let a = xor(tmp.path(), &[]);
    let wider = xor(tmp.path(), &["--set", "model.layers.hidden.units=8"]);
    let out = diff(&a, &wider, &["--format", "json"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("different spec: model.layers.hidden.units: 4 (A) vs 8 (B)"), "{}", out.stderr);
    let report = json(&out);
    assert_eq!(report["verdict"], "incomparable");
    assert!(report["pairs"][0]["items"].as_array().unwrap().is_empty(), "nothing is compared");

    let longer = xor(tmp.path(), &["--set", "train.iterations=60"]);
    let out = diff(&a, &longer, &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("different steps: A ran 50 steps, B ran 60"), "{}", out.stderr);

    // Same spec, but one run's metrics rows were cut: different steps, not a comparison.
    let cut = tmp.path().join("cut");
    copy_dir(&a, &cut);
    let text = std::fs::read_to_string(cut.join("metrics.csv")).unwrap();
    let kept: Vec<&str> = text.lines().take(4).collect();
    std::fs::write(cut.join("metrics.csv"), kept.join("\n") + "\n").unwrap();
    let out = diff(&cut, &a, &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("metrics.csv: different steps or splits: A has 3 rows, B has 6"), "{}", out.stderr);
}

#[test]
fn damaged_run_folders_are_clean_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let good = xor(tmp.path(), &[]);
    let damage = |name: &str, file: &str, f: &dyn Fn(&Path)| -> Output {
        let dir = tmp.path().join(name);
        copy_dir(&good, &dir);
        f(&dir.join(file));
        diff(&dir, &good, &[])
    };
    let cases: Vec<(Output, &str)> = vec![
        (
            damage("truncated", "metrics.csv", &|p| {
                let bytes = std::fs::read(p).unwrap();
                std::fs::write(p, &bytes[..bytes.len() - 7]).unwrap();
            }),
            "metrics.csv: line 7: truncated (the last line has no newline)",
        ),
        (
            damage("short_row", "predictions.csv", &|p| {
                std::fs::write(p, "split,x1,x2,target_label,out\ntrain,0,0\n").unwrap();
            }),
            "predictions.csv: line 2: 3 cells where the header has 5",
        ),
        (damage("no_manifest", "manifest.json", &|p| std::fs::remove_file(p).unwrap()), "no manifest.json"),
        (
            damage("bad_manifest", "manifest.json", &|p| std::fs::write(p, "{\"steps\": ").unwrap()),
            "manifest.json: EOF",
        ),
        (
            damage("bad_checkpoint", "model.safetensors", &|p| std::fs::write(p, b"\x05\0\0").unwrap()),
            "model.safetensors: not a safetensors file",
        ),
        (
            damage("missing_png", "curves.png", &|p| std::fs::remove_file(p).unwrap()),
            "curves.png is listed in its manifest but missing",
        ),
    ];
    for (out, expected) in cases {
        assert_eq!(out.code, 2, "{expected}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(expected), "expected {expected:?} in:\n{}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    let hidden = tmp.path().join("xor/.incomplete-20261130-000000-seed42");
    std::fs::create_dir_all(&hidden).unwrap();
    std::fs::copy(good.join("spec.toml"), hidden.join("spec.toml")).unwrap();
    let out = diff(&hidden, &good, &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("a run still being written, or one that was killed"), "{}", out.stderr);
}

#[test]
fn a_changed_picture_is_measured_and_drawn() {
    let tmp = tempfile::tempdir().unwrap();
    let b = xor(tmp.path(), &[]);
    let a = tmp.path().join("repainted");
    copy_dir(&b, &a);
    // One pixel of the curves picture made black.
    let decoder = png::Decoder::new(std::fs::File::open(b.join("curves.png")).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let (w, h) = (info.width, info.height);
    let (x, y) = (w / 2, h / 2);
    let at = (y * w + x) as usize * channels;
    let old = buf[at];
    buf[at..at + 3].fill(0);
    let mut encoder = png::Encoder::new(std::fs::File::create(a.join("curves.png")).unwrap(), w, h);
    encoder.set_color(info.color_type);
    encoder.set_depth(info.bit_depth);
    encoder.write_header().unwrap().write_image_data(&buf).unwrap();

    let out_dir = tmp.path().join("pictures");
    let out = diff(&a, &b, &["--format", "json", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.code, 1, "every value is identical, so a changed picture is a difference: {}", out.stdout);
    let curves = item(&json(&out), "curves.png").clone();
    let detail = curves["detail"].as_str().unwrap();
    let fraction = format!("{:.4}% of pixels changed (1)", 100.0 / (w * h) as f64);
    assert!(detail.starts_with(&fraction), "{detail} (expected {fraction})");
    assert!(detail.contains(&format!("max channel difference {old}")), "{detail}");
    let drawn = out_dir.join("curves.diff.png");
    let reader = png::Decoder::new(std::fs::File::open(&drawn).unwrap()).read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (w, h));
    assert_eq!(item(&json(&out), "decision_boundary.png")["status"], "identical");
}

#[test]
fn folders_of_runs_are_compared_run_by_run() {
    let tmp = tempfile::tempdir().unwrap();
    let first = xor(tmp.path(), &[]);
    let second = xor(tmp.path(), &["--set", "train.lr=0.1"]);
    let (sa, sb) = (tmp.path().join("sweep_a"), tmp.path().join("sweep_b"));
    for sweep in [&sa, &sb] {
        copy_dir(&first, &sweep.join("lr0.5"));
        copy_dir(&second, &sweep.join("lr0.1"));
    }
    let out = diff(&sa, &sb, &["--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let pairs: Vec<String> =
        json(&out)["pairs"].as_array().unwrap().iter().map(|p| p["pair"].as_str().unwrap().to_string()).collect();
    assert_eq!(pairs, ["lr0.1", "lr0.5"]);

    nudge(&sa.join("lr0.1/predictions.csv"), "out", 1e-3);
    let out = diff(&sa, &sb, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("== lr0.1: DIFFERENT") && out.stdout.contains("== lr0.5: identical"), "{}", out.stdout);

    copy_dir(&first, &sa.join("extra"));
    let out = diff(&sa, &sb, &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("runs only in A: extra"), "{}", out.stderr);
    let out = diff(&first, &sb, &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("B is a folder of runs (a sweep)"), "{}", out.stderr);
}

#[test]
fn runner_list_shows_runs_with_their_status() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let done = xor(&results, &[]);
    run_ok("experiments/logic_gates.toml", &results, &[]);
    // A hidden folder whose owner is certainly gone: this host, a pid that cannot exist.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let killed = results.join("xor/.incomplete-20261130-101500-seed42");
    std::fs::create_dir_all(&killed).unwrap();
    std::fs::write(killed.join("owner"), format!("pid 4194399\nstart 1\nhost {}\n", host.trim())).unwrap();
    std::fs::copy(done.join("spec.toml"), killed.join("spec.toml")).unwrap();
    std::fs::write(
        killed.join("metrics.csv"),
        "step,epoch,split,loss,accuracy\n0,0,train,0.7,0.5\n10,10,train,0.6,0.7\n2",
    )
    .unwrap();

    let list = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["list", results.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = runner(&args, &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout.lines().map(String::from).collect()
    };
    let all = list(&[]);
    assert_eq!(all.len(), 4, "a header and three runs: {all:#?}");
    assert!(all[0].starts_with("status") && all[0].contains("spec hash"), "{}", all[0]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(done.join("manifest.json")).unwrap()).unwrap();
    let complete = all.iter().find(|l| l.contains(done.to_str().unwrap())).unwrap();
    assert!(complete.starts_with("complete"), "{complete}");
    assert!(complete.contains(manifest["spec_hash"].as_str().unwrap()), "{complete}");
    let loss = manifest["final_metrics"]["train.loss"].as_f64().unwrap();
    let shown: f64 = complete.split("train.loss=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!((shown - loss).abs() <= 1e-3 * loss, "{complete}: four significant digits of {loss}");
    let hidden = all.iter().find(|l| l.contains(".incomplete-")).unwrap();
    let words: Vec<&str> = hidden.split_whitespace().collect();
    assert_eq!(&words[..4], ["killed", "xor", "2026-11-30T10:15:00Z", "10"], "the last complete metrics row");

    assert_eq!(list(&["--status", "killed"]).len(), 2);
    assert_eq!(list(&["--name", "logic*"]).len(), 2);
    assert_eq!(list(&["--name", "x?r", "--status", "complete"]).len(), 2);
    let missing = runner(&["list", tmp.path().join("nothing").to_str().unwrap()], &[]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("no such results folder"), "{}", missing.stderr);
}

#[test]
fn a_diff_table_in_a_spec_is_checked_where_written() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(super::common::root().join(XOR)).unwrap();
    // The table goes last, after a blank line: its key is three lines past the spec.
    let line = spec.trim_end().lines().count() + 3;
    let cases = [
        ("atol = -1.0", 8, "a tolerance must be finite and at least 0, found -1"),
        ("metrics = { loss = inf }", 11, "`loss`: a tolerance must be finite and at least 0, found inf"),
        ("atl = 1e-6", 1, "unknown field `atl`, expected one of `atol`, `rtol`, `metrics`; did you mean `atol`?"),
    ];
    for (key, col, message) in cases {
        let path = super::common::write_spec(tmp.path(), "s.toml", &format!("{}\n\n[diff]\n{key}\n", spec.trim_end()));
        let out = runner(&["check", path.to_str().unwrap()], &[]);
        assert_eq!(out.code, 2, "{key}: {}", out.stdout);
        let expected = format!("{}:{line}:{col}: {message}", path.display());
        assert!(out.stderr.contains(&expected), "expected {expected:?} in:\n{}", out.stderr);
    }
    let path = super::common::write_spec(tmp.path(), "s.toml", &format!("{}\n\n[diff]\natol = 1\n", spec.trim_end()));
    assert_eq!(runner(&["check", path.to_str().unwrap()], &[]).code, 0, "an integer tolerance is a number");
}

#[test]
fn sweeps_are_paired_through_sweep_csv_and_listed_as_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let first = xor(tmp.path(), &[]);
    let second = xor(tmp.path(), &["--set", "train.lr=0.1"]);
    let results = tmp.path().join("results");
    let (sa, sb) = (results.join("xor_lr/20261130-120000"), tmp.path().join("other/20261130-130000"));
    for sweep in [&sa, &sb] {
        copy_dir(&first, &sweep.join("runs/a1"));
        copy_dir(&second, &sweep.join("runs/b2"));
        std::fs::write(
            sweep.join("sweep.csv"),
            "train.lr,seed,status,run_folder\n0.5,42,complete,runs/a1\n0.1,42,complete,runs/b2\n",
        )
        .unwrap();
    }
    let out = diff(&sa, &sb, &["--format", "json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let pairs: Vec<String> =
        json(&out)["pairs"].as_array().unwrap().iter().map(|p| p["pair"].as_str().unwrap().to_string()).collect();
    assert_eq!(pairs, ["a1", "b2"], "the runs sweep.csv names, not the folder `runs`");

    let out = runner(&["list", results.to_str().unwrap()], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    let words: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&words[..3], ["sweep", "xor_lr", "2026-11-30T12:00:00Z"], "{}", lines[1]);
    assert!(lines[1].contains("2 runs: 2 complete"), "{}", lines[1]);
}

/// A per-name tolerance that names nothing the runs have (`lss` for `loss`) once left
/// every value exact without a word; it is a usage error naming it, with the metrics.
#[test]
fn a_tolerance_for_a_name_the_runs_do_not_have_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (xor(tmp.path(), &[]), xor(tmp.path(), &[]));
    let out = diff(&a, &b, &["--metric", "lss=0.1"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with("error: --metric lss=0.1: no value of these runs is named `lss`; did you mean `loss`?"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("(metrics: epoch, loss, accuracy;"), "{}", out.stderr);
    assert_eq!(out.stdout, "", "no report for a comparison that would not use the tolerance");
    let out = diff(&a, &b, &["--metric", "loss=0.1", "--metric", "nonexistent=1"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--metric nonexistent=1: no value of these runs is named `nonexistent` ("),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("`loss`"), "loss is a metric: {}", out.stderr);
    // Every kind of name a tolerance can have is known: a metric, one split's metric, a
    // final metric, a CSV file and its column, a tensor and its file.
    for name in ["loss", "train.accuracy", "epoch", "predictions.csv", "out", "model.safetensors", "hidden.weight"] {
        let out = diff(&a, &b, &["--metric", &format!("{name}=0.5")]);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
    }

    // The same name in the reference's [diff] table is blamed on that spec.
    let spec = b.join("spec.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, format!("{text}\n[diff]\nmetrics = {{ lss = 0.1 }}\n")).unwrap();
    let out = diff(&a, &b, &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let expected =
        format!("{}: [diff] metrics: no value of these runs is named `lss`; did you mean `loss`?", spec.display());
    assert!(out.stderr.contains(&expected), "expected {expected:?} in:\n{}", out.stderr);
    assert_eq!(diff(&a, &b, &["--metric", "lss=0.1"]).code, 2, "a flag of the same name is as unknown");
}

#[test]
fn runner_list_refuses_a_status_no_run_has_and_a_file_for_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().to_str().unwrap();
    let out = runner(&["list", results, "--status", "bogus"], &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "--status bogus: not a status; the statuses are complete, interrupted, diverged, failed, running, \
             killed, sweep, unknown, unreadable"
        ),
        "{}",
        out.stderr
    );
    let out = runner(&["list", results, "--status", "compete"], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("did you mean `complete`?"), "{}", out.stderr);
    assert_eq!(runner(&["list", results, "--status", "KILLED"], &[]).code, 0, "statuses match in any case");
    let file = tmp.path().join("notes.txt");
    std::fs::write(&file, "x").unwrap();
    let out = runner(&["list", file.to_str().unwrap()], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains(&format!("{}: not a folder", file.display())), "{}", out.stderr);
    assert!(!out.stderr.contains("no such"), "{}", out.stderr);
}
