//! The CPU backend: contiguous row-major `Vec<T>` buffers, a packed-panel GEMM whose
//! tiles rayon shares out (gemm/), and element-wise loops written to vectorise. Every output
//! element is computed by exactly one thread in a fixed order, so results are the
//! same bytes whatever the thread count.

mod avx2;
mod avx512;
mod channels;
mod conv;
pub(crate) mod direct_conv;
mod elementwise;
pub(crate) mod gemm;
mod kernels;
mod lanes;
mod loss;
pub(crate) mod narrow_gemm;
mod optim;
#[cfg(test)]
mod parity;
pub mod path;
mod pixel_major;
pub(crate) mod pool2x2;
mod small_gemm;
pub(crate) mod weight_grad;

use super::{AdamStep, Backend, Channels, Conv2d, Element, LossKernel, Map, MatMul, Pool2d, RmsPropStep, SgdStep, Zip};
use path::{note, CpuPath, Family, Kernel};
use small_gemm::small_gemm;

pub use kernels::CpuKernels;

/// Below this many multiply-adds a GEMM runs on the calling thread: splitting costs more.
const PARALLEL_GEMM_WORK: usize = 1 << 18;
/// Below this many multiply-adds, or with a thin side, plain loops beat packing panels.
const SMALL_GEMM_WORK: usize = 1 << 14;
/// Element-wise work is split into chunks of this size once a buffer exceeds it.
pub(crate) const CHUNK: usize = 1 << 15;

/// The CPU backend on one CPU path: the process's (`path::current`, from `RUNNER_CPU`
/// or detection) unless a test asks for another with [`CpuBackend::on`]. The path
/// picks the hand-written kernels; element-wise exp/ln/sigmoid follow the process's
/// path, which gives the same bits on every path.
#[derive(Clone, Debug)]
pub struct CpuBackend {
    path: CpuPath,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    pub fn new() -> Self {
        CpuBackend { path: path::current() }
    }

    /// The backend on `path`, or None where this CPU cannot run it.
    pub fn on(path: CpuPath) -> Option<Self> {
        path.available().then_some(CpuBackend { path })
    }

    pub fn path(&self) -> CpuPath {
        self.path
    }
}

/// A fresh buffer of `len` values, every one of which `write` stores before it reads it,
/// without the zero-fill `vec!` does first: for the diamond's products the fill (a
/// memset per product) was about 4% of an iteration.
fn written_whole<T: Element>(len: usize, write: impl FnOnce(&mut [T])) -> Vec<T> {
    if cfg!(any(test, debug_assertions)) {
        // Tests and debug builds start every value as NaN instead, so a kernel that reads a
        // value before storing it gives NaN (which the parity tests catch), not stale memory.
        let mut out = vec![T::from_f64(f64::NAN); len];
        write(&mut out);
        return out;
    }
    let mut out: Vec<T> = Vec::with_capacity(len);
    // SAFETY: the spare capacity holds `len` slots of T's layout. They are not yet
    // initialised: `write`'s contract (stated at each caller) is to store every slot before
    // reading it, so no uninitialised value is read, and after it returns all `len` are set.
    unsafe {
        write(std::slice::from_raw_parts_mut(out.as_mut_ptr(), len));
        out.set_len(len);
    }
    out
}

impl<T: CpuKernels> Backend<T> for CpuBackend {
    type Buf = Vec<T>;

    fn name(&self) -> &'static str {
        "cpu"
    }
    fn threads(&self) -> usize {
        rayon::current_num_threads()
    }
    fn upload(&self, host: &[T]) -> Vec<T> {
        host.to_vec()
    }
    fn download(&self, buf: &Vec<T>) -> Vec<T> {
        buf.clone()
    }
    fn len(&self, buf: &Vec<T>) -> usize {
        buf.len()
    }
    fn filled(&self, len: usize, value: f64) -> Vec<T> {
        vec![T::from_f64(value); len]
    }
    fn copy(&self, buf: &Vec<T>) -> Vec<T> {
        buf.clone()
    }

    fn matmul(&self, a: &Vec<T>, b: &Vec<T>, d: MatMul) -> Vec<T> {
        assert_eq!(a.len(), d.m * d.k, "matmul: A has the wrong length");
        assert_eq!(b.len(), d.k * d.n, "matmul: B has the wrong length");
        if d.m == 0 || d.n == 0 {
            return Vec::new();
        }
        let work = d.m * d.k * d.n;
        // Every kernel below stores each of C's m·n values (the GEMM contract,
        // gemm/mod.rs: each value is one chain from +0.0, never read before it is stored).
        written_whole(d.m * d.n, |c| {
            if work < SMALL_GEMM_WORK || d.k.min(d.n) < 8 {
                small_gemm(a, b, d, c, self.path);
                return;
            }
            note(Family::Gemm, Kernel::of(self.path));
            // Small products stay on the calling thread: splitting costs more. Each tile of
            // C is computed whole by one thread, so the bits do not depend on the split.
            if work < PARALLEL_GEMM_WORK {
                gemm::gemm(a, b, c, d, false, self.path);
            } else {
                gemm::gemm_parallel(a, b, c, d, false, self.path);
            }
        })
    }

    fn map(&self, f: Map, x: &Vec<T>) -> Vec<T> {
        elementwise::map(f, x)
    }
    fn map_grad(&self, f: Map, x: &Vec<T>, y: &Vec<T>, dy: &Vec<T>) -> Vec<T> {
        elementwise::map_grad(f, x, y, dy)
    }
    fn zip(&self, f: Zip, a: &Vec<T>, b: &Vec<T>) -> Vec<T> {
        elementwise::zip(f, a, b)
    }
    fn add_assign(&self, a: &mut Vec<T>, b: &Vec<T>) {
        assert_eq!(a.len(), b.len());
        a.iter_mut().zip(b).for_each(|(a, b)| *a = *a + *b);
    }

    fn add_row(&self, x: &Vec<T>, row: &Vec<T>, cols: usize) -> Vec<T> {
        assert_eq!(row.len(), cols);
        let mut out = x.clone();
        for r in out.chunks_exact_mut(cols) {
            r.iter_mut().zip(row).for_each(|(v, b)| *v = *v + *b);
        }
        out
    }
    fn sum_rows(&self, x: &Vec<T>, cols: usize) -> Vec<T> {
        let mut out = vec![T::zero(); cols];
        for r in x.chunks_exact(cols) {
            out.iter_mut().zip(r).for_each(|(o, v)| *o = *o + *v);
        }
        out
    }
    fn sum_all(&self, x: &Vec<T>) -> Vec<T> {
        vec![x.iter().fold(T::zero(), |s, v| s + *v)]
    }

    fn softmax_rows(&self, x: &Vec<T>, cols: usize) -> Vec<T> {
        let mut out = x.clone();
        for r in out.chunks_exact_mut(cols) {
            softmax_in_place(r);
        }
        out
    }
    fn softmax_rows_grad(&self, y: &Vec<T>, dy: &Vec<T>, cols: usize) -> Vec<T> {
        let mut out = vec![T::zero(); y.len()];
        for ((o, y), dy) in out.chunks_exact_mut(cols).zip(y.chunks_exact(cols)).zip(dy.chunks_exact(cols)) {
            let dot = y.iter().zip(dy).fold(T::zero(), |s, (y, d)| s + *y * *d);
            for j in 0..cols {
                o[j] = y[j] * (dy[j] - dot);
            }
        }
        out
    }

    fn concat_cols(&self, parts: &[(&Vec<T>, usize)], rows: usize) -> Vec<T> {
        let total: usize = parts.iter().map(|p| p.1).sum();
        let mut out = Vec::with_capacity(rows * total);
        for r in 0..rows {
            for (buf, w) in parts {
                out.extend_from_slice(&buf[r * w..(r + 1) * w]);
            }
        }
        out
    }
    fn slice_cols(&self, x: &Vec<T>, cols: usize, start: usize, width: usize) -> Vec<T> {
        x.chunks_exact(cols).flat_map(|r| r[start..start + width].iter().copied()).collect()
    }

    fn loss(&self, kind: LossKernel, pred: &Vec<T>, target: &Vec<T>, cols: usize) -> (f64, Vec<T>) {
        loss::loss(kind, pred, target, cols)
    }

    fn conv2d(&self, x: &Vec<T>, w: &Vec<T>, bias: Option<&Vec<T>>, g: Conv2d) -> Vec<T> {
        convolve(x, w, bias.map(|b| b.as_slice()), g, self.path, Family::Conv)
    }
    fn conv2d_grad_input(&self, dy: &Vec<T>, w: &Vec<T>, g: Conv2d) -> Vec<T> {
        // The route depends on the shape alone (conv::conv2d_grad_input defines it):
        // with stride 1, dy convolved with the flipped, transposed weight.
        if let Some(back) = conv::backward_geometry(&g) {
            return convolve(dy, &conv::flipped_transposed(w, &g), None, back, self.path, Family::ConvInputGrad);
        }
        note(Family::ConvInputGrad, Kernel::Unrolled);
        conv::conv2d_grad_input(dy, w, g)
    }
    fn conv2d_grad_weight(&self, x: &Vec<T>, dy: &Vec<T>, g: Conv2d) -> Vec<T> {
        if let Some((dw, _)) = T::direct_conv2d_grad_weight(x, dy, g, false, self.path) {
            note(Family::ConvWeightGrad, lanes::Isa::of(self.path).kernel());
            return dw;
        }
        note(Family::ConvWeightGrad, Kernel::Unrolled);
        conv::conv2d_grad_weight(x, dy, g)
    }
    /// The direct kernel sums each image's dy planes while it turns them pixel-major,
    /// instead of a second pass over dy (`sum_channels`: 0.12 ms per mnist_cnn step for
    /// each convolution); the same bits.
    fn conv2d_grad_weight_and_bias(&self, x: &Vec<T>, dy: &Vec<T>, g: Conv2d) -> (Vec<T>, Vec<T>) {
        if let Some((dw, Some(db))) = T::direct_conv2d_grad_weight(x, dy, g, true, self.path) {
            note(Family::ConvWeightGrad, lanes::Isa::of(self.path).kernel());
            return (dw, db);
        }
        let ch = Channels { batch: g.batch, c: g.c_out, spatial: g.oh() * g.ow() };
        (self.conv2d_grad_weight(x, dy, g), self.sum_channels(dy, ch))
    }
    fn max_pool2d(&self, x: &Vec<T>, g: Pool2d) -> Vec<T> {
        max_pool(x, g, false, self.path)
    }
    fn max_pool2d_grad(&self, x: &Vec<T>, dy: &Vec<T>, g: Pool2d) -> Vec<T> {
        max_pool_grad(x, dy, g, false, self.path)
    }
    fn max_pool2d_relu(&self, x: &Vec<T>, g: Pool2d) -> Vec<T> {
        max_pool(x, g, true, self.path)
    }
    /// The winners and their signs are recomputed from x, in the same pass; y is not read.
    fn max_pool2d_relu_grad(&self, x: &Vec<T>, _y: &Vec<T>, dy: &Vec<T>, g: Pool2d) -> Vec<T> {
        max_pool_grad(x, dy, g, true, self.path)
    }
    fn avg_pool2d(&self, x: &Vec<T>, g: Pool2d) -> Vec<T> {
        conv::avg_pool2d(x, g)
    }
    fn avg_pool2d_grad(&self, dy: &Vec<T>, g: Pool2d) -> Vec<T> {
        conv::avg_pool2d_grad(dy, g)
    }
    fn add_channels(&self, x: &Vec<T>, v: &Vec<T>, g: Channels) -> Vec<T> {
        channels::map_channels(x, v, g, |a, b| a + b)
    }
    fn scale_channels(&self, x: &Vec<T>, v: &Vec<T>, g: Channels) -> Vec<T> {
        channels::map_channels(x, v, g, |a, b| a * b)
    }
    fn sum_channels(&self, x: &Vec<T>, g: Channels) -> Vec<T> {
        channels::sum_channels(x, g)
    }
    fn batch_norm(
        &self,
        x: &Vec<T>,
        gamma: &Vec<T>,
        beta: &Vec<T>,
        g: Channels,
        eps: f64,
    ) -> (Vec<T>, Vec<T>, Vec<T>, Vec<T>) {
        channels::batch_norm(x, gamma, beta, g, eps)
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
        channels::batch_norm_grad(x, mean, inv_std, gamma, dy, g)
    }
    fn adam_update(&self, param: &mut Vec<T>, grad: &Vec<T>, m: &mut Vec<T>, v: &mut Vec<T>, step: AdamStep) {
        optim::adam(param, grad, m, v, step)
    }
    fn rmsprop_update(
        &self,
        param: &mut Vec<T>,
        grad: &Vec<T>,
        square_avg: &mut Vec<T>,
        momentum: Option<&mut Vec<T>>,
        step: RmsPropStep,
    ) {
        optim::rmsprop(param, grad, square_avg, momentum.map(|m| m.as_mut_slice()), step)
    }

    fn sgd_update(&self, param: &mut Vec<T>, grad: &Vec<T>, velocity: Option<&mut Vec<T>>, s: SgdStep) {
        let lr = T::from_f64(s.lr);
        let wd = T::from_f64(s.weight_decay);
        let mu = T::from_f64(s.momentum);
        match velocity {
            None => param.iter_mut().zip(grad).for_each(|(p, g)| *p = *p - lr * (*g + wd * *p)),
            Some(v) => {
                for ((p, g), v) in param.iter_mut().zip(grad).zip(v.iter_mut()) {
                    let g = *g + wd * *p;
                    *v = mu * *v + g;
                    let d = if s.nesterov { g + mu * *v } else { *v };
                    *p = *p - lr * d;
                }
            }
        }
    }
}

/// The max-pool (then ReLU where `relu`) by the 2×2 kernel where the path has it.
fn max_pool<T: CpuKernels>(x: &[T], g: Pool2d, relu: bool, path: CpuPath) -> Vec<T> {
    if let Some(y) = T::fast_max_pool2d(x, g, relu, path) {
        note(Family::Pool2x2, Kernel::of(path));
        return y;
    }
    note_portable_pool(g);
    conv::max_pool2d(x, g, relu)
}

/// dx of `max_pool` for dy.
fn max_pool_grad<T: CpuKernels>(x: &[T], dy: &[T], g: Pool2d, relu: bool, path: CpuPath) -> Vec<T> {
    if let Some(dx) = T::fast_max_pool2d_grad(x, dy, g, relu, path) {
        note(Family::Pool2x2, Kernel::of(path));
        return dx;
    }
    note_portable_pool(g);
    conv::max_pool2d_grad(x, dy, g, relu)
}

/// A max-pool that the 2×2 kernel could have taken, had the path allowed, counts as the
/// 2×2 family's portable run; other windows are not that family.
fn note_portable_pool(g: Pool2d) {
    if pool2x2::fits(&g) {
        note(Family::Pool2x2, Kernel::Portable);
    }
}

/// A convolution by the direct kernel where the shape suits it, else im2col and the
/// GEMM: the same bits either way (conv.rs), so the choice is speed alone.
fn convolve<T: CpuKernels>(x: &[T], w: &[T], bias: Option<&[T]>, g: Conv2d, path: CpuPath, family: Family) -> Vec<T> {
    if let Some(y) = T::direct_conv2d(x, w, bias, g, path) {
        note(family, lanes::Isa::of(path).kernel());
        return y;
    }
    note(family, Kernel::Unrolled);
    conv::conv2d(x, w, bias, g)
}

/// C (+)= op(A)·op(B) on the calling thread, for kernels that parallelise at a coarser
/// grain (over images). With `accumulate`, continues each chain from what C holds
/// (gemm.rs).
pub(crate) fn gemm_into<T: CpuKernels>(a: &[T], b: &[T], c: &mut [T], d: MatMul, accumulate: bool) {
    gemm_into_on(a, b, c, d, accumulate, path::current());
}

/// `gemm_into` on a given CPU path (the bits are the same on every path).
pub(crate) fn gemm_into_on<T: CpuKernels>(a: &[T], b: &[T], c: &mut [T], d: MatMul, accumulate: bool, path: CpuPath) {
    note(Family::Gemm, Kernel::of(path));
    gemm::gemm(a, b, c, d, accumulate, path);
}

/// Numerically stable softmax of one row: shift by the maximum first.
pub(crate) fn softmax_in_place<T: Element>(r: &mut [T]) {
    let max = r.iter().fold(T::neg_infinity(), |m, v| m.max(*v));
    r.iter_mut().for_each(|v| *v = *v - max);
    T::exp_in_place(r);
    let sum = r.iter().fold(T::zero(), |s, v| s + *v);
    r.iter_mut().for_each(|v| *v = *v / sum);
}

/// C = op(A)·op(B) by the textbook triple loop, summed in f64: what the fast paths are
/// tested against.
#[cfg(test)]
pub(crate) fn textbook_matmul<T: Element>(a: &[T], b: &[T], d: MatMul) -> Vec<f64> {
    let mut c = vec![0.0; d.m * d.n];
    for i in 0..d.m {
        for j in 0..d.n {
            for p in 0..d.k {
                let av = if d.trans_a { a[p * d.m + i] } else { a[i * d.k + p] };
                let bv = if d.trans_b { b[j * d.k + p] } else { b[p * d.n + j] };
                c[i * d.n + j] += av.as_f64() * bv.as_f64();
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_matmul_path_agrees_with_the_textbook_loop() {
        let sizes = [1, 2, 3, 4, 5, 7, 9, 17, 40];
        let be = CpuBackend::new();
        for &m in &sizes {
            for &k in &sizes {
                for &n in &[1, 2, 3, 4, 6, 8, 12, 33] {
                    for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
                        let d = MatMul { m, k, n, trans_a, trans_b };
                        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7 + 3) % 11) as f64 - 5.0).collect();
                        let b: Vec<f64> = (0..k * n).map(|i| ((i * 5 + 1) % 13) as f64 - 6.0).collect();
                        let got = be.matmul(&a, &b, d);
                        assert_eq!(got, textbook_matmul(&a, &b, d), "{d:?}");
                    }
                }
            }
        }
    }
}
