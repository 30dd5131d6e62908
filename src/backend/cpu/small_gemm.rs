//! Small and thin matrix products (the course's 3 → 4 → 1 networks on 500 rows), where
//! packing panels costs more than the arithmetic. Every kernel here follows the GEMM
//! contract (gemm/mod.rs): each C[i][j] is one chain of fused multiply-adds over p in
//! increasing order from +0.0, so they all give `gemm::reference`'s bits, equal to each
//! other and to the packed GEMM, and the choice among them depends on shapes only. The
//! AVX-512 and AVX2 packed kernels of narrow_gemm/ follow the same contract, so the
//! avx512 and avx2 paths taking them change no bit.

use super::path::{note, CpuPath, Family, Kernel};
use super::{gemm, CpuKernels};
use crate::backend::{Element, MatMul};
use std::borrow::Cow;

/// C = op(A)·op(B) into `c` (m·n values, overwritten) for a small or thin product.
pub(super) fn small_gemm<T: CpuKernels>(a: &[T], b: &[T], d: MatMul, c: &mut [T], path: CpuPath) {
    if T::narrow_matmul(a, b, d, c, path) {
        // Taken only on the avx512 and avx2 paths where the CPU has their instructions.
        note(Family::DenseSmallGemm, Kernel::of(path));
        return;
    }
    let (m, k, n) = (d.m, d.k, d.n);
    if d.trans_a && !d.trans_b && m <= 4 && n <= 4 {
        note(Family::DenseSmallGemm, Kernel::Portable);
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
    if k >= n && k <= 4 {
        note(Family::DenseSmallGemm, Kernel::Portable);
        // C[i][j] = ⟨A row i, Bᵀ row j⟩ with op(A) m×k and op(B)ᵀ n×k row-major.
        let a_rows: Cow<[T]> = if d.trans_a { transposed(a, k, m).into() } else { a.into() };
        let bt: Cow<[T]> = if d.trans_b { b.into() } else { transposed(b, k, n).into() };
        match k {
            1 => dots::<T, 1>(&a_rows, &bt, n, c),
            2 => dots::<T, 2>(&a_rows, &bt, n, c),
            3 => dots::<T, 3>(&a_rows, &bt, n, c),
            _ => dots::<T, 4>(&a_rows, &bt, n, c),
        }
        return;
    }
    if k < n && n <= 8 {
        note(Family::DenseSmallGemm, Kernel::Portable);
        // C row i = Σₚ A[i][p] · B row p with op(A) m×k and op(B) k×n row-major.
        let a_rows: Cow<[T]> = if d.trans_a { transposed(a, k, m).into() } else { a.into() };
        let br: Cow<[T]> = if d.trans_b { transposed(b, n, k).into() } else { b.into() };
        match n {
            2 => axpys::<T, 2>(&a_rows, &br, k, n, c),
            3 => axpys::<T, 3>(&a_rows, &br, k, n, c),
            4 => axpys::<T, 4>(&a_rows, &br, k, n, c),
            _ => axpys::<T, 8>(&a_rows, &padded_rows(&br, k, n, 8), k, n, c),
        }
        return;
    }
    // Anything else (a long shared dimension, wide rows): the packed GEMM, whose
    // microkernels keep many chains in flight.
    note(Family::Gemm, Kernel::of(path));
    gemm::gemm(a, b, c, d, false, path);
}

/// Partial chains of the weight-gradient outer sums (see `outer_products`).
pub(crate) const OUTER_CHAINS: usize = 8;

/// C (M×N) = Σₚ A row p (M long) ⊗ B row p (N long), for M, N ≤ 4: the one exception to
/// the single chain (gemm/mod.rs), taken by shape alone, the same on every CPU path.
/// One chain of k fused multiply-adds per output is bound by the multiply-add's latency
/// (4 cycles × 500 rows for the diamond's weight gradients, 4× slower than the
/// vectorised sum it replaced). So each output is 8 chains, chain s over the rows
/// p ≡ s (mod 8) in increasing order from +0.0, combined as
/// ((d₀ + d₁) + d₂) + d₃ with d_s = chain s + chain s+4. Plain Rust on fixed arrays
/// (the 8 chains side by side, so the compiler vectorises them), the same code on every
/// path, so no CPU path can change a bit.
fn outer_products<T: Element, const M: usize, const N: usize>(a: &[T], b: &[T], c: &mut [T]) {
    const S: usize = OUTER_CHAINS;
    let k = a.len() / M;
    // acc[s][i][j]: chain s of C[i][j]; each block of 8 rows gives every chain one step,
    // read straight from the rows (transposing the block costs more than it saves).
    let mut acc = [[[T::zero(); N]; M]; S];
    let mut step = |a8: &[T], b8: &[T]| {
        for (s, acc) in acc.iter_mut().enumerate().take(a8.len() / M) {
            for (i, row) in acc.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = a8[s * M + i].mul_add(b8[s * N + j], *v);
                }
            }
        }
    };
    let full = k / S;
    for (a8, b8) in a.chunks_exact(S * M).zip(b.chunks_exact(S * N)).take(full) {
        step(a8, b8);
    }
    // The last rows: chains s ≥ k mod 8 have no step there.
    step(&a[full * S * M..k * M], &b[full * S * N..k * N]);
    let half = S / 2;
    for (i, crow) in c.chunks_exact_mut(N).enumerate() {
        for (j, cv) in crow.iter_mut().enumerate() {
            let d = |s: usize| acc[s][i][j] + acc[s + half][i][j];
            *cv = ((d(0) + d(1)) + d(2)) + d(3);
        }
    }
}

/// `outer_products`' order, one (i, j) at a time: what the tests hold it to.
#[cfg(test)]
pub(crate) fn outer_reference<T: Element>(a: &[T], b: &[T], d: MatMul) -> Vec<T> {
    let mut c = vec![T::zero(); d.m * d.n];
    for i in 0..d.m {
        for j in 0..d.n {
            let mut chains = [T::zero(); OUTER_CHAINS];
            for p in 0..d.k {
                let s = p % OUTER_CHAINS;
                chains[s] = a[p * d.m + i].mul_add(b[p * d.n + j], chains[s]);
            }
            let dd = |s: usize| chains[s] + chains[s + OUTER_CHAINS / 2];
            c[i * d.n + j] = ((dd(0) + dd(1)) + dd(2)) + dd(3);
        }
    }
    c
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

/// C[i][j] = ⟨A row i, B row j⟩ for rows of a fixed length K, one chain per (i, j).
fn dots<T: Element, const K: usize>(a: &[T], b: &[T], n: usize, c: &mut [T]) {
    let b_rows: Vec<&[T; K]> = b.chunks_exact(K).map(|r| r.try_into().expect("K-long rows")).collect();
    for (ar, crow) in a.chunks_exact(K).zip(c.chunks_exact_mut(n)) {
        let ar: &[T; K] = ar.try_into().expect("K-long rows");
        for (cv, br) in crow.iter_mut().zip(&b_rows) {
            let mut s = T::zero();
            for p in 0..K {
                s = ar[p].mul_add(br[p], s);
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
                acc[j] = av.mul_add(brow[j], acc[j]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::parity::required;
    use crate::backend::cpu::CpuBackend;
    use crate::backend::Backend;

    /// Every branch (the packed rows on avx512 and avx2, outer products, fixed-length dots, axpys
    /// padded or not, the GEMM fallback) through the backend, against the contract.
    fn every_small_product_is_the_contract(path: CpuPath) {
        let be = CpuBackend::on(path).expect("checked by `required`");
        for m in [1, 3, 4, 7, 33, 500] {
            for k in [1, 2, 3, 4, 5, 13, 500] {
                for n in [1, 2, 3, 4, 6, 8, 9, 31] {
                    for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
                        let d = MatMul { m, k, n, trans_a, trans_b };
                        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 + 3) % 11) as f32 / 3.0 - 1.0).collect();
                        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 + 1) % 13) as f32 / 7.0 - 0.75).collect();
                        let mut c = vec![f32::NAN; m * n];
                        small_gemm(&a, &b, d, &mut c, path);
                        let want = if trans_a && !trans_b && m <= 4 && n <= 4 {
                            outer_reference(&a, &b, d)
                        } else {
                            gemm::reference(&a, &b, None, d)
                        };
                        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(&c), bits(&want), "{d:?} on {path}");
                        assert_eq!(bits(&be.matmul(&a, &b, d)), bits(&want), "{d:?} on {path} by matmul");
                    }
                }
            }
        }
    }

    #[test]
    fn portable() {
        every_small_product_is_the_contract(CpuPath::Portable);
    }

    #[test]
    #[cfg_attr(not(runner_avx2), ignore = "this CPU lacks AVX2+FMA: the avx2 path is skipped")]
    fn avx2() {
        every_small_product_is_the_contract(required(CpuPath::Avx2));
    }

    #[test]
    #[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
    fn avx512() {
        every_small_product_is_the_contract(required(CpuPath::Avx512));
    }
}
