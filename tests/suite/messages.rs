//! Messages and defaults a user acts on: a `--results` that would break the printed
//! last line, a split hint `runner probe` can follow, and the split the evaluation
//! pictures (`confusion`, `misclassified`) read when the spec names none.

use crate::common::*;

const XOR: &str = r#"name = "xor"
seed = 1
[data]
kind = "xor"
n = 100
test_fraction = 0.2
[[model.layers]]
name = "out"
op = "dense"
units = 1
[[model.layers]]
name = "prob"
op = "sigmoid"
[train]
loss = "bce"
lr = 0.1
iterations = 3
[[probes]]
kind = "saliency"
"#;

#[test]
fn a_results_folder_with_a_line_break_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "xor.toml", XOR);
    let results = tmp.path().join("res\nults");
    let shown = format!("{:?}", results.display().to_string());
    for command in ["run", "sweep"] {
        let out = runner(&[command, spec.to_str().unwrap(), "--results", results.to_str().unwrap()], &[]);
        assert_eq!(out.code, 2, "{command}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim_end(),
            format!(
                "error: --results {shown}: has a line break; the folder is printed as the last line, which \
                 scripts read, so it cannot hold one"
            ),
            "{command}"
        );
        assert_eq!(out.stdout, "", "{command}");
        assert!(!results.exists(), "{command} made the folder");
    }
}

#[test]
fn runner_probe_names_the_splits_it_can_use_and_the_hint_works() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "xor.toml", XOR);
    let dir = run_ok(spec.to_str().unwrap(), &tmp.path().join("results"), &[]);
    let out = runner(&["probe", dir.to_str().unwrap(), "--set", "probes.0.split=validation"], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim_end(),
        "error: --set probes.0.split=validation: probe `saliency`: the data has no validation split; give `split` \
         one it has (`train`, `test`), or train a run with [data] `validation_fraction` to hold one out"
    );
    // What it says to do, `runner probe` does.
    let out = runner(&["probe", dir.to_str().unwrap(), "--set", "probes.0.split=train"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().next().map(String::from), Some(dir.join("saliency.png").display().to_string()));
}

#[test]
fn confusion_and_misclassified_read_the_test_split_unless_told() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        r#"name = "digits"
seed = 1
[data]
kind = "mnist"
path = "{}"
[[model.layers]]
name = "flat"
op = "flatten"
[[model.layers]]
name = "fc"
op = "dense"
units = 10
[train]
loss = "cross_entropy"
lr = 0.1
iterations = 2
[[probes]]
kind = "confusion"
[[probes]]
kind = "misclassified"
[[probes]]
kind = "misclassified"
split = "train"
"#,
        root().join("tests/corpus/files/data_idx_ok").display()
    );
    let spec = write_spec(tmp.path(), "digits.toml", &text);
    let dir = run_ok(spec.to_str().unwrap(), &tmp.path().join("results"), &[]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut pictures: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .filter(|f| f.starts_with("confusion") || f.starts_with("misclassified"))
        .collect();
    pictures.sort();
    assert_eq!(pictures, ["confusion.csv", "confusion_test.png", "misclassified.png", "misclassified_test.png"]);
    for name in &pictures {
        assert!(dir.join(name).is_file(), "{name}");
    }
}
