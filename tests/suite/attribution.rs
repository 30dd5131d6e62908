//! Attribution probes end to end: the xor experiment (a tanh network, no ReLU) with the
//! four attribution probes added to its spec.

use crate::common::*;
use std::path::Path;

const KINDS: [&str; 4] = ["saliency", "input_x_gradient", "deconvnet", "guided_backprop"];

fn xor_with_attributions(dir: &Path) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(root().join("experiments/xor.toml")).unwrap();
    for kind in KINDS {
        text.push_str(&format!("\n[[probes]]\nkind = \"{kind}\"\n"));
    }
    write_spec(dir, "xor.toml", &text)
}

fn png_size(path: &Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap();
    let reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().expect("a PNG");
    (reader.info().width, reader.info().height)
}

#[test]
fn xor_attributions_follow_the_rules_and_repeat_to_the_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = xor_with_attributions(tmp.path());
    let spec = spec.to_str().unwrap();
    let first = run_ok(spec, &tmp.path().join("a"), &[]);
    let second = run_ok(spec, &tmp.path().join("b"), &[]);
    let read = |dir: &Path, name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    for kind in KINDS {
        for file in [format!("{kind}.csv"), format!("{kind}.png")] {
            assert_eq!(read(&first, &file), read(&second, &file), "{file} differs between two runs");
        }
        assert_eq!(png_size(&first.join(format!("{kind}.png"))), (910, 640), "{kind}: the plot and its legend column");
    }
    // Every one of the 4 samples, each with its 2 features.
    let saliency = first.join("saliency.csv");
    assert_eq!(column(&saliency, "image"), [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
    assert_eq!(column(&saliency, "feature"), [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    // Without a ReLU the deconvnet and guided rules never apply: the true gradient.
    assert_eq!(read(&first, "deconvnet.csv"), read(&first, "saliency.csv"));
    assert_eq!(read(&first, "guided_backprop.csv"), read(&first, "saliency.csv"));
    // The gates' inputs are 0 or 1: input × gradient keeps the gradient where x = 1.
    let (x1, x2) = ([0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]);
    let grad = column(&saliency, "value");
    let ixg = column(&first.join("input_x_gradient.csv"), "value");
    for s in 0..4 {
        assert_eq!([ixg[2 * s], ixg[2 * s + 1]], [x1[s] * grad[2 * s], x2[s] * grad[2 * s + 1]], "sample {s}");
    }
}
