//! The probes that push on a trained model's inputs (gradient ascent, occlusion,
//! adversarial attacks), run by the binary at the end of training.

use crate::common::*;
use std::path::Path;

/// A copy of an experiment in `dir` with probes appended; the data path made absolute.
fn with_probes(dir: &Path, experiment: &str, probes: &str) -> String {
    let text = std::fs::read_to_string(root().join("experiments").join(experiment)).unwrap();
    let data = root().join("data");
    let text = text.replace("\"../data/", &format!("\"{}/", data.display()));
    let path = write_spec(dir, experiment, &format!("{text}\n{probes}"));
    path.to_str().unwrap().to_string()
}

/// On the trained diamond network (a sigmoid net on 2-D points, no valid range), both
/// attacks: ε = 0 leaves the clean accuracy, which is the run's own final training
/// accuracy; accuracy never rises with ε and a budget of 0.5 breaks most points.
#[test]
fn attacks_on_the_trained_diamond_never_gain_accuracy_with_epsilon() {
    let tmp = tempfile::tempdir().unwrap();
    let probes = "[[probes]]\nkind = \"adversarial\"\nepsilons = [0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5]\n";
    let spec = with_probes(tmp.path(), "diamond.toml", probes);
    let dir = run_ok(&spec, &tmp.path().join("results"), &[]);
    let csv = dir.join("adversarial.csv");
    let (header, rows) = read_csv(&csv);
    assert_eq!(header[..4], ["attack", "epsilon", "samples", "accuracy"]);
    assert_eq!(rows.len(), 14);
    let accuracy = column(&csv, "accuracy");
    let clean = column(&csv, "clean_accuracy");
    let trained = metric(&dir, "train", "accuracy").last().expect("a final accuracy").1;
    for (attack, acc) in ["fgsm", "pgd"].iter().zip(accuracy.chunks(7)) {
        assert_eq!(acc[0], trained, "{attack} at ε = 0 is the clean accuracy");
        assert!(acc[0] > 0.9, "the diamond is learned: {}", acc[0]);
        for (k, pair) in acc.windows(2).enumerate() {
            assert!(pair[1] <= pair[0], "{attack}: accuracy rose at step {k} of ε: {acc:?}");
        }
        assert!(acc[6] < 0.5, "{attack}: ε = 0.5 moves most points across: {acc:?}");
    }
    assert!(clean.iter().all(|c| *c == trained));
    assert!(dir.join("adversarial.png").exists());
}

/// All three probes on a small CNN: the same files, byte for byte, on one thread or two.
#[test]
fn input_probes_give_the_same_bytes_on_one_thread_or_two() {
    let tmp = tempfile::tempdir().unwrap();
    let probes = "[[probes]]\nkind = \"gradient_ascent\"\nsteps = 12\nclasses = [1, 8]\n\n\
                  [[probes]]\nkind = \"occlusion\"\nimages = [0, 3]\n\n\
                  [[probes]]\nkind = \"adversarial\"\ncount = 40\nimages = [0, 1]\n";
    let spec = with_probes(tmp.path(), "mnist_cnn.toml", probes);
    let results = tmp.path().join("results");
    let args = ["run", spec.as_str(), "--quiet", "--results", results.to_str().unwrap(), "--set", "data.n=256"];
    let args = [&args[..], &["--set", "data.test_n=64", "--set", "train.epochs=1"]].concat();
    let one = runner(&args, &[("RAYON_NUM_THREADS", "1")]);
    let two = runner(&args, &[("RAYON_NUM_THREADS", "2")]);
    for o in [&one, &two] {
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    let names = [
        "gradient_ascent_test.csv",
        "gradient_ascent_test.png",
        "occlusion_test.csv",
        "occlusion_test.png",
        "adversarial_test.csv",
        "adversarial_test.png",
        "adversarial_examples_test.png",
    ];
    for name in names {
        let a = std::fs::read(one.dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let b = std::fs::read(two.dir().join(name)).unwrap();
        assert!(a == b, "{name} differs between one thread and two");
    }
    let (_, rows) = read_csv(&one.dir().join("occlusion_test.csv"));
    assert_eq!(rows.len(), 2 * 12 * 12, "2 images × 12 × 12 positions of a 6-pixel patch at stride 2");
}
