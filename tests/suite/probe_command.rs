//! `runner probe RUN_FOLDER`: probes drawn later from a finished run's checkpoint are
//! byte for byte the files the run drew at the end of training, they are added to the
//! folder and its manifest, and what cannot be probed is refused (exit 2, one line)
//! with nothing in the folder changed.

use crate::common::*;
use std::path::{Path, PathBuf};

/// XOR points, a small tanh net, and probes that exist for 2-D data.
fn xor_spec(dir: &Path, extra_probes: &str) -> PathBuf {
    let text = format!(
        r#"name = "probe_xor"
seed = 3
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
kind = "decision_boundary"
resolution = 40
[[probes]]
kind = "confusion"
split = "test"
{extra_probes}"#
    );
    write_spec(dir, "probe_xor.toml", &text)
}

/// A tiny CNN on 200 MNIST digits, a few steps: the image probes' case.
fn cnn_spec(dir: &Path) -> PathBuf {
    let text = format!(
        r#"name = "probe_cnn"
seed = 4
[data]
kind = "mnist"
path = "{}"
n = 200
test_n = 50
normalize = {{ mean = 0.1307, std = 0.3081 }}
[[model.layers]]
name = "conv1"
op = "conv2d"
channels = 4
kernel = 3
padding = 1
[[model.layers]]
name = "relu1"
op = "relu"
[[model.layers]]
name = "pool1"
op = "maxpool2d"
kernel = 2
[[model.layers]]
name = "flat"
op = "flatten"
[[model.layers]]
name = "fc"
op = "dense"
units = 10
[train]
loss = "cross_entropy"
optimizer = "adam"
lr = 2e-3
batch_size = 50
iterations = 8
[metrics]
record = ["loss", "accuracy"]
[[probes]]
kind = "confusion"
split = "test"
[[probes]]
kind = "misclassified"
split = "test"
"#,
        root().join("data/mnist-10k").display()
    );
    write_spec(dir, "probe_cnn.toml", &text)
}

fn probe(folder: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["probe", folder.to_str().unwrap()];
    args.extend_from_slice(extra);
    runner(&args, &[])
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn listed(dir: &Path) -> Vec<String> {
    manifest(dir)["files"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// Every file of a folder with its bytes, by name.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

/// Removes the run's probe pictures, runs `runner probe` on the folder, and checks it
/// writes each again with the same bytes, prints them, and keeps the manifest's list.
fn probes_again_give_the_same_bytes(dir: &Path, pictures: &[&str]) {
    let before = contents(dir);
    let files_before = listed(dir);
    for p in pictures {
        assert!(files_before.contains(&p.to_string()), "the run drew {p}");
        std::fs::remove_file(dir.join(p)).unwrap();
    }
    let out = probe(dir, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let printed: Vec<String> = out.stdout.lines().map(String::from).collect();
    let expected: Vec<String> = pictures.iter().map(|p| dir.join(p).display().to_string()).collect();
    assert_eq!(printed, expected);
    // The manifest (and the page that shows it) gains only the record of this probe.
    let record = ["manifest.json", "index.html"];
    let others =
        |c: Vec<(String, Vec<u8>)>| c.into_iter().filter(|(n, _)| !record.contains(&n.as_str())).collect::<Vec<_>>();
    assert_eq!(others(contents(dir)), others(before.clone()), "every other file byte for byte as the run left them");
    let text = |c: &[(String, Vec<u8>)]| {
        String::from_utf8(c.iter().find(|(n, _)| n == "manifest.json").unwrap().1.clone()).unwrap()
    };
    let (was, now) = (text(&before), text(&contents(dir)));
    let kept = was.strip_suffix("\n}").unwrap();
    assert!(now.starts_with(kept) && now[kept.len()..].starts_with(",\n  \"probed\": [\n    {\n"), "{now}");
    let probed = &manifest(dir)["probed"];
    assert_eq!(probed.as_array().unwrap().len(), 1, "{probed}");
    assert_eq!(probed[0]["files"], serde_json::json!(pictures));
    assert_eq!(listed(dir), files_before);
}

#[test]
fn probes_of_a_finished_run_are_the_files_the_run_drew() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let dir = run_ok(xor_spec(tmp.path(), "").to_str().unwrap(), &results, &[]);
    probes_again_give_the_same_bytes(&dir, &["decision_boundary.png", "confusion_test.png"]);
    let out = probe(&dir, &[]);
    assert!(out.stderr.contains("note: `curves` is left out"), "{}", out.stderr);

    // f32 weights read back as f32: the same pictures again.
    let dir32 = run_ok(xor_spec(tmp.path(), "").to_str().unwrap(), &results, &["--set", "dtype=\"f32\""]);
    assert_eq!(manifest(&dir32)["dtype"], "f32");
    probes_again_give_the_same_bytes(&dir32, &["decision_boundary.png", "confusion_test.png"]);

    // The image probes on a CNN.
    let cnn = run_ok(cnn_spec(tmp.path()).to_str().unwrap(), &results, &[]);
    probes_again_give_the_same_bytes(&cnn, &["confusion_test.png", "misclassified_test.png"]);
}

#[test]
fn a_probe_the_spec_lacks_is_added_with_its_defaults_and_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let plain = run_ok(xor_spec(tmp.path(), "").to_str().unwrap(), &results, &[]);
    let with = xor_spec(tmp.path(), "[[probes]]\nkind = \"dataset\"\n");
    let drawn = run_ok(with.to_str().unwrap(), &results, &[]);
    let before = listed(&plain);
    assert!(!before.contains(&"dataset.png".to_string()));
    let out = probe(&plain, &["--probe", "dataset"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), plain.join("dataset.png").display().to_string(), "only the kind asked for");
    assert_eq!(std::fs::read(plain.join("dataset.png")).unwrap(), std::fs::read(drawn.join("dataset.png")).unwrap());
    let after = listed(&plain);
    let mut expected = before.clone();
    expected.insert(before.len() - 1, "dataset.png".into());
    assert_eq!(after, expected, "listed once, before manifest.json");
    // Again: replaced whole, still listed once; the rest of the manifest unchanged.
    let mut m_before = manifest(&plain);
    assert_eq!(probe(&plain, &["--probe", "dataset", "--probe", "decision_boundary"]).code, 0);
    assert_eq!(listed(&plain), expected);
    let mut m_after = manifest(&plain);
    for key in ["files", "probed"] {
        m_before[key] = serde_json::Value::Null;
        m_after[key] = serde_json::Value::Null;
    }
    assert_eq!(m_before, m_after);
    // --set changes a probe's settings: a coarser grid is another picture.
    let coarse = probe(&plain, &["--probe", "decision_boundary", "--set", "probes.1.resolution=8"]);
    assert_eq!(coarse.code, 0, "{}", coarse.stderr);
    assert_ne!(
        std::fs::read(plain.join("decision_boundary.png")).unwrap(),
        std::fs::read(drawn.join("decision_boundary.png")).unwrap()
    );
    // The folder says what drew that picture: the manifest records each probe command,
    // its edits and the probe entries as they ran (spec.toml still says 40).
    let probed = manifest(&plain)["probed"].as_array().unwrap().clone();
    assert_eq!(probed.len(), 3, "one record per probe command: {probed:?}");
    assert_eq!(probed[0]["kinds"], serde_json::json!(["dataset"]));
    assert_eq!(probed[0]["probes"], serde_json::json!([{"kind": "dataset"}]));
    let last = &probed[2];
    assert_eq!(last["kinds"], serde_json::json!(["decision_boundary"]));
    assert_eq!(last["sets"], serde_json::json!(["probes.1.resolution=8"]));
    assert_eq!(last["unsets"], serde_json::json!([]));
    assert_eq!(last["probes"], serde_json::json!([{"kind": "decision_boundary", "resolution": 8}]));
    assert_eq!(last["files"], serde_json::json!(["decision_boundary.png"]));
    assert!(last["backend"].as_str().unwrap().contains("cpu"), "{last}");
    assert!(last["at"].as_str().unwrap().ends_with('Z'), "{last}");
    assert!(std::fs::read_to_string(plain.join("spec.toml")).unwrap().contains("resolution = 40"));
}

#[test]
fn probes_added_at_once_are_all_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok(xor_spec(tmp.path(), "").to_str().unwrap(), &tmp.path().join("results"), &[]);
    let kinds = ["dataset", "saliency", "input_x_gradient", "adversarial"];
    // Each command reads the manifest, adds its own files and writes it back: without a
    // lock, one that read before another wrote would drop the other's entries.
    let outs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = kinds.iter().map(|k| s.spawn(|| probe(&dir, &["--probe", k]))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let files = listed(&dir);
    for (kind, out) in kinds.iter().zip(&outs) {
        assert_eq!(out.code, 0, "{kind}: {}", out.stderr);
        for path in out.stdout.lines() {
            let name = Path::new(path).file_name().unwrap().to_string_lossy().into_owned();
            assert!(files.contains(&name), "{kind} wrote {name}, and the manifest lists it: {files:?}");
        }
        assert!(!out.stdout.trim().is_empty(), "{kind} wrote files");
    }
    assert_eq!(files.last().map(String::as_str), Some("manifest.json"));
    let probed = manifest(&dir)["probed"].as_array().unwrap().clone();
    let mut recorded: Vec<String> = probed.iter().map(|p| p["kinds"][0].as_str().unwrap().to_string()).collect();
    recorded.sort();
    let mut expected: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(recorded, expected, "every command's record is kept");
}

/// `runner probe` exits 2 with one `error: ` line holding `expect`, changing nothing.
fn refused(folder: &Path, extra: &[&str], expect: &str) {
    let parent = folder.parent().unwrap();
    let before = parent.exists().then(|| contents_deep(parent));
    let out = probe(folder, extra);
    assert_eq!(out.code, 2, "runner probe {} {extra:?}: {}", folder.display(), out.stderr);
    assert!(out.stderr.starts_with("error: ") && out.stderr.lines().count() == 1, "{}", out.stderr);
    assert!(out.stderr.contains(expect), "want `{expect}` in: {}", out.stderr);
    assert!(out.stdout.is_empty());
    if let Some(before) = before {
        assert_eq!(contents_deep(parent), before, "nothing changed");
    }
}

fn contents_deep(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() {
            out.extend(contents_deep(&e.path()).into_iter().map(|(n, b)| (format!("{name}/{n}"), b)));
        } else {
            out.push((name, std::fs::read(e.path()).unwrap()));
        }
    }
    out.sort();
    out
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().map(|e| e.unwrap()) {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn what_cannot_be_probed_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let spec = xor_spec(tmp.path(), "");
    let dir = run_ok(spec.to_str().unwrap(), &results, &[]);
    refused(&tmp.path().join("nowhere"), &[], "no such run folder");
    refused(&spec, &[], "not a folder");
    refused(&results, &[], "not a run folder");
    refused(&dir, &["--probe", "salency"], "there is no probe kind `salency`; did you mean `saliency`?");
    refused(&dir, &["--probe", "curves"], "`curves` draws the training history");
    refused(&dir, &["--probe", "filters"], "the model has no conv2d layer");
    refused(&dir, &["--set", "probes.1.resolution=0"], "must be from 8 to 600");

    // A spec edited after the run: its model was not trained on it.
    let edited = tmp.path().join("other/edited");
    copy_folder(&dir, &edited);
    let text = std::fs::read_to_string(edited.join("spec.toml")).unwrap();
    let (key, _) = text.match_indices("lr = ").next().expect("the spec has an lr");
    std::fs::write(edited.join("spec.toml"), format!("{}lr = 0.123456\n# {}", &text[..key], &text[key..])).unwrap();
    refused(&edited, &[], "its spec.toml is not the spec the run was made with (edited since?)");

    let hidden = tmp.path().join("other/.incomplete-20261130-000000-seed3");
    copy_folder(&dir, &hidden);
    refused(&hidden, &[], "still going, or was killed (`runner resume` finishes it)");

    let failed = tmp.path().join("other/failed");
    copy_folder(&dir, &failed);
    let text = std::fs::read_to_string(failed.join("manifest.json")).unwrap();
    std::fs::write(failed.join("manifest.json"), text.replace("\"complete\"", "\"failed\"")).unwrap();
    refused(&failed, &[], "status `failed`");

    // A run stopped by a signal has a model worth looking at.
    let stopped = tmp.path().join("other/stopped");
    copy_folder(&dir, &stopped);
    std::fs::write(stopped.join("manifest.json"), text.replace("\"complete\"", "\"interrupted\"")).unwrap();
    std::fs::remove_file(stopped.join("decision_boundary.png")).unwrap();
    let out = probe(&stopped, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read(stopped.join("decision_boundary.png")).unwrap(),
        std::fs::read(dir.join("decision_boundary.png")).unwrap()
    );

    let unsaved = run_ok(spec.to_str().unwrap(), &results, &["--set", "output.checkpoint=false"]);
    refused(&unsaved, &[], "no model.safetensors (the run was made with `[output] checkpoint = false`)");
    // A manifest edited to claim no parameters does not let the probes read an
    // untrained model: the spec's graph says what a checkpoint must hold.
    let manifest_path = unsaved.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).unwrap();
    let (at, _) = text.match_indices("\"parameters\": ").next().unwrap();
    let end = at + text[at..].find(',').unwrap();
    std::fs::write(&manifest_path, format!("{}\"parameters\": 0{}", &text[..at], &text[end..])).unwrap();
    refused(&unsaved, &[], "no model.safetensors");

    let text = std::fs::read_to_string(&spec).unwrap();
    let bare = write_spec(tmp.path(), "bare.toml", &text[..text.find("[[probes]]").unwrap()]);
    let bare = bare.to_str().unwrap();
    let none = run_ok(bare, &results, &["--set", "name=\"bare\""]);
    refused(&none, &[], "the spec has no [[probes]] a checkpoint can draw; name one with --probe KIND");
}

/// Every probe of the shipped `mnist_probes.toml` (a quick variant): `runner probe` on
/// the finished run writes each probe file again with the bytes training's end wrote.
#[test]
fn every_probe_kind_drawn_later_matches_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let spec = root().join("experiments/mnist_probes.toml");
    let quick = [
        "--set",
        "data.n=256",
        "--set",
        "data.test_n=64",
        "--set",
        "train.epochs=1",
        "--set",
        "probes.9.steps=10",
        "--set",
        "probes.11.count=16",
    ];
    let dir = run_ok(spec.to_str().unwrap(), &results, &quick);
    // What the probes wrote: everything but the run's own files and the history's curves.
    let own = [
        "spec.toml",
        "manifest.json",
        "index.html",
        "metrics.csv",
        "model.safetensors",
        "confusion.csv",
        "classes.csv",
    ];
    let probe_files: Vec<String> =
        listed(&dir).into_iter().filter(|f| !own.contains(&f.as_str()) && f != "curves.png").collect();
    for kind in ["filters_conv1", "activations_relu1", "saliency", "input_x_gradient", "deconvnet", "guided_backprop"] {
        assert!(probe_files.iter().any(|f| f.starts_with(kind)), "{kind} drawn: {probe_files:?}");
    }
    for kind in ["gradient_ascent", "occlusion", "adversarial_test.csv", "adversarial_examples"] {
        assert!(probe_files.iter().any(|f| f.starts_with(kind)), "{kind} drawn: {probe_files:?}");
    }
    let names: Vec<&str> = probe_files.iter().map(String::as_str).collect();
    probes_again_give_the_same_bytes(&dir, &names);
}
