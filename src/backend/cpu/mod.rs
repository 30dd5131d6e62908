//! The CPU backend: contiguous row-major `Vec<T>` buffers, matrixmultiply's GEMM split
//! over rows with rayon, and element-wise loops written to vectorise. Every output
//! element is computed by exactly one thread in a fixed order, so results are the
//! same bytes whatever the thread count.

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
pub(crate) mod pool2x2;
pub(crate) mod weight_grad;

use super::{AdamStep, Backend, Channels, Conv2d, Element, LossKernel, Map, MatMul, Pool2d, RmsPropStep, SgdStep, Zip};
use path::{note, CpuPath, Family, Kernel};
use rayon::prelude::*;

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
        let mut c = vec![T::zero(); d.m * d.n];
        if d.m == 0 || d.n == 0 {
            return c;
        }
        let work = d.m * d.k * d.n;
        if work < SMALL_GEMM_WORK || d.k.min(d.n) < 8 {
            small_gemm(a, b, d, &mut c, self.path);
            return c;
        }
        note(Family::Gemm, Kernel::Portable);
        let threads = rayon::current_num_threads();
        if work < PARALLEL_GEMM_WORK || threads == 1 || d.m < 16 {
            gemm::gemm(a, b, &mut c, d, false, self.path);
            return c;
        }
        // Each block of rows of C is computed by one thread; the contract (gemm.rs) makes
        // a row's value independent of how the rows were split.
        let rows_per = d.m.div_ceil(threads * 4).max(8);
        c.par_chunks_mut(rows_per * d.n).enumerate().for_each(|(i, block)| {
            let r0 = i * rows_per;
            let rows = block.len() / d.n;
            // Rows r0..r0+rows of op(A): a contiguous slice when A is stored m×k; a
            // column band of the stored k×m A otherwise, copied out.
            let part: std::borrow::Cow<[T]> = if d.trans_a {
                a.chunks_exact(d.m).flat_map(|row| row[r0..r0 + rows].iter().copied()).collect::<Vec<T>>().into()
            } else {
                (&a[r0 * d.k..(r0 + rows) * d.k]).into()
            };
            gemm::gemm(&part, b, block, MatMul { m: rows, ..d }, false, self.path);
        });
        c
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
        if let Some(dw) = T::direct_conv2d_grad_weight(x, dy, g, self.path) {
            note(Family::ConvWeightGrad, lanes::Isa::of(self.path).kernel());
            return dw;
        }
        note(Family::ConvWeightGrad, Kernel::Unrolled);
        conv::conv2d_grad_weight(x, dy, g)
    }
    fn max_pool2d(&self, x: &Vec<T>, g: Pool2d) -> Vec<T> {
        if let Some(y) = T::fast_max_pool2d(x, g, self.path) {
            note(Family::Pool2x2, Kernel::Avx512);
            return y;
        }
        note_portable_pool(g);
        conv::max_pool2d(x, g)
    }
    fn max_pool2d_grad(&self, x: &Vec<T>, dy: &Vec<T>, g: Pool2d) -> Vec<T> {
        if let Some(dx) = T::fast_max_pool2d_grad(x, dy, g, self.path) {
            note(Family::Pool2x2, Kernel::Avx512);
            return dx;
        }
        note_portable_pool(g);
        conv::max_pool2d_grad(x, dy, g)
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

/// C = op(A)·op(B) by direct loops, for the small and thin products where GEMM's
/// packing costs more than the arithmetic (the course's 3→4→1 networks). Operands are
/// first laid out so the inner loop runs over contiguous memory: dot products of rows
/// when the shared dimension is the long one, row updates (axpy) otherwise. Short
/// inner loops get a fixed-length version the compiler unrolls completely.
fn small_gemm<T: CpuKernels>(a: &[T], b: &[T], d: MatMul, c: &mut [T], path: CpuPath) {
    if T::narrow_matmul(a, b, d, c, path) {
        note(Family::DenseSmallGemm, Kernel::Avx512);
        return;
    }
    note(Family::DenseSmallGemm, Kernel::Portable);
    let (m, k, n) = (d.m, d.k, d.n);
    if d.trans_a && !d.trans_b && m <= 4 && n <= 4 {
        // Aᵀ·B with both stored k-major (a weight gradient, dYᵀ·X): C = Σₚ A row p ⊗ B row p,
        // read straight from memory, the whole of C held in registers.
        macro_rules! dispatch {
            ($($mm:literal $nn:literal),*) => {
                match (m, n) {
                    $(($mm, $nn) => outer_products::<T, $mm, $nn>(a, b, c),)*
                    _ => unreachable!("m and n are at most 4"),
                }
            };
        }
        dispatch!(1 1, 1 2, 1 3, 1 4, 2 1, 2 2, 2 3, 2 4, 3 1, 3 2, 3 3, 3 4, 4 1, 4 2, 4 3, 4 4);
        return;
    }
    // op(A) as m×k row-major.
    let a_rows: std::borrow::Cow<[T]> = if d.trans_a { transposed(a, k, m).into() } else { a.into() };
    if k >= n {
        // op(B)ᵀ as n×k row-major: C[i][j] = ⟨A row i, Bᵀ row j⟩.
        let bt: std::borrow::Cow<[T]> = if d.trans_b { b.into() } else { transposed(b, k, n).into() };
        match k {
            1 => dots::<T, 1>(&a_rows, &bt, n, c),
            2 => dots::<T, 2>(&a_rows, &bt, n, c),
            3 => dots::<T, 3>(&a_rows, &bt, n, c),
            4 => dots::<T, 4>(&a_rows, &bt, n, c),
            _ => {
                for (ar, crow) in a_rows.chunks_exact(k).zip(c.chunks_exact_mut(n)) {
                    for (cv, br) in crow.iter_mut().zip(bt.chunks_exact(k)) {
                        *cv = dot(ar, br);
                    }
                }
            }
        }
    } else {
        // op(B) as k×n row-major: C row i = Σₚ A[i][p] · B row p.
        let br: std::borrow::Cow<[T]> = if d.trans_b { transposed(b, n, k).into() } else { b.into() };
        match n {
            2 => axpys::<T, 2>(&a_rows, &br, k, n, c),
            3 => axpys::<T, 3>(&a_rows, &br, k, n, c),
            4 => axpys::<T, 4>(&a_rows, &br, k, n, c),
            5..=8 => axpys::<T, 8>(&a_rows, &padded_rows(&br, k, n, 8), k, n, c),
            _ => {
                for (ar, crow) in a_rows.chunks_exact(k).zip(c.chunks_exact_mut(n)) {
                    for (av, brow) in ar.iter().zip(br.chunks_exact(n)) {
                        for (cv, bv) in crow.iter_mut().zip(brow) {
                            *cv = *cv + *av * *bv;
                        }
                    }
                }
            }
        }
    }
}

/// C (M×N) = Σₚ A row p (M long) ⊗ B row p (N long).
fn outer_products<T: Element, const M: usize, const N: usize>(a: &[T], b: &[T], c: &mut [T]) {
    let mut acc = [[T::zero(); N]; M];
    for (ar, br) in a.chunks_exact(M).zip(b.chunks_exact(N)) {
        let ar: &[T; M] = ar.try_into().expect("M-long rows");
        let br: &[T; N] = br.try_into().expect("N-long rows");
        for i in 0..M {
            for j in 0..N {
                acc[i][j] = acc[i][j] + ar[i] * br[j];
            }
        }
    }
    for (crow, row) in c.chunks_exact_mut(N).zip(&acc) {
        crow.copy_from_slice(row);
    }
}

/// x (rows×cols, row-major) transposed to cols×rows.
fn transposed<T: Element>(x: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut t = vec![T::zero(); x.len()];
    for (r, row) in x.chunks_exact(cols).enumerate() {
        for (col, v) in row.iter().enumerate() {
            t[col * rows + r] = *v;
        }
    }
    t
}

/// C[i][j] = ⟨A row i, B row j⟩ for rows of a fixed length K.
fn dots<T: Element, const K: usize>(a: &[T], b: &[T], n: usize, c: &mut [T]) {
    let b_rows: Vec<&[T; K]> = b.chunks_exact(K).map(|r| r.try_into().expect("K-long rows")).collect();
    for (ar, crow) in a.chunks_exact(K).zip(c.chunks_exact_mut(n)) {
        let ar: &[T; K] = ar.try_into().expect("K-long rows");
        for (cv, br) in crow.iter_mut().zip(&b_rows) {
            let mut s = T::zero();
            for p in 0..K {
                s = s + ar[p] * br[p];
            }
            *cv = s;
        }
    }
}

/// C row i = Σₚ A[i][p] · B row p, with B's rows (and the accumulator) N long and
/// the first n ≤ N columns written to C.
fn axpys<T: Element, const N: usize>(a: &[T], b: &[T], k: usize, n: usize, c: &mut [T]) {
    let b_rows: Vec<[T; N]> = b.chunks_exact(N).map(|r| r.try_into().expect("N-long rows")).collect();
    for (ar, crow) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)) {
        let mut acc = [T::zero(); N];
        for (av, brow) in ar.iter().zip(&b_rows) {
            for j in 0..N {
                acc[j] = acc[j] + *av * brow[j];
            }
        }
        // An element loop, not copy_from_slice: for a few values a memcpy call costs more.
        for (cv, av) in crow.iter_mut().zip(&acc) {
            *cv = *av;
        }
    }
}

/// Rows of width n copied into rows of width `pad`, zero-filled.
fn padded_rows<T: Element>(b: &[T], k: usize, n: usize, pad: usize) -> Vec<T> {
    let mut out = vec![T::zero(); k * pad];
    for (src, dst) in b.chunks_exact(n).zip(out.chunks_exact_mut(pad)) {
        dst[..n].copy_from_slice(src);
    }
    out
}

/// A dot product with eight independent partial sums, so it vectorises; the lanes
/// are combined in a fixed order, so the result never depends on threads.
fn dot<T: Element>(x: &[T], y: &[T]) -> T {
    const LANES: usize = 8;
    let mut acc = [T::zero(); LANES];
    let xc = x.chunks_exact(LANES);
    let yc = y.chunks_exact(LANES);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for l in 0..LANES {
            acc[l] = acc[l] + xs[l] * ys[l];
        }
    }
    let mut tail = T::zero();
    for (a, b) in xr.iter().zip(yr) {
        tail = tail + *a * *b;
    }
    acc.iter().fold(T::zero(), |s, v| s + *v) + tail
}

/// C (+)= op(A)·op(B) on the calling thread, for kernels that parallelise at a coarser
/// grain (over images). With `accumulate`, continues each chain from what C holds
/// (gemm.rs).
pub(crate) fn gemm_into<T: CpuKernels>(a: &[T], b: &[T], c: &mut [T], d: MatMul, accumulate: bool) {
    note(Family::Gemm, Kernel::Portable);
    gemm::gemm(a, b, c, d, accumulate, path::current());
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
