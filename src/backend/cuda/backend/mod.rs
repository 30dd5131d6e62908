//! `CudaBackend`: the `Backend` trait on one NVIDIA GPU with cudarc. Buffers are
//! [`CudaBuf`]s on one stream; every op is a launch of a kernel from kernels/ (its
//! symbol `{op}_{dtype}` derived from `ops::KERNELS`) or a cuBLAS GEMM. Compiled and
//! compile-checked everywhere; NOT YET RUN ON A GPU.
//!
//! Errors: nothing here panics on a CUDA result. Each op runs through
//! [`CudaBackend::guarded`]: the first failure (out of memory, a failed launch, a cuBLAS
//! error) is kept in a [`Sticky`] with the device, the kernel symbol and what failed;
//! every later op does no work and returns a placeholder of the right length;
//! `Backend::check` synchronises the stream (so a kernel that faulted asynchronously is
//! caught) and returns the kept error. The run loop calls it at its sync points.
//!
//! The ops, by family: `memory` (buffers, allocation, cuBLAS), `dense` (products,
//! element-wise, rows, softmax, losses), `conv` (convolution, pooling), `norm`
//! (per-channel ops, batch-norm), `optim` (the optimizer updates).
//!
//! Launch configurations (BLOCK = 256 threads, kernels/common.cuh):
//! - element-wise kernels: grid-stride loops, BLOCK threads, grid min(⌈n/BLOCK⌉,
//!   MAX_GRID) blocks. Values never depend on the grid.
//! - row kernels (softmax_rows, softmax_rows_grad, loss_softmax_cross_entropy): one
//!   block of BLOCK per row.
//! - channel kernels (sum_channels, batch_norm, batch_norm_grad): one block per channel.
//! - whole-buffer sums (sum_all, loss_sum): one block of BLOCK.
//! - matmul: one cuBLAS GEMM (row-major C = op(A)·op(B) computed as the column-major
//!   Cᵀ = op(B)ᵀ·op(A)ᵀ). Convolution: im2col over chunks of images, a strided-batched
//!   GEMM per chunk; the weight gradient is one GEMM per image accumulated with β = 1
//!   in image order (fixed order, no atomics).

/// Adds each argument (a reference to a named value that outlives the launch), then
/// launches kernel `$name` for `$T`; a failure returns the op's error naming the symbol.
macro_rules! launch {
    ($self:ident, $op:expr, $T:ty, $name:expr, $cfg:expr; $($arg:expr),* $(,)?) => {{
        use cudarc::driver::PushKernelArg as _;
        let cfg: cudarc::driver::LaunchConfig = $cfg;
        let f = $self.function::<$T>($op, $name)?;
        let mut b = $self.stream.launch_builder(f);
        $(b.arg($arg);)*
        // SAFETY: the arguments match the kernel's parameters in kernels/ (types and
        // order), and every buffer holds the lengths the kernel indexes (checked or
        // allocated by the caller).
        unsafe { b.launch(cfg) }.map_err(|e| {
            $self.error($op, format!(
                "launching {} ({}×{} threads) failed: {e:?}",
                $crate::backend::cuda::symbol($name, <$T as $crate::backend::Element>::DTYPE),
                cfg.grid_dim.0,
                cfg.block_dim.0
            ))
        })?;
    }};
}

mod conv;
mod dense;
mod memory;
mod norm;
mod optim;

pub use memory::{CudaBuf, CudaElement};

use super::compile::{compiled, Target};
use super::ops::{symbol, KERNELS};
use super::probe::{probe, CudaError};
use crate::backend::{
    AdamStep, Backend, Channels, Conv2d, LossKernel, Map, MatMul, Pool2d, RmsPropStep, SgdStep, Sticky, Zip,
};
use cudarc::cublas::CudaBlas;
use cudarc::driver::{CudaContext, CudaFunction, CudaStream};
use cudarc::nvrtc::Ptx;
use memory::Op;
use std::collections::HashMap;
use std::sync::Arc;

pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    functions: HashMap<String, CudaFunction>,
    sticky: Sticky,
    ordinal: usize,
    /// The device's name, e.g. "NVIDIA H200".
    pub device: String,
    /// Compute capability (major, minor).
    pub capability: (u32, u32),
}

impl CudaBackend {
    /// The backend on device `ordinal`: probes first (no panic without a driver), then
    /// compiles kernels/ to SASS for the device's architecture and loads every kernel.
    pub fn new(ordinal: usize) -> Result<Self, CudaError> {
        let info = probe()?;
        if ordinal >= info.devices {
            return Err(CudaError(format!("no CUDA device {ordinal}: this machine has {}", info.devices)));
        }
        let err = |what: &str, e: &dyn std::fmt::Debug| CudaError(format!("CUDA device {ordinal}: {what}: {e:?}"));
        let ctx = CudaContext::new(ordinal).map_err(|e| err("context", &e))?;
        let device = ctx.name().map_err(|e| err("name", &e))?;
        let (major, minor) = ctx.compute_capability().map_err(|e| err("compute capability", &e))?;
        let capability = (major as u32, minor as u32);
        let stream = ctx.default_stream();
        let blas = CudaBlas::new(stream.clone()).map_err(|e| err("cuBLAS", &e))?;
        let done = compiled(Target::Sass { major: capability.0, minor: capability.1 })?;
        let mut functions = HashMap::new();
        for m in &done.modules {
            let module = ctx.load_module(Ptx::from_binary(m.image.clone())).map_err(|e| err(m.file, &e))?;
            for k in KERNELS.iter().filter(|k| k.file == m.file) {
                for d in super::ops::DTYPES {
                    let s = symbol(k.name, d);
                    let f = module.load_function(&s).map_err(|e| err(&s, &e))?;
                    functions.insert(s, f);
                }
            }
        }
        Ok(CudaBackend { ctx, stream, blas, functions, sticky: Sticky::new(), ordinal, device, capability })
    }

    /// Synchronises and keeps what failed: a kernel's asynchronous fault (an illegal
    /// address, a lost device) surfaces only at the next synchronisation, and errors
    /// from freeing buffers (in `Drop`) only in the context's error state.
    fn synchronise(&self) {
        if !self.sticky.ok() {
            return;
        }
        let failed = self.stream.synchronize().err().or_else(|| self.ctx.check_err().err());
        if let Some(e) = failed {
            let op = Op { name: "synchronize", dtype: crate::backend::DType::F32 };
            let mut error = self.error(op, format!("a kernel, copy or free failed (seen at synchronisation): {e:?}"));
            // No kernel of its own: the op is the synchronisation, not a symbol.
            error.op = "a stream synchronisation".into();
            self.sticky.record(error);
        }
    }
}

impl<T: CudaElement> Backend<T> for CudaBackend {
    type Buf = CudaBuf<T>;

    fn name(&self) -> &'static str {
        "cuda"
    }
    fn threads(&self) -> usize {
        1
    }
    fn check(&self) -> crate::error::Result<()> {
        self.synchronise();
        Ok(self.sticky.check()?)
    }
    fn upload(&self, host: &[T]) -> CudaBuf<T> {
        self.guarded("upload", host.len(), |op| self.upload_on(op, host))
    }
    fn download(&self, buf: &CudaBuf<T>) -> Vec<T> {
        let op = Op { name: "download", dtype: T::DTYPE };
        self.sticky.run(|| self.download_on(op, buf)).unwrap_or_else(|| vec![T::zero(); buf.len])
    }
    fn len(&self, buf: &CudaBuf<T>) -> usize {
        buf.len
    }
    fn filled(&self, len: usize, value: f64) -> CudaBuf<T> {
        self.guarded("filled", len, |op| self.filled_on(op, len, value))
    }
    fn copy(&self, buf: &CudaBuf<T>) -> CudaBuf<T> {
        self.guarded("copy", buf.len, |op| self.copy_on(op, buf))
    }

    fn matmul(&self, a: &CudaBuf<T>, b: &CudaBuf<T>, d: MatMul) -> CudaBuf<T> {
        self.guarded("matmul", d.m * d.n, |op| self.matmul_on(op, a, b, d))
    }
    fn map(&self, f: Map, x: &CudaBuf<T>) -> CudaBuf<T> {
        self.guarded("map", x.len, |op| self.map_on(op, f, x))
    }
    fn map_grad(&self, f: Map, x: &CudaBuf<T>, y: &CudaBuf<T>, dy: &CudaBuf<T>) -> CudaBuf<T> {
        self.guarded("map_grad", dy.len, |op| self.map_grad_on(op, f, x, y, dy))
    }
    fn zip(&self, f: Zip, a: &CudaBuf<T>, b: &CudaBuf<T>) -> CudaBuf<T> {
        self.guarded("zip", a.len, |op| self.zip_on(op, f, a, b))
    }
    fn add_assign(&self, a: &mut CudaBuf<T>, b: &CudaBuf<T>) {
        self.guarded_unit::<T>("add_assign", |op| self.add_assign_on(op, a, b))
    }
    fn add_row(&self, x: &CudaBuf<T>, row: &CudaBuf<T>, cols: usize) -> CudaBuf<T> {
        self.guarded("add_row", x.len, |op| self.add_row_on(op, x, row, cols))
    }
    fn sum_rows(&self, x: &CudaBuf<T>, cols: usize) -> CudaBuf<T> {
        self.guarded("sum_rows", cols, |op| self.sum_rows_on(op, x, cols))
    }
    fn sum_all(&self, x: &CudaBuf<T>) -> CudaBuf<T> {
        self.guarded("sum_all", 1, |op| self.sum_all_on(op, x))
    }
    fn softmax_rows(&self, x: &CudaBuf<T>, cols: usize) -> CudaBuf<T> {
        self.guarded("softmax_rows", x.len, |op| self.softmax_on(op, "softmax_rows", x, None, cols))
    }
    fn softmax_rows_grad(&self, y: &CudaBuf<T>, dy: &CudaBuf<T>, cols: usize) -> CudaBuf<T> {
        self.guarded("softmax_rows_grad", y.len, |op| self.softmax_on(op, "softmax_rows_grad", y, Some(dy), cols))
    }
    fn concat_cols(&self, parts: &[(&CudaBuf<T>, usize)], rows: usize) -> CudaBuf<T> {
        let len = rows * parts.iter().map(|p| p.1).sum::<usize>();
        self.guarded("concat_cols", len, |op| self.concat_cols_on(op, parts, rows))
    }
    fn slice_cols(&self, x: &CudaBuf<T>, cols: usize, start: usize, width: usize) -> CudaBuf<T> {
        let len = x.len.checked_div(cols).unwrap_or(0) * width;
        self.guarded("slice_cols", len, |op| self.slice_cols_on(op, x, cols, start, width))
    }
    fn loss(&self, kind: LossKernel, pred: &CudaBuf<T>, target: &CudaBuf<T>, cols: usize) -> (f64, CudaBuf<T>) {
        let op = Op { name: "loss", dtype: T::DTYPE };
        self.sticky.run(|| self.loss_on(op, kind, pred, target, cols)).unwrap_or((0.0, CudaBuf::placeholder(pred.len)))
    }

    fn conv2d(&self, x: &CudaBuf<T>, w: &CudaBuf<T>, bias: Option<&CudaBuf<T>>, g: Conv2d) -> CudaBuf<T> {
        self.guarded("conv2d", g.batch * g.c_out * g.oh() * g.ow(), |op| self.conv2d_on(op, x, w, bias, g))
    }
    fn conv2d_grad_input(&self, dy: &CudaBuf<T>, w: &CudaBuf<T>, g: Conv2d) -> CudaBuf<T> {
        self.guarded("conv2d_grad_input", g.batch * g.c_in * g.h * g.w, |op| self.conv2d_grad_input_on(op, dy, w, g))
    }
    fn conv2d_grad_weight(&self, x: &CudaBuf<T>, dy: &CudaBuf<T>, g: Conv2d) -> CudaBuf<T> {
        self.guarded("conv2d_grad_weight", g.c_out * g.patch(), |op| self.conv2d_grad_weight_on(op, x, dy, g))
    }
    fn max_pool2d(&self, x: &CudaBuf<T>, g: Pool2d) -> CudaBuf<T> {
        let len = g.batch * g.c * g.oh() * g.ow();
        self.guarded("max_pool2d", len, |op| self.pool_on(op, x, None, g, len))
    }
    fn max_pool2d_grad(&self, x: &CudaBuf<T>, dy: &CudaBuf<T>, g: Pool2d) -> CudaBuf<T> {
        self.guarded("max_pool2d_grad", x.len, |op| self.pool_on(op, x, Some(dy), g, x.len))
    }
    fn avg_pool2d(&self, x: &CudaBuf<T>, g: Pool2d) -> CudaBuf<T> {
        let len = g.batch * g.c * g.oh() * g.ow();
        self.guarded("avg_pool2d", len, |op| self.pool_on(op, x, None, g, len))
    }
    fn avg_pool2d_grad(&self, dy: &CudaBuf<T>, g: Pool2d) -> CudaBuf<T> {
        let len = g.batch * g.c * g.h * g.w;
        self.guarded("avg_pool2d_grad", len, |op| self.pool_on(op, dy, None, g, len))
    }

    fn add_channels(&self, x: &CudaBuf<T>, v: &CudaBuf<T>, g: Channels) -> CudaBuf<T> {
        self.guarded("add_channels", x.len, |op| self.channels_on(op, x, v, g))
    }
    fn scale_channels(&self, x: &CudaBuf<T>, v: &CudaBuf<T>, g: Channels) -> CudaBuf<T> {
        self.guarded("scale_channels", x.len, |op| self.channels_on(op, x, v, g))
    }
    fn sum_channels(&self, x: &CudaBuf<T>, g: Channels) -> CudaBuf<T> {
        self.guarded("sum_channels", g.c, |op| self.sum_channels_on(op, x, g))
    }
    fn batch_norm(
        &self,
        x: &CudaBuf<T>,
        gamma: &CudaBuf<T>,
        beta: &CudaBuf<T>,
        g: Channels,
        eps: f64,
    ) -> (CudaBuf<T>, CudaBuf<T>, CudaBuf<T>, CudaBuf<T>) {
        let op = Op { name: "batch_norm", dtype: T::DTYPE };
        self.sticky.run(|| self.batch_norm_on(op, x, gamma, beta, g, eps)).unwrap_or_else(|| {
            let p = CudaBuf::placeholder;
            (p(x.len), p(g.c), p(g.c), p(g.c))
        })
    }
    fn batch_norm_grad(
        &self,
        x: &CudaBuf<T>,
        mean: &CudaBuf<T>,
        inv_std: &CudaBuf<T>,
        gamma: &CudaBuf<T>,
        dy: &CudaBuf<T>,
        g: Channels,
    ) -> (CudaBuf<T>, CudaBuf<T>, CudaBuf<T>) {
        let op = Op { name: "batch_norm_grad", dtype: T::DTYPE };
        self.sticky.run(|| self.batch_norm_grad_on(op, x, mean, inv_std, gamma, dy, g)).unwrap_or_else(|| {
            let p = CudaBuf::placeholder;
            (p(x.len), p(g.c), p(g.c))
        })
    }

    fn adam_update(
        &self,
        param: &mut CudaBuf<T>,
        grad: &CudaBuf<T>,
        m: &mut CudaBuf<T>,
        v: &mut CudaBuf<T>,
        s: AdamStep,
    ) {
        self.guarded_unit::<T>("adam_update", |op| self.adam_on(op, param, grad, m, v, s))
    }
    fn rmsprop_update(
        &self,
        param: &mut CudaBuf<T>,
        grad: &CudaBuf<T>,
        square_avg: &mut CudaBuf<T>,
        momentum: Option<&mut CudaBuf<T>>,
        s: RmsPropStep,
    ) {
        self.guarded_unit::<T>("rmsprop_update", |op| self.rmsprop_on(op, param, grad, square_avg, momentum, s))
    }
    fn sgd_update(&self, param: &mut CudaBuf<T>, grad: &CudaBuf<T>, velocity: Option<&mut CudaBuf<T>>, s: SgdStep) {
        self.guarded_unit::<T>("sgd_update", |op| self.sgd_on(op, param, grad, velocity, s))
    }
}
