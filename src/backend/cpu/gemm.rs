//! The one summation order of every matrix product on the CPU, whatever the CPU path.
//!
//! C[i][j] is one chain of fused multiply-adds over the shared dimension, in order:
//!
//! ```text
//! acc = if accumulate { C[i][j] } else { +0.0 }
//! for p in 0..k { acc = fma(op(A)[i][p], op(B)[p][j], acc) }   // one rounding per step
//! C[i][j] = acc
//! ```
//!
//! Nothing else is allowed to change a bit: a kernel may tile C any way it likes, put
//! any number of (i, j) in a vector's lanes, split rows between threads and block the
//! shared dimension (continuing each chain from the partial value it left in C), because
//! every (i, j) still sees the same operations in the same order. So the AVX-512, the
//! AVX2 + FMA and the portable kernels (which use `mul_add`, a correctly rounded fused
//! multiply-add everywhere) give the same bytes, and so do the convolutions built on
//! this contract (the direct kernels chain over the same (c_in, ky, kx) order that
//! im2col's rows have).
//!
//! This file holds the contract and its plain implementation, vectorised by the
//! compiler over j. Faster kernels must equal it bit for bit.

use super::path::CpuPath;
use crate::backend::{Element, MatMul};
use std::borrow::Cow;

/// C = op(A)·op(B) (or C += op(A)·op(B) continuing each chain, with `accumulate`) in the
/// contract's order. `path` only chooses how fast, never what. Panics if a buffer is
/// shorter than `d` says.
pub(crate) fn gemm<T: Element>(a: &[T], b: &[T], c: &mut [T], d: MatMul, accumulate: bool, path: CpuPath) {
    let _ = path;
    let MatMul { m, k, n, trans_a, trans_b } = d;
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "gemm: short buffer");
    let c = &mut c[..m * n];
    if !accumulate {
        c.fill(T::zero());
    }
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // op(B) as k×n row-major, so the inner loop runs along a row of B and a row of C.
    let b_rows: Cow<[T]> = if trans_b {
        let mut t = vec![T::zero(); k * n];
        for (j, col) in b[..n * k].chunks_exact(k).enumerate() {
            for (p, v) in col.iter().enumerate() {
                t[p * n + j] = *v;
            }
        }
        t.into()
    } else {
        (&b[..k * n]).into()
    };
    for (i, crow) in c.chunks_exact_mut(n).enumerate() {
        for (p, brow) in b_rows.chunks_exact(n).enumerate() {
            let av = if trans_a { a[p * m + i] } else { a[i * k + p] };
            for (cv, bv) in crow.iter_mut().zip(brow) {
                *cv = av.mul_add(*bv, *cv);
            }
        }
    }
}

/// The contract itself, one (i, j) at a time: what every kernel is tested against.
#[cfg(test)]
pub(crate) fn reference<T: Element>(a: &[T], b: &[T], c0: Option<&[T]>, d: MatMul) -> Vec<T> {
    let mut c = c0.map(<[T]>::to_vec).unwrap_or_else(|| vec![T::zero(); d.m * d.n]);
    for i in 0..d.m {
        for j in 0..d.n {
            let mut acc = c[i * d.n + j];
            for p in 0..d.k {
                let av = if d.trans_a { a[p * d.m + i] } else { a[i * d.k + p] };
                let bv = if d.trans_b { b[j * d.k + p] } else { b[p * d.n + j] };
                acc = av.mul_add(bv, acc);
            }
            c[i * d.n + j] = acc;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn the_plain_kernel_is_the_contract_bit_for_bit() {
        for &(m, k, n) in &[(1, 1, 1), (3, 5, 7), (17, 33, 9), (40, 300, 21)] {
            for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
                let d = MatMul { m, k, n, trans_a, trans_b };
                let (a, b, c0) = (values(m * k, 1), values(k * n, 2), values(m * n, 3));
                let mut c = vec![f32::NAN; m * n];
                gemm(&a, &b, &mut c, d, false, CpuPath::Portable);
                assert_eq!(c, reference(&a, &b, None, d), "{d:?}");
                let mut c = c0.clone();
                gemm(&a, &b, &mut c, d, true, CpuPath::Portable);
                assert_eq!(c, reference(&a, &b, Some(&c0), d), "{d:?} accumulating");
            }
        }
    }
}
