//! Small and thin matrix products (the course's 3 → 4 → 1 networks on 500 rows), where
//! packing panels costs more than the arithmetic. Every kernel here follows the GEMM
//! contract (gemm/mod.rs): each C[i][j] is one chain of fused multiply-adds over p in
//! increasing order from +0.0, so they all give `gemm::reference`'s bits, equal to each
//! other and to the packed GEMM, and the choice among them depends on shapes only. The
//! AVX-512 packed kernels of narrow_gemm.rs follow the same contract, so the avx512
//! path taking them changes no bit.

use super::path::{note, CpuPath, Family, Kernel};
use super::{gemm, CpuKernels};
use crate::backend::{Element, MatMul};
use std::borrow::Cow;

/// C = op(A)·op(B) into `c` (m·n values, overwritten) for a small or thin product.
pub(super) fn small_gemm<T: CpuKernels>(a: &[T], b: &[T], d: MatMul, c: &mut [T], path: CpuPath) {
    if T::narrow_matmul(a, b, d, c, path) {
        note(Family::DenseSmallGemm, Kernel::Avx512);
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

/// C (M×N) = Σₚ A row p (M long) ⊗ B row p (N long).
fn outer_products<T: Element, const M: usize, const N: usize>(a: &[T], b: &[T], c: &mut [T]) {
    let mut acc = [[T::zero(); N]; M];
    for (ar, br) in a.chunks_exact(M).zip(b.chunks_exact(N)) {
        let ar: &[T; M] = ar.try_into().expect("M-long rows");
        let br: &[T; N] = br.try_into().expect("N-long rows");
        for i in 0..M {
            for j in 0..N {
                acc[i][j] = ar[i].mul_add(br[j], acc[i][j]);
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

    /// Every branch (the packed rows on avx512, outer products, fixed-length dots, axpys
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
                        let want = gemm::reference(&a, &b, None, d);
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
