//! `CudaBackend`: the `Backend` trait on one NVIDIA GPU with cudarc. Buffers are
//! `CudaSlice<T>` on one stream; every op is a launch of a kernel from kernels/ (its
//! symbol derived from `ops::KERNELS`) or a cuBLAS GEMM. Compiled everywhere, never yet
//! run on a GPU, and not selectable from the CLI yet.
//!
//! Launch configurations (BLOCK = 256 threads, kernels/common.cuh):
//! - element-wise kernels (filled, map, map_grad, zip, add_assign, add_row, concat_cols,
//!   slice_cols, add/scale_channels, sum_rows over columns, loss, im2col, col2im, the
//!   pooling kernels, the optimizer updates): grid-stride loops, BLOCK threads, grid
//!   min(⌈n/BLOCK⌉, MAX_GRID) blocks. Values never depend on the grid.
//! - row kernels (softmax_rows, softmax_rows_grad, loss_softmax_cross_entropy): one
//!   block of BLOCK per row.
//! - channel kernels (sum_channels, batch_norm, batch_norm_grad): one block per channel.
//! - whole-buffer sums (sum_all, loss_sum): one block of BLOCK.
//! - matmul: one cuBLAS GEMM (row-major C = op(A)·op(B) computed as the column-major
//!   Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS's A is our B). Convolution: im2col over chunks of
//!   images, a strided-batched GEMM per chunk; the weight gradient is one GEMM per image
//!   accumulated with β = 1 in image order (fixed order, no atomics).
//!
//! Errors: the `Backend` trait is not fallible yet, so a failed launch, copy or
//! allocation panics with a message naming the op; making the boundary fallible is
//! part of issue 11 and belongs to the trait's owner.

use super::compile::{compiled, Target};
use super::ops::{loss_code, map_code, symbol, zip_code, KERNELS};
use super::probe::{probe, CudaError};
use crate::backend::{
    AdamStep, Backend, Channels, Conv2d, Element, LossKernel, Map, MatMul, Pool2d, RmsPropStep, SgdStep, Zip,
};
use cudarc::cublas::{sys::cublasOperation_t, CudaBlas, Gemm, GemmConfig, StridedBatchedConfig};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, DevicePtrMut, DeviceRepr, LaunchConfig, PushKernelArg,
    ValidAsZeroBits,
};
use cudarc::nvrtc::Ptx;
use std::collections::HashMap;
use std::sync::Arc;

const BLOCK: u32 = 256;
/// Grid-stride kernels use at most this many blocks (enough to fill any current GPU).
const MAX_GRID: u64 = 8192;
/// Values of im2col columns held at once (×4 or ×8 bytes).
const COLS_BUDGET: usize = 1 << 26;

/// The element types the CUDA backend computes in.
pub trait CudaElement: Element + DeviceRepr + ValidAsZeroBits {}
impl CudaElement for f32 {}
impl CudaElement for f64 {}

pub struct CudaBackend {
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    functions: HashMap<String, CudaFunction>,
    /// The device's name, e.g. "NVIDIA H200".
    pub device: String,
    /// Compute capability (major, minor).
    pub capability: (u32, u32),
}

fn fail(what: &str, e: impl std::fmt::Debug) -> ! {
    panic!("CUDA: {what}: {e:?}")
}

fn grid_for(n: usize) -> LaunchConfig {
    let blocks = (n as u64).div_ceil(BLOCK as u64).clamp(1, MAX_GRID) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 }
}

fn blocks(count: usize) -> LaunchConfig {
    LaunchConfig { grid_dim: (count as u32, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 }
}

/// Adds each argument (a reference to a named value that outlives the launch), then
/// launches; a failure panics naming the kernel.
macro_rules! launch {
    ($self:ident, $T:ty, $name:expr, $cfg:expr; $($arg:expr),* $(,)?) => {{
        let f = $self.function::<$T>($name);
        let mut b = $self.stream.launch_builder(f);
        $(b.arg($arg);)*
        // SAFETY: the arguments match the kernel's parameters in kernels/ (types and
        // order), and every buffer holds the lengths the kernel indexes (asserted or
        // allocated by the caller).
        unsafe { b.launch($cfg) }.unwrap_or_else(|e| fail($name, e));
    }};
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
        Ok(CudaBackend { stream, blas, functions, device, capability })
    }

    fn function<T: Element>(&self, name: &str) -> &CudaFunction {
        let s = symbol(name, T::DTYPE);
        self.functions.get(&s).unwrap_or_else(|| fail("no such kernel", s))
    }

    /// A zeroed buffer of n values (n = 0 asks the driver for an empty allocation,
    /// which has not been tried on a GPU).
    fn zeros<T: CudaElement>(&self, n: usize) -> CudaSlice<T> {
        self.stream.alloc_zeros::<T>(n).unwrap_or_else(|e| fail("allocation", e))
    }

    /// C (m×n, row-major) = op(A)·op(B) + beta·C, on device pointers of any kind.
    fn gemm<T: CudaElement>(
        &self,
        a: &impl DevicePtr<T>,
        b: &impl DevicePtr<T>,
        c: &mut impl DevicePtrMut<T>,
        d: MatMul,
        beta: f64,
    ) where
        CudaBlas: Gemm<T>,
    {
        let cfg = row_major_gemm::<T>(d, T::from_f64(beta));
        // SAFETY: A holds m·k, B k·n and C m·n values (asserted by the callers), and the
        // leading dimensions describe those row-major layouts (see the module comment).
        unsafe { self.blas.gemm(cfg, b, a, c) }.unwrap_or_else(|e| fail("matmul", e));
    }

    /// `count` independent products C_i = op(A_i)·op(B_i) with the given strides
    /// (0 shares an operand), row-major as `gemm`.
    #[allow(clippy::too_many_arguments)]
    fn gemm_batched<T: CudaElement>(
        &self,
        a: &impl DevicePtr<T>,
        stride_a: usize,
        b: &impl DevicePtr<T>,
        stride_b: usize,
        c: &mut impl DevicePtrMut<T>,
        stride_c: usize,
        d: MatMul,
        count: usize,
    ) where
        CudaBlas: Gemm<T>,
    {
        let gemm = row_major_gemm::<T>(d, T::zero());
        let cfg = StridedBatchedConfig {
            gemm,
            batch_size: count as i32,
            stride_a: stride_b as i64,
            stride_b: stride_a as i64,
            stride_c: stride_c as i64,
        };
        // SAFETY: as in `gemm`, for each of the `count` products at its stride.
        unsafe { self.blas.gemm_strided_batched(cfg, b, a, c) }.unwrap_or_else(|e| fail("batched matmul", e));
    }

    /// Images per im2col chunk for a convolution.
    fn chunk(g: &Conv2d) -> usize {
        (COLS_BUDGET / (g.patch() * g.oh() * g.ow()).max(1)).clamp(1, g.batch.max(1))
    }
}

impl<T: CudaElement> Backend<T> for CudaBackend
where
    CudaBlas: Gemm<T>,
{
    type Buf = CudaSlice<T>;

    fn name(&self) -> &'static str {
        "cuda"
    }
    fn threads(&self) -> usize {
        1
    }
    fn upload(&self, host: &[T]) -> CudaSlice<T> {
        if host.is_empty() {
            return self.zeros(0);
        }
        self.stream.clone_htod(host).unwrap_or_else(|e| fail("upload", e))
    }
    fn download(&self, buf: &CudaSlice<T>) -> Vec<T> {
        if buf.is_empty() {
            return Vec::new();
        }
        self.stream.clone_dtoh(buf).unwrap_or_else(|e| fail("download", e))
    }
    fn len(&self, buf: &CudaSlice<T>) -> usize {
        buf.len()
    }
    fn filled(&self, len: usize, value: f64) -> CudaSlice<T> {
        let out = self.zeros::<T>(len);
        if len > 0 {
            let n = len as u64;
            launch!(self, T, "filled", grid_for(len); &out, &n, &value);
        }
        out
    }
    fn copy(&self, buf: &CudaSlice<T>) -> CudaSlice<T> {
        if buf.is_empty() {
            return self.zeros(0);
        }
        self.stream.clone_dtod(buf).unwrap_or_else(|e| fail("copy", e))
    }

    fn matmul(&self, a: &CudaSlice<T>, b: &CudaSlice<T>, d: MatMul) -> CudaSlice<T> {
        assert_eq!(a.len(), d.m * d.k, "matmul: A has the wrong length");
        assert_eq!(b.len(), d.k * d.n, "matmul: B has the wrong length");
        let mut c = self.zeros::<T>(d.m * d.n);
        if d.m > 0 && d.n > 0 && d.k > 0 {
            self.gemm(a, b, &mut c, d, 0.0);
        }
        c
    }
    fn map(&self, f: Map, x: &CudaSlice<T>) -> CudaSlice<T> {
        let y = self.zeros::<T>(x.len());
        if !x.is_empty() {
            let (code, scalar) = map_code(f);
            let n = x.len() as u64;
            launch!(self, T, "map", grid_for(x.len()); &code, &scalar, x, &y, &n);
        }
        y
    }
    fn map_grad(&self, f: Map, x: &CudaSlice<T>, y: &CudaSlice<T>, dy: &CudaSlice<T>) -> CudaSlice<T> {
        assert!(x.len() == dy.len() && y.len() == dy.len());
        let dx = self.zeros::<T>(dy.len());
        if !dy.is_empty() {
            let (code, scalar) = map_code(f);
            let n = dy.len() as u64;
            launch!(self, T, "map_grad", grid_for(dy.len()); &code, &scalar, x, y, dy, &dx, &n);
        }
        dx
    }
    fn zip(&self, f: Zip, a: &CudaSlice<T>, b: &CudaSlice<T>) -> CudaSlice<T> {
        assert_eq!(a.len(), b.len(), "zip: lengths differ");
        let out = self.zeros::<T>(a.len());
        if !a.is_empty() {
            let code = zip_code(f);
            let n = a.len() as u64;
            launch!(self, T, "zip", grid_for(a.len()); &code, a, b, &out, &n);
        }
        out
    }
    fn add_assign(&self, a: &mut CudaSlice<T>, b: &CudaSlice<T>) {
        assert_eq!(a.len(), b.len());
        if !a.is_empty() {
            let n = a.len() as u64;
            let cfg = grid_for(a.len());
            launch!(self, T, "add_assign", cfg; a, b, &n);
        }
    }

    fn add_row(&self, x: &CudaSlice<T>, row: &CudaSlice<T>, cols: usize) -> CudaSlice<T> {
        assert_eq!(row.len(), cols);
        let out = self.zeros::<T>(x.len());
        if !x.is_empty() {
            let (n, c) = (x.len() as u64, cols as u64);
            launch!(self, T, "add_row", grid_for(x.len()); x, row, &out, &n, &c);
        }
        out
    }
    fn sum_rows(&self, x: &CudaSlice<T>, cols: usize) -> CudaSlice<T> {
        let out = self.zeros::<T>(cols);
        if let Some(rows) = x.len().checked_div(cols) {
            let (rows, c) = (rows as u64, cols as u64);
            launch!(self, T, "sum_rows", grid_for(cols); x, &out, &rows, &c);
        }
        out
    }
    fn sum_all(&self, x: &CudaSlice<T>) -> CudaSlice<T> {
        let out = self.zeros::<T>(1);
        if !x.is_empty() {
            let n = x.len() as u64;
            launch!(self, T, "sum_all", blocks(1); x, &out, &n);
        }
        out
    }

    fn softmax_rows(&self, x: &CudaSlice<T>, cols: usize) -> CudaSlice<T> {
        let y = self.zeros::<T>(x.len());
        if !x.is_empty() {
            let c = cols as u64;
            launch!(self, T, "softmax_rows", blocks(x.len() / cols); x, &y, &c);
        }
        y
    }
    fn softmax_rows_grad(&self, y: &CudaSlice<T>, dy: &CudaSlice<T>, cols: usize) -> CudaSlice<T> {
        let dx = self.zeros::<T>(y.len());
        if !y.is_empty() {
            let c = cols as u64;
            launch!(self, T, "softmax_rows_grad", blocks(y.len() / cols); y, dy, &dx, &c);
        }
        dx
    }

    fn concat_cols(&self, parts: &[(&CudaSlice<T>, usize)], rows: usize) -> CudaSlice<T> {
        let total: usize = parts.iter().map(|p| p.1).sum();
        let out = self.zeros::<T>(rows * total);
        let mut offset = 0usize;
        for (part, width) in parts {
            if rows * width > 0 {
                let (r, w, t, o) = (rows as u64, *width as u64, total as u64, offset as u64);
                launch!(self, T, "concat_cols", grid_for(rows * width); *part, &out, &r, &w, &t, &o);
            }
            offset += width;
        }
        out
    }
    fn slice_cols(&self, x: &CudaSlice<T>, cols: usize, start: usize, width: usize) -> CudaSlice<T> {
        let rows = x.len().checked_div(cols).unwrap_or(0);
        let out = self.zeros::<T>(rows * width);
        if rows * width > 0 {
            let (r, c, s, w) = (rows as u64, cols as u64, start as u64, width as u64);
            launch!(self, T, "slice_cols", grid_for(rows * width); x, &out, &r, &c, &s, &w);
        }
        out
    }

    fn loss(&self, kind: LossKernel, pred: &CudaSlice<T>, target: &CudaSlice<T>, cols: usize) -> (f64, CudaSlice<T>) {
        assert_eq!(pred.len(), target.len(), "loss: prediction and target lengths differ");
        let grad = self.zeros::<T>(pred.len());
        if pred.is_empty() {
            return (0.0, grad);
        }
        let terms_len = match loss_code(kind) {
            Some(_) => pred.len(),
            None => pred.len() / cols,
        };
        let terms = self.stream.alloc_zeros::<f64>(terms_len).unwrap_or_else(|e| fail("loss terms", e));
        match loss_code(kind) {
            Some(code) => {
                let n = pred.len() as u64;
                launch!(self, T, "loss", grid_for(pred.len()); &code, pred, target, &grad, &terms, &n);
            }
            None => {
                let c = cols as u64;
                launch!(self, T, "loss_softmax_cross_entropy", blocks(terms_len); pred, target, &grad, &terms, &c);
            }
        }
        let total = self.stream.alloc_zeros::<f64>(1).unwrap_or_else(|e| fail("loss total", e));
        let n = terms_len as u64;
        launch!(self, T, "loss_sum", blocks(1); &terms, &total, &n);
        let total = self.stream.clone_dtoh(&total).unwrap_or_else(|e| fail("loss total", e));
        (total[0], grad)
    }

    fn conv2d(&self, x: &CudaSlice<T>, w: &CudaSlice<T>, bias: Option<&CudaSlice<T>>, g: Conv2d) -> CudaSlice<T> {
        let (k, p) = (g.patch(), g.oh() * g.ow());
        let in_size = g.c_in * g.h * g.w;
        let mut y = self.zeros::<T>(g.batch * g.c_out * p);
        if y.is_empty() {
            return y;
        }
        let chunk = Self::chunk(&g);
        let mut cols = self.zeros::<T>(chunk * k * p);
        for b0 in (0..g.batch).step_by(chunk) {
            let images = chunk.min(g.batch - b0);
            self.im2col(&x.slice(b0 * in_size..(b0 + images) * in_size), &mut cols, images, &g);
            let d = MatMul { m: g.c_out, k, n: p, trans_a: false, trans_b: false };
            let mut yv = y.slice_mut(b0 * g.c_out * p..(b0 + images) * g.c_out * p);
            self.gemm_batched(w, 0, &cols, k * p, &mut yv, g.c_out * p, d, images);
        }
        match bias {
            Some(bias) => self.add_channels(&y, bias, Channels { batch: g.batch, c: g.c_out, spatial: p }),
            None => y,
        }
    }
    fn conv2d_grad_input(&self, dy: &CudaSlice<T>, w: &CudaSlice<T>, g: Conv2d) -> CudaSlice<T> {
        let (k, p) = (g.patch(), g.oh() * g.ow());
        let in_size = g.c_in * g.h * g.w;
        let mut dx = self.zeros::<T>(g.batch * in_size);
        if dx.is_empty() || p == 0 {
            return dx;
        }
        let chunk = Self::chunk(&g);
        let mut cols = self.zeros::<T>(chunk * k * p);
        for b0 in (0..g.batch).step_by(chunk) {
            let images = chunk.min(g.batch - b0);
            // cols_b = Wᵀ · dy_b
            let d = MatMul { m: k, k: g.c_out, n: p, trans_a: true, trans_b: false };
            let dyv = dy.slice(b0 * g.c_out * p..(b0 + images) * g.c_out * p);
            self.gemm_batched(w, 0, &dyv, g.c_out * p, &mut cols, k * p, d, images);
            let cfg = grid_for(images * in_size);
            let mut dxv = dx.slice_mut(b0 * in_size..(b0 + images) * in_size);
            let dims = ConvDims::new(images, &g);
            let ConvDims { images, c_in, h, w: wd, kh, kw, stride, pad, oh, ow } = dims;
            launch!(self, T, "col2im", cfg; &cols, &mut dxv, &images, &c_in, &h, &wd, &kh, &kw, &stride, &pad, &oh, &ow);
        }
        dx
    }
    fn conv2d_grad_weight(&self, x: &CudaSlice<T>, dy: &CudaSlice<T>, g: Conv2d) -> CudaSlice<T> {
        let (k, p) = (g.patch(), g.oh() * g.ow());
        let in_size = g.c_in * g.h * g.w;
        let mut dw = self.zeros::<T>(g.c_out * k);
        if dw.is_empty() || p == 0 {
            return dw;
        }
        let chunk = Self::chunk(&g);
        let mut cols = self.zeros::<T>(chunk * k * p);
        // dW [c_out, k] = Σ_b dy_b [c_out, p] · cols_bᵀ, one GEMM per image in order,
        // each adding onto the last (β = 1): a fixed order of summation.
        let d = MatMul { m: g.c_out, k: p, n: k, trans_a: false, trans_b: true };
        for b0 in (0..g.batch).step_by(chunk) {
            let images = chunk.min(g.batch - b0);
            self.im2col(&x.slice(b0 * in_size..(b0 + images) * in_size), &mut cols, images, &g);
            for i in 0..images {
                let b = b0 + i;
                let beta = if b == 0 { 0.0 } else { 1.0 };
                let dyv = dy.slice(b * g.c_out * p..(b + 1) * g.c_out * p);
                let cv = cols.slice(i * k * p..(i + 1) * k * p);
                self.gemm(&dyv, &cv, &mut dw, d, beta);
            }
        }
        dw
    }
    fn max_pool2d(&self, x: &CudaSlice<T>, g: Pool2d) -> CudaSlice<T> {
        self.pool("max_pool2d", x, None, g, g.batch * g.c * g.oh() * g.ow())
    }
    fn max_pool2d_grad(&self, x: &CudaSlice<T>, dy: &CudaSlice<T>, g: Pool2d) -> CudaSlice<T> {
        self.pool("max_pool2d_grad", x, Some(dy), g, x.len())
    }
    fn avg_pool2d(&self, x: &CudaSlice<T>, g: Pool2d) -> CudaSlice<T> {
        self.pool("avg_pool2d", x, None, g, g.batch * g.c * g.oh() * g.ow())
    }
    fn avg_pool2d_grad(&self, dy: &CudaSlice<T>, g: Pool2d) -> CudaSlice<T> {
        self.pool("avg_pool2d_grad", dy, None, g, g.batch * g.c * g.h * g.w)
    }

    fn add_channels(&self, x: &CudaSlice<T>, v: &CudaSlice<T>, g: Channels) -> CudaSlice<T> {
        self.channels("add_channels", x, v, g)
    }
    fn scale_channels(&self, x: &CudaSlice<T>, v: &CudaSlice<T>, g: Channels) -> CudaSlice<T> {
        self.channels("scale_channels", x, v, g)
    }
    fn sum_channels(&self, x: &CudaSlice<T>, g: Channels) -> CudaSlice<T> {
        let out = self.zeros::<T>(g.c);
        if g.c > 0 {
            let (b, c, s) = (g.batch as u64, g.c as u64, g.spatial as u64);
            launch!(self, T, "sum_channels", blocks(g.c); x, &out, &b, &c, &s);
        }
        out
    }
    fn batch_norm(
        &self,
        x: &CudaSlice<T>,
        gamma: &CudaSlice<T>,
        beta: &CudaSlice<T>,
        g: Channels,
        eps: f64,
    ) -> (CudaSlice<T>, CudaSlice<T>, CudaSlice<T>, CudaSlice<T>) {
        let y = self.zeros::<T>(x.len());
        let (mean, inv, var) = (self.zeros::<T>(g.c), self.zeros::<T>(g.c), self.zeros::<T>(g.c));
        if g.c > 0 {
            let (b, c, s) = (g.batch as u64, g.c as u64, g.spatial as u64);
            launch!(self, T, "batch_norm", blocks(g.c); x, gamma, beta, &y, &mean, &inv, &var, &b, &c, &s, &eps);
        }
        (y, mean, inv, var)
    }
    fn batch_norm_grad(
        &self,
        x: &CudaSlice<T>,
        mean: &CudaSlice<T>,
        inv_std: &CudaSlice<T>,
        gamma: &CudaSlice<T>,
        dy: &CudaSlice<T>,
        g: Channels,
    ) -> (CudaSlice<T>, CudaSlice<T>, CudaSlice<T>) {
        let dx = self.zeros::<T>(x.len());
        let (dgamma, dbeta) = (self.zeros::<T>(g.c), self.zeros::<T>(g.c));
        if g.c > 0 {
            let (b, c, s) = (g.batch as u64, g.c as u64, g.spatial as u64);
            launch!(self, T, "batch_norm_grad", blocks(g.c); x, mean, inv_std, gamma, dy, &dx, &dgamma, &dbeta, &b, &c, &s);
        }
        (dx, dgamma, dbeta)
    }

    fn adam_update(
        &self,
        param: &mut CudaSlice<T>,
        grad: &CudaSlice<T>,
        m: &mut CudaSlice<T>,
        v: &mut CudaSlice<T>,
        s: AdamStep,
    ) {
        if param.is_empty() {
            return;
        }
        let n = param.len() as u64;
        let (b1, ob1, b2, ob2) = (s.beta1, 1.0 - s.beta1, s.beta2, 1.0 - s.beta2);
        let c1 = 1.0 / (1.0 - s.beta1.powi(s.t as i32));
        let c2 = 1.0 / (1.0 - s.beta2.powi(s.t as i32));
        let decay = 1.0 - s.lr * s.weight_decay;
        let decoupled = i32::from(s.decoupled);
        let cfg = grid_for(param.len());
        launch!(self, T, "adam_update", cfg;
            param, grad, m, v, &n, &b1, &ob1, &b2, &ob2, &c1, &c2, &s.lr, &s.eps, &s.weight_decay, &decay, &decoupled);
    }
    fn rmsprop_update(
        &self,
        param: &mut CudaSlice<T>,
        grad: &CudaSlice<T>,
        square_avg: &mut CudaSlice<T>,
        momentum: Option<&mut CudaSlice<T>>,
        s: RmsPropStep,
    ) {
        if param.is_empty() {
            return;
        }
        let n = param.len() as u64;
        let one_alpha = 1.0 - s.alpha;
        let cfg = grid_for(param.len());
        match momentum {
            Some(buf) => launch!(self, T, "rmsprop_update", cfg;
                param, grad, square_avg, buf, &n, &s.alpha, &one_alpha, &s.lr, &s.eps, &s.weight_decay, &s.momentum),
            None => {
                let null = 0u64;
                launch!(self, T, "rmsprop_update", cfg;
                    param, grad, square_avg, &null, &n, &s.alpha, &one_alpha, &s.lr, &s.eps, &s.weight_decay, &s.momentum)
            }
        }
    }
    fn sgd_update(
        &self,
        param: &mut CudaSlice<T>,
        grad: &CudaSlice<T>,
        velocity: Option<&mut CudaSlice<T>>,
        s: SgdStep,
    ) {
        if param.is_empty() {
            return;
        }
        let n = param.len() as u64;
        let nesterov = i32::from(s.nesterov);
        let cfg = grid_for(param.len());
        match velocity {
            Some(v) => {
                launch!(self, T, "sgd_update", cfg; param, grad, v, &n, &s.lr, &s.weight_decay, &s.momentum, &nesterov)
            }
            None => {
                let null = 0u64;
                launch!(self, T, "sgd_update", cfg; param, grad, &null, &n, &s.lr, &s.weight_decay, &s.momentum, &nesterov)
            }
        }
    }
}

/// A convolution's sizes as the conv.cu kernels take them.
struct ConvDims {
    images: u64,
    c_in: i32,
    h: i32,
    w: i32,
    kh: i32,
    kw: i32,
    stride: i32,
    pad: i32,
    oh: i32,
    ow: i32,
}

impl ConvDims {
    fn new(images: usize, g: &Conv2d) -> Self {
        let i = |v: usize| v as i32;
        ConvDims {
            images: images as u64,
            c_in: i(g.c_in),
            h: i(g.h),
            w: i(g.w),
            kh: i(g.kh),
            kw: i(g.kw),
            stride: i(g.stride),
            pad: i(g.pad),
            oh: i(g.oh()),
            ow: i(g.ow()),
        }
    }
}

impl CudaBackend {
    /// Unrolls `images` images of x into `cols` ([images, c_in·kh·kw, oh·ow]).
    fn im2col<T: CudaElement>(
        &self,
        x: &cudarc::driver::CudaView<'_, T>,
        cols: &mut CudaSlice<T>,
        images: usize,
        g: &Conv2d,
    ) {
        let ConvDims { images: n, c_in, h, w, kh, kw, stride, pad, oh, ow } = ConvDims::new(images, g);
        let cfg = grid_for(images * g.patch() * g.oh() * g.ow());
        launch!(self, T, "im2col", cfg; x, cols, &n, &c_in, &h, &w, &kh, &kw, &stride, &pad, &oh, &ow);
    }

    /// A pooling kernel: (x, [dy,] out, planes, h, w, k, stride, oh, ow), one thread per
    /// element of the output (`out_len` values).
    fn pool<T: CudaElement>(
        &self,
        name: &str,
        x: &CudaSlice<T>,
        dy: Option<&CudaSlice<T>>,
        g: Pool2d,
        out_len: usize,
    ) -> CudaSlice<T> {
        let out = self.zeros::<T>(out_len);
        if out_len == 0 {
            return out;
        }
        let planes = (g.batch * g.c) as u64;
        let i = |v: usize| v as i32;
        let (h, w, k, stride, oh, ow) = (i(g.h), i(g.w), i(g.k), i(g.stride), i(g.oh()), i(g.ow()));
        let cfg = grid_for(out_len);
        match dy {
            Some(dy) => launch!(self, T, name, cfg; x, dy, &out, &planes, &h, &w, &k, &stride, &oh, &ow),
            None => launch!(self, T, name, cfg; x, &out, &planes, &h, &w, &k, &stride, &oh, &ow),
        }
        out
    }

    fn channels<T: CudaElement>(&self, name: &str, x: &CudaSlice<T>, v: &CudaSlice<T>, g: Channels) -> CudaSlice<T> {
        let out = self.zeros::<T>(x.len());
        if !x.is_empty() {
            let (n, c, s) = (x.len() as u64, g.c as u64, g.spatial as u64);
            launch!(self, T, name, grid_for(x.len()); x, v, &out, &n, &c, &s);
        }
        out
    }
}

/// cuBLAS is column-major: the row-major C = op(A)·op(B) is computed as the
/// column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so cuBLAS's first operand is our B.
fn row_major_gemm<T: CudaElement>(d: MatMul, beta: T) -> GemmConfig<T> {
    let (m, k, n) = (d.m as i32, d.k as i32, d.n as i32);
    let op = |t: bool| if t { cublasOperation_t::CUBLAS_OP_T } else { cublasOperation_t::CUBLAS_OP_N };
    GemmConfig {
        transa: op(d.trans_b),
        transb: op(d.trans_a),
        m: n,
        n: m,
        k,
        alpha: T::one(),
        lda: if d.trans_b { k } else { n },
        ldb: if d.trans_a { m } else { k },
        beta,
        ldc: n,
    }
}
