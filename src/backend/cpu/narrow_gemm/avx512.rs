//! The packed kernels of the module notes on AVX-512F: 16 lanes, `_mm512_permutexvar_ps`
//! over one vector or `_mm512_permutex2var_ps` over two, and lane masks for the tails.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::super::avx512::{first_lanes, LANES};
use super::{lane_plan, rows_per_vector, OuterLayout};
use crate::backend::MatMul;

/// The most values one permute can pick from: two vectors.
const REACH: usize = 2 * LANES;

/// Lane masks for the first `count` lanes of the low and high vector of a pair. With an
/// empty high mask the high vector's address may lie past the buffer: it is computed
/// with `wrapping_add` and never touched (masked-off lanes are not accessed).
fn pair_masks(count: usize) -> (u16, u16) {
    let low = count.min(LANES);
    let high = count.saturating_sub(LANES).min(LANES);
    (first_lanes(low), first_lanes(high))
}

/// C = A·op(B), A m×k row-major; see the module notes.
///
/// # Safety
/// The CPU has AVX-512F; a, b and c hold m·k, k·n and m·n values;
/// rows_per_vector(k, n, LANES) > 0.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn rows_times_small(a: &[f32], b: &[f32], d: MatMul, c: &mut [f32]) {
    // A fixed k for the common widths lets the loop over p unroll, with every index and
    // pattern vector held in a register.
    // SAFETY: the contract is passed on unchanged; K ≥ k in every arm (k ≤ REACH, since
    // rows_per_vector(k, n, LANES) = min(16/n, 32/k) > 0).
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

/// `rows_times_small` with the loop over p running to `K` ≥ k (the p ≥ k terms add
/// zeros: their pattern lanes are zero).
///
/// # Safety
/// As for `rows_times_small`, with K ≥ k.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn rows_times_small_k<const K: usize>(a: &[f32], b: &[f32], d: MatMul, c: &mut [f32]) {
    let (m, k, n) = (d.m, d.k, d.n);
    let rows = rows_per_vector(k, n, LANES);
    // For each p: which of the 2·16 loaded A values each lane takes, and B's row p
    // repeated once per packed row.
    let mut index = [_mm512_setzero_si512(); K];
    let mut pattern = [_mm512_setzero_ps(); K];
    for p in 0..k {
        let (ix, pat) = lane_plan::<LANES>(b, d, p, rows);
        // SAFETY: `ix` and `pat` are 16 lanes each, one vector.
        (index[p], pattern[p]) = unsafe { (_mm512_loadu_si512(ix.as_ptr().cast()), _mm512_loadu_ps(pat.as_ptr())) };
    }
    // Rows whose A values fit one vector need one load and a one-vector permute.
    let pair = rows * k > LANES;
    let block = |r0: usize, (lo_mask, hi_mask): (u16, u16), store_mask: u16, c: &mut [f32]| {
        // SAFETY: the block's rows r0..r0+count (count ≤ rows, r0 + count ≤ m) hold
        // count·k values of A from r0·k and count·n values of C from r0·n, exactly what
        // the masks cover (count·k ≤ rows·k ≤ 32 = both vectors of the pair, and
        // count·n ≤ 16); masked-off lanes are not accessed.
        let (lo, hi) = unsafe { load_pair(a.as_ptr().add(r0 * k), lo_mask, hi_mask, pair) };
        // The contract's chain: from +0.0 (not a first product, whose −0.0 would stay).
        let mut acc = _mm512_setzero_ps();
        for p in 0..K.min(k) {
            acc = _mm512_fmadd_ps(pick(lo, hi, index[p], pair), pattern[p], acc);
        }
        unsafe { _mm512_mask_storeu_ps(c.as_mut_ptr().add(r0 * n), store_mask, acc) };
    };
    let full = m / rows;
    let (load_masks, store_mask) = (pair_masks(rows * k), first_lanes(rows * n));
    for chunk in 0..full {
        block(chunk * rows, load_masks, store_mask, c);
    }
    let tail = m - full * rows;
    if tail > 0 {
        block(full * rows, pair_masks(tail * k), first_lanes(tail * n), c);
    }
}

/// Up to 32 values from `src` as two vectors (the second left empty when `pair` is off).
///
/// # Safety
/// The CPU has AVX-512F; the lanes `lo_mask` selects from `src`, and (with `pair`) those
/// `hi_mask` selects from `src + 16`, are readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn load_pair(src: *const f32, lo_mask: u16, hi_mask: u16, pair: bool) -> (__m512, __m512) {
    // SAFETY: only the masked lanes are read, which the contract makes readable.
    unsafe {
        let lo = _mm512_maskz_loadu_ps(lo_mask, src);
        let hi = if pair { _mm512_maskz_loadu_ps(hi_mask, src.wrapping_add(LANES)) } else { _mm512_setzero_ps() };
        (lo, hi)
    }
}

/// The values `index` names from the pair (lo, hi), or from lo alone. Register-only.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn pick(lo: __m512, hi: __m512, index: __m512i, pair: bool) -> __m512 {
    if pair {
        _mm512_permutex2var_ps(lo, index, hi)
    } else {
        _mm512_permutexvar_ps(index, lo)
    }
}

/// C (m×n) = Aᵀ·B with A k×m and B k×n row-major; see the module notes.
///
/// # Safety
/// The CPU has AVX-512F; a, b and c hold k·m, k·n and m·n values; `layout` is
/// `OuterLayout::choose(m, n, LANES)` (so `group` is 4).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn small_outer_sum(a: &[f32], b: &[f32], d: MatMul, layout: OuterLayout, c: &mut [f32]) {
    // SAFETY: the contract is passed on unchanged; N ≥ narrow in every arm (narrow ≤ 16).
    unsafe {
        match layout.narrow {
            1 => small_outer_sum_n::<1>(a, b, d, layout, c),
            2 => small_outer_sum_n::<2>(a, b, d, layout, c),
            3 => small_outer_sum_n::<3>(a, b, d, layout, c),
            4 => small_outer_sum_n::<4>(a, b, d, layout, c),
            _ => small_outer_sum_n::<4>(a, b, d, layout, c),
        }
    }
}

/// `small_outer_sum` with room for `N` ≥ narrow columns, so the accumulators live in
/// registers. Two sets of accumulators take alternate groups of 4 rows, so lane g of
/// set h is chain 4h + g of `outer_products`' order (p ≡ 4h + g mod 8), and
/// consecutive multiply-adds do not wait on each other.
///
/// # Safety
/// As for `small_outer_sum`, with N ≥ layout.narrow.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn small_outer_sum_n<const N: usize>(a: &[f32], b: &[f32], d: MatMul, layout: OuterLayout, c: &mut [f32]) {
    let OuterLayout { swapped, wide, narrow, group } = layout;
    let (wide_src, narrow_src) = if swapped { (b, a) } else { (a, b) };
    // For column j of the narrow side: lane g·wide + i takes narrow[p0 + g][j].
    let mut index = [_mm512_setzero_si512(); N];
    for (j, index) in index.iter_mut().enumerate().take(narrow) {
        let mut ix = [0i32; LANES];
        for (lane, v) in ix.iter_mut().enumerate().take(group * wide) {
            *v = ((lane / wide) * narrow + j) as i32;
        }
        // SAFETY: `ix` is 16 lanes, one vector.
        *index = unsafe { _mm512_loadu_si512(ix.as_ptr().cast()) };
    }
    let mut acc = [[_mm512_setzero_ps(); N]; 2];
    let pair = group * narrow > LANES;
    // Rows p0..p0+count of both sides (count ≤ group, p0 + count ≤ k), under masks of
    // count·wide and count·narrow lanes.
    let rows = |p0: usize, wide_mask: u16, (lo_mask, hi_mask): (u16, u16)| {
        // SAFETY: those rows lie inside A and B (k rows of m and of n values: the
        // lengths in the contract), count·wide and count·narrow values from p0·wide and
        // p0·narrow, exactly what the masks cover (count·narrow ≤ group·narrow ≤ 32).
        unsafe {
            let w = _mm512_maskz_loadu_ps(wide_mask, wide_src.as_ptr().add(p0 * wide));
            let (lo, hi) = load_pair(narrow_src.as_ptr().add(p0 * narrow), lo_mask, hi_mask, pair);
            (w, lo, hi)
        }
    };
    // Only the lanes of the rows loaded take a step: a chain can end at −0.0 (a product
    // that underflows), which a padding step of +0.0·+0.0 would turn to +0.0.
    let add = |acc: &mut [__m512; N], (w, lo, hi): (__m512, __m512, __m512), live: u16| {
        for j in 0..N.min(narrow) {
            acc[j] = _mm512_mask3_fmadd_ps(w, pick(lo, hi, index[j], pair), acc[j], live);
        }
    };
    let full = d.k / group;
    let (wide_mask, narrow_masks) = (first_lanes(group * wide), pair_masks(group * narrow));
    // Two groups a step, one into each set: a set chosen by `chunk % 2` kept both sets
    // in memory (as on avx2), here each is a fixed register.
    let [even, odd] = &mut acc;
    for pair_start in (0..full - full % 2).step_by(2) {
        add(even, rows(pair_start * group, wide_mask, narrow_masks), wide_mask);
        add(odd, rows((pair_start + 1) * group, wide_mask, narrow_masks), wide_mask);
    }
    if full % 2 == 1 {
        add(even, rows((full - 1) * group, wide_mask, narrow_masks), wide_mask);
    }
    let tail = d.k - full * group;
    if tail > 0 {
        let live = first_lanes(tail * wide);
        add(&mut acc[full % 2], rows(full * group, live, pair_masks(tail * narrow)), live);
    }
    // d_g = chain g + chain g+4 (the two sets), then ((d₀ + d₁) + d₂) + d₃.
    let mut lanes = [0.0f32; LANES];
    for (j, (even, odd)) in acc[0].iter().zip(&acc[1]).enumerate().take(narrow) {
        // SAFETY: `lanes` is 16 values, one vector.
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), _mm512_add_ps(*even, *odd)) };
        for i in 0..wide {
            let s = ((lanes[i] + lanes[wide + i]) + lanes[2 * wide + i]) + lanes[3 * wide + i];
            let at = if swapped { j * d.n + i } else { i * d.n + j };
            c[at] = s;
        }
    }
}
