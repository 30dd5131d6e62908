//! Small f64 models with chosen weights and hand-made data for the probes' known-answer
//! tests.

use super::{render, ProbeContext, ProbeFile};
use crate::backend::CpuBackend;
use crate::data::{Dataset, InputScale};
use crate::graph::Dag;
use crate::inspect::{Inspect, Inspector};
use crate::layers::Model;
use crate::spec::{ProbeSpec, Split};
use std::collections::HashMap;

/// A model from `[[model.layers]]` TOML on samples of `sample` shape, with the given
/// parameters (checkpoint name → values) and seeded ones elsewhere.
pub fn model(layers: &str, sample: Vec<usize>, given: &[(&str, Vec<f64>)]) -> Model<f64, CpuBackend> {
    let text =
        format!("name = \"t\"\nseed = 1\ndtype = \"f64\"\n[data]\nkind = \"inline\"\ninputs = [[0.0]]\n{layers}");
    let loaded = crate::spec::load_str("t.toml", text, &[], None).expect("the spec loads");
    let dag = Dag::from_spec(&loaded.spec, &loaded.source, sample).expect("the graph builds");
    let given: HashMap<String, Vec<f64>> = given.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Model::new(dag, &CpuBackend::new(), 1, Some(&given))
}

/// A classification split of `rows` (flattened samples of `sample` shape) and labels.
pub fn data(sample: Vec<usize>, rows: Vec<f64>, labels: &[usize], classes: usize) -> Dataset {
    let features: usize = sample.iter().product();
    let shape = if sample.len() == 1 { Vec::new() } else { sample };
    Dataset {
        inputs: rows.into(),
        features,
        feature_names: (0..features).map(|j| format!("x{j}")).collect(),
        targets: labels.iter().map(|l| *l as f64).collect(),
        target_cols: 1,
        target_names: vec!["label".into()],
        classes: Some(classes),
        shape,
    }
}

/// Runs `f` with a probe context over `d` for `model`.
pub fn with_context<R>(model: &Model<f64, CpuBackend>, d: &Dataset, f: impl FnOnce(&ProbeContext) -> R) -> R {
    let be = CpuBackend::new();
    let inspector = Inspector::new(&be, model, d.sample_shape());
    let outputs = inspector.predict(&d.inputs.values());
    let ctx = ProbeContext {
        run_name: "t",
        history: None,
        param_names: &[],
        param_truth: &[],
        split: Split::Test,
        data: d,
        outputs: &outputs,
        out_width: model.dag.nodes[model.dag.output].width(),
        model: &inspector,
        scale: InputScale::default(),
        seed: 1,
        dtype: crate::backend::DType::F64,
    };
    f(&ctx)
}

/// The probe's files.
pub fn files(probe: &ProbeSpec, model: &Model<f64, CpuBackend>, d: &Dataset) -> Result<Vec<ProbeFile>, String> {
    with_context(model, d, |ctx| render(probe, ctx))
}

/// A file's text by name.
pub fn text<'a>(files: &'a [ProbeFile], name: &str) -> &'a str {
    let f = files.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no file {name}"));
    std::str::from_utf8(&f.bytes).expect("utf-8")
}

/// The numeric column `col` of CSV text.
pub fn column(csv: &str, col: &str) -> Vec<f64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let i = header.iter().position(|h| *h == col).unwrap_or_else(|| panic!("no column {col}"));
    lines.map(|l| l.split(',').nth(i).and_then(|v| v.parse().ok()).expect("a number")).collect()
}

/// Width and height of PNG bytes.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("a PNG");
    (reader.info().width, reader.info().height)
}

/// A deterministic spread of values in (-1, 1), away from 0.
pub fn spread(n: usize, salt: u64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let x = ((i as u64 * 2654435761 + salt * 97 + 13) % 1000) as f64 / 500.0 - 1.0;
            if x.abs() < 0.05 {
                x + 0.1
            } else {
                x
            }
        })
        .collect()
}
