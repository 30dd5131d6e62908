//! The kernel-level interface every compute backend implements. A backend knows
//! buffers and ops; it never sees gradients, layers or specs (autodiff composes
//! these ops into backward rules). The CPU backend is the reference; a CUDA backend
//! slots in beside it by implementing the same trait.

pub mod cpu;
pub mod cuda;
mod element;
#[cfg(test)]
pub(crate) mod failing;
pub mod parity;
mod sticky;

pub use cpu::{CpuBackend, CpuKernels};
pub use element::{exp_f32, ln_f32, DType, Element};
pub use sticky::{BackendError, Sticky};

/// Which backend a run asks for (`--backend`, or `backend` in a spec). The experiment
/// module turns it into a backend and a reason (`experiment::choice`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// CUDA when a device works, else the CPU.
    #[default]
    Auto,
    /// The CPU; no CUDA library is loaded.
    Cpu,
    /// CUDA on device 0; no usable GPU is an error.
    Cuda,
}

impl BackendChoice {
    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Cpu => "cpu",
            BackendChoice::Cuda => "cuda",
        }
    }
    pub fn is_auto(&self) -> bool {
        *self == BackendChoice::Auto
    }
}

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

/// A 2-D convolution over a batch of NCHW images; the weight is [c_out, c_in, kh, kw]
/// (PyTorch's layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Conv2d {
    pub fn oh(&self) -> usize {
        (self.h + 2 * self.pad - self.kh) / self.stride + 1
    }
    pub fn ow(&self) -> usize {
        (self.w + 2 * self.pad - self.kw) / self.stride + 1
    }
    /// Length of one column of the unrolled input: c_in·kh·kw.
    pub fn patch(&self) -> usize {
        self.c_in * self.kh * self.kw
    }
}

/// Max or average pooling with a square window over NCHW images (no padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    pub batch: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
}

impl Pool2d {
    pub fn oh(&self) -> usize {
        (self.h - self.k) / self.stride + 1
    }
    pub fn ow(&self) -> usize {
        (self.w - self.k) / self.stride + 1
    }
}

/// Values laid out [batch, c, spatial]: what per-channel ops (bias, batch-norm) see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Channels {
    pub batch: usize,
    pub c: usize,
    pub spatial: usize,
}

/// Hyperparameters of one Adam-family update, already scheduled for this step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// L2 penalty added to the gradient (Adam) ...
    pub weight_decay: f64,
    /// ... or weight decay applied to the parameter directly (AdamW).
    pub decoupled: bool,
    /// 1-based step count, for the bias corrections.
    pub t: u64,
}

/// Hyperparameters of one RMSProp update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropStep {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
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

    /// The first error any op hit since the backend was made; ops after an error do
    /// nothing and return placeholder buffers of the right length. Called at sync points
    /// (each training step, each metrics record, before a file is written), so a device
    /// failure ends the run as an error instead of a panic. The CPU never fails.
    fn check(&self) -> crate::error::Result<()> {
        Ok(())
    }

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
    fn loss(&self, kind: LossKernel, pred: &Self::Buf, target: &Self::Buf, cols: usize) -> (f64, Self::Buf);

    /// y = w ⊛ x (+ bias per output channel).
    fn conv2d(&self, x: &Self::Buf, w: &Self::Buf, bias: Option<&Self::Buf>, g: Conv2d) -> Self::Buf;
    fn conv2d_grad_input(&self, dy: &Self::Buf, w: &Self::Buf, g: Conv2d) -> Self::Buf;
    fn conv2d_grad_weight(&self, x: &Self::Buf, dy: &Self::Buf, g: Conv2d) -> Self::Buf;
    /// dW and the bias's gradient (dy summed per output channel, as `sum_channels`),
    /// the same values as those two calls; a backend may take both in one pass over dy.
    fn conv2d_grad_weight_and_bias(&self, x: &Self::Buf, dy: &Self::Buf, g: Conv2d) -> (Self::Buf, Self::Buf) {
        let ch = Channels { batch: g.batch, c: g.c_out, spatial: g.oh() * g.ow() };
        (self.conv2d_grad_weight(x, dy, g), self.sum_channels(dy, ch))
    }
    fn max_pool2d(&self, x: &Self::Buf, g: Pool2d) -> Self::Buf;
    /// Routes each dy to the first maximum of its window (recomputed from x).
    fn max_pool2d_grad(&self, x: &Self::Buf, dy: &Self::Buf, g: Pool2d) -> Self::Buf;
    /// relu(max_pool2d(x)): where a ReLU feeds only a max-pool, pooling first gives the
    /// same values (for inputs without NaN) from fewer ReLUs (a quarter with 2×2
    /// windows), and one fused pass saves a trip through memory. A backend without a
    /// fused kernel composes the two.
    fn max_pool2d_relu(&self, x: &Self::Buf, g: Pool2d) -> Self::Buf {
        self.map(Map::Relu, &self.max_pool2d(x, g))
    }
    /// dx of y = relu(max_pool2d(x)) for dy: dy reaches the window's first maximum where
    /// the pooled value is positive, which is where y is.
    fn max_pool2d_relu_grad(&self, x: &Self::Buf, y: &Self::Buf, dy: &Self::Buf, g: Pool2d) -> Self::Buf {
        // ReLU's gradient reads its input only by `> 0`, and y > 0 exactly where the
        // pooled value is, so y stands in for it (both of map_grad's x and y).
        self.max_pool2d_grad(x, &self.map_grad(Map::Relu, y, y, dy), g)
    }
    fn avg_pool2d(&self, x: &Self::Buf, g: Pool2d) -> Self::Buf;
    fn avg_pool2d_grad(&self, dy: &Self::Buf, g: Pool2d) -> Self::Buf;

    /// x + v[c] for every value of channel c.
    fn add_channels(&self, x: &Self::Buf, v: &Self::Buf, g: Channels) -> Self::Buf;
    /// x · v[c] for every value of channel c.
    fn scale_channels(&self, x: &Self::Buf, v: &Self::Buf, g: Channels) -> Self::Buf;
    /// Per-channel sums over batch and space, in a fixed order.
    fn sum_channels(&self, x: &Self::Buf, g: Channels) -> Self::Buf;
    /// Batch normalisation in training: y = γ·(x − μ)/σ + β per channel, with the batch's
    /// mean and (biased) variance. Returns (y, mean, 1/σ, variance).
    fn batch_norm(
        &self,
        x: &Self::Buf,
        gamma: &Self::Buf,
        beta: &Self::Buf,
        g: Channels,
        eps: f64,
    ) -> (Self::Buf, Self::Buf, Self::Buf, Self::Buf);
    /// (dx, dγ, dβ) of `batch_norm`, from x, the saved mean and 1/σ, γ and dy.
    fn batch_norm_grad(
        &self,
        x: &Self::Buf,
        mean: &Self::Buf,
        inv_std: &Self::Buf,
        gamma: &Self::Buf,
        dy: &Self::Buf,
        g: Channels,
    ) -> (Self::Buf, Self::Buf, Self::Buf);

    /// One Adam or AdamW update in place, with its first and second moment buffers.
    fn adam_update(
        &self,
        param: &mut Self::Buf,
        grad: &Self::Buf,
        m: &mut Self::Buf,
        v: &mut Self::Buf,
        step: AdamStep,
    );
    /// One RMSProp update in place, with its square average (and momentum) buffers.
    fn rmsprop_update(
        &self,
        param: &mut Self::Buf,
        grad: &Self::Buf,
        square_avg: &mut Self::Buf,
        momentum: Option<&mut Self::Buf>,
        step: RmsPropStep,
    );

    /// One SGD update in place; `velocity` is the momentum buffer when momentum > 0.
    fn sgd_update(&self, param: &mut Self::Buf, grad: &Self::Buf, velocity: Option<&mut Self::Buf>, step: SgdStep);
}
