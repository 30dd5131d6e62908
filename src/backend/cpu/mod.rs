//! The CPU backend: contiguous row-major `Vec<T>` buffers, matrixmultiply's GEMM split
//! over rows with rayon, and element-wise loops written to vectorise. Every output
//! element is computed by exactly one thread in a fixed order, so results are the
//! same bytes whatever the thread count.

mod elementwise;
mod loss;

use super::{Backend, Element, LossKernel, Map, MatMul, SgdStep, Zip};
use rayon::prelude::*;

/// Below this many multiply-adds a GEMM runs on the calling thread: splitting costs more.
const PARALLEL_GEMM_WORK: usize = 1 << 18;
/// Below this many multiply-adds, or with a thin side, plain loops beat packing panels.
const SMALL_GEMM_WORK: usize = 1 << 14;
/// Element-wise work is split into chunks of this size once a buffer exceeds it.
pub(crate) const CHUNK: usize = 1 << 15;

#[derive(Clone, Debug, Default)]
pub struct CpuBackend;

impl CpuBackend {
    pub fn new() -> Self {
        CpuBackend
    }
}

impl<T: Element> Backend<T> for CpuBackend {
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
        // Row and column strides of op(A) and op(B) in their stored layouts.
        let (rsa, csa) = if d.trans_a {
            (1, d.m as isize)
        } else {
            (d.k as isize, 1)
        };
        let (rsb, csb) = if d.trans_b {
            (1, d.k as isize)
        } else {
            (d.n as isize, 1)
        };
        let work = d.m * d.k * d.n;
        if work < SMALL_GEMM_WORK || d.k.min(d.n) < 8 {
            small_gemm(a, b, d, &mut c);
            return c;
        }
        let threads = rayon::current_num_threads();
        if work < PARALLEL_GEMM_WORK || threads == 1 || d.m < 16 {
            // SAFETY: lengths were checked above; the strides describe those buffers.
            unsafe {
                T::gemm(
                    d.m,
                    d.k,
                    d.n,
                    a.as_ptr(),
                    rsa,
                    csa,
                    b.as_ptr(),
                    rsb,
                    csb,
                    c.as_mut_ptr(),
                    d.n as isize,
                    1,
                );
            }
            return c;
        }
        // Each block of rows of C is computed by one thread from the same packed panels
        // of B, so a row's value does not depend on how the rows were split.
        let rows_per = d.m.div_ceil(threads * 4).max(8);
        c.par_chunks_mut(rows_per * d.n)
            .enumerate()
            .for_each(|(i, block)| {
                let r0 = i * rows_per;
                let rows = block.len() / d.n;
                let a_off = r0 as isize * rsa;
                // SAFETY: rows r0..r0+rows of op(A) lie inside A; `block` is exactly those rows of C.
                unsafe {
                    T::gemm(
                        rows,
                        d.k,
                        d.n,
                        a.as_ptr().offset(a_off),
                        rsa,
                        csa,
                        b.as_ptr(),
                        rsb,
                        csb,
                        block.as_mut_ptr(),
                        d.n as isize,
                        1,
                    );
                }
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
        for ((o, y), dy) in out
            .chunks_exact_mut(cols)
            .zip(y.chunks_exact(cols))
            .zip(dy.chunks_exact(cols))
        {
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
        x.chunks_exact(cols)
            .flat_map(|r| r[start..start + width].iter().copied())
            .collect()
    }

    fn loss(&self, kind: LossKernel, pred: &Vec<T>, target: &Vec<T>, cols: usize) -> (f64, Vec<T>) {
        loss::loss(kind, pred, target, cols)
    }

    fn sgd_update(
        &self,
        param: &mut Vec<T>,
        grad: &Vec<T>,
        velocity: Option<&mut Vec<T>>,
        s: SgdStep,
    ) {
        let lr = T::from_f64(s.lr);
        let wd = T::from_f64(s.weight_decay);
        let mu = T::from_f64(s.momentum);
        match velocity {
            None => param
                .iter_mut()
                .zip(grad)
                .for_each(|(p, g)| *p = *p - lr * (*g + wd * *p)),
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

/// C = op(A)·op(B) by direct loops, for the small and thin products where GEMM's
/// packing costs more than the arithmetic (the course's 3→4→1 networks). Operands are
/// first laid out so the inner loop runs over contiguous memory: dot products of rows
/// when the shared dimension is the long one, row updates (axpy) otherwise.
fn small_gemm<T: Element>(a: &[T], b: &[T], d: MatMul, c: &mut [T]) {
    let (m, k, n) = (d.m, d.k, d.n);
    let transposed = |x: &[T], rows: usize, cols: usize| -> Vec<T> {
        let mut t = vec![T::zero(); x.len()];
        for r in 0..rows {
            for (col, v) in x[r * cols..(r + 1) * cols].iter().enumerate() {
                t[col * rows + r] = *v;
            }
        }
        t
    };
    // op(A) as m×k row-major.
    let a_rows: std::borrow::Cow<[T]> = if d.trans_a {
        transposed(a, k, m).into()
    } else {
        a.into()
    };
    if k >= n {
        // op(B)ᵀ as n×k row-major: C[i][j] = ⟨A row i, Bᵀ row j⟩.
        let bt: std::borrow::Cow<[T]> = if d.trans_b {
            b.into()
        } else {
            transposed(b, k, n).into()
        };
        for i in 0..m {
            let ar = &a_rows[i * k..(i + 1) * k];
            for j in 0..n {
                c[i * n + j] = dot(ar, &bt[j * k..(j + 1) * k]);
            }
        }
    } else {
        // op(B) as k×n row-major: C row i = Σₚ A[i][p] · B row p.
        let br: std::borrow::Cow<[T]> = if d.trans_b {
            transposed(b, n, k).into()
        } else {
            b.into()
        };
        for i in 0..m {
            let crow = &mut c[i * n..(i + 1) * n];
            for p in 0..k {
                let av = a_rows[i * k + p];
                for (cv, bv) in crow.iter_mut().zip(&br[p * n..(p + 1) * n]) {
                    *cv = *cv + av * *bv;
                }
            }
        }
    }
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

/// Numerically stable softmax of one row: shift by the maximum first.
pub(crate) fn softmax_in_place<T: Element>(r: &mut [T]) {
    let max = r.iter().fold(T::neg_infinity(), |m, v| m.max(*v));
    r.iter_mut().for_each(|v| *v = *v - max);
    T::exp_in_place(r);
    let sum = r.iter().fold(T::zero(), |s, v| s + *v);
    r.iter_mut().for_each(|v| *v = *v / sum);
}
