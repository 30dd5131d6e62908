//! What a run prints: the course's headline numbers (`[output] print`) as tables on
//! standard output before the run folder, held to the values in the course notes.

use crate::common::*;
use std::path::Path;

/// Runs `spec` without `--quiet`, asserting success; its standard output.
fn printed(spec: &str, results: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", spec, "--results", results.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = runner(&args, &[]);
    assert_eq!(out.code, 0, "runner {args:?} failed:\n{}", out.stderr);
    assert!(out.dir().is_dir(), "the last line is the run folder:\n{}", out.stdout);
    out
}

/// The rows of the table titled `title` (its header first), split on spaces.
fn table(stdout: &str, title: &str) -> Vec<Vec<String>> {
    let mut lines = stdout.lines().skip_while(|l| *l != title);
    assert!(lines.next().is_some(), "no table `{title}` in:\n{stdout}");
    lines
        .take_while(|l| l.starts_with("  ") && !l.starts_with("  ("))
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// A table's rows below its header, as numbers.
fn numbers(rows: &[Vec<String>]) -> Vec<Vec<f64>> {
    rows[1..].iter().map(|r| r.iter().map(|c| c.parse().unwrap_or_else(|_| panic!("{c} in {r:?}"))).collect()).collect()
}

/// Within the printing's six significant digits (plus f32 rounding for f32 runs).
fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-3)
}

#[test]
fn feedforward_prints_the_notes_softmax_table() {
    let tmp = tempfile::tempdir().unwrap();
    let out = printed("experiments/feedforward.toml", tmp.path(), &[]);
    // The notes' softmax rows for x_mat_in.
    let notes = [
        [0.5, 0.8, 0.2, 0.72780576, 0.26927918, 0.00291506],
        [0.1, 0.9, 0.6, 0.62054212, 0.37682531, 0.00263257],
        [0.2, 0.2, 0.3, 0.69267581, 0.30361576, 0.00370844],
        [0.6, 0.1, 0.9, 0.36618794, 0.63016955, 0.00364252],
        [0.5, 0.5, 0.4, 0.57199769, 0.42519820, 0.00280411],
        [0.9, 0.1, 0.9, 0.38373781, 0.61163804, 0.00462415],
        [0.1, 0.8, 0.7, 0.52510443, 0.47250110, 0.00239447],
    ];
    let rows = table(&out.stdout, "outputs (train, 7 rows): out");
    assert_eq!(rows[0], ["x1", "x2", "x3", "out_0", "out_1", "out_2"]);
    let got = numbers(&rows);
    assert_eq!(got.len(), 7);
    for (g, want) in got.iter().zip(&notes) {
        for (a, b) in g.iter().zip(want) {
            assert!(close(*a, *b, 1e-5), "printed {g:?}, the notes {want:?}");
        }
        assert!((g[3..].iter().sum::<f64>() - 1.0).abs() < 2e-6, "a softmax row sums to 1: {g:?}");
    }
    // The hidden layer for the notes' single input: z_2 and a_2.
    let z = numbers(&table(&out.stdout, "outputs (train, 7 rows): z_2"));
    assert_eq!(z[0], [0.5, 0.8, 0.2, 0.8, 0.7, -2.1, 3.8]);
    let a = numbers(&table(&out.stdout, "outputs (train, 7 rows): a_2"));
    for (x, want) in a[0][3..].iter().zip([0.68997448, 0.66818777, 0.10909682, 0.97811873]) {
        assert!(close(*x, want, 1e-5), "a_2 {:?}", a[0]);
    }
    // 40 parameters: too many to print by default, and no file of them.
    assert!(!out.stdout.contains("parameters ("), "{}", out.stdout);
    assert!(!out.dir().join("params_final.csv").exists());
}

#[test]
fn autograd_prints_the_gradient_one_half() {
    let tmp = tempfile::tempdir().unwrap();
    let out = printed("experiments/autograd.toml", tmp.path(), &[]);
    let rows = table(&out.stdout, "gradients of sum(out) (train, 2 rows)");
    assert_eq!(rows[0], ["x1", "x2", "∂input_0", "∂input_1", "∂y_0", "∂y_1", "∂z_0", "∂z_1"]);
    // x = ones(2,2): out = mean(2(x+1)) has d out/dx = 2/4 everywhere, as the notes say.
    for r in numbers(&rows) {
        assert_eq!(r, [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]);
    }
    // y = x + 1 = 2, z = 2y = 4, out = mean(z) = 4.
    let values = table(&out.stdout, "outputs (train, 2 rows)");
    assert_eq!(values[0], ["x1", "x2", "y_0", "y_1", "z_0", "z_1", "out"]);
    assert_eq!(numbers(&values), vec![vec![1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 4.0]; 2]);
}

#[test]
fn logic_gates_print_the_truth_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let out = printed("experiments/logic_gates.toml", tmp.path(), &[]);
    let rows = table(&out.stdout, "outputs (train, 4 rows)");
    assert_eq!(rows[0], ["x1", "x2", "or", "nand", "and", "xor"]);
    // OR 0,1,1,1 · NAND 1,1,1,0 · AND 0,0,0,1 · XOR 0,1,1,0 (the notes' rounded tables).
    let want = [
        [0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        [0.0, 1.0, 1.0, 1.0, 0.0, 1.0],
        [1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
        [1.0, 1.0, 1.0, 0.0, 1.0, 0.0],
    ];
    assert_eq!(numbers(&rows), want.map(|r| r.to_vec()).to_vec());
    assert!(out.stdout.contains("sigmoid outputs rounded at 0.5"), "{}", out.stdout);
    // 12 fixed weights: printed by name.
    let params = table(&out.stdout, "parameters (12)");
    assert_eq!(params[1], ["or_lin.weight[0][0]", "20"]);
    assert_eq!(params[3], ["or_lin.bias[0]", "-10"]);
    assert_eq!(params[9], ["and_lin.bias[0]", "-19"]);
}

/// θ₀, θ₁, θ₂ as printed, with the parameter each one is.
fn thetas(stdout: &str) -> Vec<f64> {
    let rows = table(stdout, "parameters (3)");
    assert_eq!(rows[0], ["input", "parameter", "value"], "{stdout}");
    let want =
        [["θ₀", "bias", "theta.weight[0][0]"], ["θ₁", "x1", "theta.weight[0][1]"], ["θ₂", "x2", "theta.weight[0][2]"]];
    for (r, w) in rows[1..].iter().zip(want) {
        assert_eq!(r[..3], w, "{stdout}");
    }
    rows[1..].iter().map(|r| r[3].parse().unwrap()).collect()
}

#[test]
fn the_closed_form_theta_is_printed_and_written() {
    let tmp = tempfile::tempdir().unwrap();
    let out = printed("experiments/linear_regression_lstsq.toml", tmp.path(), &[]);
    let theta = thetas(&out.stdout);
    // y = 1.5 + 2·x1 + 5·x2 + N(0, 0.5²) on 100 points: the fit is within the noise's
    // standard errors (about 0.15 for the intercept, 0.02 for the slopes) times 3.
    for (t, (want, tol)) in theta.iter().zip([(1.5, 0.45), (2.0, 0.06), (5.0, 0.06)]) {
        assert!((t - want).abs() < tol, "θ {theta:?}");
    }
    let csv = out.dir().join("params_final.csv");
    let (header, rows) = read_csv(&csv);
    assert_eq!(header, ["theta.weight[0][0]", "theta.weight[0][1]", "theta.weight[0][2]"]);
    assert_eq!(rows.len(), 1);
    for (t, cell) in theta.iter().zip(&rows[0]) {
        assert!(close(*t, cell.parse().unwrap(), 1e-5), "printed {theta:?}, file {rows:?}");
    }
    let manifest = std::fs::read_to_string(out.dir().join("manifest.json")).unwrap();
    assert!(manifest.contains("\"params_final.csv\""), "{manifest}");
}

#[test]
fn gradient_descent_prints_its_last_theta() {
    let tmp = tempfile::tempdir().unwrap();
    for (spec, extra) in [
        ("experiments/linear_regression.toml", &["--set", "train.iterations=300"][..]),
        ("experiments/linear_regression_sgd.toml", &["--set", "train.epochs=3"][..]),
    ] {
        let out = printed(spec, tmp.path(), extra);
        let theta = thetas(&out.stdout);
        // The last row of params.csv is the printed θ; no second file of it.
        let dir = out.dir();
        let last: Vec<f64> = ["theta.weight[0][0]", "theta.weight[0][1]", "theta.weight[0][2]"]
            .iter()
            .map(|c| *column(&dir.join("params.csv"), c).last().unwrap())
            .collect();
        for (t, l) in theta.iter().zip(&last) {
            assert!(close(*t, *l, 1e-5), "{spec}: printed {theta:?}, params.csv {last:?}");
        }
        assert!(!dir.join("params_final.csv").exists(), "{spec}");
        // From θ = [3, 3, 3] towards [1.5, 2, 5]: the slopes move first.
        assert!(theta[2] > 4.0 && theta[1] < 2.5, "{spec}: {theta:?}");
    }
}

#[test]
fn print_chooses_what_is_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = "experiments/logic_gates.toml";
    let none = printed(spec, tmp.path(), &["--set", "output.print=[]"]);
    assert_eq!(none.stdout.lines().count(), 1, "only the folder: {}", none.stdout);
    assert!(!none.stderr.contains("train.accuracy"), "no metrics: {}", none.stderr);

    let params = printed(spec, tmp.path(), &["--set", "output.print=[\"params\"]"]);
    assert!(params.stdout.starts_with("parameters (12)\n"), "{}", params.stdout);
    assert!(!params.stdout.contains("outputs ("), "{}", params.stdout);
    assert!(!params.stderr.contains("train.accuracy"), "{}", params.stderr);

    // The feed-forward's 40 weights, when asked for.
    let ff = printed("experiments/feedforward.toml", tmp.path(), &["--set", "output.print=[\"metrics\",\"params\"]"]);
    let rows = table(&ff.stdout, "parameters (40)");
    assert_eq!(rows[1], ["z_2.weight[0][0]", "2"]);

    let quiet = runner(&["run", spec, "--quiet", "--results", tmp.path().to_str().unwrap()], &[]);
    assert_eq!((quiet.code, quiet.stdout.lines().count(), quiet.stderr.as_str()), (0, 1, ""), "{}", quiet.stdout);
}

#[test]
fn a_large_output_is_not_printed_by_default_and_is_cut_when_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = "experiments/linear_regression_lstsq.toml";
    let plain = printed(spec, tmp.path(), &[]);
    assert!(!plain.stdout.contains("outputs ("), "100 rows are not printed by default: {}", plain.stdout);
    let asked = printed(spec, tmp.path(), &["--set", "output.print=[\"outputs\"]"]);
    let rows = table(&asked.stdout, "outputs (train, 100 rows)");
    assert_eq!(rows[0], ["bias", "x1", "x2", "theta"]);
    assert_eq!(rows.len(), 1 + 48, "{}", asked.stdout);
    assert!(asked.stdout.contains("(the first 48 of 100 rows; all in predictions.csv)"), "{}", asked.stdout);
}
