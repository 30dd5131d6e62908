//! `[[hooks]]`: layers.csv holds the statistics of the very tensors the layers compute
//! (the ReLU before a pool included), gradient and weight norms agree with a hand
//! computation, the update ratio of plain SGD is lr·‖g‖/‖θ‖, hooks change no result,
//! and the files are the same bytes run after run, on any number of threads, and
//! after a stop and a resume.

use crate::common::*;
use runner::backend::CpuBackend;
use runner::layers::Model;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// layers.csv as (step, node) → column → cell.
fn layers(dir: &Path) -> HashMap<(usize, String), HashMap<String, String>> {
    let (header, rows) = read_csv(&dir.join("layers.csv"));
    assert_eq!(header[..3], ["step", "node", "op"]);
    let mut out = HashMap::new();
    for r in rows {
        let cells = header.iter().cloned().zip(r.iter().cloned()).collect();
        out.insert((r[0].parse().unwrap(), r[1].clone()), cells);
    }
    out
}

fn stat(table: &HashMap<(usize, String), HashMap<String, String>>, step: usize, node: &str, s: &str) -> Option<f64> {
    let cell = &table[&(step, node.to_string())][s];
    (!cell.is_empty()).then(|| cell.parse().unwrap())
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1e-12), "{what}: {a} vs {b}");
}

/// A small CNN whose ReLU feeds a max-pool (in training the ReLU then runs after the
/// pool), trained on the whole batch in order.
fn conv_spec(dir: &Path, hooks: &str) -> PathBuf {
    let data = root().join("data/mnist-10k");
    let text = format!(
        r#"name = "hooked_cnn"
seed = 4
dtype = "f32"
[data]
kind = "mnist"
path = "{}"
n = 96
test_n = 16
normalize = {{ mean = 0.1307, std = 0.3081 }}
[[model.layers]]
name = "conv"
op = "conv2d"
channels = 4
kernel = 3
padding = 1
[[model.layers]]
name = "relu"
op = "relu"
[[model.layers]]
name = "pool"
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
lr = 1e-2
batch_size = "all"
shuffle = false
iterations = 7
[metrics]
record = ["loss", "accuracy"]
{hooks}
"#,
        data.display()
    );
    write_spec(dir, "hooked_cnn.toml", &text)
}

const CONV_HOOKS: &str = "[[hooks]]\nnodes = [\"conv\", \"relu\", \"pool\", \"fc\"]\nevery = 3\n";

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn hooks_see_the_relu_output_even_where_training_applies_it_after_the_pool() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = conv_spec(tmp.path(), CONV_HOOKS);
    let dir = run_ok(spec.to_str().unwrap(), &tmp.path().join("r"), &[]);
    let table = layers(&dir);
    let steps: Vec<usize> = table.keys().filter(|(_, n)| n == "relu").map(|(s, _)| *s).collect::<Vec<_>>();
    let mut steps = steps;
    steps.sort();
    assert_eq!(steps, [0, 3, 6], "step 0, every 3, and the last");

    // The initial model's values on the training inputs, computed apart from training.
    let p = runner::experiment::prepare(&spec, &[], None).unwrap();
    let be = CpuBackend::new();
    let model = Model::<f32, CpuBackend>::new(p.dag.clone(), &be, p.loaded.spec.seed, p.initial.as_ref());
    let ids: Vec<usize> = ["conv", "relu"].iter().map(|n| p.dag.find(n).unwrap()).collect();
    let train = &p.data.train;
    let values = runner::train::node_values(&be, &model, &train.inputs.values(), &train.sample_shape(), &ids);
    let (conv, relu) = (&values[0], &values[1]);
    assert!(relu.iter().all(|v| *v >= 0.0) && conv.iter().any(|v| *v < 0.0));
    let (mean, std) = mean_std(relu);
    let units = relu.len() / train.len();
    let dead = (0..units).filter(|&u| (0..train.len()).all(|r| relu[r * units + u] == 0.0)).count();
    // layers.csv holds each statistic in the run's dtype (f32 here).
    let f32_stat = |step, node, s| stat(&table, step, node, s).map(|v| v as f32);
    assert_eq!(f32_stat(0, "relu", "mean"), Some(mean as f32));
    assert_eq!(f32_stat(0, "relu", "std"), Some(std as f32));
    assert_eq!(f32_stat(0, "relu", "dead"), Some((dead as f64 / units as f64) as f32));
    // The ReLU's input has other statistics: a hook reading the deferred ReLU's tape
    // entry (its input) would be caught here.
    let (conv_mean, conv_std) = mean_std(conv);
    assert_eq!(f32_stat(0, "conv", "mean"), Some(conv_mean as f32));
    assert_eq!(f32_stat(0, "conv", "std"), Some(conv_std as f32));
    assert_ne!(conv_mean, mean);
    assert_eq!(stat(&table, 0, "conv", "dead"), None, "dead units are counted for ReLUs only");
    assert_eq!(stat(&table, 0, "relu", "weight_norm"), None, "no parameters, no weight norm");
    assert!(stat(&table, 6, "conv", "update_ratio").unwrap() > 0.0);
    assert!(dir.join("layers.png").is_file());
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"layers.csv\"") && manifest.contains("\"layers.png\""), "{manifest}");
}

#[test]
fn hooks_change_no_result_and_give_the_same_bytes_every_time_on_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = conv_spec(tmp.path(), CONV_HOOKS);
    let spec = spec.to_str().unwrap();
    let run_with = |results: &str, threads: &str| {
        let args = ["run", spec, "--quiet", "--results", results];
        let out = runner(&args, &[("RAYON_NUM_THREADS", threads)]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.dir()
    };
    let a = run_with(tmp.path().join("a").to_str().unwrap(), "2");
    let b = run_with(tmp.path().join("b").to_str().unwrap(), "1");
    for file in ["layers.csv", "layers.png", "metrics.csv", "model.safetensors"] {
        assert!(std::fs::read(a.join(file)).unwrap() == std::fs::read(b.join(file)).unwrap(), "{file} differs");
    }
    // Without hooks every step applies the ReLU after the pool: the same training.
    let plain = conv_spec(&tmp.path().join("a"), "");
    let c = run_ok(plain.to_str().unwrap(), &tmp.path().join("c"), &[]);
    assert!(!c.join("layers.csv").exists());
    for file in ["metrics.csv", "model.safetensors"] {
        assert!(std::fs::read(a.join(file)).unwrap() == std::fs::read(c.join(file)).unwrap(), "{file} differs");
    }
}

/// x·W + b (W given in×out, as a spec writes it), row by row.
fn dense(x: &[Vec<f64>], w: &[Vec<f64>], b: &[f64]) -> Vec<Vec<f64>> {
    x.iter()
        .map(|r| (0..b.len()).map(|o| b[o] + r.iter().zip(w).map(|(xi, wi)| xi * wi[o]).sum::<f64>()).collect())
        .collect()
}

fn norm<'a>(parts: impl IntoIterator<Item = &'a f64>) -> f64 {
    parts.into_iter().map(|v| v * v).sum::<f64>().sqrt()
}

#[test]
fn gradient_weight_and_update_norms_match_a_hand_computation() {
    let tmp = tempfile::tempdir().unwrap();
    let x = vec![vec![0.5, -1.0], vec![1.5, 0.25], vec![-0.75, 2.0]];
    let t = [0.3, -0.6, 1.1];
    let (w1, b1) = (vec![vec![0.5, -1.0], vec![1.5, 0.25]], vec![0.1, -0.2]);
    let (w2, b2) = (vec![vec![1.0], vec![-2.0]], vec![0.3]);
    let lr = 0.1;
    let text = r#"name = "tiny"
seed = 1
dtype = "f64"
[data]
kind = "inline"
inputs = [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]]
targets = [[0.3], [-0.6], [1.1]]
[[model.layers]]
name = "hidden"
op = "dense"
units = 2
weights = [[0.5, -1.0], [1.5, 0.25]]
biases = [0.1, -0.2]
[[model.layers]]
name = "act"
op = "tanh"
[[model.layers]]
name = "out"
op = "dense"
units = 1
weights = [[1.0], [-2.0]]
biases = [0.3]
[train]
loss = "mse"
optimizer = "sgd"
lr = 0.1
batch_size = "all"
iterations = 2
[[hooks]]
every = 1
[[hooks]]
nodes = ["input"]
stats = ["grad_norm", "mean"]
"#;
    let spec = write_spec(tmp.path(), "tiny.toml", text);
    let dir = run_ok(spec.to_str().unwrap(), &tmp.path().join("r"), &[]);
    let table = layers(&dir);
    let (header, _) = read_csv(&dir.join("layers.csv"));
    assert_eq!(header.len(), 10, "both hooks' statistics are columns: {header:?}");

    // Forward and backward by hand: L = (1/n)·Σ(y − t)².
    let n = x.len() as f64;
    let h = dense(&x, &w1, &b1);
    let a: Vec<Vec<f64>> = h.iter().map(|r| r.iter().map(|v| v.tanh()).collect()).collect();
    let y = dense(&a, &w2, &b2);
    let dy: Vec<f64> = y.iter().zip(&t).map(|(yi, ti)| 2.0 * (yi[0] - ti) / n).collect();
    let da: Vec<Vec<f64>> = dy.iter().map(|g| w2.iter().map(|w| g * w[0]).collect()).collect();
    let dh: Vec<Vec<f64>> =
        da.iter().zip(&a).map(|(g, ar)| g.iter().zip(ar).map(|(g, a)| g * (1.0 - a * a)).collect()).collect();
    let dx: Vec<f64> = dh.iter().flat_map(|g| w1.iter().map(move |wi| g[0] * wi[0] + g[1] * wi[1])).collect();
    let dw2: Vec<f64> = (0..2).map(|i| dy.iter().zip(&a).map(|(g, ar)| g * ar[i]).sum()).collect();
    let db2: f64 = dy.iter().sum();
    let dw1: Vec<f64> = (0..2)
        .flat_map(|i| {
            let (dh, x) = (&dh, &x);
            (0..2).map(move |o| dh.iter().zip(x).map(|(g, xr)| g[o] * xr[i]).sum::<f64>())
        })
        .collect();
    let db1: Vec<f64> = (0..2).map(|o| dh.iter().map(|g| g[o]).sum()).collect();

    let at0 = |node: &str, s: &str| stat(&table, 0, node, s).unwrap_or_else(|| panic!("{node} {s} is empty"));
    close(at0("out", "grad_norm"), norm(&dy), "∂L/∂out");
    close(at0("act", "grad_norm"), norm(da.iter().flatten()), "∂L/∂act");
    close(at0("hidden", "grad_norm"), norm(dh.iter().flatten()), "∂L/∂hidden");
    close(at0("input", "grad_norm"), norm(&dx), "∂L/∂input");
    close(at0("input", "mean"), x.iter().flatten().sum::<f64>() / 6.0, "input mean");
    let out_grads: Vec<f64> = dw2.iter().copied().chain([db2]).collect();
    close(at0("out", "weight_grad_norm"), norm(&out_grads), "‖∂L/∂θ_out‖");
    close(at0("hidden", "weight_grad_norm"), norm(dw1.iter().chain(&db1)), "‖∂L/∂θ_hidden‖");
    let out_weights = [1.0, -2.0, 0.3];
    close(at0("out", "weight_norm"), norm(&out_weights), "‖θ_out‖");
    close(at0("hidden", "weight_norm"), norm(w1.iter().flatten().chain(&b1)), "‖θ_hidden‖");
    assert_eq!(stat(&table, 0, "act", "weight_norm"), None);
    assert_eq!(stat(&table, 0, "input", "std"), None, "the input's hook asks for no std");
    // Plain SGD moves θ by lr·g: the update ratio is lr·‖g‖/‖θ‖ at every step.
    for step in [0, 1] {
        for node in ["hidden", "out"] {
            let at = |s: &str| stat(&table, step, node, s).unwrap();
            close(at("update_ratio"), lr * at("weight_grad_norm") / at("weight_norm"), "update ratio");
        }
    }
    close(at0("out", "update_ratio"), lr * norm(&out_grads) / norm(&out_weights), "update ratio by hand");
}

#[test]
fn a_hooked_cnn_stopped_and_resumed_writes_the_same_layers_csv_and_png() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = crate::resume::mnist_spec(tmp.path());
    let mut text = std::fs::read_to_string(&spec).unwrap();
    text.push_str("\n[[hooks]]\nevery = 3\n");
    std::fs::write(&spec, text).unwrap();
    let plan = crate::resume::scenarios(5, 3, 18, 4);
    crate::resume::stop_and_resume(spec.to_str().unwrap(), "resume_cnn", &[], &plan, 4, true);
}

/// out's ‖∂loss/∂value‖ over fc1's at step 0 of a shipped deep-net experiment.
fn first_step_gradient_ratio(spec: &str, extra: &[&str]) -> f64 {
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec!["--unset", "train.epochs", "--set", "train.iterations=1"];
    args.extend_from_slice(extra);
    let dir = run_ok(spec, tmp.path(), &args);
    let table = layers(&dir);
    let at = |node: &str| stat(&table, 0, node, "grad_norm").unwrap();
    at("out") / at("fc1")
}

#[test]
fn the_deep_sigmoid_net_loses_its_gradient_on_the_way_down_and_relu_and_batch_norm_much_less() {
    let sigmoid = first_step_gradient_ratio("experiments/deep_sigmoid_vs_relu.toml", &[]);
    let relu_sets: Vec<String> = (1..=6).map(|k| format!("model.layers.act{k}.op=relu")).collect();
    let mut relu_args = Vec::new();
    for s in &relu_sets {
        relu_args.extend(["--set", s.as_str()]);
    }
    let relu = first_step_gradient_ratio("experiments/deep_sigmoid_vs_relu.toml", &relu_args);
    let batch_norm = first_step_gradient_ratio("experiments/deep_batchnorm.toml", &[]);
    // Measured: 1.3·10⁵, 250 and 2.9 (out's gradient over fc1's).
    assert!(sigmoid > 1e4, "sigmoid: {sigmoid}");
    assert!(relu < 1e3 && sigmoid / relu > 100.0, "relu: {relu}");
    assert!(batch_norm < 10.0, "batch-norm: {batch_norm}");
}

/// The gradient at a final sigmoid that the BCE loss reads past is never recorded: a
/// hook asking only for it leaves layers.csv's column empty, and the run completes
/// without a layers.png rather than failing after training.
#[test]
fn a_hook_with_nothing_to_draw_keeps_the_run_and_its_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = std::fs::read_to_string(root().join("experiments/xor.toml")).unwrap();
    text.push_str("\n[[hooks]]\nnodes = [\"out\"]\nstats = [\"grad_norm\"]\n");
    let spec = write_spec(tmp.path(), "xor_hooked.toml", &text);
    let dir = run_ok(spec.to_str().unwrap(), &tmp.path().join("results"), &["--set", "train.iterations=5"]);
    let csv = std::fs::read_to_string(dir.join("layers.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("step,node,op,grad_norm"), "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",out,sigmoid,")), "{csv}");
    assert!(!dir.join("layers.png").exists());
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"layers.csv\"") && !manifest.contains("\"layers.png\""), "{manifest}");
}
