//! Forward passes without training: scoring a split, and gradients with respect to
//! the input or inner nodes (the notes' autograd example).

use super::LossPlan;
use crate::autodiff::Tape;
use crate::backend::{Backend, Element};
use crate::data::Dataset;
use crate::inspect::{Inspect, Inspector};
use crate::layers::{Mode, Model};

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub loss: f64,
    /// The model output, rows×width, as f64.
    pub outputs: Vec<f64>,
}

fn batch_shape(rows: usize, sample: &[usize]) -> Vec<usize> {
    let mut s = vec![rows];
    s.extend(sample);
    s
}

/// Rows per forward pass when scoring, to bound memory on large splits.
const EVAL_CHUNK: usize = crate::inspect::CHUNK;

/// The values of `nodes` for `inputs` (rows of one sample each), as f64 (see
/// [`Inspect::values`]: the one implementation of inference passes).
pub fn node_values<T: Element, B: Backend<T>>(
    be: &B,
    model: &Model<T, B>,
    inputs: &[f64],
    sample: &[usize],
    nodes: &[usize],
) -> Vec<Vec<f64>> {
    Inspector::new(be, model, sample.to_vec()).values(inputs, nodes)
}

/// The model output for `inputs`.
pub fn predict<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>, inputs: &[f64], sample: &[usize]) -> Vec<f64> {
    Inspector::new(be, model, sample.to_vec()).predict(inputs)
}

/// The model output for every sample of `d`. Byte-held images are expanded a run of
/// whole inference chunks at a time (so the passes are the ones `predict` makes); a
/// model whose output reduces over the batch sees every row at once.
pub fn predict_split<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>, d: &Dataset) -> Vec<f64> {
    let inspector = Inspector::new(be, model, d.sample_shape());
    if !model.dag.nodes[model.dag.output].batched {
        return inspector.predict(&d.inputs.values());
    }
    d.map_row_runs(EVAL_CHUNK * 8, |rows| inspector.predict(rows))
}

pub fn evaluate<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>, d: &Dataset, loss: &LossPlan) -> Evaluation {
    let out_width = model.dag.nodes[model.dag.output].width();
    let targets = d.target_matrix(out_width);
    let n = d.len();
    let mut outputs = Vec::with_capacity(n * out_width);
    let mut total = 0.0;
    let mut start = 0;
    while start < n {
        let end = (start + EVAL_CHUNK).min(n);
        let rows = end - start;
        let mut tape = Tape::new(be);
        let mut x: Vec<T> = Vec::with_capacity(rows * d.features);
        d.inputs.extend_into(start * d.features..end * d.features, &mut x, T::from_f64);
        let xv = tape.leaf(be.upload(&x), batch_shape(rows, &d.sample_shape()), false);
        // Only the output and the loss are read, so the cheaper ReLU placement is safe.
        let fwd = model.forward(&mut tape, xv, &mut Mode { pool_before_relu: true, ..Mode::eval() });
        if !targets.is_empty() {
            let t: Vec<T> = targets[start * out_width..end * out_width].iter().map(|v| T::from_f64(*v)).collect();
            // Sum here and divide once below, so chunking never changes a mean.
            let summed = LossPlan { sum: true, ..*loss };
            total += summed.record(&mut tape, &fwd, &be.upload(&t), rows).1;
        }
        outputs.extend(be.download(tape.value(fwd.nodes[model.dag.output])).iter().map(|v| v.as_f64()));
        start = end;
    }
    let loss = total / loss.divisor(n);
    Evaluation { loss, outputs }
}

/// d(sum of the output)/d(node) for each named node (the output is usually a scalar,
/// as with PyTorch's `backward()`), evaluated on `d`. Returns per node the gradient
/// and its per-sample width.
pub fn input_gradients<T: Element, B: Backend<T>>(
    be: &B,
    model: &Model<T, B>,
    d: &Dataset,
    nodes: &[usize],
) -> Vec<Vec<f64>> {
    let mut tape = Tape::new(be);
    let x: Vec<T> = d.inputs.iter().map(T::from_f64).collect();
    let xv = tape.leaf(be.upload(&x), batch_shape(d.len(), &d.sample_shape()), true);
    let mut mode = Mode { train: false, param_grads: true, dropout: None, pool_before_relu: false };
    let fwd = model.forward(&mut tape, xv, &mut mode);
    let grads = tape.backward(fwd.nodes[model.dag.output]);
    nodes
        .iter()
        .map(|&i| match grads.get(fwd.nodes[i]) {
            Some(g) => be.download(g).iter().map(|v| v.as_f64()).collect(),
            None => vec![0.0; be.len(tape.value(fwd.nodes[i]))],
        })
        .collect()
}
