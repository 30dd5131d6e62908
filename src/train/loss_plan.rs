//! Which fused loss kernel a spec's loss becomes, and which node it reads.
//! BCE after a final sigmoid and cross-entropy after a final softmax read the
//! logits instead, so the gradient is exactly ŷ − y (the notes' diamond gradient)
//! and never divides by a saturated p(1−p).

use crate::autodiff::{Tape, Var};
use crate::backend::{Backend, Element, LossKernel, Map};
use crate::graph::{Dag, NodeOp};
use crate::layers::Forward;
use crate::spec::{LossKind, Reduction, TrainSpec};

#[derive(Debug, Clone, Copy)]
pub struct LossPlan {
    pub kernel: LossKernel,
    /// The node the kernel reads: the output, or the output's input (the logits).
    pub reads: usize,
    pub sum: bool,
    pub scale: f64,
    /// What a mean divides by per row: the outputs for the element-wise losses (mse
    /// and bce average over every output value, as PyTorch's `MSELoss` and `BCELoss`),
    /// 1 for cross-entropy (a mean over the rows, as `CrossEntropyLoss`).
    pub per_row: usize,
}

impl LossPlan {
    pub fn new(t: &TrainSpec, dag: &Dag) -> Self {
        let out = &dag.nodes[dag.output];
        let kind = t.loss.unwrap_or(LossKind::Mse);
        let logits = out.inputs.first().copied().unwrap_or(dag.output);
        let (kernel, reads) = match kind {
            LossKind::Mse | LossKind::Sse => (LossKernel::SquaredError, dag.output),
            LossKind::Bce if out.op == NodeOp::Map(Map::Sigmoid) => (LossKernel::SigmoidBce, logits),
            LossKind::Bce => (LossKernel::Bce, dag.output),
            LossKind::CrossEntropy if out.op == NodeOp::Softmax => (LossKernel::SoftmaxCrossEntropy, logits),
            LossKind::CrossEntropy => (LossKernel::SoftmaxCrossEntropy, dag.output),
        };
        let sum = kind == LossKind::Sse || t.reduction == Reduction::Sum;
        LossPlan { kernel, reads, sum, scale: t.loss_scale, per_row: per_row(kernel, dag) }
    }

    /// A model with fixed weights (no `[train]`) is scored by its mean squared error.
    pub fn fixed_weights(dag: &Dag) -> Self {
        let kernel = LossKernel::SquaredError;
        LossPlan { kernel, reads: dag.output, sum: false, scale: 1.0, per_row: per_row(kernel, dag) }
    }

    /// What the summed loss of `rows` rows is divided by.
    pub fn divisor(&self, rows: usize) -> f64 {
        if self.sum {
            1.0
        } else {
            (rows * self.per_row).max(1) as f64
        }
    }

    /// Records the loss of a forward pass on `tape`; returns its node and value.
    pub fn record<T: Element, B: Backend<T>>(
        &self,
        tape: &mut Tape<'_, T, B>,
        fwd: &Forward<B::Buf>,
        target: &B::Buf,
        rows: usize,
    ) -> (Var, f64) {
        tape.loss(self.kernel, fwd.nodes[self.reads], target, self.scale / self.divisor(rows))
    }
}

fn per_row(kernel: LossKernel, dag: &Dag) -> usize {
    match kernel {
        LossKernel::SoftmaxCrossEntropy => 1,
        LossKernel::SquaredError | LossKernel::Bce | LossKernel::SigmoidBce => dag.nodes[dag.output].width(),
    }
}
