//! The packed kernels of the module notes on AVX2 + FMA: 8 lanes. A permute of one
//! vector is `_mm256_permutevar8x32_ps`; of two, both vectors permuted by the same
//! index and blended where the index names the second (index ≥ 8). Where the 8 values
//! from a load's address lie inside the buffer a plain load takes them (lanes past the
//! block's values are never picked into a stored lane); at the end of a buffer
//! `_mm256_maskload_ps` reads only what is there.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::super::avx2::{first_lanes, store_first, LANES};
use super::{lane_plan, rows_per_vector, OuterLayout};
use crate::backend::cpu::small_gemm::OUTER_CHAINS;
use crate::backend::MatMul;

/// The most values one pick can reach: two vectors.
const REACH: usize = 2 * LANES;

/// C = A·op(B), A m×k row-major; see the module notes.
///
/// # Safety
/// The CPU has AVX2 and FMA; a, b and c hold m·k, k·n and m·n values;
/// rows_per_vector(k, n, LANES) > 0.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn rows_times_small(a: &[f32], b: &[f32], d: MatMul, c: &mut [f32]) {
    // SAFETY: the contract is passed on unchanged; K ≥ k in every arm (k ≤ REACH, since
    // rows_per_vector(k, n, 8) = min(8/n, 16/k) > 0).
    unsafe {
        match d.k {
            1 => rows_times_small_k::<1>(a, b, d, c),
            2 => rows_times_small_k::<2>(a, b, d, c),
            3 => rows_times_small_k::<3>(a, b, d, c),
            4 => rows_times_small_k::<4>(a, b, d, c),
            5..=8 => rows_times_small_k::<8>(a, b, d, c),
            _ => rows_times_small_k::<REACH>(a, b, d, c),
        }
    }
}

/// `rows_times_small` with room for `K` ≥ k steps, so the index and pattern vectors
/// live in registers.
///
/// # Safety
/// As for `rows_times_small`, with K ≥ k.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn rows_times_small_k<const K: usize>(a: &[f32], b: &[f32], d: MatMul, c: &mut [f32]) {
    let (m, k, n) = (d.m, d.k, d.n);
    let rows = rows_per_vector(k, n, LANES);
    // For each p: which of the 2·8 loaded A values each lane takes (and whether from the
    // second vector), and B's row p repeated once per packed row.
    let mut index = [_mm256_setzero_si256(); K];
    let mut second = [_mm256_setzero_ps(); K];
    let mut pattern = [_mm256_setzero_ps(); K];
    for p in 0..k {
        let (ix, pat) = lane_plan::<LANES>(b, d, p, rows);
        let high = ix.map(|i| if i >= LANES as i32 { -1i32 } else { 0 });
        // SAFETY: `ix`, `high` and `pat` are 8 lanes each, one vector.
        unsafe {
            index[p] = _mm256_loadu_si256(ix.as_ptr().cast());
            second[p] = _mm256_castsi256_ps(_mm256_loadu_si256(high.as_ptr().cast()));
            pattern[p] = _mm256_loadu_ps(pat.as_ptr());
        }
    }
    // Rows whose A values fit one vector need one load and a one-vector permute.
    let pair = rows * k > LANES;
    let block = |r0: usize, count: usize, c: &mut [f32]| {
        // SAFETY: rows r0..r0+count (count ≤ rows, r0 + count ≤ m) hold count·k values of
        // A from r0·k (`load` reads no further than A's end) and count·n ≤ 8 values of C
        // from r0·n, what the store writes.
        let (lo, hi) = unsafe { load_pair(a, r0 * k, pair) };
        // The contract's chain: from +0.0 (not a first product, whose −0.0 would stay).
        let mut acc = _mm256_setzero_ps();
        for p in 0..K.min(k) {
            acc = _mm256_fmadd_ps(pick(lo, hi, index[p], second[p], pair), pattern[p], acc);
        }
        unsafe { store_first(c.as_mut_ptr().add(r0 * n), count * n, acc) };
    };
    let full = m / rows;
    for chunk in 0..full {
        block(chunk * rows, rows, c);
    }
    if m > full * rows {
        block(full * rows, m - full * rows, c);
    }
}

/// C (m values) = A (m×4 row-major) times the 4 values of b: 8 rows at a time, the
/// 8×4 block transposed in registers (two 4×4 transposes, one per 128-bit half, so the
/// lanes hold rows 0, 2, 4, 6, 1, 3, 5, 7, put back in order by one permute before the
/// store). Lane r's chain is fma over p = 0..3 from +0.0, as the contract says; the last
/// m mod 8 rows run the same chain with `f32::mul_add`.
///
/// # Safety
/// The CPU has AVX2 and FMA; a holds 4·c.len() values and b holds 4.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn rows_dot4(a: &[f32], b: &[f32], c: &mut [f32]) {
    let m = c.len();
    let bp: [__m256; 4] = std::array::from_fn(|p| _mm256_set1_ps(b[p]));
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let full = m / LANES;
    for blk in 0..full {
        // SAFETY: rows 8·blk..8·blk+8 are 32 values of A from 32·blk and 8 of C from
        // 8·blk, inside both (blk < m / 8).
        let v: [__m256; 4] = std::array::from_fn(|j| unsafe { _mm256_loadu_ps(a.as_ptr().add(32 * blk + 8 * j)) });
        // Per 128-bit half, v[j] is row 2j (low half) or 2j + 1 (high half).
        let (t0, t1) = (_mm256_unpacklo_ps(v[0], v[1]), _mm256_unpackhi_ps(v[0], v[1]));
        let (t2, t3) = (_mm256_unpacklo_ps(v[2], v[3]), _mm256_unpackhi_ps(v[2], v[3]));
        let columns = [
            _mm256_shuffle_ps::<0x44>(t0, t2),
            _mm256_shuffle_ps::<0xEE>(t0, t2),
            _mm256_shuffle_ps::<0x44>(t1, t3),
            _mm256_shuffle_ps::<0xEE>(t1, t3),
        ];
        let mut acc = _mm256_setzero_ps();
        for (column, bv) in columns.iter().zip(&bp) {
            acc = _mm256_fmadd_ps(*column, *bv, acc);
        }
        unsafe { _mm256_storeu_ps(c.as_mut_ptr().add(LANES * blk), _mm256_permutevar8x32_ps(acc, order)) };
    }
    for (row, cv) in a.chunks_exact(4).zip(c.iter_mut()).skip(full * LANES) {
        let mut s = 0.0f32;
        for (av, bv) in row.iter().zip(b) {
            s = av.mul_add(*bv, s);
        }
        *cv = s;
    }
}

/// 8 values of `src` from `from` as a vector: a plain load where all 8 lie inside,
/// else the ones that do, zeros after.
///
/// # Safety
/// The CPU has AVX2; from ≤ src.len().
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn load(src: &[f32], from: usize) -> __m256 {
    let there = src.len() - from;
    // SAFETY: 8 values from `from` when there are 8; else the mask covers the `there`
    // values left (masked-off lanes are not accessed, so the address past the end,
    // formed only where `there` is 0, is never read).
    unsafe {
        let at = src.as_ptr().wrapping_add(from);
        if there >= LANES {
            _mm256_loadu_ps(at)
        } else {
            _mm256_maskload_ps(at, first_lanes(there))
        }
    }
}

/// Up to 16 values of `src` from `from` as two vectors (the second left empty when
/// `pair` is off).
///
/// # Safety
/// The CPU has AVX2; from ≤ src.len().
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn load_pair(src: &[f32], from: usize, pair: bool) -> (__m256, __m256) {
    // SAFETY: the caller's; the second vector starts at min(from + 8, len) ≤ len.
    unsafe {
        let lo = load(src, from);
        let hi = if pair { load(src, (from + LANES).min(src.len())) } else { _mm256_setzero_ps() };
        (lo, hi)
    }
}

/// The values `index` names from the pair (lo, hi), or from lo alone: `second` has all
/// bits set in the lanes whose index is 8 or more. Register-only.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn pick(lo: __m256, hi: __m256, index: __m256i, second: __m256, pair: bool) -> __m256 {
    let from_lo = _mm256_permutevar8x32_ps(lo, index);
    if pair {
        _mm256_blendv_ps(from_lo, _mm256_permutevar8x32_ps(hi, index), second)
    } else {
        from_lo
    }
}

/// C (m×n) = Aᵀ·B with A k×m and B k×n row-major; see the module notes.
///
/// # Safety
/// The CPU has AVX2 and FMA; a, b and c hold k·m, k·n and m·n values; `layout` is
/// `OuterLayout::choose(m, n, LANES)`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn small_outer_sum(a: &[f32], b: &[f32], d: MatMul, layout: OuterLayout, c: &mut [f32]) {
    // SAFETY: the contract is passed on unchanged; N ≥ narrow in every arm (narrow ≤ 4),
    // and SETS = 8 / group (group is 2 or 4: `OuterLayout::choose` on 8 lanes).
    unsafe {
        match (layout.narrow, layout.group) {
            (1, 4) => small_outer_sum_n::<1, 2>(a, b, d, layout, c),
            (2, 4) => small_outer_sum_n::<2, 2>(a, b, d, layout, c),
            (1, _) => small_outer_sum_n::<1, 4>(a, b, d, layout, c),
            (2, _) => small_outer_sum_n::<2, 4>(a, b, d, layout, c),
            (3, _) => small_outer_sum_n::<3, 4>(a, b, d, layout, c),
            _ => small_outer_sum_n::<4, 4>(a, b, d, layout, c),
        }
    }
}

/// `small_outer_sum` with room for `N` ≥ narrow columns. `SETS` = 8 / group sets of
/// accumulators take the groups of rows in turn, so lane g·wide + i of set h is chain
/// h·group + g of `outer_products`' order (the rows p ≡ h·group + g mod 8), and
/// consecutive multiply-adds do not wait on each other. The loop steps 8 rows at a time
/// through every set in turn, so each set is a fixed register (a set chosen by a
/// running index would live in memory, its every step a store and a load).
///
/// # Safety
/// As for `small_outer_sum`, with N ≥ layout.narrow and SETS · layout.group = 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn small_outer_sum_n<const N: usize, const SETS: usize>(
    a: &[f32],
    b: &[f32],
    d: MatMul,
    layout: OuterLayout,
    c: &mut [f32],
) {
    let OuterLayout { swapped, wide, narrow, group } = layout;
    assert_eq!(SETS * group, OUTER_CHAINS, "one set per group of rows in 8");
    let (wide_src, narrow_src) = if swapped { (b, a) } else { (a, b) };
    // For column j of the narrow side: lane g·wide + i takes narrow[p0 + g][j] (group ·
    // narrow ≤ 8 values: narrow ≤ wide and group·wide ≤ 8, so one vector).
    let mut index = [_mm256_setzero_si256(); N];
    for (j, index) in index.iter_mut().enumerate().take(narrow) {
        let mut ix = [0i32; LANES];
        for (lane, v) in ix.iter_mut().enumerate().take(group * wide) {
            *v = ((lane / wide) * narrow + j) as i32;
        }
        // SAFETY: `ix` is 8 lanes, one vector.
        *index = unsafe { _mm256_loadu_si256(ix.as_ptr().cast()) };
    }
    let mut acc = [[_mm256_setzero_ps(); N]; SETS];
    // Rows p0..p0+count of both sides (count ≤ group, p0 + count ≤ k). A short last
    // group loads zeros in the lanes of the missing rows: their chains gain +0.0·+0.0,
    // which changes no chain (a chain from +0.0 is never −0.0).
    let step = |acc: &mut [__m256; N], p0: usize| {
        // SAFETY: p0 < k, so p0·wide ≤ wide_src.len() and p0·narrow ≤ narrow_src.len()
        // (the lengths in the contract); `load` reads no further than each side's end.
        let (w, nv) = unsafe { (load(wide_src, p0 * wide), load(narrow_src, p0 * narrow)) };
        for j in 0..N.min(narrow) {
            acc[j] = _mm256_fmadd_ps(w, _mm256_permutevar8x32_ps(nv, index[j]), acc[j]);
        }
    };
    let whole = d.k / OUTER_CHAINS * OUTER_CHAINS;
    for p8 in (0..whole).step_by(OUTER_CHAINS) {
        for (h, acc) in acc.iter_mut().enumerate() {
            step(acc, p8 + h * group);
        }
    }
    // The last k mod 8 rows: group after group, from set 0 on.
    for (h, p0) in (whole..d.k).step_by(group).enumerate() {
        step(&mut acc[h], p0);
    }
    // Lanes past the group's rows took values of later rows: they are never read here.
    // A full group's lanes hold its own rows only, and a short last group's lanes past
    // its rows hold zeros: `load` stops at the end of each side.
    let mut lanes = [[0.0f32; LANES]; SETS];
    for j in 0..narrow {
        for (set, lanes) in acc.iter().zip(lanes.iter_mut()) {
            // SAFETY: `lanes` is 8 values, one vector.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), set[j]) };
        }
        for i in 0..wide {
            let chain = |s: usize| lanes[s / group][(s % group) * wide + i];
            // d_s = chain s + chain s+4, then ((d₀ + d₁) + d₂) + d₃.
            let ds = |s: usize| chain(s) + chain(s + OUTER_CHAINS / 2);
            let at = if swapped { j * d.n + i } else { i * d.n + j };
            c[at] = ((ds(0) + ds(1)) + ds(2)) + ds(3);
        }
    }
}
