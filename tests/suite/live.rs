//! The live view: `runner run --serve` and `runner watch` answered over plain HTTP
//! (fixed paths only, read-only, loopback names only), and the page in headless Chromium
//! growing while a run trains. Every child process is killed when its guard drops, so a
//! failing test leaves none behind.

use crate::common::browser::Browser;
use crate::common::{read_csv, root, runner, write_spec};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Trains until it is stopped: mini-batches on the moons, a record per epoch (train
/// and test) and every 50th batch's own loss and accuracy.
const ENDLESS: &str = r#"name = "endless"
seed = 3
[data]
kind = "moons"
n = 20000
test_fraction = 0.25
[[model.layers]]
name = "hidden"
op = "dense"
units = 64
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
lr = 0.05
batch_size = 100
epochs = 1000000
[metrics]
record = ["loss", "accuracy"]
batch_every = 50
"#;

/// The largest step the page marks as a line's last point (-1 before any).
const MAX_SHOWN: &str =
    "Math.max(-1, ...[...document.querySelectorAll('circle[data-step]')].map(c => +c.dataset.step))";

/// A `runner` child process, killed and reaped when dropped. Its stderr is collected.
struct Proc {
    child: Child,
    stderr: Arc<Mutex<String>>,
    /// The URL it printed, when it serves.
    url: Arc<Mutex<Option<String>>>,
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_runner"))
            .args(args)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runner starts");
        let (stderr, url) = (Arc::new(Mutex::new(String::new())), Arc::new(Mutex::new(None)));
        let pipe = child.stderr.take().unwrap();
        let (log, found) = (Arc::clone(&stderr), Arc::clone(&url));
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(u) = line.strip_prefix("serving the live view on ") {
                    *found.lock().unwrap() = Some(u.to_string());
                }
                log.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Proc { child, stderr, url }
    }

    /// Starts a command that serves, and waits for the URL it prints.
    fn serving(args: &[&str]) -> Proc {
        let p = Proc::start(args);
        wait_until("the URL on stderr", || p.url.lock().unwrap().clone(), || p.stderr());
        p
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn url(&self) -> String {
        self.url.lock().unwrap().clone().expect("a URL")
    }

    /// `HOST:PORT` of the URL.
    fn addr(&self) -> String {
        self.url().trim_start_matches("http://").trim_end_matches('/').to_string()
    }

    fn get(&self, path: &str) -> (u16, String) {
        let addr = self.addr();
        http(&addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}"))
    }

    fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// SIGTERM (the run stops after its step and writes its files); the exit code.
    fn terminate(&mut self) -> Option<i32> {
        // SAFETY: kill(2) on the pid of a child this guard owns and has not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        status.code()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `head` (a request line and headers) and returns the status and the body.
fn http(addr: &str, head: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "{head}\r\nConnection: close\r\n\r\n").unwrap();
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

/// Polls `f` until it gives a value; fails after 60 s with `what` and `context()`.
fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>, context: impl Fn() -> String) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "waited 60 s for {what}\n{}", context());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The hidden folder of the one run under `results/<name>/`, once its metrics.csv has a row.
fn hidden_run_with_rows(results: &Path, name: &str) -> PathBuf {
    let find = || {
        let dir = std::fs::read_dir(results.join(name))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(".incomplete-"))?;
        let text = std::fs::read_to_string(dir.join("metrics.csv")).ok()?;
        (text.lines().count() > 1).then_some(dir)
    };
    wait_until("a row in the hidden run folder", find, String::new)
}

/// The step of the last whole row of a metrics.csv.
fn last_step(metrics: &Path) -> u64 {
    let text = std::fs::read_to_string(metrics).unwrap();
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    whole.lines().skip(1).last().and_then(|l| l.split(',').next()?.parse().ok()).unwrap_or(0)
}

fn rows(v: &Value) -> &Vec<Value> {
    v["rows"].as_array().expect("rows")
}

#[test]
fn a_bad_address_or_a_taken_port_is_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let r = results.to_str().unwrap();
    for addr in ["nonsense", "127.0.0.1", "example.com:80", "70000"] {
        let out = runner(&["run", "experiments/xor.toml", "--quiet", "--results", r, "--serve", addr], &[]);
        assert_eq!(out.code, 2, "{addr}: {}", out.stderr);
        assert!(out.stderr.contains("not an address") && out.stderr.contains(addr), "{}", out.stderr);
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = runner(&["run", "experiments/xor.toml", "--quiet", "--results", r, "--serve", &port], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("127.0.0.1:{port}: cannot listen there")), "{}", out.stderr);
    assert!(!results.exists(), "nothing was run");
    let out = runner(&["sweep", "experiments/sweeps/diamond_lr.toml", "--results", r, "--serve", "x:y"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("not an address"), "{}", out.stderr);
    assert!(!results.exists(), "no sweep was planned");
}

#[test]
fn a_training_run_is_served_through_fixed_paths_only() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "endless.toml", ENDLESS);
    let results = tmp.path().join("results");
    let (s, r) = (spec.to_str().unwrap(), results.to_str().unwrap());
    let mut run = Proc::serving(&["run", s, "--quiet", "--results", r, "--serve", "127.0.0.1:0"]);
    let addr = run.addr();
    assert!(addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"), "{addr}");

    let first = wait_until(
        "rows over HTTP",
        || Some(run.json("/metrics.json?run=0&from=0")).filter(|m| !rows(m).is_empty()),
        || run.stderr(),
    );
    assert_eq!(first["columns"], json!(["step", "epoch", "split", "loss", "accuracy"]));
    // Runs by epochs evaluate the splits before the first step: train comes first.
    assert_eq!(rows(&first)[0], json!([0, 0, "train", rows(&first)[0][3], rows(&first)[0][4]]));
    // The rows are the file's, in its order.
    let hidden = hidden_run_with_rows(&results, "endless");
    let (_, file_rows) = read_csv(&hidden.join("metrics.csv"));
    for (sent, written) in rows(&first).iter().zip(&file_rows) {
        assert_eq!(sent[0].as_u64().unwrap().to_string(), written[0]);
        assert_eq!(sent[2], json!(written[2]));
        assert_eq!(sent[3].as_f64().unwrap(), written[3].parse::<f64>().unwrap());
    }
    // A poll from `next` brings only what was recorded since.
    let last = rows(&first).last().unwrap()[0].as_u64().unwrap();
    let next = first["next"].as_u64().unwrap();
    let later = wait_until(
        "newer rows",
        || Some(run.json(&format!("/metrics.json?run=0&from={next}"))).filter(|m| !rows(m).is_empty()),
        || run.stderr(),
    );
    assert!(rows(&later).iter().all(|r| r[0].as_u64().unwrap() >= last));
    assert!(rows(&later).iter().any(|r| r[0].as_u64().unwrap() > last), "{later}");

    let runs = run.json("/runs.json");
    let id = hidden.file_name().unwrap().to_string_lossy().trim_start_matches(".incomplete-").to_string();
    assert_eq!(runs["kind"], "run");
    assert_eq!(runs["runs"], json!([{"label": id, "state": "running"}]));
    let (status, page) = run.get("/");
    assert_eq!(status, 200);
    assert!(page.contains(r#"<script src="/page.js">"#), "{page}");
    let (status, script) = run.get("/page.js");
    assert!(status == 200 && script.contains("/metrics.json"));
    assert_eq!(http(&addr, &format!("HEAD / HTTP/1.1\r\nHost: {addr}")), (200, String::new()));

    // Nothing else: no file of the folder by name, no way out of it, no other method,
    // and no other host name (a page elsewhere rebound to 127.0.0.1).
    for path in [
        "/metrics.csv",
        "/spec.toml",
        "/owner",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc%2fpasswd",
        "/etc/passwd",
        "//etc/passwd",
        &format!("{}/metrics.csv", hidden.display()),
        &format!("http://{addr}/../metrics.csv"),
    ] {
        let (status, body) = run.get(path);
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.contains("root:"), "{path}");
    }
    assert_eq!(run.get("/metrics.json?run=1").0, 404);
    assert_eq!(run.get("/metrics.json?run=../x").0, 400);
    assert_eq!(run.get("/metrics.json?file=/etc/passwd").0, 400);
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        assert_eq!(http(&addr, &format!("{method} / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0")).0, 405);
    }
    assert_eq!(http(&addr, "GET /runs.json HTTP/1.1\r\nHost: evil.example").0, 403);

    // The server stops with the run.
    assert_eq!(run.terminate(), Some(143), "{}", run.stderr());
    assert!(TcpStream::connect(&addr).is_err(), "nothing listens after the run");
}

#[test]
fn serving_changes_no_byte_of_the_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path().to_str().unwrap();
    let args = ["run", "experiments/diamond.toml", "--quiet", "--results", r, "--set", "train.iterations=300"];
    let plain = runner(&args, &[]);
    let mut with = args.to_vec();
    with.extend(["--serve", "127.0.0.1:0"]);
    let served = runner(&with, &[]);
    for o in [&plain, &served] {
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    assert!(served.stderr.contains("serving the live view on http://127.0.0.1:"), "{}", served.stderr);
    let files = |dir: &Path| {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    let (a, b) = (plain.dir(), served.dir());
    assert_eq!(files(&a), files(&b));
    // The manifest holds times, and the report page shows them; every other file is the same bytes.
    for name in files(&a).iter().filter(|n| *n != "manifest.json" && *n != "index.html") {
        assert!(std::fs::read(a.join(name)).unwrap() == std::fs::read(b.join(name)).unwrap(), "{name} differs");
    }
}

#[test]
fn watch_follows_a_run_from_its_hidden_folder_to_its_finished_one() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "endless.toml", ENDLESS);
    let results = tmp.path().join("results");
    let mut run = Proc::start(&["run", spec.to_str().unwrap(), "--quiet", "--results", results.to_str().unwrap()]);
    let hidden = hidden_run_with_rows(&results, "endless");
    let id = hidden.file_name().unwrap().to_string_lossy().trim_start_matches(".incomplete-").to_string();
    let watch = Proc::serving(&["watch", hidden.to_str().unwrap(), "--addr", "0"]);
    let runs = watch.json("/runs.json");
    assert_eq!(runs["runs"], json!([{"label": id, "state": "running"}]));
    assert!(runs["title"].as_str().unwrap().ends_with(&id), "{runs}");
    assert!(!rows(&watch.json("/metrics.json?run=0")).is_empty());

    assert_eq!(run.terminate(), Some(143), "{}", run.stderr());
    let finished = results.join("endless").join(&id);
    assert!(finished.is_dir() && !hidden.exists());
    let state = || watch.json("/runs.json")["runs"][0]["state"].as_str().unwrap().to_string();
    wait_until("the finished state", || Some(()).filter(|_| state() == "interrupted"), state);
    // Every row, read from the renamed folder (chunks of a few MiB: one here).
    let all = watch.json("/metrics.json?run=0&from=0");
    assert_eq!(all["more"], json!(false));
    let (_, file_rows) = read_csv(&finished.join("metrics.csv"));
    assert_eq!(rows(&all).len(), file_rows.len());
    assert_eq!(rows(&all).last().unwrap()[0].as_u64().unwrap(), last_step(&finished.join("metrics.csv")));
}

#[test]
fn watch_shows_every_run_of_a_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "sweep.toml",
        r#"name = "sw"
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
iterations = 100
[metrics]
record = ["loss"]
every = 10
[sweep]
grid = { "train.lr" = [0.1, 0.5] }
"#,
    );
    let results = tmp.path().join("results");
    let out = runner(&["sweep", spec.to_str().unwrap(), "--results", results.to_str().unwrap()], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let folder = out.dir();
    let watch = Proc::serving(&["watch", folder.to_str().unwrap()]);
    let runs = watch.json("/runs.json");
    assert_eq!(runs["kind"], "sweep");
    let labels: Vec<&str> = runs["runs"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["train.lr=0.1 seed=1", "train.lr=0.5 seed=1"]);
    assert!(runs["runs"].as_array().unwrap().iter().all(|r| r["state"] == "complete"), "{runs}");
    let ids: Vec<String> = std::fs::read_to_string(folder.join("runs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    for (k, id) in ids.iter().enumerate() {
        let m = watch.json(&format!("/metrics.json?run={k}"));
        let (_, file_rows) = read_csv(&folder.join("runs").join(id).join("metrics.csv"));
        assert_eq!(rows(&m).len(), file_rows.len(), "run {k}");
        assert_eq!(rows(&m).last().unwrap()[3].as_f64().unwrap(), file_rows.last().unwrap()[3].parse::<f64>().unwrap());
    }
    assert_eq!(watch.get("/metrics.json?run=2").0, 404);
}

#[test]
fn watch_refuses_what_is_not_a_run_or_sweep_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere");
    let out = runner(&["watch", missing.to_str().unwrap()], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("nowhere"), "{}", out.stderr);
    let out = runner(&["watch", tmp.path().to_str().unwrap()], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("neither a run folder"), "{}", out.stderr);
    let out = runner(&["watch", "experiments/xor.toml"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = runner(&["watch", tmp.path().to_str().unwrap(), "--addr", "nope"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.starts_with("error: --addr \"nope\": not an address"), "{}", out.stderr);
}

#[test]
fn the_page_shows_points_recorded_after_it_was_opened() {
    let test = "live::the_page_shows_points_recorded_after_it_was_opened";
    let Some(mut b) = Browser::launch(test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "endless.toml", ENDLESS);
    let results = tmp.path().join("results");
    let (s, r) = (spec.to_str().unwrap(), results.to_str().unwrap());
    let mut run = Proc::serving(&["run", s, "--quiet", "--results", r, "--serve", "127.0.0.1:0"]);
    let metrics = hidden_run_with_rows(&results, "endless").join("metrics.csv");

    b.open(&run.url());
    // The last step the run had written once the page was open: a larger one shown
    // later was recorded after the page was opened, and reached it by polling.
    let at_open = last_step(&metrics);
    let shown = b.wait_for(&format!("{MAX_SHOWN} > {at_open} && {MAX_SHOWN}"), Duration::from_secs(30));
    let shown = shown.and_then(|v| v.as_u64()).unwrap_or_else(|| {
        panic!("no step after {at_open} shown; the page shows {:?}\n{}", b.eval(MAX_SHOWN), run.stderr())
    });
    let (_, written) = read_csv(&metrics);
    assert!(written.iter().any(|row| row[0] == shown.to_string()), "step {shown} is one the run recorded");
    let panels = b.eval("[...document.querySelectorAll('svg[data-metric]')].map(s => s.dataset.metric)").unwrap();
    assert_eq!(panels, json!(["loss", "accuracy"]));
    let splits = b.eval("[...new Set([...document.querySelectorAll('path[data-split]')].map(p => p.dataset.split))]");
    let mut splits: Vec<String> = serde_json::from_value(splits.unwrap()).unwrap();
    splits.sort();
    assert_eq!(splits, ["batch", "test", "train"]);
    assert_eq!(b.eval("document.querySelector('#runs tbody td:nth-child(3)').textContent").unwrap(), "running");
    assert_eq!(b.errors(), Vec::<String>::new());
    b.screenshot(&root().join("target/test-artifacts/live.png"));
    assert_eq!(run.terminate(), Some(143), "{}", run.stderr());
}

#[test]
fn the_page_of_a_finished_diverged_or_empty_run_shows_what_it_has() {
    let test = "live::the_page_of_a_finished_diverged_or_empty_run_shows_what_it_has";
    let Some(mut b) = Browser::launch(test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path().to_str().unwrap();

    // Finished: every recorded point is drawn (201 train records, one line).
    let done = runner(&["run", "experiments/xor.toml", "--quiet", "--results", r], &[]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    let watch = Proc::serving(&["watch", done.dir().to_str().unwrap()]);
    b.open(&watch.url());
    let (_, written) = read_csv(&done.dir().join("metrics.csv"));
    let count = "document.querySelector('#runs tbody td:nth-child(5)')?.textContent";
    let shown = b.wait_for(&format!("{count} === '{}'", written.len()), Duration::from_secs(20));
    assert!(shown.is_some(), "the table shows {:?} rows of {}", b.eval(count), written.len());
    assert_eq!(b.eval(MAX_SHOWN).unwrap(), json!(last_step(&done.dir().join("metrics.csv"))));
    let vertices = "document.querySelector('svg[data-metric=loss] path[data-split=train]').getAttribute('d')\
                    .split(/[ML]/).length - 1";
    let train = written.iter().filter(|row| row[2] == "train").count();
    assert_eq!(b.eval(vertices).unwrap(), json!(train));
    assert_eq!(b.eval("document.getElementById('empty').hidden").unwrap(), json!(true));
    assert_eq!(b.errors(), Vec::<String>::new());
    b.screenshot(&root().join("target/test-artifacts/live-finished.png"));
    // Served until the browser has left the page: a poll of a stopped server is a
    // network error in the next page's list.
    let finished_watch = watch;

    // Diverged: the values before it are drawn, and a note says where it went.
    let diverged =
        runner(&["run", "experiments/linear_regression.toml", "--quiet", "--results", r, "--set", "train.lr=1.0"], &[]);
    assert_eq!(diverged.code, 3, "{}", diverged.stderr);
    let dir = std::fs::read_dir(tmp.path().join("linear_regression")).unwrap().next().unwrap().unwrap().path();
    let watch = Proc::serving(&["watch", dir.to_str().unwrap()]);
    b.open(&watch.url());
    drop(finished_watch);
    let note = b.wait_for("document.getElementById('notes').textContent", Duration::from_secs(20));
    let note = note.and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    assert!(note.contains("is inf from step"), "{note:?}");
    assert!(b.eval(MAX_SHOWN).unwrap().as_i64().unwrap() > 0);
    assert_eq!(b.errors(), Vec::<String>::new());
    let diverged_watch = watch;

    // Nothing recorded yet: a run folder with only the header.
    let empty = tmp.path().join("empty/.incomplete-e1");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("metrics.csv"), "step,epoch,split,loss\n").unwrap();
    let watch = Proc::serving(&["watch", empty.to_str().unwrap()]);
    b.open(&watch.url());
    drop(diverged_watch);
    let state = "document.querySelector('#runs tbody td:nth-child(3)')?.textContent";
    assert!(b.wait_for(state, Duration::from_secs(20)).is_some());
    assert_eq!(b.eval("document.getElementById('empty').hidden").unwrap(), json!(false));
    assert_eq!(b.eval("document.querySelectorAll('svg[data-metric]').length").unwrap(), json!(0));
    assert_eq!(b.errors(), Vec::<String>::new());
}
