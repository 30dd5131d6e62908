//! Messages a user acts on: a split hint `runner probe` can follow.

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
