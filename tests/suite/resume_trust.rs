//! What `runner resume` must get right beyond the bytes of the run: pictures that
//! `runner probe` drew from the stopped model do not outlive the resume, a metrics.csv
//! edited in place before the checkpoint is refused, the manifest's time is the run's
//! compute time, and each refusal names its real cause.

use crate::common::*;
use std::path::{Path, PathBuf};

const SIGINT: i32 = 2;

/// The diamond for `iterations`, a checkpoint every 50, stopped by SIGINT before
/// step `at`; returns the interrupted folder.
fn stopped_diamond(results: &Path, iterations: usize, at: usize, extra: &[&str]) -> PathBuf {
    let iterations = format!("train.iterations={iterations}");
    let mut args = vec!["run", "experiments/diamond.toml", "--quiet", "--results", results.to_str().unwrap()];
    args.extend(["--set", &iterations, "--set", "train.checkpoint_every=50", "--set", "metrics.every=10"]);
    args.extend_from_slice(extra);
    let signal = format!("{at}:{SIGINT}");
    let out = runner(&args, &[("RUNNER_TEST_SIGNAL_AT", &signal)]);
    assert_eq!(out.code, 128 + SIGINT, "{}", out.stderr);
    let folder = out.dir();
    assert_eq!(read_manifest(&folder)["status"], "interrupted");
    folder
}

fn resume(folder: &Path) -> Output {
    runner(&["resume", folder.to_str().unwrap(), "--quiet"], &[])
}

/// `runner resume` exits 2 with one `error: cannot resume …` line holding `expect`.
fn refused(folder: &Path, expect: &str) {
    let out = resume(folder);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.starts_with("error: cannot resume") && out.stderr.lines().count() == 1, "{}", out.stderr);
    assert!(out.stderr.contains(expect), "want `{expect}` in: {}", out.stderr);
    assert_eq!(out.stdout, "");
}

#[test]
fn pictures_runner_probe_drew_from_the_stopped_model_are_removed_by_the_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let full = run_ok(
        "experiments/diamond.toml",
        &tmp.path().join("full"),
        &["--set", "train.iterations=200", "--set", "train.checkpoint_every=50", "--set", "metrics.every=10"],
    );
    let folder = stopped_diamond(&tmp.path().join("cut"), 200, 120, &[]);
    // A kind the spec lacks (its file is the run's only through `runner probe`), and the
    // spec's own dataset picture drawn again.
    let out = runner(&["probe", folder.to_str().unwrap(), "--probe", "dataset", "--probe", "confusion"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let drawn: Vec<String> =
        out.stdout.lines().map(|l| Path::new(l).file_name().unwrap().to_string_lossy().into_owned()).collect();
    let extra = "confusion.png";
    assert!(drawn.iter().any(|f| f == extra), "{drawn:?}");
    let shown = |d: &Path| {
        let page = std::fs::read_to_string(d.join("index.html")).unwrap();
        page.contains(&format!("src=\"{extra}\"")) || page.contains(&format!("href=\"{extra}\""))
    };
    assert!(shown(&folder));

    let out = runner(&["resume", folder.to_str().unwrap(), "--quiet"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let note = out.stderr.lines().find(|l| l.starts_with("note: removed ")).unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(note.contains("model at step 120") && note.contains(extra), "{note}");
    // What is left is what an uninterrupted run has: no picture of the step-120 model.
    let names = |d: &Path| {
        let mut v: Vec<String> =
            std::fs::read_dir(d).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    assert_eq!(names(&folder), names(&full));
    // (The page still quotes the manifest, whose record names the file as removed.)
    assert!(!shown(&folder), "the page shows no picture that is gone");
    for picture in ["dataset.png", "decision_boundary.png"] {
        assert_eq!(std::fs::read(folder.join(picture)).unwrap(), std::fs::read(full.join(picture)).unwrap());
    }
    // The record of what `runner probe` did is kept, saying the files went and why.
    let m = read_manifest(&folder);
    assert_eq!(m["status"], "complete");
    let probed = m["probed"].as_array().unwrap();
    assert_eq!(probed.len(), 1);
    assert_eq!(probed[0]["kinds"], serde_json::json!(["dataset", "confusion"]));
    let mut removed: Vec<&str> =
        probed[0]["removed_by_resume"]["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    removed.sort();
    let mut want: Vec<&str> = drawn.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(removed, want);
    assert_eq!(probed[0]["removed_by_resume"]["at"], m["resumed"][0]["at"]);

    // `runner probe` on the finished run adds its record after the kept one.
    let out = runner(&["probe", folder.to_str().unwrap(), "--probe", "confusion"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let m = read_manifest(&folder);
    assert_eq!(m["probed"].as_array().unwrap().len(), 2);
    assert!(m["probed"][1].get("removed_by_resume").is_none());
    assert!(m["files"].as_array().unwrap().iter().any(|f| f == extra));
}

/// The checkpoint's `runner.resume` metadata, edited by `edit` (the checkpoint is
/// rewritten with its header padded as safetensors wants).
fn with_meta(checkpoint: &[u8], edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<u8> {
    with_resume_meta(checkpoint, |meta| edit(meta.as_object_mut().unwrap()))
}

#[test]
fn a_metrics_row_edited_in_place_before_the_checkpoint_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = stopped_diamond(tmp.path(), 200, 120, &[]);
    let checkpoint = std::fs::read(folder.join("resume.safetensors")).unwrap();
    let n = u64::from_le_bytes(checkpoint[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&checkpoint[8..8 + n]).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(header["__metadata__"]["runner.resume"].as_str().unwrap()).unwrap();
    let metrics_path = folder.join("metrics.csv");
    let metrics = std::fs::read(&metrics_path).unwrap();
    let len = meta["metrics_bytes"].as_u64().unwrap() as usize;
    {
        use sha2::Digest;
        let digest: String = sha2::Sha256::digest(&metrics[..len]).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(meta["metrics_sha256"], digest.as_str(), "the checkpoint records the prefix's sha256");
    }
    // One digit of the step-20 row's accuracy, same length: the length check passes.
    let text = String::from_utf8(metrics.clone()).unwrap();
    let row = text.lines().position(|l| l.starts_with("20,")).unwrap();
    let at = text.lines().take(row).map(|l| l.len() + 1).sum::<usize>() + text.lines().nth(row).unwrap().len() - 1;
    assert!(at < len);
    let mut edited = metrics.clone();
    edited[at] = if edited[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&metrics_path, &edited).unwrap();
    refused(&folder, "metrics.csv: its first");
    refused(&folder, "(the rows up to the checkpoint) are not those the checkpoint saw");
    assert_eq!(std::fs::read(&metrics_path).unwrap(), edited, "a refusal changes nothing");

    // A checkpoint of a runner before the hash (no `metrics_sha256`, no `meta_sha256`)
    // is checked by length, as then, and still resumes.
    std::fs::write(&metrics_path, &metrics).unwrap();
    let older = with_meta(&checkpoint, |m| {
        m.remove("metrics_sha256").unwrap();
        m.remove("meta_sha256").unwrap();
    });
    std::fs::write(folder.join("resume.safetensors"), older).unwrap();
    let out = resume(&folder);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(read_manifest(&folder)["steps"], 200);
}

#[test]
fn a_resumed_run_counts_its_compute_time_not_the_time_it_lay_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = stopped_diamond(tmp.path(), 300, 150, &[]);
    std::thread::sleep(std::time::Duration::from_secs(4));
    let out = runner(&["resume", folder.to_str().unwrap()], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let m = read_manifest(&folder);
    let wall = m["wall_seconds"].as_f64().unwrap();
    let parse = |s: &serde_json::Value| {
        let s = s.as_str().unwrap();
        // 2026-12-02T07:18:03Z → seconds of the day are enough within one test.
        let t = &s[11..s.len() - 1];
        let mut parts = t.split(':').map(|p| p.parse::<f64>().unwrap());
        parts.next().unwrap() * 3600.0 + parts.next().unwrap() * 60.0 + parts.next().unwrap()
    };
    let span = (parse(&m["finished"]) - parse(&m["started"])).rem_euclid(86_400.0);
    // The manifest's times are whole seconds: the span is the true one ± 1 s.
    assert!(span >= 3.0, "started {} finished {}", m["started"], m["finished"]);
    assert!(wall > 0.0 && wall < span - 2.5 && wall < 3.0, "wall_seconds {wall} counts the pause (span {span})");
    let line = out.stderr.lines().find(|l| l.starts_with("complete in ")).unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(line.contains("s of compute over 2 attempts (the time stopped between them not counted)"), "{line}");
    assert!(line.contains(&format!("{wall:.2} s")), "{line} vs {wall}");
}

#[test]
fn a_checkpoint_from_another_run_is_named_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let mine = stopped_diamond(&tmp.path().join("mine"), 200, 120, &[]);
    let other_seed = stopped_diamond(&tmp.path().join("seed8"), 200, 120, &["--seed", "8"]);
    let other_spec = stopped_diamond(&tmp.path().join("lr"), 200, 120, &["--set", "train.lr=0.002"]);
    let own = std::fs::read(mine.join("resume.safetensors")).unwrap();
    std::fs::copy(other_seed.join("resume.safetensors"), mine.join("resume.safetensors")).unwrap();
    refused(&mine, "its resume.safetensors is from a run with seed 8, and this run's spec.toml has seed 7");
    refused(&mine, "copied in from another run's folder?");
    std::fs::copy(other_spec.join("resume.safetensors"), mine.join("resume.safetensors")).unwrap();
    refused(&mine, "its resume.safetensors was written for another spec (spec hash");
    // The spec edited instead: still said so.
    std::fs::write(mine.join("resume.safetensors"), &own).unwrap();
    let spec = std::fs::read_to_string(mine.join("spec.toml")).unwrap();
    std::fs::write(mine.join("spec.toml"), spec.replace("lr = 0.001", "lr = 0.003")).unwrap();
    refused(&mine, "its spec.toml is not the spec the checkpoint was written for (edited since?)");
}

#[test]
fn resume_refusals_name_the_real_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = stopped_diamond(&tmp.path().join("a"), 200, 120, &[]);
    let manifest = std::fs::read(folder.join("manifest.json")).unwrap();
    std::fs::write(folder.join("manifest.json"), "{").unwrap();
    refused(&folder, "manifest.json is not valid JSON (EOF while parsing an object at line 1 column 1)");
    std::fs::remove_file(folder.join("manifest.json")).unwrap();
    refused(&folder, "it has no manifest.json: not a runner run folder");
    std::fs::write(folder.join("manifest.json"), &manifest).unwrap();
    refused(&folder.join("spec.toml"), "it is a file, not a run folder");

    // Data changed since the run: named as such, not as a rerun that would not reproduce.
    let data = tmp.path().join("points.csv");
    let rows: String = (0..40).map(|i| format!("{},{}\n", i as f64 / 10.0, 0.5 * i as f64 / 10.0 - 1.0)).collect();
    std::fs::write(&data, format!("x,y\n{rows}")).unwrap();
    let spec = write_spec(
        tmp.path(),
        "line.toml",
        "name = \"line\"\nseed = 1\n[data]\nkind = \"csv\"\npath = \"points.csv\"\nfeature_columns = [\"x\"]\n\
         target_columns = [\"y\"]\n[[model.layers]]\nname = \"h\"\nop = \"dense\"\nunits = 1\n[train]\n\
         loss = \"mse\"\nlr = 0.01\niterations = 200\ncheckpoint_every = 50\n",
    );
    let results = tmp.path().join("b");
    let out = runner(
        &["run", spec.to_str().unwrap(), "--quiet", "--results", results.to_str().unwrap()],
        &[("RUNNER_TEST_SIGNAL_AT", "120:2")],
    );
    assert_eq!(out.code, 128 + SIGINT, "{}", out.stderr);
    let stopped = out.dir();
    std::fs::write(&data, format!("x,y\n{}", rows.replacen("0,-1", "0,-2", 1))).unwrap();
    let abs = std::fs::canonicalize(&data).unwrap();
    refused(&stopped, &format!("the data file {} changed since the run read it (sha256 now", abs.display()));
    refused(&stopped, "the steps left would train on other data");
}

#[test]
fn a_second_resume_of_a_run_being_resumed_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = stopped_diamond(tmp.path(), 200_000_000, 120, &["--set", "metrics.every=100000"]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["resume", "--quiet"])
        .arg(&folder)
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let hidden = folder.with_file_name(format!(".incomplete-{}", folder.file_name().unwrap().to_string_lossy()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while folder.exists() || !hidden.join("owner").is_file() {
        assert!(std::time::Instant::now() < deadline, "the resume never took the folder over");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = resume(&folder);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(out.code, 2, "{}", out.stderr);
    let want = format!("it is being resumed now (process {} on ", child.id());
    assert!(out.stderr.contains(&want) && out.stderr.contains(&hidden.display().to_string()), "{}", out.stderr);
    // Its process gone, the hidden folder is named to continue from.
    refused(
        &folder,
        &format!(
            "its resume ended without finishing (its process is gone); continue it with `runner resume {}`",
            hidden.display()
        ),
    );
}

#[test]
fn a_symbolic_link_loop_in_results_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let looped = tmp.path().join("loop");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    // The run's folder under the loop, one further below, and the loop itself as the
    // folder to make (a fixed run id puts the run right in it): the last read "File exists".
    let (top, deeper) = (looped.to_str().unwrap(), looped.join("deeper"));
    for extra in
        [vec!["--results", top], vec!["--results", deeper.to_str().unwrap()], vec!["--results", top, "--run-id", "x"]]
    {
        let mut args = vec!["run", "experiments/diamond.toml", "--quiet"];
        args.extend(extra);
        let out = runner(&args, &[]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        let want = format!("error: {}: is a symbolic link in a loop", looped.display());
        assert!(out.stderr.starts_with(&want) && !out.stderr.contains("File exists"), "{}", out.stderr);
    }
    let nowhere = tmp.path().join("dangling");
    std::os::unix::fs::symlink(tmp.path().join("gone"), &nowhere).unwrap();
    let out = runner(&["run", "experiments/diamond.toml", "--quiet", "--results", nowhere.to_str().unwrap()], &[]);
    assert!(
        out.stderr.contains("is a symbolic link to ") && out.stderr.contains("which cannot be reached"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_damaged_checkpoint_header_names_the_tensor_at_fault() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = stopped_diamond(tmp.path(), 200, 120, &[]);
    let path = folder.join("resume.safetensors");
    let good = std::fs::read(&path).unwrap();
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&good[8..8 + n]).unwrap();
    // The tensor stored first, and its entry as the header writes it.
    let (first, entry) = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .min_by_key(|(_, v)| v["data_offsets"][0].as_u64().unwrap())
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    let raw = std::str::from_utf8(&good[8..8 + n]).unwrap();
    let at = raw.find(&format!("\"{first}\":{{")).unwrap();
    let entry_text = raw[at..at + raw[at..].find('}').unwrap() + 1].to_string();
    let (start, end) = (entry["data_offsets"][0].as_u64().unwrap(), entry["data_offsets"][1].as_u64().unwrap());
    assert!(entry_text.contains(&format!("[{start},{end}]")), "{entry_text}");

    // The entry given twice: the crate would keep the last, silently.
    std::fs::write(&path, with_header_text(&good, |t| format!("{},{entry_text}}}", &t[..t.len() - 1]))).unwrap();
    refused(&folder, &format!("is damaged (its header: the key `{first}` appears twice"));
    // Its end moved: this tensor is named, not the one after it.
    let moved = entry_text.replace(&format!("[{start},{end}]"), &format!("[{start},{}]", end + 4));
    std::fs::write(&path, with_header_text(&good, |t| t.replace(&entry_text, &moved))).unwrap();
    refused(&folder, &format!("is damaged (tensor `{first}`: shape"));
    refused(&folder, &format!("but its data_offsets [{start}, {}] span {} bytes", end + 4, end + 4 - start));
    std::fs::write(&path, &good).unwrap();
    let out = resume(&folder);
    assert_eq!(out.code, 0, "{}", out.stderr);
}
