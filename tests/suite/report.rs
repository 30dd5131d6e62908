//! The report page (index.html) of run and sweep folders, opened in headless Chromium.

use crate::common::browser::{file_url, Browser};
use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The harness itself: it sees images load, a missing image, console errors and
/// uncaught exceptions, evaluates JavaScript and saves a screenshot.
#[test]
fn browser_harness_reports_what_the_page_does() {
    let Some(mut b) = Browser::launch("report::browser_harness_reports_what_the_page_does") else { return };
    let dir = tempfile::tempdir().unwrap();
    // A 1x1 PNG.
    let png: [u8; 67] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00,
        0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D,
        0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
    std::fs::write(dir.path().join("dot.png"), png).unwrap();
    std::fs::write(
        dir.path().join("good.html"),
        "<!doctype html><title>t</title><img src=\"dot.png\"><p id=p>hello</p>",
    )
    .unwrap();
    b.open(&file_url(&dir.path().join("good.html")));
    assert_eq!(b.eval("document.getElementById('p').textContent").unwrap(), "hello");
    assert_eq!(b.eval("[...document.images].filter(i => i.naturalWidth > 0).length").unwrap(), 1);
    assert!(b.errors().is_empty(), "{:?}", b.errors());

    let bad = "<!doctype html><title>t</title><img src=\"missing.png\"><script>console.error('boom'); \
               setTimeout(() => { document.title = 'later' }, 200); null.x;</script>";
    std::fs::write(dir.path().join("bad.html"), bad).unwrap();
    b.open(&file_url(&dir.path().join("bad.html")));
    assert_eq!(b.wait_for("document.title === 'later'", Duration::from_secs(5)), Some(true.into()));
    let errors = b.errors();
    assert!(errors.iter().any(|e| e.contains("boom")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("TypeError")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("missing.png")), "{errors:?}");
    assert!(b.eval("nosuchname").is_err());

    let shot = dir.path().join("shot.png");
    b.screenshot(&shot);
    let bytes = std::fs::read(&shot).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

/// XOR points, a small tanh net, a few steps, and the 2-D pictures.
const XOR_SPEC: &str = r#"name = "report_xor"
description = "A <small> tanh net on XOR & friends"
seed = 5
[data]
kind = "xor"
n = 60
test_fraction = 0.25
[[model.layers]]
name = "hidden"
op = "dense"
units = 6
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
iterations = 60
[metrics]
record = ["loss", "accuracy"]
[[probes]]
kind = "curves"
[[probes]]
kind = "dataset"
[[probes]]
kind = "decision_boundary"
resolution = 30
[[probes]]
kind = "confusion"
split = "test"
"#;

fn manifest(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn names_ending(dir: &Path, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(ext))
        .collect();
    names.sort();
    names
}

fn artifact(name: &str) -> PathBuf {
    root().join("target/test-artifacts").join(format!("report-{name}.png"))
}

/// Every picture of the page loaded, and they are the folder's PNGs (by file name).
fn assert_pictures_load(b: &mut Browser, dir: &Path) {
    let loaded = b.eval("[...document.images].filter(i => i.complete && i.naturalWidth > 0).length").unwrap();
    let shown = b.eval("[...document.images].map(i => i.getAttribute('src'))").unwrap();
    let pngs = names_ending(dir, ".png");
    assert!(!pngs.is_empty(), "the run drew pictures");
    let mut shown: Vec<String> = shown.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    shown.sort();
    assert_eq!(shown, pngs, "one <img> per PNG of {}", dir.display());
    assert_eq!(loaded, pngs.len(), "every picture loads");
    let captions = b.eval("[...document.querySelectorAll('figcaption')].map(c => c.textContent)").unwrap();
    for (caption, png) in captions.as_array().unwrap().iter().zip(&pngs) {
        assert!(caption.as_str().unwrap().len() > png.len() + 10, "a caption says more than the name: {caption}");
    }
}

/// Every relative link of the page (but anchors and folders) names a file of `dir`.
fn assert_links_resolve(b: &mut Browser, dir: &Path) -> Vec<String> {
    let hrefs = b.eval("[...document.links].map(a => a.getAttribute('href'))").unwrap();
    let hrefs: Vec<String> = hrefs.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    for h in hrefs.iter().filter(|h| !h.starts_with('#') && !h.ends_with('/')) {
        assert!(!h.contains("://"), "no link leaves the folder: {h}");
        assert!(dir.join(h).is_file(), "{h} resolves to a file of {}", dir.display());
    }
    hrefs
}

#[test]
fn a_run_page_shows_the_run_and_loads_in_a_browser() {
    let Some(mut b) = Browser::launch("report::a_run_page_shows_the_run_and_loads_in_a_browser") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "report_xor.toml", XOR_SPEC);
    let dir = run_ok(spec.to_str().unwrap(), &tmp.path().join("results"), &[]);
    let m = manifest(&dir);
    let listed: Vec<&str> = m["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(&listed[listed.len() - 2..], ["index.html", "manifest.json"]);
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert_eq!(page, runner::report::run_page(&dir), "the page is a function of the folder's files");
    assert!(page.contains("<meta name=\"viewport\""));
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let why = manifest["backend_choice"].as_str().unwrap();
    assert!(page.contains(&format!("<td>{why}</td>")), "the page says why the backend was chosen: {why}");
    assert!(!page.contains("http://") && !page.contains("https://"), "nothing from the network");

    b.open(&file_url(&dir.join("index.html")));
    assert_eq!(b.eval("document.getElementById('name').textContent").unwrap(), "report_xor");
    assert_eq!(
        b.eval("document.getElementById('description').textContent").unwrap(),
        "A <small> tanh net on XOR & friends"
    );
    assert_eq!(b.eval("document.getElementById('status').textContent").unwrap(), "complete");
    assert_eq!(b.eval("document.getElementById('error')").unwrap(), Value::Null, "no error box");

    // The final metrics shown are the manifest's, every one.
    let shown = b
        .eval("[...document.querySelectorAll('[data-metric]')].map(td => [td.dataset.metric, td.textContent])")
        .unwrap();
    let finals = m["final_metrics"].as_object().unwrap();
    assert_eq!(shown.as_array().unwrap().len(), finals.len(), "{shown}");
    assert!(finals.len() >= 4, "train and test loss and accuracy: {finals:?}");
    for pair in shown.as_array().unwrap() {
        let key = pair[0].as_str().unwrap();
        let value: f64 = pair[1].as_str().unwrap().parse().unwrap();
        assert_eq!(Some(value), finals[key].as_f64(), "{key}");
    }
    // The spec and the manifest, whole and unescaped by the browser.
    let spec_shown = b.eval("document.querySelector('#spec-text pre').textContent").unwrap();
    assert_eq!(spec_shown, std::fs::read_to_string(dir.join("spec.toml")).unwrap());
    let manifest_shown = b.eval("document.querySelector('#manifest-text pre').textContent").unwrap();
    assert_eq!(manifest_shown, std::fs::read_to_string(dir.join("manifest.json")).unwrap());

    assert_pictures_load(&mut b, &dir);
    let hrefs = assert_links_resolve(&mut b, &dir);
    for csv in names_ending(&dir, ".csv").iter().chain(["model.safetensors".to_string(), "spec.toml".into()].iter()) {
        assert!(hrefs.contains(csv), "{csv} is linked: {hrefs:?}");
    }
    // Narrow as a phone: nothing wider than the screen but the scrolling tables.
    let wide = b.eval("[...document.images].filter(i => i.getBoundingClientRect().width > document.documentElement.clientWidth).length").unwrap();
    assert_eq!(wide, 0);
    assert!(b.errors().is_empty(), "{:?}", b.errors());
    b.screenshot(&artifact("run"));

    // `runner probe` adds a picture: the page shows it.
    let before = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let out = runner(&["probe", dir.to_str().unwrap(), "--probe", "truth_vs_prediction"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert_ne!(before, after);
    assert_eq!(after, runner::report::run_page(&dir));
    b.open(&file_url(&dir.join("index.html")));
    assert_pictures_load(&mut b, &dir);
    assert!(names_ending(&dir, ".png").contains(&"truth_vs_prediction.png".to_string()));
    assert!(b.errors().is_empty(), "{:?}", b.errors());
}

#[test]
fn same_seed_runs_differ_in_their_pages_only_where_their_manifests_do() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "report_xor.toml", XOR_SPEC);
    let a = run_ok(spec.to_str().unwrap(), &tmp.path().join("a"), &[]);
    let b = run_ok(spec.to_str().unwrap(), &tmp.path().join("b"), &[]);
    let out = runner(&["diff", a.to_str().unwrap(), b.to_str().unwrap()], &[]);
    assert_eq!(out.code, 0, "runner diff of two same-seed runs:\n{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("index.html"), "{}", out.stdout);
    // The pages are equal once each shows the other's manifest.
    std::fs::copy(a.join("manifest.json"), b.join("manifest.json")).unwrap();
    assert_eq!(std::fs::read_to_string(a.join("index.html")).unwrap(), runner::report::run_page(&b));
}

#[test]
fn a_failed_run_page_shows_its_error() {
    let Some(mut b) = Browser::launch("report::a_failed_run_page_shows_its_error") else { return };
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
    let dir = std::fs::read_dir(results.join("linear_regression")).unwrap().next().unwrap().unwrap().path();
    assert!(manifest(&dir)["files"].as_array().unwrap().iter().any(|f| f == "index.html"));
    b.open(&file_url(&dir.join("index.html")));
    assert_eq!(b.eval("document.getElementById('status').textContent").unwrap(), "failed");
    let error = b.eval("document.getElementById('error-text').textContent").unwrap();
    assert_eq!(error.as_str(), manifest(&dir)["error"].as_str());
    assert!(error.as_str().unwrap().contains("linearly dependent"), "{error}");
    // The box is on the first screen, above the metrics.
    let top = b.eval("document.getElementById('error').getBoundingClientRect().top").unwrap();
    assert!(top.as_f64().unwrap() < 400.0, "{top}");
    assert_links_resolve(&mut b, &dir);
    assert!(b.errors().is_empty(), "{:?}", b.errors());
    b.screenshot(&artifact("failed"));
}

#[test]
fn a_sweep_page_links_every_run_and_shows_the_charts() {
    let Some(mut b) = Browser::launch("report::a_sweep_page_links_every_run_and_shows_the_charts") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let base = XOR_SPEC.replace("iterations = 60", "iterations = 30");
    let text = format!("{base}\n[sweep]\ngrid = {{ \"train.lr\" = [0.1, 0.5] }}\nseeds = 2\n");
    let spec = write_spec(tmp.path(), "s.toml", &text);
    let results = tmp.path().join("results");
    let out = runner(&["sweep", spec.to_str().unwrap(), "--results", results.to_str().unwrap(), "-j", "2"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let folder = out.dir();
    let page = std::fs::read_to_string(folder.join("index.html")).unwrap();
    assert_eq!(page, runner::report::sweep_page(&folder));

    b.open(&file_url(&folder.join("index.html")));
    let (_, rows) = read_csv(&folder.join("sweep.csv"));
    assert_eq!(rows.len(), 4);
    let runs = b.eval("[...document.querySelectorAll('#runs a.run')].map(a => a.getAttribute('href'))").unwrap();
    let runs: Vec<String> = runs.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    let expected: Vec<String> = rows.iter().map(|r| format!("runs/{}/index.html", r[0])).collect();
    assert_eq!(runs, expected, "each run links to its page, in sweep.csv's order");
    let table_rows = b.eval("document.querySelectorAll('#runs tr').length - 1").unwrap();
    assert_eq!(table_rows, rows.len());
    assert_eq!(b.eval("document.getElementById('tally').textContent").unwrap(), "4 runs: 4 complete");
    assert_pictures_load(&mut b, &folder);
    let hrefs = assert_links_resolve(&mut b, &folder);
    for f in ["sweep.csv", "summary.csv", "runs.jsonl"] {
        assert!(hrefs.contains(&f.to_string()), "{f}: {hrefs:?}");
    }
    assert!(b.errors().is_empty(), "{:?}", b.errors());
    b.screenshot(&artifact("sweep"));

    // A run's page, reached from the sweep's.
    b.open(&file_url(&folder.join(&runs[0])));
    assert_eq!(b.eval("document.getElementById('status').textContent").unwrap(), "complete");
    assert_pictures_load(&mut b, &folder.join(runs[0].trim_end_matches("/index.html")));
    assert!(b.errors().is_empty(), "{:?}", b.errors());
}

#[test]
fn an_interrupted_run_page_says_so_and_the_resumed_one_is_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let text = XOR_SPEC.replace("iterations = 60", "iterations = 60\ncheckpoint_every = 10");
    let spec = write_spec(tmp.path(), "report_xor.toml", &text);
    let results = tmp.path().join("results");
    let args = ["run", spec.to_str().unwrap(), "--quiet", "--results", results.to_str().unwrap()];
    let out = runner(&args, &[("RUNNER_TEST_SIGNAL_AT", "25:15")]);
    assert_eq!(out.code, 128 + 15, "{}", out.stderr);
    let dir = out.dir();
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(page.contains("id=\"status\">interrupted<"), "{page}");
    assert!(page.contains("stopped before its last step"), "the page says what interrupted means");
    assert!(page.contains("href=\"resume.safetensors\""), "the checkpoint to resume from is listed");
    let resumed = runner(&["resume", dir.to_str().unwrap(), "--quiet"], &[]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert_eq!(page, runner::report::run_page(&dir));
    assert!(page.contains("id=\"status\">complete<"), "{page}");
    assert!(page.contains("<th>resumed</th><td>1 time</td>"), "{page}");
    assert!(!page.contains("resume.safetensors"), "a finished run keeps no checkpoint");
}
