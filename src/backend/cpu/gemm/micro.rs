//! The register-blocked microkernels: an MR×NR tile of C from an MR-row panel of op(A)
//! and an NR-column panel of op(B) (pack.rs), kc steps of the contract's chain. Each
//! lane of each accumulator is one (i, j): per step it takes one fused multiply-add,
//! fma(A[i][p], B[p][j], acc), whatever the vector width, so every kernel here gives
//! the bits of `gemm::reference`.

use crate::backend::Element;

/// One microkernel: `run(kc, a, b, c, ldc, load)` continues (with `load`) or starts at
/// +0.0 the chains of the MR×NR tile at `c` (rows `ldc` apart) over kc packed steps.
pub type MicroFn<T> = unsafe fn(usize, *const T, *const T, *mut T, usize, bool);

/// A microkernel and the block sizes that suit it.
#[derive(Clone, Copy)]
pub struct Micro<T> {
    pub name: &'static str,
    pub mr: usize,
    pub nr: usize,
    /// Shared-dimension block: an MR×KC and a KC×NR panel stay in L1.
    pub kc: usize,
    /// Rows of op(A) packed at a time: an MC×KC block stays in L2.
    pub mc: usize,
    /// Columns of op(B) packed at a time.
    pub nc: usize,
    pub run: MicroFn<T>,
}

/// The portable microkernel: fixed arrays and `mul_add` (a correctly rounded fused
/// multiply-add on every target), which the compiler vectorises across j.
///
/// # Safety
/// `a` holds kc·MR values, `b` kc·NR, and `c` MR rows of NR values `ldc` apart.
pub(crate) unsafe fn portable<T: Element, const MR: usize, const NR: usize>(
    kc: usize,
    a: *const T,
    b: *const T,
    c: *mut T,
    ldc: usize,
    load: bool,
) {
    // SAFETY: the caller's contract covers exactly these reads and writes.
    let (a, b) = unsafe { (std::slice::from_raw_parts(a, kc * MR), std::slice::from_raw_parts(b, kc * NR)) };
    let mut acc = [[T::zero(); NR]; MR];
    if load {
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: row i of the tile, NR values.
            row.copy_from_slice(unsafe { std::slice::from_raw_parts(c.add(i * ldc), NR) });
        }
    }
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        for (row, av) in acc.iter_mut().zip(ap) {
            for (v, bv) in row.iter_mut().zip(bp) {
                *v = av.mul_add(*bv, *v);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts_mut(c.add(i * ldc), NR) }.copy_from_slice(row);
    }
}

/// An x86 microkernel of MR rows × NV vectors: the A value broadcast, NV vectors of B
/// loaded, MR·NV fused multiply-adds per step, all accumulators in registers.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_micro {
    ($name:ident, $feature:literal, $t:ty, $lanes:literal, $mr:literal, $nv:literal,
     $zero:ident, $load:ident, $store:ident, $set1:ident, $fma:ident) => {
        /// # Safety
        /// The CPU has the enabled features; `a` holds kc·MR values, `b` kc·NR, and `c`
        /// MR rows of NR values `ldc` apart.
        #[target_feature(enable = $feature)]
        pub(crate) unsafe fn $name(kc: usize, a: *const $t, b: *const $t, c: *mut $t, ldc: usize, load: bool) {
            // SAFETY: every pointer stays inside the ranges of the contract above.
            unsafe {
                let mut acc = [[$zero(); $nv]; $mr];
                if load {
                    for i in 0..$mr {
                        for v in 0..$nv {
                            acc[i][v] = $load(c.add(i * ldc + v * $lanes));
                        }
                    }
                }
                let (mut a, mut b) = (a, b);
                for _ in 0..kc {
                    let mut bv = [$zero(); $nv];
                    for v in 0..$nv {
                        bv[v] = $load(b.add(v * $lanes));
                    }
                    for i in 0..$mr {
                        let av = $set1(*a.add(i));
                        for v in 0..$nv {
                            acc[i][v] = $fma(av, bv[v], acc[i][v]);
                        }
                    }
                    a = a.add($mr);
                    b = b.add($nv * $lanes);
                }
                for i in 0..$mr {
                    for v in 0..$nv {
                        $store(c.add(i * ldc + v * $lanes), acc[i][v]);
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    x86_micro!(
        avx512_f32,
        "avx512f",
        f32,
        16,
        14,
        2,
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps
    );
    x86_micro!(
        avx512_f64,
        "avx512f",
        f64,
        8,
        14,
        2,
        _mm512_setzero_pd,
        _mm512_loadu_pd,
        _mm512_storeu_pd,
        _mm512_set1_pd,
        _mm512_fmadd_pd
    );
    x86_micro!(
        avx2_f32,
        "avx2,fma",
        f32,
        8,
        6,
        2,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps
    );
    x86_micro!(
        avx2_f64,
        "avx2,fma",
        f64,
        4,
        6,
        2,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_set1_pd,
        _mm256_fmadd_pd
    );
}
