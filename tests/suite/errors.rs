//! Bad input gets one clear error with a place, a non-zero exit, and no panic.

use crate::common::*;

const GOOD: &str = r#"name = "t"
seed = 1

[data]
kind = "xor"
n = 40

[[model.layers]]
name = "hidden"
op = "dense"
units = 3

[[model.layers]]
name = "act"
op = "tanh"

[[model.layers]]
name = "out"
op = "dense"
units = 1

[train]
loss = "mse"
lr = 0.1
iterations = 5
"#;

fn failing(text: &str, extra: &[&str]) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "spec.toml", text);
    let results = tmp.path().join("results");
    let mut args = vec!["run", spec.to_str().unwrap(), "--quiet", "--results", results.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = runner(&args, &[]);
    assert_ne!(out.code, 0, "expected a failure; stdout {}", out.stdout);
    assert!(!out.stderr.contains("panicked"), "panic: {}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "rendered once at the edge: {}", out.stderr);
    out
}

#[test]
fn the_good_spec_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "spec.toml", GOOD);
    run_ok(spec.to_str().unwrap(), &tmp.path().join("r"), &[]);
}

#[test]
fn a_typo_in_a_key_names_the_place_and_suggests_the_key() {
    let out = failing(&GOOD.replace("units = 3", "unts = 3"), &[]);
    assert!(out.stderr.contains("spec.toml:11:1"), "{}", out.stderr);
    assert!(out.stderr.contains("unknown field `unts`"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `units`?"), "{}", out.stderr);
    assert!(out.stderr.contains("11 | unts = 3"), "shows the line: {}", out.stderr);
}

#[test]
fn a_typo_in_a_value_suggests_the_value() {
    let out = failing(&GOOD.replace("op = \"tanh\"", "op = \"tahn\""), &[]);
    assert!(out.stderr.contains("spec.toml:15:6"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `tanh`?"), "{}", out.stderr);
}

#[test]
fn a_wrong_type_is_reported_at_the_value() {
    let out = failing(&GOOD.replace("units = 3", "units = \"three\""), &[]);
    assert!(out.stderr.contains("spec.toml:11:9"), "{}", out.stderr);
    assert!(out.stderr.contains("`units` must be a whole number ≥ 0, found \"three\""), "{}", out.stderr);
}

#[test]
fn a_missing_input_layer_is_named_with_a_suggestion() {
    let text = GOOD.replace("op = \"tanh\"", "op = \"tanh\"\ninputs = [\"hiden\"]");
    let out = failing(&text, &[]);
    assert!(
        out.stderr.contains("layer `act` (tanh): input `hiden` is not an earlier layer; did you mean `hidden`?"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("spec.toml:16:11"), "at the name in `inputs`: {}", out.stderr);
}

#[test]
fn shapes_that_do_not_fit_name_both_layers_and_shapes() {
    let text = format!("{GOOD}\n[[model.layers]]\nname = \"sum\"\nop = \"add\"\ninputs = [\"hidden\", \"out\"]\n");
    let text = text.replace("[train]\nloss = \"mse\"\nlr = 0.1\niterations = 5\n", "");
    let out = failing(&text, &[]);
    assert!(
        out.stderr.contains("layer `sum` (add): inputs `hidden` [3] and `out` [1] have different shapes"),
        "{}",
        out.stderr
    );
}

#[test]
fn given_weights_of_the_wrong_size_say_what_fits() {
    let text = GOOD.replace("units = 3", "units = 3\nweights = [[1, 2], [3, 4]]");
    let out = failing(&text, &[]);
    assert!(
        out.stderr.contains("`weights` is 2×2 but the layer maps 2 inputs to 3 units (expects 2×3"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_field_the_kind_does_not_take_is_rejected() {
    let out = failing(&GOOD.replace("n = 40", "n = 40\ngate = \"and\""), &[]);
    assert!(out.stderr.contains("[data] kind = \"xor\" does not take `gate`"), "{}", out.stderr);
}

#[test]
fn a_missing_data_file_names_the_file() {
    let text =
        GOOD.replace("kind = \"xor\"\nn = 40", "kind = \"csv\"\npath = \"nowhere.csv\"\nfeature_columns = [\"a\"]");
    let out = failing(&text, &[]);
    assert!(out.stderr.contains("nowhere.csv"), "{}", out.stderr);
    assert!(out.stderr.contains("No such file"), "{}", out.stderr);
}

#[test]
fn a_csv_column_typo_is_suggested() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("d.csv"), "alpha,beta,label\n1,2,0\n3,4,1\n").unwrap();
    let text = GOOD.replace(
        "kind = \"xor\"\nn = 40",
        "kind = \"csv\"\npath = \"d.csv\"\nfeature_columns = [\"alpha\", \"btea\"]\ntarget_columns = [\"label\"]",
    );
    let spec = write_spec(tmp.path(), "spec.toml", &text);
    let out = runner(&["check", spec.to_str().unwrap()], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no column `btea`") && out.stderr.contains("did you mean `beta`?"), "{}", out.stderr);
}

#[test]
fn check_counts_every_split() {
    let out = runner(
        &[
            "check",
            "experiments/diamond.toml",
            "--set",
            "data.test_fraction=0.2",
            "--set",
            "data.validation_fraction=0.1",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("data: 360 train, 40 validation, 100 test, 3 input features"), "{}", out.stdout);
}

#[test]
fn a_diverging_run_stops_keeps_its_metrics_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let out = runner(
        &[
            "run",
            "experiments/linear_regression.toml",
            "--quiet",
            "--results",
            results.to_str().unwrap(),
            "--set",
            "train.lr=1.0",
        ],
        &[],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("diverged at step"), "{}", out.stderr);
    let dir = std::fs::read_dir(results.join("linear_regression")).unwrap().next().unwrap().unwrap().path();
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"status\": \"diverged\""), "{manifest}");
    let sse = metric(&dir, "train", "sse");
    assert!(sse.len() > 5 && sse[0].1.is_finite(), "metrics so far are kept");
}

#[test]
fn a_bad_override_is_a_usage_error() {
    let out = failing(GOOD, &["--set", "model.layers.hiddn.units=4"]);
    assert!(out.stderr.contains("no entry named `hiddn`; did you mean `hidden`?"), "{}", out.stderr);
}

#[test]
fn overrides_reach_layers_by_name_and_show_in_the_resolved_spec() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "spec.toml", GOOD);
    let dir =
        run_ok(spec.to_str().unwrap(), &tmp.path().join("r"), &["--set", "model.layers.hidden.units=7", "--seed", "9"]);
    let resolved = std::fs::read_to_string(dir.join("spec.toml")).unwrap();
    assert!(resolved.contains("units = 7") && resolved.contains("seed = 9"), "{resolved}");
    assert!(dir.file_name().unwrap().to_str().unwrap().ends_with("seed9"));
    let check = runner(&["check", spec.to_str().unwrap(), "--set", "model.layers.hidden.units=7"], &[]);
    assert!(check.stdout.contains("hidden") && check.stdout.contains("[batch, 7]"), "{}", check.stdout);
    // 2·7 + 7 + 7·1 + 1 parameters
    assert!(check.stdout.contains("total parameters: 29"), "{}", check.stdout);
}

#[test]
fn empty_data_and_impossible_labels_are_errors() {
    let out = failing(&GOOD.replace("n = 40", "n = 0"), &[]);
    assert!(out.stderr.contains("spec.toml:6:5: `n` must be at least 1, found 0"), "{}", out.stderr);
    let inline = GOOD.replace(
        "kind = \"xor\"\nn = 40",
        "kind = \"inline\"\ninputs = [[0, 0], [1, 1]]\ntargets = [[0], [2]]\nclasses = 2",
    );
    let out = failing(&inline, &[]);
    assert!(
        out.stderr.contains("`targets` row 1 is 2; with 2 classes a label is a whole number from 0 to 1"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_probe_that_cannot_be_drawn_is_refused_before_training() {
    let text = format!("{GOOD}\n[[probes]]\nkind = \"curves\"\nmetrics = [\"accuracy\"]\n");
    let out = failing(&text, &[]);
    assert!(out.stderr.contains("curves draws `accuracy`, which [metrics] record does not list"), "{}", out.stderr);
    let text = format!("{GOOD}\n[[probes]]\nkind = \"decision_boundary\"\nsplit = \"test\"\n");
    let out = failing(&text, &[]);
    assert!(out.stderr.contains("no test split"), "{}", out.stderr);
}

#[test]
fn any_u64_seed_is_taken_and_recorded_exactly() {
    for seed in ["9223372036854775808", "18446744073709551615"] {
        let tmp = tempfile::tempdir().unwrap();
        let spec = write_spec(tmp.path(), "spec.toml", GOOD);
        let dir = run_ok(spec.to_str().unwrap(), &tmp.path().join("r"), &["--seed", seed]);
        assert!(dir.file_name().unwrap().to_str().unwrap().ends_with(&format!("seed{seed}")), "{}", dir.display());
        let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
        assert!(manifest.contains(&format!("\"seed\": {seed}")), "{manifest}");
        let resolved = std::fs::read_to_string(dir.join("spec.toml")).unwrap();
        assert!(resolved.contains(&format!("seed = {seed}\n")), "{resolved}");
        // The resolved spec runs again with that seed.
        let again = run_ok(dir.join("spec.toml").to_str().unwrap(), &tmp.path().join("r2"), &[]);
        assert!(again.file_name().unwrap().to_str().unwrap().ends_with(&format!("seed{seed}")));
    }
}

#[test]
fn a_bad_set_value_names_the_argument_not_a_line() {
    let out = failing(GOOD, &["--set", "train.lr=abc"]);
    assert!(
        out.stderr.starts_with("error: --set train.lr=abc: `lr` must be a finite number, found abc"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("spec.toml:"), "no line of the file: {}", out.stderr);
    let out = failing(GOOD, &["--set", "train.lr=-1"]);
    assert!(out.stderr.starts_with("error: --set train.lr=-1: [train] `lr` must be"), "{}", out.stderr);
    let out = failing(GOOD, &["--set", "train.lrr=0.1"]);
    assert!(out.stderr.contains("--set train.lrr=0.1: unknown field `lrr`"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `lr`?"), "{}", out.stderr);
}

#[test]
fn errors_in_the_file_keep_their_lines_when_overrides_add_keys() {
    let text = format!("{GOOD}\n[metrics]\nevery = 0\n");
    let line = text.lines().position(|l| l == "every = 0").unwrap() + 1;
    let out = failing(&text, &["--set", "train.momentum=0.5", "--set", "data.noise=0.1", "--seed", "3"]);
    assert!(
        out.stderr.contains(&format!("spec.toml:{line}:1: [metrics] `every` must be at least 1")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&format!("{line} | every = 0")), "{}", out.stderr);
}

#[test]
fn unset_switches_a_spec_from_iterations_to_epochs() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "spec.toml", GOOD);
    let both = failing(GOOD, &["--set", "train.epochs=2"]);
    assert!(
        both.stderr.contains("--set train.epochs=2: [train] give `iterations` or `epochs`, not both"),
        "{}",
        both.stderr
    );
    let args = ["--unset", "train.iterations", "--set", "train.epochs=2", "--set", "train.batch_size=10"];
    let dir = run_ok(spec.to_str().unwrap(), &tmp.path().join("r"), &args);
    let resolved = std::fs::read_to_string(dir.join("spec.toml")).unwrap();
    assert!(resolved.contains("epochs = 2") && !resolved.contains("iterations"), "{resolved}");
    // 40 samples in batches of 10 for 2 epochs
    assert_eq!(metric(&dir, "train", "loss").last().unwrap().0, 8);
    let typo = failing(GOOD, &["--unset", "train.iteration"]);
    assert!(typo.stderr.contains("did you mean `iterations`?"), "{}", typo.stderr);
}

#[test]
fn argument_errors_say_error_once() {
    let out = runner(&["check", "experiments/xor.toml", "--bogus"], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.starts_with("error: unexpected argument '--bogus'"), "{}", out.stderr);
    assert_eq!(out.stderr.matches("error:").count(), 1, "{}", out.stderr);
}

#[test]
fn a_huge_line_is_cut_around_the_column_in_the_error() {
    let long = "a".repeat(10 << 20);
    let text = GOOD.replace("name = \"t\"", &format!("name = \"t\"\ndescription = \"{long}\" oops"));
    let out = failing(&text, &[]);
    assert!(out.stderr.len() < 1000, "{} bytes", out.stderr.len());
    assert!(out.stderr.contains(&format!("spec.toml:2:{}", 10 * (1 << 20) + 18)), "{}", out.stderr);
    assert!(out.stderr.contains("2 | …aaaa") && out.stderr.contains("\" oops"), "{}", out.stderr);
    let caret = out.stderr.lines().last().unwrap();
    let shown = out.stderr.lines().rev().nth(1).unwrap();
    let column = caret.chars().count() - 1;
    assert_eq!(shown.chars().nth(column), Some('o'), "the caret is under the error:\n{shown}\n{caret}");
}

#[test]
fn a_spec_over_the_size_limit_is_refused_before_parsing() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!("{GOOD}#{}\n", "x".repeat(33 << 20));
    let spec = write_spec(tmp.path(), "spec.toml", &text);
    let out = runner(&["check", spec.to_str().unwrap()], &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("the spec is over 33554432 bytes (32 MiB)"), "{}", out.stderr);
}

/// Two `activations` probes on different layers write different files
/// (`activations_<layer>_<split>.*`): both are accepted; the same layer twice is not
/// (tests/corpus/spec_probe_activations_layers_overlap.toml).
#[test]
fn activations_probes_on_different_layers_do_not_clash() {
    let corpus = root().join("tests/corpus");
    let text = std::fs::read_to_string(corpus.join("spec_probe_activations_layers_overlap.toml")).unwrap();
    let text = text.replacen(
        "kind = \"activations\"\nsplit = \"train\"",
        "kind = \"activations\"\nlayers = [\"conv1\"]\nsplit = \"train\"",
        1,
    );
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "spec.toml",
        &text.replace("files/data_idx_ok", corpus.join("files/data_idx_ok").to_str().unwrap()),
    );
    let out = runner(&["check", spec.to_str().unwrap()], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// `runner clean` with a `--results` that is no folder says so, as `runner list` does,
/// rather than cleaning nothing and exiting 0 (a misspelt path looked like a clean root).
#[test]
fn clean_refuses_a_results_path_that_is_not_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("reslts");
    let out = runner(&["clean", "--results", missing.to_str().unwrap()], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stderr.trim(), format!("error: {}: no such results folder", missing.display()));
    let file = write_spec(tmp.path(), "spec.toml", GOOD);
    let out = runner(&["clean", "--results", file.to_str().unwrap()], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stderr.trim(), format!("error: {}: not a folder (give the results folder)", file.display()));
    let out = runner(&["clean", "--results", tmp.path().to_str().unwrap()], &[]);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{}", out.stderr);
}

/// A model of 150,000 layers (a 5 MB spec, well under the 32 MiB limit) is checked in
/// seconds: each layer's inputs were looked up by a scan of the layers before it, which
/// took minutes (quadratic; 50,000 layers took 7 s, 150,000 over a minute).
#[test]
fn a_very_deep_model_is_checked_in_linear_time() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = GOOD.replace("iterations = 5", "iterations = 1");
    let at = text.find("[train]").unwrap();
    let layers: String =
        (0..150_000).map(|i| format!("[[model.layers]]\nname = \"l{i}\"\nop = \"identity\"\n\n")).collect();
    text.insert_str(at, &layers);
    let spec = write_spec(tmp.path(), "spec.toml", &text);
    let started = std::time::Instant::now();
    let out = runner(&["check", spec.to_str().unwrap()], &[]);
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("l149999"), "the last layer is in the table");
    assert!(seconds < 30.0, "took {seconds:.1} s");
}
