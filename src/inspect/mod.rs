//! Model access for probes: the values at any named node and seeded input gradients
//! (with a ReLU rule chosen per call) of a trained model, outside the training loop.
//! Everything crosses as f64 on the host, so probes are written once, not per dtype
//! or backend; the passes run on the same backend kernels as training.

use crate::autodiff::{ReluRule, Tape};
use crate::backend::{Backend, Element};
use crate::graph::Dag;
use crate::layers::{Mode, Model};

/// Rows per forward or backward pass, so a probe over many images never holds every
/// activation at once.
pub const CHUNK: usize = 128;

/// An input gradient and the value it was taken at.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// ∂(Σ seed·node)/∂input, shaped like the input rows.
    pub input: Vec<f64>,
    /// The node's value for the rows (the seed's shape).
    pub value: Vec<f64>,
}

/// What a probe may ask of a model. Object-safe: probes take `&dyn Inspect`.
pub trait Inspect {
    fn dag(&self) -> &Dag;
    /// One sample's shape, e.g. [1, 28, 28] or [2].
    fn sample_shape(&self) -> &[usize];
    /// Values of each of `nodes` for `rows` (samples, row-major), in evaluation mode
    /// (running batch-norm statistics, no dropout) with every ReLU where the graph has it.
    fn values(&self, rows: &[f64], nodes: &[usize]) -> Vec<Vec<f64>>;
    /// ∂(Σ seed·value(node))/∂rows, with ReLUs passed back by `relu`. `seed` has the
    /// node's length for these rows (a one-hot per row picks one score per sample).
    fn input_gradient(&self, rows: &[f64], node: usize, seed: &[f64], relu: ReluRule) -> Attribution;
    /// A parameter by checkpoint name (`conv1.weight`): its shape and values.
    fn param(&self, name: &str) -> Option<(Vec<usize>, Vec<f64>)>;

    /// Features per sample.
    fn features(&self) -> usize {
        self.sample_shape().iter().product::<usize>().max(1)
    }
    /// The model's output for `rows`.
    fn predict(&self, rows: &[f64]) -> Vec<f64> {
        self.values(rows, &[self.dag().output]).swap_remove(0)
    }
}

/// [`Inspect`] for a model on a backend.
pub struct Inspector<'a, T: Element, B: Backend<T>> {
    pub backend: &'a B,
    pub model: &'a Model<T, B>,
    pub sample: Vec<usize>,
}

impl<'a, T: Element, B: Backend<T>> Inspector<'a, T, B> {
    pub fn new(backend: &'a B, model: &'a Model<T, B>, sample: Vec<usize>) -> Self {
        Inspector { backend, model, sample }
    }

    fn batch_shape(&self, rows: usize) -> Vec<usize> {
        std::iter::once(rows).chain(self.sample.iter().copied()).collect()
    }

    /// Row chunks: all rows at once where a node reduces over the batch.
    fn chunk_rows(&self, nodes: &[usize]) -> usize {
        let whole = nodes.iter().any(|&i| !self.model.dag.nodes[i].batched);
        if whole {
            usize::MAX
        } else {
            CHUNK
        }
    }

    fn download(&self, buf: &B::Buf) -> Vec<f64> {
        self.backend.download(buf).iter().map(|v| v.as_f64()).collect()
    }
}

/// The eval-mode pass probes see: every ReLU stays where the graph puts it, so an
/// inner ReLU node holds its true output (training may move it after a max-pool).
fn probe_mode() -> Mode<'static> {
    Mode::eval()
}

impl<T: Element, B: Backend<T>> Inspect for Inspector<'_, T, B> {
    fn dag(&self) -> &Dag {
        &self.model.dag
    }

    fn sample_shape(&self) -> &[usize] {
        &self.sample
    }

    fn values(&self, rows: &[f64], nodes: &[usize]) -> Vec<Vec<f64>> {
        let f = self.features();
        let chunk = self.chunk_rows(nodes).saturating_mul(f).max(f);
        let mut out = vec![Vec::new(); nodes.len()];
        for part in rows.chunks(chunk) {
            let be = self.backend;
            let mut tape = Tape::new(be);
            let x: Vec<T> = part.iter().map(|v| T::from_f64(*v)).collect();
            let xv = tape.leaf(be.upload(&x), self.batch_shape(part.len() / f), false);
            let fwd = self.model.forward(&mut tape, xv, &mut probe_mode());
            for (o, &i) in out.iter_mut().zip(nodes) {
                o.extend(self.download(tape.value(fwd.nodes[i])));
            }
        }
        out
    }

    fn input_gradient(&self, rows: &[f64], node: usize, seed: &[f64], relu: ReluRule) -> Attribution {
        let f = self.features();
        let n = rows.len() / f;
        let per_row = if self.model.dag.nodes[node].batched { self.model.dag.nodes[node].width() } else { 0 };
        let chunk = if per_row == 0 { n.max(1) } else { CHUNK };
        let mut result = Attribution { input: Vec::with_capacity(rows.len()), value: Vec::with_capacity(seed.len()) };
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            let be = self.backend;
            let mut tape = Tape::new(be);
            let x: Vec<T> = rows[start * f..end * f].iter().map(|v| T::from_f64(*v)).collect();
            let xv = tape.leaf(be.upload(&x), self.batch_shape(end - start), true);
            let mut mode = Mode { param_grads: false, ..probe_mode() };
            let fwd = self.model.forward(&mut tape, xv, &mut mode);
            let root = fwd.nodes[node];
            let part = if per_row == 0 { seed } else { &seed[start * per_row..end * per_row] };
            let s: Vec<T> = part.iter().map(|v| T::from_f64(*v)).collect();
            let grads = tape.backward_seeded(root, be.upload(&s), relu);
            match grads.get(xv) {
                Some(g) => result.input.extend(self.download(g)),
                // The node does not depend on the input (a constant): zero gradient.
                None => result.input.extend(std::iter::repeat_n(0.0, (end - start) * f)),
            }
            result.value.extend(self.download(tape.value(root)));
            start = end;
        }
        result
    }

    fn param(&self, name: &str) -> Option<(Vec<usize>, Vec<f64>)> {
        self.model
            .named_params()
            .into_iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, shape, buf)| (shape, self.download(buf)))
    }
}
