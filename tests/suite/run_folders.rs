//! Run folders: runs started together never collide, a failed run is marked so, and a
//! run folder's spec.toml reruns from anywhere to the same bytes while its data is the
//! data it was made with.

use crate::common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[test]
fn runs_of_one_spec_and_seed_started_together_all_finish_in_their_own_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..12)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_runner"))
                .args(["run", "experiments/xor.toml", "--quiet", "--results"])
                .arg(tmp.path())
                .args(["--set", "train.iterations=40"])
                .current_dir(root())
                .env("RAYON_NUM_THREADS", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut dirs: Vec<PathBuf> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            PathBuf::from(String::from_utf8_lossy(&out.stdout).lines().last().unwrap())
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    assert_eq!(dirs.len(), 12, "distinct folders: {dirs:?}");
    let first = std::fs::read(dirs[0].join("metrics.csv")).unwrap();
    assert!(first.len() > 100);
    for d in &dirs {
        assert_eq!(std::fs::read(d.join("metrics.csv")).unwrap(), first, "{}", d.display());
        assert!(d.join("manifest.json").is_file());
    }
    let on_disk = std::fs::read_dir(tmp.path().join("xor")).unwrap().count();
    assert_eq!(on_disk, 12, "no hidden folder is left");
}

#[test]
fn a_run_that_fails_after_its_folder_is_reserved_is_kept_marked_failed() {
    let tmp = tempfile::tempdir().unwrap();
    // A bias beside the data's constant column: the least-squares fit, run after the
    // folder is reserved, finds the inputs linearly dependent.
    let text = std::fs::read_to_string(root().join("experiments/linear_regression.toml")).unwrap();
    let text =
        text.replace("bias = false", "bias = true").replace("lr = 1e-3\niterations = 2000", "solver = \"lstsq\"");
    let spec = write_spec(tmp.path(), "dependent.toml", &text);
    let results = tmp.path().join("results");
    let out = runner(&["run", spec.to_str().unwrap(), "--quiet", "--results", results.to_str().unwrap()], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("linearly dependent"), "{}", out.stderr);
    let folders: Vec<PathBuf> =
        std::fs::read_dir(results.join("linear_regression")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    let dir = &folders[0];
    assert!(!dir.file_name().unwrap().to_string_lossy().starts_with('.'), "visible: {}", dir.display());
    assert!(out.stderr.contains("status `failed`") && out.stderr.contains(dir.to_str().unwrap()), "{}", out.stderr);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "failed");
    assert!(manifest["error"].as_str().unwrap().contains("linearly dependent"), "{manifest}");
    let files: Vec<&str> = manifest["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(files, ["metrics.csv", "params.csv", "spec.toml", "index.html", "manifest.json"]);
    assert!(!dir.join("owner").exists());
}

/// Runs the runner binary in `cwd`.
fn runner_in(cwd: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_runner")).args(args).current_dir(cwd).output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn a_run_folders_spec_reruns_from_anywhere_and_checks_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    // The spec and a copy of the data, laid out as in the repository: `../data/mnist-10k`.
    copy_folder(&root().join("data/mnist-10k"), &tmp.path().join("data/mnist-10k"));
    std::fs::create_dir_all(tmp.path().join("experiments")).unwrap();
    let spec = tmp.path().join("experiments/mnist_mlp.toml");
    std::fs::copy(root().join("experiments/mnist_mlp.toml"), &spec).unwrap();
    let results = tmp.path().join("results");
    let small = ["--set", "data.n=128", "--set", "data.test_n=32", "--set", "train.epochs=1"];
    let mut args = vec!["run", spec.to_str().unwrap(), "--quiet", "--results", results.to_str().unwrap()];
    args.extend(small);
    let first = runner_in(tmp.path(), &args);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let dir = first.dir();
    let dir = if dir.is_absolute() { dir } else { tmp.path().join(dir) };

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let hashes = manifest["data_files"].as_object().unwrap();
    let labels = tmp.path().join("data/mnist-10k/t10k-labels-idx1-ubyte.gz").canonicalize().unwrap();
    assert_eq!(hashes.len(), 4, "{hashes:?}");
    let recorded = hashes[labels.to_str().unwrap()].as_str().unwrap();
    assert_eq!(recorded.len(), 64);
    assert!(recorded.bytes().all(|b| b.is_ascii_hexdigit()));

    // From another working directory, the run's own spec.toml gives the same bytes.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let rerun_spec = dir.join("spec.toml");
    let again_results = tmp.path().join("again");
    let rerun = ["run", rerun_spec.to_str().unwrap(), "--quiet", "--results", again_results.to_str().unwrap()];
    let second = runner_in(&elsewhere, &rerun);
    assert_eq!(second.code, 0, "{}", second.stderr);
    for f in ["metrics.csv", "confusion.csv", "model.safetensors"] {
        assert!(std::fs::read(dir.join(f)).unwrap() == std::fs::read(second.dir().join(f)).unwrap(), "{f} differs");
    }

    // Change one test label (the file stays valid): the rerun refuses, naming the file.
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&labels).unwrap()).read_to_end(&mut raw).unwrap();
    raw[8] = (raw[8] + 1) % 10;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    std::fs::write(&labels, gz.finish().unwrap()).unwrap();
    let third = runner_in(&elsewhere, &rerun);
    assert_eq!(third.code, 2, "{}", third.stderr);
    assert!(third.stderr.contains(labels.to_str().unwrap()), "{}", third.stderr);
    assert!(third.stderr.contains("changed since the run was made"), "{}", third.stderr);
    assert!(third.stderr.contains(recorded), "{}", third.stderr);
    // The original spec (no manifest beside it) still runs on the changed data.
    assert_eq!(runner_in(tmp.path(), &args).code, 0);
}

/// A tmpfs of `kib` KiB mounted on a fresh folder, unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    /// None where this process cannot mount (not root, or no tmpfs).
    fn mount(kib: usize) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_fails_the_run_but_keeps_its_folder_and_the_rows_it_wrote() {
    let test = "run_folders::a_full_disk_fails_the_run_but_keeps_its_folder_and_the_rows_it_wrote";
    // 100 KiB: the rows and the model fit, not every picture; 24 KiB: the rows fit, not
    // the failed manifest.
    for (kib, manifest_written) in [(100, true), (24, false)] {
        let Some(disk) = SmallDisk::mount(kib) else {
            eprintln!("skipped: {test}: cannot mount a tmpfs here (needs root)");
            return;
        };
        let results = disk.0.path();
        let out = runner(
            &["run", "experiments/xor.toml", "--quiet", "--results", results.to_str().unwrap()],
            &[("RAYON_NUM_THREADS", "1")],
        );
        let err = &out.stderr;
        assert_eq!(out.code, 2, "{kib} KiB: {err}");
        assert!(err.contains("No space left on device"), "{kib} KiB: {err}");
        let runs: Vec<PathBuf> = std::fs::read_dir(results.join("xor")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(runs.len(), 1, "{kib} KiB: one visible folder, nothing hidden: {runs:?}");
        let run = &runs[0];
        assert!(err.contains(&run.display().to_string()), "{kib} KiB: the error names the folder: {err}");
        // The file that could not be written is named where it is now, not under the
        // hidden name the folder had while it was written.
        assert!(!err.contains(".incomplete-"), "{kib} KiB: {err}");
        let named = err.split(": No space").next().unwrap().rsplit("error: ").next().unwrap();
        assert_eq!(Path::new(named).parent(), Some(run.as_path()), "{kib} KiB: {err}");
        let rows = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        assert!(rows.lines().count() > 10 && rows.ends_with('\n'), "{kib} KiB: whole rows kept:\n{rows}");
        let manifest = std::fs::read_to_string(run.join("manifest.json"));
        if manifest_written {
            let manifest = manifest.unwrap();
            assert!(manifest.contains("\"status\": \"failed\"") && manifest.contains("No space left"), "{manifest}");
            assert!(!manifest.contains(".incomplete-"), "the error names the final folder: {manifest}");
            assert!(run.join("model.safetensors").exists(), "the model, written before the pictures, is kept");
            // The picture the disk cut short is gone, and not listed.
            let cut = err.split(": No space").next().unwrap().rsplit('/').next().unwrap();
            assert!(cut.ends_with(".png"), "{err}");
            let listed: serde_json::Value = serde_json::from_str(&manifest).unwrap();
            let listed = listed["files"].as_array().unwrap();
            assert!(listed.iter().any(|f| f == "metrics.csv"), "{manifest}");
            assert!(!run.join(cut).exists() && !listed.iter().any(|f| f == cut), "{cut} removed:\n{manifest}");
        } else {
            assert!(manifest.is_err(), "{kib} KiB: no manifest cut short");
            assert!(err.contains("without a manifest"), "{err}");
        }
    }
}

/// Sets the modification time of `path` (a file or a folder) `secs` seconds back.
fn age(path: &Path, secs: u64) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
    std::fs::File::open(path).unwrap().set_modified(then).unwrap();
}

#[test]
fn what_list_calls_killed_is_what_clean_removes_and_nothing_live() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let dead = format!("pid 4194399\nstart 1\nhost {}\n", host.trim());
    let alive = format!("pid {}\nhost {}\n", std::process::id(), host.trim());
    // (folder, owner file, minutes since anything in it changed, killed?)
    let cases: [(&str, Option<&str>, u64, bool); 7] = [
        ("xor/.incomplete-garbage-old", Some("zzz"), 60, true),
        ("xor/.incomplete-empty-old", Some(""), 60, true),
        ("xor/.incomplete-unowned-old", None, 60, true),
        ("xor/.incomplete-dead", Some(&dead), 0, true),
        // Deeper than `<name>/<run>`: `list` shows it, so `clean` must reach it.
        ("group/xor/.incomplete-dead-nested", Some(&dead), 0, true),
        // An owner file being written this moment, or a run starting: never removed.
        ("xor/.incomplete-garbage-new", Some("pi"), 0, false),
        ("xor/.incomplete-alive", Some(&alive), 60, false),
    ];
    for (folder, owner, minutes, _) in &cases {
        let dir = results.join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("metrics.csv"), "step,epoch,split,loss\n0,0,train,0.5\n").unwrap();
        if let Some(text) = owner {
            std::fs::write(dir.join("owner"), text).unwrap();
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            age(&entry.unwrap().path(), minutes * 60);
        }
        age(&dir, minutes * 60);
    }
    // A garbage owner in an old folder whose metrics.csv was written just now: a run
    // going on, whatever its owner file says.
    let writing = results.join("xor/.incomplete-garbage-writing");
    std::fs::create_dir_all(&writing).unwrap();
    std::fs::write(writing.join("owner"), "zzz").unwrap();
    age(&writing.join("owner"), 3600);
    age(&writing, 3600);
    std::fs::write(writing.join("metrics.csv"), "step\n").unwrap();
    age(&writing, 3600);

    let out = runner(&["list", results.to_str().unwrap()], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let status_of = |folder: &str| -> String {
        let path = results.join(folder).display().to_string();
        let line =
            out.stdout.lines().find(|l| l.ends_with(&path)).unwrap_or_else(|| panic!("{folder}:\n{}", out.stdout));
        line.split_whitespace().next().unwrap().to_string()
    };
    for (folder, _, _, killed) in &cases {
        assert_eq!(status_of(folder), if *killed { "killed" } else { "running" }, "{folder}");
    }
    assert_eq!(status_of("xor/.incomplete-garbage-writing"), "running");

    let clean = runner(&["clean", "--results", results.to_str().unwrap()], &[]);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    let mut removed: Vec<String> = clean.stdout.lines().map(String::from).collect();
    removed.sort();
    let mut expected: Vec<String> = cases
        .iter()
        .filter(|c| c.3)
        .map(|(folder, ..)| format!("removed {}", results.join(folder).display()))
        .collect();
    expected.sort();
    assert_eq!(removed, expected);
    for (folder, _, _, killed) in &cases {
        assert_eq!(results.join(folder).exists(), !killed, "{folder}");
    }
    assert!(writing.join("metrics.csv").is_file(), "the run going on keeps its folder");
}
