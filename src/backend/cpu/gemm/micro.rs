//! The register-blocked microkernels: an MR×NR tile of C from an MR-row panel of op(A)
//! and an NR-column panel of op(B) (pack.rs), kc steps of the contract's chain. Each
//! lane of each accumulator is one (i, j): per step it takes one fused multiply-add,
//! fma(A[i][p], B[p][j], acc), whatever the vector width, so every kernel here gives
//! the bits of `gemm::reference`. Each comes in two forms that differ only in where A's
//! values are read: from a packed panel, or in place from MR rows of a row-major op(A)
//! (`lda` apart), for products whose A is used by too few B panels to repay its packing.

use crate::backend::Element;

/// One microkernel: `run(kc, a, b, c, ldc, load)` continues (with `load`) or starts at
/// +0.0 the chains of the MR×NR tile at `c` (rows `ldc` apart) over kc packed steps.
pub type MicroFn<T> = unsafe fn(usize, *const T, *const T, *mut T, usize, bool);

/// The same microkernel reading A in place: `run_rows(kc, a, lda, b, c, ldc, load)`, with
/// A[i][p] at `a + i·lda + p` for the tile's MR rows.
pub type MicroRowsFn<T> = unsafe fn(usize, *const T, usize, *const T, *mut T, usize, bool);

/// A microkernel and the block sizes that suit it.
#[derive(Clone, Copy)]
pub struct Micro<T> {
    pub name: &'static str,
    pub mr: usize,
    pub nr: usize,
    /// Shared-dimension block: an MR×KC and a KC×NR panel stay in L1.
    pub kc: usize,
    /// Rows of op(A) a task takes (packed, or read in place): an MC×KC block stays in L2.
    pub mc: usize,
    /// Columns of op(B) packed at a time.
    pub nc: usize,
    pub run: MicroFn<T>,
    pub run_rows: MicroRowsFn<T>,
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
    let a = unsafe { std::slice::from_raw_parts(a, kc * MR) };
    unsafe { portable_tile::<T, MR, NR>(kc, |p, i| a[p * MR + i], b, c, ldc, load) }
}

/// `portable` with A read in place: A[i][p] at `a + i·lda + p`.
///
/// # Safety
/// Each of the MR rows from `a`, `lda` apart, holds kc values; `b` and `c` as for
/// `portable`.
pub(crate) unsafe fn portable_rows<T: Element, const MR: usize, const NR: usize>(
    kc: usize,
    a: *const T,
    lda: usize,
    b: *const T,
    c: *mut T,
    ldc: usize,
    load: bool,
) {
    // SAFETY: row i's kc values start at a + i·lda (the caller's contract).
    let rows: [&[T]; MR] = std::array::from_fn(|i| unsafe { std::slice::from_raw_parts(a.add(i * lda), kc) });
    unsafe { portable_tile::<T, MR, NR>(kc, |p, i| rows[i][p], b, c, ldc, load) }
}

/// The portable tile loop with A's value for (step p, row i) from `a_at`.
///
/// # Safety
/// `b` holds kc·NR values, and `c` MR rows of NR values `ldc` apart.
#[inline(always)]
unsafe fn portable_tile<T: Element, const MR: usize, const NR: usize>(
    kc: usize,
    a_at: impl Fn(usize, usize) -> T,
    b: *const T,
    c: *mut T,
    ldc: usize,
    load: bool,
) {
    // SAFETY: the caller's contract covers exactly these reads and writes.
    let b = unsafe { std::slice::from_raw_parts(b, kc * NR) };
    let mut acc = [[T::zero(); NR]; MR];
    if load {
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: row i of the tile, NR values.
            row.copy_from_slice(unsafe { std::slice::from_raw_parts(c.add(i * ldc), NR) });
        }
    }
    for (p, bp) in b.chunks_exact(NR).enumerate() {
        for (i, row) in acc.iter_mut().enumerate() {
            let av = a_at(p, i);
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
/// loaded, MR·NV fused multiply-adds per step, all accumulators in registers; `$name`
/// reads A packed, `$rows` in place.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_micro {
    ($name:ident, $rows:ident, $feature:literal, $t:ty, $lanes:literal, $mr:literal, $nv:literal,
     $zero:ident, $load:ident, $store:ident, $set1:ident, $fma:ident) => {
        /// # Safety
        /// The CPU has the enabled features; `a` holds kc·MR values, `b` kc·NR, and `c`
        /// MR rows of NR values `ldc` apart.
        #[target_feature(enable = $feature)]
        pub(crate) unsafe fn $name(kc: usize, a: *const $t, b: *const $t, c: *mut $t, ldc: usize, load: bool) {
            x86_micro!(@tile kc, a, 1, $mr, b, c, ldc, load, $lanes, $mr, $nv, $zero, $load, $store, $set1, $fma)
        }

        /// # Safety
        /// As for the packed form, but A's MR rows of kc values start `lda` apart at `a`.
        #[target_feature(enable = $feature)]
        pub(crate) unsafe fn $rows(
            kc: usize,
            a: *const $t,
            lda: usize,
            b: *const $t,
            c: *mut $t,
            ldc: usize,
            load: bool,
        ) {
            x86_micro!(@tile kc, a, lda, 1, b, c, ldc, load, $lanes, $mr, $nv, $zero, $load, $store, $set1, $fma)
        }
    };
    // A[i][p] at a + i·$row + p·$step.
    (@tile $kc:ident, $a:ident, $row:expr, $step:expr, $b:ident, $c:ident, $ldc:ident, $loadc:ident,
     $lanes:literal, $mr:literal, $nv:literal, $zero:ident, $load:ident, $store:ident, $set1:ident, $fma:ident) => {
        // SAFETY: every pointer stays inside the ranges of the contract above.
        unsafe {
            let mut acc = [[$zero(); $nv]; $mr];
            if $loadc {
                for i in 0..$mr {
                    for v in 0..$nv {
                        acc[i][v] = $load($c.add(i * $ldc + v * $lanes));
                    }
                }
            }
            let (mut a, mut b) = ($a, $b);
            for _ in 0..$kc {
                let mut bv = [$zero(); $nv];
                for v in 0..$nv {
                    bv[v] = $load(b.add(v * $lanes));
                }
                for i in 0..$mr {
                    let av = $set1(*a.add(i * $row));
                    for v in 0..$nv {
                        acc[i][v] = $fma(av, bv[v], acc[i][v]);
                    }
                }
                a = a.add($step);
                b = b.add($nv * $lanes);
            }
            for i in 0..$mr {
                for v in 0..$nv {
                    $store($c.add(i * $ldc + v * $lanes), acc[i][v]);
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
        avx512_f32_rows,
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
        avx512_f64_rows,
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
        avx2_f32_rows,
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
        avx2_f64_rows,
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
