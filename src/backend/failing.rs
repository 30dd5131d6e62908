//! A test backend: the CPU backend that starts failing after a given number of ops, the
//! way a GPU runs out of memory mid-run. It keeps its error as the CUDA backend does (a
//! [`Sticky`]), so the tests of the sync points (training, records, written files) run
//! without a GPU.

use super::{
    AdamStep, Backend, BackendError, Channels, Conv2d, CpuBackend, CpuKernels, LossKernel, Map, MatMul, Pool2d,
    RmsPropStep, SgdStep, Sticky, Zip,
};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct FailingBackend {
    inner: CpuBackend,
    /// Ops that still succeed; the next one fails.
    left: AtomicUsize,
    /// Ops run so far (successful or not), for choosing a failure point.
    pub ran: AtomicUsize,
    sticky: Sticky,
}

pub const MESSAGE: &str = "out of memory allocating 1.2 GB (a test failure)";

impl FailingBackend {
    pub fn after(ops: usize) -> Self {
        FailingBackend {
            inner: CpuBackend::new(),
            left: AtomicUsize::new(ops),
            ran: AtomicUsize::new(0),
            sticky: Sticky::new(),
        }
    }

    /// Whether `op` may run: false once the budget is spent (the first time, the error
    /// is kept).
    fn tick(&self, op: &str) -> bool {
        self.ran.fetch_add(1, Ordering::Relaxed);
        if !self.sticky.ok() {
            return false;
        }
        let left = self.left.load(Ordering::Relaxed);
        if left == 0 {
            self.sticky.record(BackendError { backend: "failing", op: op.into(), message: MESSAGE.into() });
            return false;
        }
        self.left.store(left - 1, Ordering::Relaxed);
        true
    }

    fn out<T: CpuKernels>(&self, op: &str, len: usize, f: impl FnOnce() -> Vec<T>) -> Vec<T> {
        if self.tick(op) {
            f()
        } else {
            vec![T::zero(); len]
        }
    }
}

impl<T: CpuKernels> Backend<T> for FailingBackend {
    type Buf = Vec<T>;

    fn name(&self) -> &'static str {
        "failing"
    }
    fn threads(&self) -> usize {
        1
    }
    fn check(&self) -> crate::error::Result<()> {
        Ok(self.sticky.check()?)
    }
    fn upload(&self, host: &[T]) -> Vec<T> {
        self.out("upload", host.len(), || host.to_vec())
    }
    fn download(&self, buf: &Vec<T>) -> Vec<T> {
        self.out("download", buf.len(), || buf.clone())
    }
    fn len(&self, buf: &Vec<T>) -> usize {
        buf.len()
    }
    fn filled(&self, len: usize, value: f64) -> Vec<T> {
        self.out("filled", len, || Backend::<T>::filled(&self.inner, len, value))
    }
    fn copy(&self, buf: &Vec<T>) -> Vec<T> {
        self.out("copy", buf.len(), || buf.clone())
    }
    fn matmul(&self, a: &Vec<T>, b: &Vec<T>, d: MatMul) -> Vec<T> {
        self.out("matmul", d.m * d.n, || self.inner.matmul(a, b, d))
    }
    fn map(&self, f: Map, x: &Vec<T>) -> Vec<T> {
        self.out("map", x.len(), || self.inner.map(f, x))
    }
    fn map_grad(&self, f: Map, x: &Vec<T>, y: &Vec<T>, dy: &Vec<T>) -> Vec<T> {
        self.out("map_grad", dy.len(), || self.inner.map_grad(f, x, y, dy))
    }
    fn zip(&self, f: Zip, a: &Vec<T>, b: &Vec<T>) -> Vec<T> {
        self.out("zip", a.len(), || self.inner.zip(f, a, b))
    }
    fn add_assign(&self, a: &mut Vec<T>, b: &Vec<T>) {
        if self.tick("add_assign") {
            self.inner.add_assign(a, b)
        }
    }
    fn add_row(&self, x: &Vec<T>, row: &Vec<T>, cols: usize) -> Vec<T> {
        self.out("add_row", x.len(), || self.inner.add_row(x, row, cols))
    }
    fn sum_rows(&self, x: &Vec<T>, cols: usize) -> Vec<T> {
        self.out("sum_rows", cols, || self.inner.sum_rows(x, cols))
    }
    fn sum_all(&self, x: &Vec<T>) -> Vec<T> {
        self.out("sum_all", 1, || self.inner.sum_all(x))
    }
    fn softmax_rows(&self, x: &Vec<T>, cols: usize) -> Vec<T> {
        self.out("softmax_rows", x.len(), || self.inner.softmax_rows(x, cols))
    }
    fn softmax_rows_grad(&self, y: &Vec<T>, dy: &Vec<T>, cols: usize) -> Vec<T> {
        self.out("softmax_rows_grad", y.len(), || self.inner.softmax_rows_grad(y, dy, cols))
    }
    fn concat_cols(&self, parts: &[(&Vec<T>, usize)], rows: usize) -> Vec<T> {
        let len = rows * parts.iter().map(|p| p.1).sum::<usize>();
        self.out("concat_cols", len, || self.inner.concat_cols(parts, rows))
    }
    fn slice_cols(&self, x: &Vec<T>, cols: usize, start: usize, width: usize) -> Vec<T> {
        let len = x.len().checked_div(cols).unwrap_or(0) * width;
        self.out("slice_cols", len, || self.inner.slice_cols(x, cols, start, width))
    }
    fn loss(&self, kind: LossKernel, pred: &Vec<T>, target: &Vec<T>, cols: usize) -> (f64, Vec<T>) {
        if self.tick("loss") {
            self.inner.loss(kind, pred, target, cols)
        } else {
            (0.0, vec![T::zero(); pred.len()])
        }
    }
    fn conv2d(&self, x: &Vec<T>, w: &Vec<T>, bias: Option<&Vec<T>>, g: Conv2d) -> Vec<T> {
        self.out("conv2d", g.batch * g.c_out * g.oh() * g.ow(), || self.inner.conv2d(x, w, bias, g))
    }
    fn conv2d_grad_input(&self, dy: &Vec<T>, w: &Vec<T>, g: Conv2d) -> Vec<T> {
        self.out("conv2d_grad_input", g.batch * g.c_in * g.h * g.w, || self.inner.conv2d_grad_input(dy, w, g))
    }
    fn conv2d_grad_weight(&self, x: &Vec<T>, dy: &Vec<T>, g: Conv2d) -> Vec<T> {
        self.out("conv2d_grad_weight", g.c_out * g.patch(), || self.inner.conv2d_grad_weight(x, dy, g))
    }
    fn max_pool2d(&self, x: &Vec<T>, g: Pool2d) -> Vec<T> {
        self.out("max_pool2d", g.batch * g.c * g.oh() * g.ow(), || self.inner.max_pool2d(x, g))
    }
    fn max_pool2d_grad(&self, x: &Vec<T>, dy: &Vec<T>, g: Pool2d) -> Vec<T> {
        self.out("max_pool2d_grad", x.len(), || self.inner.max_pool2d_grad(x, dy, g))
    }
    fn avg_pool2d(&self, x: &Vec<T>, g: Pool2d) -> Vec<T> {
        self.out("avg_pool2d", g.batch * g.c * g.oh() * g.ow(), || self.inner.avg_pool2d(x, g))
    }
    fn avg_pool2d_grad(&self, dy: &Vec<T>, g: Pool2d) -> Vec<T> {
        self.out("avg_pool2d_grad", g.batch * g.c * g.h * g.w, || self.inner.avg_pool2d_grad(dy, g))
    }
    fn add_channels(&self, x: &Vec<T>, v: &Vec<T>, g: Channels) -> Vec<T> {
        self.out("add_channels", x.len(), || self.inner.add_channels(x, v, g))
    }
    fn scale_channels(&self, x: &Vec<T>, v: &Vec<T>, g: Channels) -> Vec<T> {
        self.out("scale_channels", x.len(), || self.inner.scale_channels(x, v, g))
    }
    fn sum_channels(&self, x: &Vec<T>, g: Channels) -> Vec<T> {
        self.out("sum_channels", g.c, || self.inner.sum_channels(x, g))
    }
    fn batch_norm(
        &self,
        x: &Vec<T>,
        gamma: &Vec<T>,
        beta: &Vec<T>,
        g: Channels,
        eps: f64,
    ) -> (Vec<T>, Vec<T>, Vec<T>, Vec<T>) {
        if self.tick("batch_norm") {
            self.inner.batch_norm(x, gamma, beta, g, eps)
        } else {
            let z = vec![T::zero(); g.c];
            (vec![T::zero(); x.len()], z.clone(), z.clone(), z)
        }
    }
    fn batch_norm_grad(
        &self,
        x: &Vec<T>,
        mean: &Vec<T>,
        inv_std: &Vec<T>,
        gamma: &Vec<T>,
        dy: &Vec<T>,
        g: Channels,
    ) -> (Vec<T>, Vec<T>, Vec<T>) {
        if self.tick("batch_norm_grad") {
            self.inner.batch_norm_grad(x, mean, inv_std, gamma, dy, g)
        } else {
            (vec![T::zero(); x.len()], vec![T::zero(); g.c], vec![T::zero(); g.c])
        }
    }
    fn adam_update(&self, param: &mut Vec<T>, grad: &Vec<T>, m: &mut Vec<T>, v: &mut Vec<T>, step: AdamStep) {
        if self.tick("adam_update") {
            self.inner.adam_update(param, grad, m, v, step)
        }
    }
    fn rmsprop_update(
        &self,
        param: &mut Vec<T>,
        grad: &Vec<T>,
        square_avg: &mut Vec<T>,
        momentum: Option<&mut Vec<T>>,
        step: RmsPropStep,
    ) {
        if self.tick("rmsprop_update") {
            self.inner.rmsprop_update(param, grad, square_avg, momentum, step)
        }
    }
    fn sgd_update(&self, param: &mut Vec<T>, grad: &Vec<T>, velocity: Option<&mut Vec<T>>, step: SgdStep) {
        if self.tick("sgd_update") {
            self.inner.sgd_update(param, grad, velocity, step)
        }
    }
}
