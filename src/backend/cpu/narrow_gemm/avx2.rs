//! The packed kernels of the module notes on AVX2 + FMA: 8 lanes. A permute of one
//! vector is `_mm256_permutevar8x32_ps`; of two, both vectors permuted by the same
//! index and blended where the index names the second (index ≥ 8). Where the 8 values
//! from a load's address lie inside the buffer a plain load takes them (lanes past the
//! block's values are never picked into a stored lane); at the end of a buffer
//! `_mm256_maskload_ps` reads only what is there.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::super::avx2::{first_lanes, store_first, LANES};
use super::{lane_plan, rows_per_vector};
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
        let columns = transpose_halves(v);
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

/// C (m×4) = A (m×3 row-major) · op(B) (3×4): a layer of 4 units on 3 inputs (the
/// diamond's first). `rows_times_small` would pack 2 rows per vector, a permute and a
/// store per 2 rows; here 8 rows at a time are turned into A's 3 columns and back:
/// - Of the 24 values of 8 rows (3 vectors), column p's lie at r·3 + p: lane
///   (3r + p) mod 8 of vector (3r + p) div 8, 8 distinct lanes since 3 is odd. Two
///   blends gather them into one vector, and one permute puts row r in lane r.
/// - C's column j is 3 fused multiply-adds over p = 0, 1, 2 from +0.0: the contract's
///   chain, so the bits are `rows_times_small`'s.
/// - `transpose_halves` gives rows j and 4 + j per vector; two cross-half permutes per
///   pair of vectors make them rows 2q and 2q + 1 for the stores.
///
/// The last m mod 8 rows run the same chain with `f32::mul_add`.
///
/// # Safety
/// The CPU has AVX2 and FMA; a holds 3·m values, b 12 and c 4·m.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn rows_k3_n4(a: &[f32], b: &[f32], trans_b: bool, c: &mut [f32]) {
    const K: usize = 3;
    const N: usize = 4;
    let m = c.len() / N;
    assert!(a.len() == K * m && b.len() == K * N && c.len() == N * m, "rows_k3_n4: sizes");
    let w = |p: usize, j: usize| if trans_b { b[j * K + p] } else { b[p * N + j] };
    let weight: [[__m256; K]; N] = std::array::from_fn(|j| std::array::from_fn(|p| _mm256_set1_ps(w(p, j))));
    // For column p: which vector each blended lane comes from, and which blended lane
    // row r is.
    let mut from = [[0usize; LANES]; K];
    let mut lane_of_row = [[0i32; LANES]; K];
    for (p, (from, lane_of_row)) in from.iter_mut().zip(&mut lane_of_row).enumerate() {
        for (r, lane) in lane_of_row.iter_mut().enumerate() {
            let at = r * K + p;
            from[at % LANES] = at / LANES;
            *lane = (at % LANES) as i32;
        }
    }
    let mask = |p: usize, v: usize| {
        let bits = from[p].map(|f| if f == v { -1i32 } else { 0 });
        // SAFETY: `bits` is 8 lanes, one vector.
        _mm256_castsi256_ps(unsafe { _mm256_loadu_si256(bits.as_ptr().cast()) })
    };
    let second: [__m256; K] = std::array::from_fn(|p| mask(p, 1));
    let third: [__m256; K] = std::array::from_fn(|p| mask(p, 2));
    // SAFETY: each array is 8 lanes, one vector.
    let order: [__m256i; K] = std::array::from_fn(|p| unsafe { _mm256_loadu_si256(lane_of_row[p].as_ptr().cast()) });
    let full = m / LANES;
    for blk in 0..full {
        // SAFETY: rows 8·blk..8·blk+8 are 24 values of A from 24·blk and 32 of C from
        // 32·blk, inside both (blk < m / 8).
        let v: [__m256; K] =
            std::array::from_fn(|i| unsafe { _mm256_loadu_ps(a.as_ptr().add(K * LANES * blk + LANES * i)) });
        let columns: [__m256; K] = std::array::from_fn(|p| {
            let blended = _mm256_blendv_ps(_mm256_blendv_ps(v[0], v[1], second[p]), v[2], third[p]);
            _mm256_permutevar8x32_ps(blended, order[p])
        });
        let sums: [__m256; N] = std::array::from_fn(|j| {
            let mut acc = _mm256_setzero_ps();
            for (column, wv) in columns.iter().zip(&weight[j]) {
                acc = _mm256_fmadd_ps(*column, *wv, acc);
            }
            acc
        });
        // u[j] holds row j in its low half and row 4 + j in its high half.
        let u = transpose_halves(sums);
        let rows = [
            _mm256_permute2f128_ps::<0x20>(u[0], u[1]),
            _mm256_permute2f128_ps::<0x20>(u[2], u[3]),
            _mm256_permute2f128_ps::<0x31>(u[0], u[1]),
            _mm256_permute2f128_ps::<0x31>(u[2], u[3]),
        ];
        for (q, row) in rows.iter().enumerate() {
            // SAFETY: as above: the 32 values of C from 32·blk.
            unsafe { _mm256_storeu_ps(c.as_mut_ptr().add(N * LANES * blk + LANES * q), *row) };
        }
    }
    for (row, crow) in a.chunks_exact(K).zip(c.chunks_exact_mut(N)).skip(full * LANES) {
        for (j, cv) in crow.iter_mut().enumerate() {
            let mut s = 0.0f32;
            for (p, av) in row.iter().enumerate() {
                s = av.mul_add(w(p, j), s);
            }
            *cv = s;
        }
    }
}

/// C (m×n) = a ⊗ b for k = 1, n dividing 8: each output is fma(a_i, b_j, +0.0), the
/// contract's one-step chain. One load of 8 rows of a feeds n vectors, vector q holding
/// rows q·8/n … (q+1)·8/n − 1 (lane r·n + j: row q·8/n + r, column j); the last m mod 8
/// rows run the same chain with `f32::mul_add`.
///
/// # Safety
/// The CPU has AVX2 and FMA; n divides 8, b holds n values, c holds n·a.len().
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn outer_k1(a: &[f32], b: &[f32], c: &mut [f32], n: usize) {
    assert!(LANES.is_multiple_of(n) && b.len() == n && c.len() == n * a.len(), "outer_k1: sizes");
    let rows = LANES / n;
    let mut index = [_mm256_setzero_si256(); LANES];
    let mut ix = [0i32; LANES];
    let mut pattern = [0.0f32; LANES];
    for (lane, (i, p)) in ix.iter_mut().zip(pattern.iter_mut()).enumerate() {
        *i = (lane / n) as i32;
        *p = b[lane % n];
    }
    // SAFETY: `pattern` and `ix` are 8 lanes, one vector each.
    let pattern = unsafe { _mm256_loadu_ps(pattern.as_ptr()) };
    for (q, index) in index.iter_mut().enumerate().take(n) {
        let shifted = ix.map(|i| i + (q * rows) as i32);
        // SAFETY: as above.
        *index = unsafe { _mm256_loadu_si256(shifted.as_ptr().cast()) };
    }
    let full = a.len() / LANES;
    for (a8, c8) in a.chunks_exact(LANES).zip(c.chunks_exact_mut(LANES * n)) {
        // SAFETY: a8 holds 8 values and c8 8·n, n vectors of 8 (the chunks' sizes).
        unsafe {
            let v = _mm256_loadu_ps(a8.as_ptr());
            for (q, index) in index.iter().enumerate().take(n) {
                let picked = _mm256_permutevar8x32_ps(v, *index);
                _mm256_storeu_ps(c8.as_mut_ptr().add(q * LANES), _mm256_fmadd_ps(picked, pattern, _mm256_setzero_ps()));
            }
        }
    }
    for (av, crow) in a.iter().zip(c.chunks_exact_mut(n)).skip(full * LANES) {
        for (cv, bv) in crow.iter_mut().zip(b) {
            *cv = av.mul_add(*bv, 0.0);
        }
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

/// C (m×n) = Aᵀ·B with A k×m and B k×n row-major, m, n ≤ 4, in `outer_products`'
/// order: lane s of every vector is chain s (the rows p ≡ s mod 8). Each block of 8
/// rows of A and of B is turned into its columns in registers (`columns`), and
/// C[i][j]'s vector of chains takes one fused multiply-add of A's column i and B's
/// column j: m·n multiply-adds per 8 rows, none waiting on another.
///
/// # Safety
/// The CPU has AVX2 and FMA; a, b and c hold k·m, k·n and m·n values; 1 ≤ m, n ≤ 4.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn chains_outer_sum(a: &[f32], b: &[f32], d: MatMul, c: &mut [f32]) {
    // SAFETY: the contract is passed on unchanged, M = m and N = n in every arm.
    unsafe {
        match (d.m, d.n) {
            (1, 1) => chains_outer_sum_mn::<1, 1>(a, b, c),
            (1, 2) => chains_outer_sum_mn::<1, 2>(a, b, c),
            (1, 3) => chains_outer_sum_mn::<1, 3>(a, b, c),
            (1, 4) => chains_outer_sum_mn::<1, 4>(a, b, c),
            (2, 1) => chains_outer_sum_mn::<2, 1>(a, b, c),
            (2, 2) => chains_outer_sum_mn::<2, 2>(a, b, c),
            (2, 3) => chains_outer_sum_mn::<2, 3>(a, b, c),
            (2, 4) => chains_outer_sum_mn::<2, 4>(a, b, c),
            (3, 1) => chains_outer_sum_mn::<3, 1>(a, b, c),
            (3, 2) => chains_outer_sum_mn::<3, 2>(a, b, c),
            (3, 3) => chains_outer_sum_mn::<3, 3>(a, b, c),
            (3, 4) => chains_outer_sum_mn::<3, 4>(a, b, c),
            (4, 1) => chains_outer_sum_mn::<4, 1>(a, b, c),
            (4, 2) => chains_outer_sum_mn::<4, 2>(a, b, c),
            (4, 3) => chains_outer_sum_mn::<4, 3>(a, b, c),
            _ => chains_outer_sum_mn::<4, 4>(a, b, c),
        }
    }
}

/// `chains_outer_sum` for M = m, N = n.
///
/// # Safety
/// The CPU has AVX2 and FMA; a holds k·M values, b k·N and c M·N, for one k.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chains_outer_sum_mn<const M: usize, const N: usize>(a: &[f32], b: &[f32], c: &mut [f32]) {
    const CHAINS: usize = OUTER_CHAINS;
    let k = a.len() / M;
    assert!(a.len() == k * M && b.len() == k * N && c.len() == M * N, "chains_outer_sum: lengths");
    let mut acc = [[_mm256_setzero_ps(); N]; M];
    let step = |acc: &mut [[__m256; N]; M], a8: &[f32], b8: &[f32]| {
        // SAFETY: a8 and b8 are 8 rows of M and of N values (the callers below).
        let (ac, bc) = unsafe { (columns::<M>(a8), columns::<N>(b8)) };
        for (acc_i, a_i) in acc.iter_mut().zip(&ac) {
            for (v, b_j) in acc_i.iter_mut().zip(&bc) {
                *v = _mm256_fmadd_ps(*a_i, *b_j, *v);
            }
        }
    };
    let full = k / CHAINS;
    for (a8, b8) in a.chunks_exact(CHAINS * M).zip(b.chunks_exact(CHAINS * N)) {
        step(&mut acc, a8, b8);
    }
    let tail = k - full * CHAINS;
    if tail > 0 {
        // The last k mod 8 rows, zeros after them; only their chains take the step: a
        // chain can end at −0.0 (a product that underflows), which a padding step of
        // +0.0·+0.0 would turn to +0.0.
        let (mut a8, mut b8) = ([0.0f32; CHAINS * 4], [0.0f32; CHAINS * 4]);
        a8[..tail * M].copy_from_slice(&a[full * CHAINS * M..]);
        b8[..tail * N].copy_from_slice(&b[full * CHAINS * N..]);
        let before = acc;
        step(&mut acc, &a8[..CHAINS * M], &b8[..CHAINS * N]);
        let live = _mm256_castsi256_ps(first_lanes(tail));
        for (acc_i, before_i) in acc.iter_mut().zip(&before) {
            for (v, was) in acc_i.iter_mut().zip(before_i) {
                *v = _mm256_blendv_ps(*was, *v, live);
            }
        }
    }
    // d_s = chain s + chain s+4, then ((d₀ + d₁) + d₂) + d₃.
    let mut lanes = [0.0f32; CHAINS];
    for (acc_i, c_i) in acc.iter().zip(c.chunks_exact_mut(N)) {
        for (v, cv) in acc_i.iter().zip(c_i) {
            // SAFETY: `lanes` is 8 values, one vector.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(*v, _mm256_permute2f128_ps::<0x01>(*v, *v))) };
            *cv = ((lanes[0] + lanes[1]) + lanes[2]) + lanes[3];
        }
    }
}

/// The W columns of 8 rows of W values (row-major, `rows8` = 8·W values) as W vectors:
/// lane r of vector j is row r's value j. Register shuffles only.
///
/// # Safety
/// The CPU has AVX2; 1 ≤ W ≤ 4 and rows8 holds 8·W values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn columns<const W: usize>(rows8: &[f32]) -> [__m256; W] {
    assert_eq!(rows8.len(), LANES * W, "columns: 8 rows of W values");
    let at = |i: usize| rows8.as_ptr().wrapping_add(i);
    let mut out = [_mm256_setzero_ps(); W];
    // SAFETY: every load below reads inside rows8's 8·W values (asserted).
    unsafe {
        match W {
            1 => out[0] = _mm256_loadu_ps(at(0)),
            2 => {
                // Each half of a load (rows 4h..4h+4) as its column 0 values, then column 1.
                let split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
                let lo = _mm256_permutevar8x32_ps(_mm256_loadu_ps(at(0)), split);
                let hi = _mm256_permutevar8x32_ps(_mm256_loadu_ps(at(8)), split);
                out[0] = _mm256_permute2f128_ps::<0x20>(lo, hi);
                out[1] = _mm256_permute2f128_ps::<0x31>(lo, hi);
            }
            3 => {
                // As for 4 (below), each row read as 4 values, the 4th the next row's
                // first (a column thrown away); row 7's from one value earlier, moved
                // down a lane, so that no read passes the 24 values.
                let row7 = _mm_permute_ps::<0b00_11_10_01>(_mm_loadu_ps(at(20)));
                let v = [
                    _mm256_loadu2_m128(at(12), at(0)),
                    _mm256_loadu2_m128(at(15), at(3)),
                    _mm256_loadu2_m128(at(18), at(6)),
                    _mm256_insertf128_ps::<1>(_mm256_castps128_ps256(_mm_loadu_ps(at(9))), row7),
                ];
                out.copy_from_slice(&transpose_halves(v)[..3]);
            }
            _ => {
                // Rows j and j + 4 in the halves of load j, then two 4×4 transposes.
                let v: [__m256; 4] = std::array::from_fn(|j| _mm256_loadu2_m128(at(4 * (j + 4)), at(4 * j)));
                out.copy_from_slice(&transpose_halves(v));
            }
        }
    }
    out
}

/// Two 4×4 transposes, one per 128-bit half: lane i of half h of result j is lane j of
/// half h of v[i].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
fn transpose_halves(v: [__m256; 4]) -> [__m256; 4] {
    let (t0, t1) = (_mm256_unpacklo_ps(v[0], v[1]), _mm256_unpackhi_ps(v[0], v[1]));
    let (t2, t3) = (_mm256_unpacklo_ps(v[2], v[3]), _mm256_unpackhi_ps(v[2], v[3]));
    [
        _mm256_shuffle_ps::<0x44>(t0, t2),
        _mm256_shuffle_ps::<0xEE>(t0, t2),
        _mm256_shuffle_ps::<0x44>(t1, t3),
        _mm256_shuffle_ps::<0xEE>(t1, t3),
    ]
}
