//! `runner sweep --executor slurm` against a real one-node Slurm, started with the
//! project's scripts/slurm-ci.sh (Debian, root) unless one is up already (CI starts it
//! before the tests). Where it cannot be started the tests say `skipped`, and fail
//! instead with RUNNER_REQUIRE_SLURM=1.

use crate::common::{read_csv, root, runner, write_spec, Output};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The tests share the machine's one Slurm (its daemons are global).
static SLURM: Mutex<()> = Mutex::new(());

/// Slurm for one test; stops it on drop (a failing test included) if it started it.
struct Slurm {
    started_here: bool,
}

fn sh(script: &str, envs: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(script).current_dir(root());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    match cmd.output() {
        Ok(o) => {
            (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr))
        }
        Err(e) => (false, e.to_string()),
    }
}

fn idle() -> bool {
    sh("sinfo -h -o %t", &[]).1.lines().any(|l| l.trim() == "idle")
}

impl Slurm {
    fn start(test: &str) -> Option<Slurm> {
        if idle() {
            return Some(Slurm { started_here: false });
        }
        let why = if sh("test \"$(id -u)\" = 0", &[]).0 {
            if Path::new("/etc/debian_version").is_file() {
                // 8 CPUs on any machine: tasks run side by side (Slurm enforces nothing here).
                let (ok, out) = sh("bash scripts/slurm-ci.sh up", &[("SLURM_CI_CPUS", "8")]);
                if ok && idle() {
                    return Some(Slurm { started_here: true });
                }
                // A half-started Slurm is stopped again.
                sh("bash scripts/slurm-ci.sh down", &[]);
                format!("scripts/slurm-ci.sh up failed: {}", out.lines().last().unwrap_or(""))
            } else {
                "not Debian".into()
            }
        } else {
            "not root".into()
        };
        assert!(
            std::env::var("RUNNER_REQUIRE_SLURM").as_deref() != Ok("1"),
            "{test}: Slurm cannot be started ({why}) and RUNNER_REQUIRE_SLURM=1"
        );
        eprintln!("skipped: {test}: Slurm cannot be started ({why})");
        None
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        if self.started_here {
            sh("bash scripts/slurm-ci.sh down", &[]);
        }
    }
}

/// 8 quick XOR runs: lr 10000 diverges (the failed one); the 400-iteration one is the
/// only run that reaches step 300, where RUNNER_TEST_SIGNAL_AT kills it (SIGKILL).
const SPEC: &str = r#"name = "sl"
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
paired = { "train.lr" = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 10000.0, 0.4], "train.iterations" = [200, 200, 200, 200, 200, 200, 200, 400] }
"#;

fn slurm_sweep(spec: &Path, results: &Path, envs: &[(&str, &str)]) -> Output {
    let args = [
        "sweep",
        spec.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
        "--executor",
        "slurm",
        "--cpus-per-task",
        "2",
    ];
    runner(&args, envs)
}

fn tally(out: &Output) -> Vec<usize> {
    let line = out.stderr.lines().find(|l| l.contains(" resumed, ")).unwrap_or_else(|| panic!("{}", out.stderr));
    line.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect()
}

/// sweep.csv's rows by run id, as column → cell.
fn rows(folder: &Path) -> Vec<Vec<(String, String)>> {
    let (header, rows) = read_csv(&folder.join("sweep.csv"));
    rows.into_iter().map(|r| header.iter().cloned().zip(r).collect()).collect()
}

fn cell<'a>(row: &'a [(String, String)], name: &str) -> &'a str {
    &row.iter().find(|(k, _)| k == name).unwrap_or_else(|| panic!("no {name}")).1
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    out.sort();
    out
}

/// A manifest without what differs between two executions of one run: times, speeds,
/// thread count, resume events, and the sweep folder's place in paths.
fn manifest(path: &Path, root: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap().replace(&root.display().to_string(), "ROOT");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let m = v.as_object_mut().unwrap();
    for key in [
        "started",
        "finished",
        "wall_seconds",
        "threads",
        "train_samples_per_second",
        "inference_samples_per_second",
        "resumed",
    ] {
        m.remove(key);
    }
    v
}

/// Every run folder of `b` holds the files of `a`'s, byte for byte (manifests as above).
fn same_runs(a: &Path, a_root: &Path, b: &Path, b_root: &Path) {
    let (ra, rb) = (a.join("runs"), b.join("runs"));
    let names = |d: &Path| files(d).iter().map(|p| p.file_name().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&ra), names(&rb), "the same run folders");
    for run in names(&ra) {
        let (fa, fb) = (ra.join(&run), rb.join(&run));
        assert_eq!(names(&fa), names(&fb), "{run:?}: the same files");
        for f in names(&fa) {
            let (pa, pb) = (fa.join(&f), fb.join(&f));
            if f == "manifest.json" {
                assert_eq!(manifest(&pa, a_root), manifest(&pb, b_root), "{}", pb.display());
            } else if f == "index.html" {
                // The page shows the manifest's times: it is checked to be its folder's page.
                let page = std::fs::read_to_string(&pb).unwrap();
                assert_eq!(page, runner::report::run_page(&fb), "{}", pb.display());
            } else {
                assert!(std::fs::read(&pa).unwrap() == std::fs::read(&pb).unwrap(), "{} differs", pb.display());
            }
        }
    }
}

#[test]
fn a_slurm_sweep_equals_the_local_one_and_a_rerun_submits_only_what_did_not_complete() {
    let _one = SLURM.lock().unwrap_or_else(|p| p.into_inner());
    let test = "slurm::a_slurm_sweep_equals_the_local_one_and_a_rerun_submits_only_what_did_not_complete";
    let Some(_slurm) = Slurm::start(test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "s.toml", SPEC);
    let (local_root, slurm_root) = (tmp.path().join("local"), tmp.path().join("slurm"));

    let started = std::time::Instant::now();
    let local = runner(&["sweep", spec.to_str().unwrap(), "--results", local_root.to_str().unwrap(), "-j", "2"], &[]);
    let local_seconds = started.elapsed().as_secs_f64();
    assert_eq!(local.code, 2, "{}", local.stderr);
    let started = std::time::Instant::now();
    let first = slurm_sweep(&spec, &slurm_root, &[("RUNNER_TEST_SIGNAL_AT", "300:9")]);
    eprintln!("{test}: local -j 2 {local_seconds:.2} s, Slurm {:.2} s", started.elapsed().as_secs_f64());
    assert_eq!(first.code, 2, "{}", first.stderr);
    assert!(first.stderr.contains("submitted job array "), "{}", first.stderr);
    let (lf, sf) = (local.dir(), first.dir());
    assert_eq!(lf.file_name(), sf.file_name(), "one sweep, one folder name");
    assert!(sf.join("slurm/array.sbatch").is_file() && sf.join("slurm/job.json").is_file());

    let (lrows, srows) = (rows(&lf), rows(&sf));
    let status: Vec<&str> = srows.iter().map(|r| cell(r, "status")).collect();
    assert_eq!(status, ["complete", "complete", "complete", "complete", "complete", "complete", "diverged", "killed"]);
    // The failed and the killed task carry Slurm's state, reason and exit code.
    assert_eq!(cell(&srows[6], "error"), "Slurm FAILED (NonZeroExitCode; exit code 3:0)");
    assert!(cell(&srows[7], "error").starts_with("Slurm FAILED ("), "{:?}", srows[7]);
    assert!(cell(&srows[7], "error").contains("exit code 0:9"), "{:?}", srows[7]);
    // Every other cell of the rows of the runs that ended as they do locally is equal.
    for (l, s) in lrows.iter().zip(&srows).take(7) {
        for ((k, lv), (_, sv)) in l.iter().zip(s) {
            if k != "wall_seconds" && k != "error" {
                assert_eq!(lv, sv, "{k} of run {}", cell(l, "run"));
            }
        }
    }
    // Each task ran on the CPUs Slurm gave it.
    let text = std::fs::read_to_string(sf.join("runs").join(cell(&srows[0], "run")).join("manifest.json")).unwrap();
    assert!(text.contains("\"threads\": 2,"), "{text}");

    // Again: only the diverged run (afresh) and the killed one (from its checkpoint).
    let second = slurm_sweep(&spec, &slurm_root, &[]);
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert_eq!(tally(&second), [8, 1, 1, 6, 1], "{}", second.stderr);
    let script = std::fs::read_to_string(sf.join("slurm/array.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-1\n"), "{script}");
    assert!(script.contains(" resume ") && script.contains(" run "), "{script}");
    let status: Vec<String> = rows(&sf).iter().map(|r| cell(r, "status").to_string()).collect();
    assert_eq!(status[6..], ["diverged", "complete"]);
    let resumed = std::fs::read_to_string(sf.join("runs").join(cell(&srows[7], "run")).join("manifest.json")).unwrap();
    assert!(resumed.contains("\"resumed\""), "the killed run went on from its checkpoint: {resumed}");
    // The run folders are those of the local sweep, byte for byte.
    same_runs(&lf, &local_root, &sf, &slurm_root);

    // A third time there is nothing left but the diverged run; the sweep tables match.
    let (lh, lr) = read_csv(&lf.join("sweep.csv"));
    let (sh_, sr) = read_csv(&sf.join("sweep.csv"));
    assert_eq!(lh, sh_);
    let wall = lh.iter().position(|h| h == "wall_seconds").unwrap();
    let error = lh.iter().position(|h| h == "error").unwrap();
    for (l, s) in lr.iter().zip(&sr) {
        for i in (0..l.len()).filter(|&i| i != wall && i != error) {
            assert_eq!(l[i], s[i], "{} of run {}", lh[i], l[0]);
        }
    }
    assert_eq!(
        std::fs::read(lf.join("summary.csv")).unwrap(),
        std::fs::read(sf.join("summary.csv")).unwrap(),
        "summary.csv"
    );
}

#[test]
fn slurm_problems_are_one_line_and_exit_2_and_dry_run_submits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let text = SPEC.to_string() + "[sweep.slurm]\npartition = \"ci\"\nmax_parallel = 3\ntime = \"10\"\n";
    let spec = write_spec(tmp.path(), "s.toml", &text);
    let results = tmp.path().join("results");
    let base = ["sweep", spec.to_str().unwrap(), "--results", results.to_str().unwrap()];
    let with = |extra: &[&str], envs: &[(&str, &str)]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        runner(&args, envs)
    };
    let one_line = |out: &Output, what: &str| {
        assert_eq!(out.code, 2, "{}", out.stderr);
        let lines: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error: ")).collect();
        assert_eq!(lines.len(), 1, "{}", out.stderr);
        assert!(lines[0].contains(what), "{what}: {}", out.stderr);
    };
    one_line(&with(&["--executor", "slurm", "--time", "1h"], &[]), "--time \"1h\": not a Slurm time limit");
    one_line(&with(&["--partition", "p"], &[]), "--partition is an option of --executor slurm");
    one_line(&with(&["--executor", "slurm"], &[("PATH", "/nonexistent")]), "sbatch not found");
    let dry = with(&["--executor", "slurm", "--dry-run", "--mem", "1G", "--sbatch-arg=--comment=x"], &[]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    for line in [
        "#SBATCH --array=0-7%3",
        "#SBATCH --partition=ci",
        "#SBATCH --time=10",
        "#SBATCH --mem=1G",
        "#SBATCH --comment=x",
    ] {
        assert!(dry.stdout.contains(&format!("{line}\n")), "{line}: {}", dry.stdout);
    }
    assert_eq!(dry.stdout.matches(" exec ").count(), 8, "{}", dry.stdout);
    assert!(!dry.dir().join("slurm/job.json").exists(), "nothing was submitted");
}

/// The array outlives the process that submitted it: Ctrl-C (standard input not a
/// terminal) leaves it running and says how to cancel it, and the next invocation
/// follows the task still going on instead of submitting anything.
#[test]
fn a_second_invocation_follows_the_array_still_going_on() {
    let _one = SLURM.lock().unwrap_or_else(|p| p.into_inner());
    let Some(_slurm) = Slurm::start("slurm::a_second_invocation_follows_the_array_still_going_on") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let paired = SPEC.lines().find(|l| l.starts_with("paired")).unwrap();
    // The second run takes about 5 s here (fsync of a checkpoint every 50 steps): long
    // enough that the array is still going on when the sweep is invoked again.
    let text = SPEC.replace(paired, r#"paired = { "train.lr" = [0.1, 0.2], "train.iterations" = [200, 500000] }"#);
    let spec = write_spec(tmp.path(), "s.toml", &text);
    let results = tmp.path().join("results");
    let args = ["sweep", spec.to_str().unwrap(), "--results", results.to_str().unwrap(), "--executor", "slurm"];
    let child = Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // Until the short run is complete and the long one is training (its hidden folder
    // has metrics).
    let ready = || {
        let sweeps = std::fs::read_dir(&results).into_iter().flatten().flatten();
        let runs: Vec<PathBuf> = sweeps
            .flat_map(|s| std::fs::read_dir(s.path().join("runs")).into_iter().flatten().flatten())
            .map(|r| r.path())
            .collect();
        let hidden = |r: &&PathBuf| r.file_name().unwrap().to_string_lossy().starts_with('.');
        runs.iter().filter(|r| !hidden(r)).any(|r| {
            std::fs::read_to_string(r.join("manifest.json")).is_ok_and(|m| m.contains("\"status\": \"complete\""))
        }) && runs
            .iter()
            .filter(hidden)
            .any(|r| std::fs::read_to_string(r.join("metrics.csv")).is_ok_and(|t| t.lines().count() > 3))
    };
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "the long run never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The short task's process ends just after its manifest is written.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let folder = PathBuf::from(String::from_utf8_lossy(&out.stdout).lines().last().unwrap());
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("slurm/job.json")).unwrap()).unwrap();
    let job = record["job_id"].as_str().unwrap().to_string();
    assert!(stderr.contains(&format!("left job array {job} running: `scancel {job}` cancels it")), "{stderr}");

    let again = runner(&args, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains(&format!("job array {job} of this sweep is still going on")), "{}", again.stderr);
    assert!(!again.stderr.contains("submitted job array"), "nothing submitted twice: {}", again.stderr);
    assert_eq!(tally(&again), [2, 1, 0, 1, 0], "{}", again.stderr);
    let status: Vec<String> = rows(&folder).iter().map(|r| cell(r, "status").to_string()).collect();
    assert_eq!(status, ["complete", "complete"]);
}
