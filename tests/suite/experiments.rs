//! The course's experiments, run from their specs, against the notes' numbers.

use crate::common::*;

#[test]
fn linear_regression_closed_form_lands_near_the_true_coefficients() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/linear_regression_lstsq.toml", tmp.path(), &[]);
    let theta: Vec<f64> = ["theta.weight"].iter().flat_map(|_| read_weights(&dir)).collect();
    let want = [1.5, 2.0, 5.0];
    let tol = [0.4, 0.05, 0.05];
    for i in 0..3 {
        assert!((theta[i] - want[i]).abs() < tol[i], "theta {theta:?}");
    }
    // The closed form is the minimum: gradient descent from [3,3,3] ends with a larger SSE.
    let gd = run_ok("experiments/linear_regression.toml", tmp.path(), &[]);
    let sse_closed = metric(&dir, "train", "sse")[0].1;
    let sse_gd = metric(&gd, "train", "sse").last().unwrap().1;
    assert!(sse_closed < sse_gd, "closed form {sse_closed} vs gradient descent {sse_gd}");
}

/// θ from params: the lstsq run writes no params.csv, so read its predictions instead:
/// θ solves ŷ = θ·[1, x1, x2] exactly on any three rows.
fn read_weights(dir: &std::path::Path) -> Vec<f64> {
    let p = dir.join("predictions.csv");
    let (b, x1, x2, y) = (column(&p, "bias"), column(&p, "x1"), column(&p, "x2"), column(&p, "theta"));
    let rows = [0, 1, 2];
    let a: Vec<f64> = rows.iter().flat_map(|&r| [b[r], x1[r], x2[r]]).collect();
    let rhs: Vec<f64> = rows.iter().map(|&r| y[r]).collect();
    runner::optim::least_squares(&a, 3, 3, &rhs, 1).unwrap()
}

#[test]
fn linear_regression_by_gradient_descent_follows_the_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/linear_regression.toml", tmp.path(), &[]);
    let sse = metric(&dir, "train", "sse");
    assert_eq!(sse.len(), 2001, "one record per iteration, plus the final one");
    assert!(sse.windows(2).all(|w| w[1].1 <= w[0].1 + 1e-9), "batch GD on a convex loss never goes up");
    assert!(sse.last().unwrap().1 < 0.01 * sse[0].1);
    let p = dir.join("params.csv");
    let (header, rows) = read_csv(&p);
    assert_eq!(header, ["step", "theta.weight[0][0]", "theta.weight[0][1]", "theta.weight[0][2]"]);
    assert_eq!(rows.len(), 2001);
    assert_eq!(&rows[0][1..], ["3", "3", "3"], "theta0 = [3, 3, 3]");
    // One step by hand: theta1 = theta0 + lr·mean((y − ŷ)·x), with ŷ from theta0.
    let pred = dir.join("predictions.csv");
    let (b, x1, x2, y) = (column(&pred, "bias"), column(&pred, "x1"), column(&pred, "x2"), column(&pred, "target_y"));
    let n = y.len() as f64;
    let mut grad = [0.0; 3];
    for i in 0..y.len() {
        let r = y[i] - 3.0 * (b[i] + x1[i] + x2[i]);
        grad[0] += r * b[i] / n;
        grad[1] += r * x1[i] / n;
        grad[2] += r * x2[i] / n;
    }
    for j in 0..3 {
        let got: f64 = rows[1][j + 1].parse().unwrap();
        assert!((got - (3.0 + 1e-3 * grad[j])).abs() < 1e-12, "theta1[{j}] = {got}");
    }
    for name in ["curves.png", "params.png", "model.safetensors", "spec.toml", "manifest.json"] {
        assert!(dir.join(name).is_file(), "{name} written");
    }
}

#[test]
fn stochastic_variant_learns_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/linear_regression_sgd.toml", tmp.path(), &[]);
    let sse = metric(&dir, "train", "sse");
    assert_eq!(sse.last().unwrap().0, 2000, "20 epochs of 100 single-sample steps");
    assert!(sse.last().unwrap().1 < 0.01 * sse[0].1);
}

#[test]
fn logic_gates_round_to_the_notes_truth_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/logic_gates.toml", tmp.path(), &[]);
    let p = dir.join("predictions.csv");
    let rounded = |c: &str| column(&p, c).iter().map(|v| v.round() as i32).collect::<Vec<_>>();
    assert_eq!(rounded("or"), [0, 1, 1, 1]);
    assert_eq!(rounded("nand"), [1, 1, 1, 0]);
    assert_eq!(rounded("and"), [0, 0, 0, 1]);
    assert_eq!(rounded("xor"), [0, 1, 1, 0]);
    assert_eq!(metric(&dir, "train", "accuracy"), [(0, 1.0)]);
}

const SOFTMAX_TABLE: [[f64; 3]; 7] = [
    [0.72780576, 0.26927918, 0.00291506],
    [0.62054212, 0.37682531, 0.00263257],
    [0.69267581, 0.30361576, 0.00370844],
    [0.36618794, 0.63016955, 0.00364252],
    [0.57199769, 0.42519820, 0.00280411],
    [0.38373781, 0.61163804, 0.00462415],
    [0.52510443, 0.47250110, 0.00239447],
];

fn check_feedforward(extra: &[&str], tol: f64) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/feedforward.toml", tmp.path(), extra);
    let p = dir.join("predictions.csv");
    let cols: Vec<Vec<f64>> = (0..3).map(|j| column(&p, &format!("out_{j}"))).collect();
    for (r, want) in SOFTMAX_TABLE.iter().enumerate() {
        for j in 0..3 {
            // The notes print 8 decimals, so they are themselves within 5e-9.
            assert!((cols[j][r] - want[j]).abs() < tol, "row {r} col {j}: {} vs {}", cols[j][r], want[j]);
        }
    }
    let z = (0..4).map(|j| column(&p, &format!("z_2_{j}"))[0]).collect::<Vec<_>>();
    let a = (0..4).map(|j| column(&p, &format!("a_2_{j}"))[0]).collect::<Vec<_>>();
    for (got, want) in z.iter().zip([0.8, 0.7, -2.1, 3.8]) {
        assert!((got - want).abs() < tol, "z_2 {z:?}");
    }
    for (got, want) in a.iter().zip([0.68997448, 0.66818777, 0.10909682, 0.97811873]) {
        assert!((got - want).abs() < tol, "a_2 {a:?}");
    }
}

#[test]
fn feedforward_reproduces_the_softmax_table_in_f32() {
    check_feedforward(&["--set", "dtype=f32"], 1e-6);
}

#[test]
fn feedforward_reproduces_the_softmax_table_in_f64() {
    check_feedforward(&[], 1e-8);
}

#[test]
fn xor_is_learned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/xor.toml", tmp.path(), &[]);
    assert_eq!(metric(&dir, "train", "accuracy").last().unwrap().1, 1.0);
    assert!(dir.join("decision_boundary.png").is_file());
}

#[test]
fn diamond_reaches_the_notes_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/diamond.toml", tmp.path(), &[]);
    let acc = metric(&dir, "train", "accuracy");
    let log_sse = metric(&dir, "train", "log_sse");
    assert_eq!(acc.len(), 20001);
    assert!(acc.last().unwrap().1 >= 0.97, "final accuracy {:?}", acc.last());
    // The notes: log loss 4.84 at the start (half the points wrong by about 0.5) → 2.47.
    assert!((log_sse[0].1 - 4.8).abs() < 0.3, "initial log SSE {}", log_sse[0].1);
    assert!(log_sse.last().unwrap().1 < 2.8, "final log SSE {:?}", log_sse.last());
    // The logged SSE is the SSE of the predictions written out.
    let p = dir.join("predictions.csv");
    let sse: f64 = column(&p, "out").iter().zip(column(&p, "target_label")).map(|(a, b)| (a - b).powi(2)).sum();
    assert!((sse.ln() - log_sse.last().unwrap().1).abs() < 1e-5);
    for png in ["dataset.png", "curves.png", "truth_vs_prediction.png", "decision_boundary.png"] {
        let bytes = std::fs::read(dir.join(png)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{png} is a PNG");
    }
}

#[test]
fn square_is_learned() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/square.toml", tmp.path(), &[]);
    assert!(metric(&dir, "train", "accuracy").last().unwrap().1 >= 0.95);
}

#[test]
fn autograd_writes_the_input_gradient() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/autograd.toml", tmp.path(), &[]);
    let (header, rows) = read_csv(&dir.join("gradients.csv"));
    assert_eq!(header, ["node", "row", "col", "grad"]);
    let input: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "input").collect();
    assert_eq!(input.len(), 4);
    assert!(input.iter().all(|r| r[3] == "0.5"), "{input:?}");
    let z: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "z").collect();
    assert!(z.iter().all(|r| r[3] == "0.25"), "d mean / dz = 1/4");
    // The notes' values: z = 2(x + 1) = 4 everywhere, out = mean(z) = 4.
    let p = dir.join("predictions.csv");
    assert_eq!(column(&p, "z_0"), [4.0, 4.0]);
    assert_eq!(column(&p, "z_1"), [4.0, 4.0]);
    assert_eq!(column(&p, "out"), [4.0, 4.0]);
}

/// One-hot target columns with a softmax output and no `classes` in [data] are a
/// classifier too: classes.csv and confusion.csv are written, from the same argmax as
/// metrics.csv's scores (they were left out for want of `classes`).
#[test]
fn one_hot_targets_with_a_softmax_write_the_class_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "one_hot.toml",
        r#"name = "one_hot"
seed = 1
dtype = "f64"

[data]
kind = "inline"
inputs = [[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 2.0]]
targets = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]

[[model.layers]]
name = "logits"
op = "dense"
units = 2
bias = false
weights = [[1.0, 0.0], [0.0, 1.0]]

[[model.layers]]
name = "p"
op = "softmax"
"#,
    );
    let dir = run_ok(spec.to_str().unwrap(), tmp.path(), &[]);
    // Predicted 0, 1, 0, 1 against true 0, 1, 1, 1.
    let confusion = std::fs::read_to_string(dir.join("confusion.csv")).unwrap();
    assert_eq!(confusion, "true,pred_0,pred_1\n0,1,0\n1,1,2\n");
    let classes = std::fs::read_to_string(dir.join("classes.csv")).unwrap();
    let rows: Vec<Vec<f64>> =
        classes.lines().skip(1).map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect()).collect();
    let want =
        [[0.5, 1.0, 2.0 / 3.0, 1.0], [1.0, 2.0 / 3.0, 0.8, 3.0], [0.75, 5.0 / 6.0, (2.0 / 3.0 + 0.8) / 2.0, 4.0]];
    assert_eq!(rows.len(), 3, "{classes}");
    for (got, want) in rows.iter().zip(want) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{classes}");
        }
    }
}
