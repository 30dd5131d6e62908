//! Models for the probe tests: a spec written to a temporary folder, prepared as a run
//! would be, and a model with given weights (f64, so signs and sums are exact).

use crate::backend::CpuBackend;
use crate::experiment::{prepare, Prepared};
use crate::inspect::{Inspect, Inspector};
use crate::layers::Model;
use crate::probes::{ProbeContext, ProbeFile};
use crate::spec::{ProbeSpec, Split};
use std::collections::HashMap;

pub struct Fixture {
    pub p: Prepared,
    pub be: CpuBackend,
    pub model: Model<f64, CpuBackend>,
}

/// MNIST from the shipped folder: `n` training and `test_n` test digits, normalised,
/// with these `[[model.layers]]`.
pub fn mnist_spec(n: usize, test_n: usize, layers: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-10k");
    format!(
        "name = \"probe_test\"\nseed = 11\n\n[data]\nkind = \"mnist\"\npath = \"{}\"\nn = {n}\ntest_n = {test_n}\n\
         normalize = {{ mean = 0.1307, std = 0.3081 }}\n\n{layers}",
        path.display()
    )
}

/// flatten → dense(`units`) named `fc`: a linear model on the pixels.
pub const LINEAR: &str = "[[model.layers]]\nname = \"flat\"\nop = \"flatten\"\n\n\
    [[model.layers]]\nname = \"fc\"\nop = \"dense\"\nunits = 10\n";

/// A small CNN: conv(1→4, 3×3) → ReLU → maxpool 2 → flatten → dense(10).
pub const SMALL_CNN: &str =
    "[[model.layers]]\nname = \"conv1\"\nop = \"conv2d\"\nchannels = 4\nkernel = 3\npadding = 1\n\n\
    [[model.layers]]\nname = \"relu1\"\nop = \"relu\"\n\n\
    [[model.layers]]\nname = \"pool1\"\nop = \"maxpool2d\"\nkernel = 2\n\n\
    [[model.layers]]\nname = \"flat\"\nop = \"flatten\"\n\n\
    [[model.layers]]\nname = \"fc\"\nop = \"dense\"\nunits = 10\n";

pub fn fixture(spec: &str, given: Option<&HashMap<String, Vec<f64>>>) -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("spec.toml");
    std::fs::write(&path, spec).expect("the spec is written");
    let p = prepare(&path, &[], None).unwrap_or_else(|e| panic!("the test spec prepares: {e}"));
    let be = CpuBackend::new();
    let model = Model::new(p.dag.clone(), &be, p.loaded.spec.seed, given);
    Fixture { p, be, model }
}

impl Fixture {
    pub fn inspector(&self) -> Inspector<'_, f64, CpuBackend> {
        Inspector::new(&self.be, &self.model, self.p.data.train.sample_shape())
    }

    /// Runs `f` with the probe context a run would build for `split`.
    pub fn with_ctx<R>(&self, split: Split, f: impl FnOnce(&ProbeContext) -> R) -> R {
        let inspector = self.inspector();
        let data = self.p.data.get(split).expect("the split exists");
        let outputs = inspector.predict(&data.inputs.values());
        let ctx = ProbeContext {
            run_name: "probe_test",
            history: None,
            param_names: &[],
            param_truth: &[],
            split,
            data,
            outputs: &outputs,
            out_width: self.model.dag.nodes[self.model.dag.output].width(),
            model: &inspector,
            scale: self.p.data.scale,
            seed: self.p.loaded.spec.seed,
            dtype: crate::backend::DType::F64,
        };
        f(&ctx)
    }

    pub fn render(&self, probe: &ProbeSpec, split: Split) -> Result<Vec<ProbeFile>, String> {
        self.with_ctx(split, |ctx| crate::probes::render(probe, ctx))
    }
}

/// The rows of the CSV file called `name` (header left out), split at commas.
pub fn csv_rows(files: &[ProbeFile], name: &str) -> Vec<Vec<String>> {
    let file = files
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no file {name} among {:?}", files.iter().map(|f| &f.name).collect::<Vec<_>>()));
    let text = String::from_utf8(file.bytes.clone()).expect("CSV is UTF-8");
    text.lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect()
}

/// A nearest-class-mean classifier on model-unit pixels, as `fc` weights and biases:
/// logit_c = 2·m_c·x − |m_c|², scaled by `temperature` (about 80% right on MNIST).
pub fn class_means(fix: &Fixture, temperature: f64) -> HashMap<String, Vec<f64>> {
    let d = &fix.p.data.train;
    let f = d.features;
    let mut means = vec![0.0; 10 * f];
    let mut counts = [0usize; 10];
    for i in 0..d.len() {
        let c = d.targets[i] as usize;
        counts[c] += 1;
        for (m, v) in means[c * f..(c + 1) * f].iter_mut().zip(d.input_row(i).iter()) {
            *m += v;
        }
    }
    for c in 0..10 {
        means[c * f..(c + 1) * f].iter_mut().for_each(|m| *m /= counts[c].max(1) as f64);
    }
    let weight: Vec<f64> = means.iter().map(|m| 2.0 * temperature * m).collect();
    let bias: Vec<f64> =
        (0..10).map(|c| -temperature * means[c * f..(c + 1) * f].iter().map(|m| m * m).sum::<f64>()).collect();
    HashMap::from([("fc.weight".to_string(), weight), ("fc.bias".to_string(), bias)])
}
