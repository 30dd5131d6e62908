//! The CNN on real MNIST: the course's accuracy, the files a classifier run writes,
//! checkpoints in and out, batch-norm state, and broken data files.

use crate::common::*;
use std::path::Path;

fn last(dir: &Path, split: &str, name: &str) -> f64 {
    metric(dir, split, name).last().unwrap_or_else(|| panic!("no {split} rows")).1
}

#[test]
fn mnist_cnn_reaches_pytorchs_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_ok("experiments/mnist_cnn.toml", tmp.path(), &[]);
    let test = metric(&dir, "test", "accuracy");
    let steps: Vec<usize> = test.iter().map(|r| r.0).collect();
    assert_eq!(steps, [0, 125, 250, 375], "the untrained model, then one test record per epoch");
    assert!(test[0].1 < 0.3, "untrained: about chance, {}", test[0].1);
    assert!(test[3].1 >= 0.97, "test accuracy after 3 epochs: {}", test[3].1);
    // Per-class report and confusion matrix agree with the accuracy.
    let (header, rows) = read_csv(&dir.join("confusion.csv"));
    assert_eq!(header.len(), 11);
    let total: usize = rows.iter().flat_map(|r| r[1..].iter().map(|v| v.parse::<usize>().unwrap())).sum();
    let diagonal: usize = rows.iter().enumerate().map(|(i, r)| r[i + 1].parse::<usize>().unwrap()).sum();
    assert_eq!(total, 2000);
    assert!((diagonal as f64 / 2000.0 - test[3].1).abs() < 1e-12);
    let (_, classes) = read_csv(&dir.join("classes.csv"));
    assert_eq!(classes.len(), 11, "ten classes and the macro average");
    assert_eq!(classes[10][0], "macro");
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"train_samples_per_second\": ") && manifest.contains("\"inference_samples_per_second\": ")
    );
    for png in ["curves.png", "confusion_test.png", "misclassified_test.png"] {
        assert!(dir.join(png).is_file(), "{png}");
    }
}

/// How far, relative to the loss, two correct f32 implementations of the golden run can
/// be apart at `step` (they differ in summation order and in where they fuse
/// multiply-adds: PyTorch's oneDNN, and runner's portable, avx2 and avx512 paths).
///
/// * Step 0 (the same weights, one forward pass): the widest sums are the logits', 1568
///   products each. Rounding errors of two summation orders behave like a random walk,
///   about √n·u relative (u = 2⁻²⁴; Higham & Mary, "A new approach to probabilistic
///   rounding error analysis", 2019): √1568·u = 2.4e-6. Measured: 3e-8 on every path.
/// * Each Adam step feeds the difference back into the weights. The gradients are sums
///   of up to 12,544 products (conv2's weight gradient: 64 images × 14·14 pixels), and
///   Adam divides each by √v̂, so a weight whose gradient is near zero moves by up to
///   lr whatever the rounding: the gap grows geometrically at a rate set by the
///   training dynamics, the same on any machine. runner's own paths measure it
///   (portable against avx512: 6e-9, 4e-8, 3e-7, 1e-5, 1e-5, 5e-5, 6e-4 at steps 0, 10,
///   …, 60, ×6.9 per 10 steps), as does PyTorch against runner (×5.6); the envelope
///   takes ×10 per 10 steps.
/// * Past step 40 the two runs are two draws of the rounding noise and the gap stops
///   growing: a batch's loss differs by at most 4.5e-3 on any path (steps 60–120);
///   the cap, 2e-2, leaves four times that.
///
/// Measured, relative to PyTorch: portable and avx2 (the AVX2 machines' kernels; the
/// same bits with matrixmultiply held to its FMA + AVX2 kernel) 1.1e-5 at step 30 and
/// 4.5e-3 at most; avx512 7.6e-7 at step 30 and 4.5e-3 at most.
/// A real fault (a wrong gradient, bias correction or padding) moves the loss by 1e-3
/// or more within ten steps, far outside the envelope there.
fn rounding_envelope(step: usize) -> f64 {
    let u = f64::from(f32::EPSILON) / 2.0;
    let start = 1568f64.sqrt() * u;
    (start * 10f64.powf(step as f64 / 10.0)).min(2e-2)
}

/// Golden against PyTorch: from the same initial weights (PyTorch's default init,
/// written by tests/golden/mnist_cnn_pytorch.py) and the same batches (file order),
/// runner's batch losses follow PyTorch's step by step, within the rounding envelope
/// above, and the test accuracy after the epoch is PyTorch's. Passes on every CPU path
/// (RUNNER_CPU=portable, avx2, avx512).
#[test]
fn the_cnn_follows_pytorch_step_by_step() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = root().join("tests/golden");
    let init = format!("model.init={{from=\"{}\"}}", golden.join("mnist_cnn_init.safetensors").display());
    let sets = ["train.shuffle=false", "train.epochs=1", "metrics.batch_every=10", init.as_str()];
    let extra: Vec<&str> = sets.iter().flat_map(|s| ["--set", s]).collect();
    let dir = run_ok("experiments/mnist_cnn.toml", tmp.path(), &extra);
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden.join("mnist_cnn_trace.json")).unwrap()).unwrap();
    let batch = metric(&dir, "batch", "loss");
    assert_eq!(batch.len(), 13, "steps 0, 10, …, 120");
    for (step, loss) in batch {
        let want = trace["batch_loss"][step.to_string()].as_f64().unwrap();
        let tolerance = rounding_envelope(step);
        assert!(
            (loss - want).abs() <= tolerance * want,
            "step {step}: runner {loss}, PyTorch {want}, rel. {tolerance:e}"
        );
    }
    // Four digits of 2,000: the predictions of digits whose two top logits are within
    // the rounding noise may flip. Measured: 0.951 on every path, as PyTorch.
    let accuracy = last(&dir, "test", "accuracy");
    let want = trace["test_accuracy"].as_f64().unwrap();
    assert!((accuracy - want).abs() <= 0.002, "test accuracy: runner {accuracy}, PyTorch {want}");
}

const SHORT: [&str; 6] = ["--set", "data.n=640", "--set", "data.test_n=300", "--set", "train.epochs=2"];

#[test]
fn a_short_mnist_run_learns_and_is_the_same_on_one_thread_or_two() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().to_str().unwrap();
    let mut args = vec!["run", "experiments/mnist_cnn.toml", "--quiet", "--results", results];
    args.extend(SHORT);
    let one = runner(&args, &[("RAYON_NUM_THREADS", "1")]);
    let two = runner(&args, &[("RAYON_NUM_THREADS", "2")]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert_eq!(two.code, 0, "{}", two.stderr);
    for f in ["metrics.csv", "model.safetensors", "confusion.csv"] {
        assert_eq!(std::fs::read(one.dir().join(f)).unwrap(), std::fs::read(two.dir().join(f)).unwrap(), "{f}");
    }
    let batch = metric(&one.dir(), "batch", "loss");
    assert!(batch[0].1 > 2.0, "starts near ln 10: {}", batch[0].1);
    assert!(last(&one.dir(), "train", "loss") < 0.8, "loss falls");
    assert!(last(&one.dir(), "test", "accuracy") > 0.75, "well above chance (0.1)");
}

#[test]
fn batch_norm_keeps_running_statistics_in_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let set = ["--set", "data.n=256", "--set", "data.test_n=64", "--set", "train.epochs=1"];
    let dir = run_ok("experiments/mnist_cnn_bn.toml", tmp.path(), &set);
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let f32s = |name: &str| -> Vec<f32> {
        st.tensor(name).unwrap().data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    };
    assert_eq!(st.tensor("bn1.running_mean").unwrap().shape(), [16]);
    let count = st.tensor("bn1.num_batches_tracked").unwrap();
    // int64, as PyTorch keeps it.
    assert_eq!(
        (count.dtype(), count.data()),
        (safetensors::Dtype::I64, &4i64.to_le_bytes()[..]),
        "256 images in batches of 64"
    );
    assert!(f32s("bn1.running_var").iter().any(|v| (v - 1.0).abs() > 1e-3), "running variance moved");
    assert!(f32s("bn2.running_mean").iter().any(|v| v.abs() > 1e-4), "running mean moved");
}

#[test]
fn a_run_can_start_from_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let trained = run_ok("experiments/mnist_cnn.toml", tmp.path(), &SHORT);
    let accuracy = last(&trained, "test", "accuracy");
    // The same network, evaluated only, from the checkpoint: the same test accuracy.
    let spec = std::fs::read_to_string(root().join("experiments/mnist_cnn.toml")).unwrap();
    let data = root().join("data/mnist-10k");
    let train_start = spec.find("[train]").unwrap();
    let metrics_start = spec.find("[metrics]").unwrap();
    let spec = format!(
        "{}{}",
        &spec[..train_start],
        &spec[metrics_start..].replace("batch_every = 10", "").replace("[[probes]]\nkind = \"curves\"\n", "")
    )
    .replace("path = \"../data/mnist-10k\"", &format!("path = {:?}\ntest_n = 300", data.to_str().unwrap()))
    .replace(
        "[[model.layers]]\nname = \"conv1\"",
        &format!(
            "[model]\ninit = {{ from = {:?} }}\n\n[[model.layers]]\nname = \"conv1\"",
            trained.join("model.safetensors").to_str().unwrap()
        ),
    );
    let path = write_spec(tmp.path(), "from_checkpoint.toml", &spec);
    let evaluated = run_ok(path.to_str().unwrap(), &tmp.path().join("again"), &[]);
    assert_eq!(last(&evaluated, "test", "accuracy"), accuracy);
    // A checkpoint that does not fit says which tensor and both shapes.
    let bad = spec.replace("channels = 16", "channels = 8");
    let path = write_spec(tmp.path(), "bad.toml", &bad);
    let out = runner(&["check", path.to_str().unwrap()], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("`conv1.weight` has shape [16, 1, 5, 5]; the model needs [8, 1, 5, 5]"),
        "{}",
        out.stderr
    );
}

fn broken_copy(tmp: &Path, edit: impl Fn(&Path)) -> std::path::PathBuf {
    let dir = tmp.join("digits");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(root().join("data/mnist-10k").join(f), dir.join(f)).unwrap();
    }
    edit(&dir);
    let spec = std::fs::read_to_string(root().join("experiments/mnist_cnn.toml"))
        .unwrap()
        .replace("path = \"../data/mnist-10k\"", "path = \"digits\"");
    write_spec(tmp, "spec.toml", &spec)
}

fn check_fails(spec: &Path, expected: &str) {
    let out = runner(&["check", spec.to_str().unwrap()], &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains(expected), "expected {expected:?} in {}", out.stderr);
    assert!(!out.stderr.contains("panicked"));
}

fn gunzip(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut out).unwrap();
    out
}

#[test]
fn broken_idx_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    // Truncated: the raw file (no .gz) is cut short, and wins over the .gz.
    let spec = broken_copy(tmp.path(), |d| {
        let raw = gunzip(&d.join("train-images-idx3-ubyte.gz"));
        std::fs::write(d.join("train-images-idx3-ubyte"), &raw[..raw.len() / 2]).unwrap();
    });
    check_fails(&spec, "truncated: the header declares 8000×28×28 = 6272000 bytes, the file holds 3135992");

    let tmp = tempfile::tempdir().unwrap();
    let spec = broken_copy(tmp.path(), |d| {
        let mut raw = gunzip(&d.join("t10k-labels-idx1-ubyte.gz"));
        raw[3] = 3; // labels claim three dimensions: refused before they are read as sizes
        std::fs::write(d.join("t10k-labels-idx1-ubyte"), &raw).unwrap();
    });
    check_fails(&spec, "t10k-labels-idx1-ubyte: expected 1 dimension (magic 0x00000801), found 3 (magic 0x00000803)");

    let tmp = tempfile::tempdir().unwrap();
    let spec = broken_copy(tmp.path(), |d| {
        let mut raw = gunzip(&d.join("train-labels-idx1-ubyte.gz"));
        raw[4..8].copy_from_slice(&7999u32.to_be_bytes());
        raw.pop();
        std::fs::write(d.join("train-labels-idx1-ubyte"), &raw).unwrap();
    });
    check_fails(&spec, "holds 8000 images but");

    let tmp = tempfile::tempdir().unwrap();
    let spec = broken_copy(tmp.path(), |d| {
        std::fs::write(d.join("train-images-idx3-ubyte"), b"PK\x03\x04 not idx at all").unwrap();
    });
    check_fails(&spec, "not an IDX file");

    let tmp = tempfile::tempdir().unwrap();
    let spec = broken_copy(tmp.path(), |d| std::fs::remove_file(d.join("t10k-images-idx3-ubyte.gz")).unwrap());
    check_fails(&spec, "no t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz");
}

#[test]
fn a_validation_split_is_held_out_of_the_training_digits() {
    let tmp = tempfile::tempdir().unwrap();
    let set = [
        "--set",
        "data.n=640",
        "--set",
        "data.test_n=100",
        "--set",
        "data.validation_fraction=0.25",
        "--set",
        "train.epochs=1",
        "--set",
        "output.predictions=true",
    ];
    let dir = run_ok("experiments/mnist_cnn.toml", tmp.path(), &set);
    let (header, rows) = read_csv(&dir.join("predictions.csv"));
    assert_eq!(header[..2], ["split".to_string(), "target_label".to_string()]);
    let count = |s: &str| rows.iter().filter(|r| r[0] == s).count();
    assert_eq!((count("train"), count("validation"), count("test")), (480, 160, 100));
    let steps: Vec<usize> = metric(&dir, "validation", "accuracy").into_iter().map(|r| r.0).collect();
    assert_eq!(steps, [0, 8], "one record before training and one after the epoch");
}
