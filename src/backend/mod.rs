//! The kernel-level interface every compute backend implements. A backend knows
//! buffers and ops; it never sees gradients, layers or specs (autodiff composes
//! these ops into backward rules). The CPU backend is the reference; a CUDA backend
//! slots in beside it by implementing the same trait.

pub mod cpu;
mod element;

pub use cpu::CpuBackend;
pub use element::{exp_f32, ln_f32, DType, Element};

/// Element-wise functions of one argument. Scalars are f64 so one enum serves both dtypes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Map {
    Identity,
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu(f64),
    Exp,
    Log,
    Square,
    AddScalar(f64),
    MulScalar(f64),
}

/// Element-wise functions of two same-length arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zip {
    Add,
    Sub,
    Mul,
}

/// Losses computed in one fused pass; each returns the summed loss and its gradient
/// with respect to `pred` (logits for the fused kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKernel {
    /// Σ (p − t)²
    SquaredError,
    /// Σ −t·ln p − (1−t)·ln(1−p), on probabilities (clamped away from 0 and 1).
    Bce,
    /// BCE on logits z with p = σ(z); the gradient is exactly σ(z) − t.
    SigmoidBce,
    /// Cross-entropy of softmax(z) against target rows; the gradient is softmax(z) − t.
    SoftmaxCrossEntropy,
}

/// Shapes of C = op(A)·op(B): op(A) is m×k, op(B) is k×n, C is m×n, all row-major.
/// With `trans_a`, A is stored k×m; with `trans_b`, B is stored n×k.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatMul {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub trans_a: bool,
    pub trans_b: bool,
}

/// Hyperparameters of one SGD update, already scheduled for this step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep {
    pub lr: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
}

pub trait Backend<T: Element>: Sync {
    type Buf: Send + Sync;

    fn name(&self) -> &'static str;
    fn threads(&self) -> usize;

    fn upload(&self, host: &[T]) -> Self::Buf;
    fn download(&self, buf: &Self::Buf) -> Vec<T>;
    fn len(&self, buf: &Self::Buf) -> usize;
    fn filled(&self, len: usize, value: f64) -> Self::Buf;
    fn copy(&self, buf: &Self::Buf) -> Self::Buf;

    fn matmul(&self, a: &Self::Buf, b: &Self::Buf, dims: MatMul) -> Self::Buf;
    fn map(&self, f: Map, x: &Self::Buf) -> Self::Buf;
    /// dx given x, y = f(x) and dy (rules use whichever of x and y is cheaper).
    fn map_grad(&self, f: Map, x: &Self::Buf, y: &Self::Buf, dy: &Self::Buf) -> Self::Buf;
    fn zip(&self, f: Zip, a: &Self::Buf, b: &Self::Buf) -> Self::Buf;
    /// a += b, the accumulation step of backward.
    fn add_assign(&self, a: &mut Self::Buf, b: &Self::Buf);

    /// x (rows×cols) + row, the row broadcast over every row.
    fn add_row(&self, x: &Self::Buf, row: &Self::Buf, cols: usize) -> Self::Buf;
    /// Column sums of x (rows×cols), summed in row order.
    fn sum_rows(&self, x: &Self::Buf, cols: usize) -> Self::Buf;
    /// The sum of every element, in a fixed order, as a one-element buffer.
    fn sum_all(&self, x: &Self::Buf) -> Self::Buf;

    fn softmax_rows(&self, x: &Self::Buf, cols: usize) -> Self::Buf;
    fn softmax_rows_grad(&self, y: &Self::Buf, dy: &Self::Buf, cols: usize) -> Self::Buf;

    /// Places blocks side by side: each part is rows×width_i, the result rows×Σwidth_i.
    fn concat_cols(&self, parts: &[(&Self::Buf, usize)], rows: usize) -> Self::Buf;
    /// Columns [start, start+width) of x (rows×cols).
    fn slice_cols(&self, x: &Self::Buf, cols: usize, start: usize, width: usize) -> Self::Buf;

    /// Returns (Σ loss, ∂Σloss/∂pred).
    fn loss(
        &self,
        kind: LossKernel,
        pred: &Self::Buf,
        target: &Self::Buf,
        cols: usize,
    ) -> (f64, Self::Buf);

    /// One SGD update in place; `velocity` is the momentum buffer when momentum > 0.
    fn sgd_update(
        &self,
        param: &mut Self::Buf,
        grad: &Self::Buf,
        velocity: Option<&mut Self::Buf>,
        step: SgdStep,
    );
}
