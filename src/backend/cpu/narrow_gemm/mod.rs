//! Matrix products of the course's tiny dense layers (3 → 4 → 1 on 500 rows) in f32,
//! with AVX-512 (avx512.rs, 16 lanes) or AVX2 + FMA (avx2.rs, 8 lanes). With only a
//! handful of columns a row-at-a-time loop leaves most of a vector idle, so
//! `rows_times_small` packs several rows into one vector: C = A·op(B) with A m×k
//! row-major and op(B) a small k×n. One vector holds R whole rows of C (R·n lanes); for
//! each p it gathers A[r][p] into the lanes of row r with one permute of the R·k values
//! of A those rows use, and multiplies by B's row p repeated R times. On AVX2, where
//! that scheme would fill only half a vector for n = 1 and k = 4 (the diamond's output
//! layer), `rows_dot4` transposes 8 rows of A with shuffles instead, one row per lane;
//! for k = 1 (an outer product, the diamond's da = g·W2) `outer_k1` spreads one load of
//! 8 rows over n vectors.
//!
//! Each lane is one output's chain of the GEMM contract (gemm/mod.rs): from +0.0, one
//! fused multiply-add per p in increasing order. So these kernels give the bits of the
//! portable loops in small_gemm.rs, and the paths taking them change no value.
//!
//! The weight gradients C = Aᵀ·B with A k×m and B k×n stored row-major, m, n ≤ 4
//! (Σₚ A row p ⊗ B row p), in small_gemm's `outer_products` order (8 chains per output,
//! p mod 8, combined in a fixed tree). On AVX2 (`chains_outer_sum`) the 8 lanes are the
//! 8 chains: each block of 8 rows is turned into columns in registers and C[i][j]'s
//! chains take one multiply-add of A's column i and B's column j. On AVX-512
//! (`small_outer_sum`, 16 lanes) one vector holds 4 rows of the wider side, and two
//! sets of vectors take alternate groups of 4 rows (so each lane is still one of the 8
//! chains); for each column j of the narrower side a permute repeats B[p][j] across
//! row p's lanes. In both, a short last block steps only the chains of the rows it has.
//!
//! This file makes the shape decisions both instruction sets share; each kernel file
//! holds only its loads, permutes and multiply-adds.

mod avx2;
mod avx512;

use super::path::CpuPath;
use super::small_gemm::OUTER_CHAINS;
use crate::backend::MatMul;

/// Computes C = op(A)·op(B) into `c` where a packed kernel fits the shape and the CPU
/// path is avx512 or avx2 with the CPU having its instructions (`CpuPath::avx512`,
/// `CpuPath::avx2`); returns false (leaving `c` alone) otherwise. Panics if a buffer's
/// length does not match `d`.
pub fn try_matmul(a: &[f32], b: &[f32], d: MatMul, c: &mut [f32], path: CpuPath) -> bool {
    // Checked, not trusted: the kernels below read and write by these sizes.
    assert_eq!(a.len(), d.m * d.k, "narrow matmul: A has the wrong length");
    assert_eq!(b.len(), d.k * d.n, "narrow matmul: B has the wrong length");
    assert_eq!(c.len(), d.m * d.n, "narrow matmul: C has the wrong length");
    #[cfg(target_arch = "x86_64")]
    {
        if path.avx512() {
            return try_avx512(a, b, d, c);
        }
        if path.avx2() {
            return try_avx2(a, b, d, c);
        }
        false
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (a, b, d, c, path);
        false
    }
}

/// `try_matmul` where the CPU has AVX-512F (the caller checked `CpuPath::avx512`) and
/// the lengths were asserted.
#[cfg(target_arch = "x86_64")]
fn try_avx512(a: &[f32], b: &[f32], d: MatMul, c: &mut [f32]) -> bool {
    const LANES: usize = super::avx512::LANES;
    if !d.trans_a && packs(d.k, d.n, LANES) {
        // SAFETY: the CPU has AVX-512F; the lengths were asserted by the caller and
        // rows_per_vector(k, n, 16) > 0 here.
        unsafe { avx512::rows_times_small(a, b, d, c) };
        return true;
    }
    if d.trans_a && !d.trans_b {
        if let Some(layout) = OuterLayout::choose(d.m, d.n, LANES) {
            // SAFETY: AVX-512F and lengths as above; `layout` was chosen for (m, n, 16).
            unsafe { avx512::small_outer_sum(a, b, d, layout, c) };
            return true;
        }
    }
    false
}

/// `try_matmul` where the CPU has AVX2 and FMA (the caller checked `CpuPath::avx2`) and
/// the lengths were asserted.
#[cfg(target_arch = "x86_64")]
fn try_avx2(a: &[f32], b: &[f32], d: MatMul, c: &mut [f32]) -> bool {
    const LANES: usize = super::avx2::LANES;
    if !d.trans_a && d.n == 1 && d.k == 4 {
        // SAFETY: the CPU has AVX2 and FMA; the lengths were asserted by the caller
        // (A m×4, B 4 values either way round, C m values).
        unsafe { avx2::rows_dot4(a, b, c) };
        return true;
    }
    if !d.trans_a && d.k == 3 && d.n == 4 {
        // SAFETY: AVX2 + FMA and lengths as above (A m×3, B 12 values, C m×4).
        unsafe { avx2::rows_k3_n4(a, b, d.trans_b, c) };
        return true;
    }
    if !d.trans_a && d.k == 1 && LANES.is_multiple_of(d.n) {
        // SAFETY: AVX2 + FMA and lengths as above (A m values, B n values), n divides 8.
        unsafe { avx2::outer_k1(a, b, c, d.n) };
        return true;
    }
    if !d.trans_a && packs(d.k, d.n, LANES) {
        // SAFETY: AVX2 + FMA and lengths as above; rows_per_vector(k, n, 8) > 0 here.
        unsafe { avx2::rows_times_small(a, b, d, c) };
        return true;
    }
    if d.trans_a && !d.trans_b && (1..=4).contains(&d.m) && (1..=4).contains(&d.n) {
        // SAFETY: AVX2 + FMA and lengths as above, 1 ≤ m, n ≤ 4.
        unsafe { avx2::chains_outer_sum(a, b, d, c) };
        return true;
    }
    false
}

/// Whether `rows_times_small` on `lanes`-wide vectors fills at least half of each one:
/// below that the portable loops do as well.
fn packs(k: usize, n: usize, lanes: usize) -> bool {
    2 * rows_per_vector(k, n, lanes) * n >= lanes
}

/// Rows of C one vector holds in `rows_times_small`: as many as fit in `lanes` lanes
/// whose A values (k per row) one permute of two vectors can reach.
fn rows_per_vector(k: usize, n: usize, lanes: usize) -> usize {
    if k == 0 || n == 0 || n > lanes {
        return 0;
    }
    (lanes / n).min(2 * lanes / k)
}

/// The lane plan of `rows_times_small` for step p, in `LANES`-wide arrays: lane
/// r·n + j (packed row r, column j) takes A value r·k + p of the rows loaded and
/// multiplies it by op(B)[p][j]; the lanes past rows·n stay 0 (their sums are not stored).
fn lane_plan<const LANES: usize>(b: &[f32], d: MatMul, p: usize, rows: usize) -> ([i32; LANES], [f32; LANES]) {
    let (k, n) = (d.k, d.n);
    let mut index = [0i32; LANES];
    let mut pattern = [0.0f32; LANES];
    // Nested loops, not lane / n and lane % n: a division by a run-time n per lane was
    // 6% of the diamond's step.
    for r in 0..rows {
        for j in 0..n {
            index[r * n + j] = (r * k + p) as i32;
            pattern[r * n + j] = if d.trans_b { b[j * k + p] } else { b[p * n + j] };
        }
    }
    (index, pattern)
}

/// How the AVX-512 `small_outer_sum` lays out C = Σₚ A row p ⊗ B row p (A rows m long,
/// B rows n long): the `wide` side's rows fill the vector, `group` of them at a time,
/// and the `narrow` side's values are repeated across them.
#[derive(Clone, Copy, Debug)]
struct OuterLayout {
    /// The wide side is B (so the sums come out as Cᵀ).
    swapped: bool,
    wide: usize,
    narrow: usize,
    /// Rows p per vector: a power of two dividing `OUTER_CHAINS`, so lane g·wide + i of
    /// the vector for rows p0.. (p0 a multiple of `group`) is always one chain, p mod 8.
    group: usize,
}

impl OuterLayout {
    /// The layout for m, n ≤ 4 (small_gemm's `outer_products` class) on `lanes`-wide
    /// vectors: the wider side in the lanes, as many rows p at a time as fit as a power
    /// of two, at most 4 (16 lanes: always 4).
    fn choose(m: usize, n: usize, lanes: usize) -> Option<Self> {
        if m == 0 || n == 0 || m > 4 || n > 4 {
            return None;
        }
        let (wide, narrow, swapped) = if m >= n { (m, n, false) } else { (n, m, true) };
        let mut group = OUTER_CHAINS / 2;
        while group * wide > lanes {
            group /= 2;
        }
        Some(OuterLayout { swapped, wide, narrow, group })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::backend::cpu::gemm::reference;
    use crate::backend::cpu::parity::required;
    use crate::backend::cpu::small_gemm::outer_reference;

    /// Zeros and negative products among the values (a chain started from a first product
    /// instead of +0.0 would keep a −0.0); with `special` also −0.0 and either NaN
    /// (`salt` odd) or ±∞ (`salt` even; ∞·0 and ∞ − ∞ make NaN inside the chains). Not
    /// both: where two NaNs of different payloads meet, which one an FMA keeps depends on
    /// the operand order, which IEEE leaves open.
    fn values(len: usize, salt: usize, special: bool) -> Vec<f32> {
        (0..len)
            .map(|i| match (special, (i * 7 + salt) % 19) {
                (true, 0) => -0.0,
                (true, 5) if salt % 2 == 1 => f32::NAN,
                (true, 5) => f32::INFINITY,
                (true, 11) if salt.is_multiple_of(2) => f32::NEG_INFINITY,
                _ => ((i * 7 + 3 + salt) % 11) as f32 / 3.0 - 1.0,
            })
            .collect()
    }

    /// A of signed zeros only: every product is ±0, so each output is +0.0 exactly when
    /// its chain starts from +0.0 (a chain from its first product keeps a −0.0 where all
    /// the products are −0.0), for `salt` ≥ 4; else `values`.
    fn a_values(len: usize, salt: usize) -> Vec<f32> {
        if salt >= 4 {
            (0..len).map(|i| if i % 5 == 0 { 0.0 } else { -0.0 }).collect()
        } else {
            values(len, salt, salt >= 2)
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Every shape the packed kernels take on `path` gives the contract's bits; returns
    /// how many row-major shapes they took.
    fn the_packed_kernels_give_the_contracts_bits(path: CpuPath) -> usize {
        let mut taken = 0;
        for m in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 500, 501] {
            for k in [1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 500] {
                for n in [1, 2, 3, 4, 5, 8, 16] {
                    for (trans_b, salt) in [(false, 0), (true, 1), (false, 2), (true, 3), (false, 4), (true, 5)] {
                        let d = MatMul { m, k, n, trans_a: false, trans_b };
                        let (a, b) = (a_values(m * k, salt), values(k * n, salt + 4, salt >= 2));
                        let mut c = vec![f32::NAN; m * n];
                        if !try_matmul(&a, &b, d, &mut c, path) {
                            continue;
                        }
                        taken += usize::from(salt == 0);
                        assert_eq!(bits(&c), bits(&reference(&a, &b, None, d)), "{d:?} on {path}, salt {salt}");
                    }
                }
            }
        }
        // The weight gradients Aᵀ·B with m, n ≤ 4, in `outer_products`' 8-chain order.
        for m in 1..=4 {
            for n in 1..=4 {
                for k in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 500, 501] {
                    for salt in 0..6 {
                        let d = MatMul { m, k, n, trans_a: true, trans_b: false };
                        let (a, b) = (a_values(m * k, salt), values(k * n, salt + 4, salt >= 2));
                        let mut c = vec![f32::NAN; m * n];
                        assert!(try_matmul(&a, &b, d, &mut c, path), "{d:?} on {path}");
                        assert_eq!(bits(&c), bits(&outer_reference(&a, &b, d)), "{d:?} on {path}, salt {salt}");
                    }
                }
            }
        }
        // Products that underflow: each chain ends at −0.0 (fma(−1e-30, 1e-30, +0.0) rounds
        // −1e-60 to −0.0), so a short last block that gave its missing rows' chains a
        // padding step of 0·0 would turn them to +0.0, and the sum's sign with them.
        for m in 1..=4 {
            for n in 1..=4 {
                for k in [8, 9, 10, 11, 13, 17] {
                    let d = MatMul { m, k, n, trans_a: true, trans_b: false };
                    let (a, b) = (vec![-1e-30f32; k * m], vec![1e-30f32; k * n]);
                    let mut c = vec![f32::NAN; m * n];
                    assert!(try_matmul(&a, &b, d, &mut c, path), "{d:?} on {path}");
                    let want = outer_reference(&a, &b, d);
                    assert!(want.iter().all(|v| v.to_bits() == (-0.0f32).to_bits()), "{want:?}");
                    assert_eq!(bits(&c), bits(&want), "{d:?} on {path}, underflowing products");
                }
            }
        }
        // The diamond's products all take the packed kernels.
        for d in [
            MatMul { m: 500, k: 3, n: 4, trans_a: false, trans_b: true },
            MatMul { m: 500, k: 4, n: 1, trans_a: false, trans_b: true },
            MatMul { m: 500, k: 1, n: 4, trans_a: false, trans_b: false },
        ] {
            let mut c = vec![0.0; d.m * d.n];
            assert!(try_matmul(&vec![1.0; d.m * d.k], &vec![1.0; d.k * d.n], d, &mut c, path), "{d:?}");
            assert!(c.iter().all(|v| *v == d.k as f32), "{d:?}");
        }
        taken
    }

    #[test]
    #[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
    fn the_avx512_kernels_give_the_contracts_bits() {
        let taken = the_packed_kernels_give_the_contracts_bits(required(CpuPath::Avx512));
        assert!(taken > 200, "only {taken} shapes took the packed kernel");
    }

    #[test]
    #[cfg_attr(not(runner_avx2), ignore = "this CPU lacks AVX2+FMA: the avx2 path is skipped")]
    fn the_avx2_kernels_give_the_contracts_bits() {
        let taken = the_packed_kernels_give_the_contracts_bits(required(CpuPath::Avx2));
        assert!(taken > 200, "only {taken} shapes took the packed kernel");
    }

    #[test]
    fn the_portable_path_takes_no_packed_kernel() {
        let d = MatMul { m: 500, k: 3, n: 4, trans_a: false, trans_b: true };
        assert!(!try_matmul(&[1.0; 1500], &[1.0; 12], d, &mut [0.0; 2000], CpuPath::Portable));
    }

    #[test]
    fn the_outer_layouts_keep_each_lane_one_chain() {
        for (lanes, wide, group) in [(16, 4, 4), (16, 3, 4), (16, 1, 4)] {
            let layout = OuterLayout::choose(wide, 1, lanes).expect("m, n ≤ 4");
            assert_eq!((layout.wide, layout.group), (wide, group), "{lanes} lanes");
        }
    }
}
