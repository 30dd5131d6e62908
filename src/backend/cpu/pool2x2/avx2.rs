//! The 2×2 max-pool of the module notes on AVX2: 8 windows per vector. A row's 16 values
//! (two vectors) split into left and right corners with `_mm256_shuffle_ps`, which
//! works per 128-bit half, so the windows sit in the lanes in the order
//! 0, 1, 4, 5, 2, 3, 6, 7. That order costs nothing on the way back: interleaving the
//! left and right gradients per half (`_mm256_unpacklo_ps`, `_mm256_unpackhi_ps`) gives
//! the row's 16 values in place. The pooled values and the upstream gradients swap the
//! middle two 64-bit quarters (one `_mm256_permute4x64_pd`, its own inverse). Short
//! rows load under lane masks and store their first lanes (`avx2::store_first`).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::super::avx2::{first_lanes, store_first, LANES};
use crate::backend::Pool2d;

/// Swaps the middle two 64-bit quarters: window order ↔ lane order (quarters 0, 2, 1, 3).
const SWAP_MIDDLE: i32 = 0b11_01_10_00;

/// 8 windows' values in lane order from window order, or back.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn swap_middle(v: __m256) -> __m256 {
    _mm256_castpd_ps(_mm256_permute4x64_pd::<SWAP_MIDDLE>(_mm256_castps_pd(v)))
}

/// The masks of the two vectors that hold a row's first 2·count values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn row_masks(count: usize) -> (__m256i, __m256i) {
    (first_lanes(2 * count), first_lanes((2 * count).saturating_sub(LANES)))
}

/// The left and right corners (lane order) of the windows ox0..ox0+count in the row
/// starting at `src`. For a short row the second vector's mask may be empty and its
/// address past the buffer, so it is formed with `wrapping_add` (masked-off lanes are
/// never accessed).
///
/// # Safety
/// The CPU has AVX2; 2·count values (count ≤ 8) from `src` are readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn corners(src: *const f32, count: usize) -> (__m256, __m256) {
    // SAFETY: a full row reads the 16 values from `src`; a short one, under the masks,
    // exactly its 2·count values.
    let (v0, v1) = unsafe {
        if count == LANES {
            (_mm256_loadu_ps(src), _mm256_loadu_ps(src.add(LANES)))
        } else {
            let (lo, hi) = row_masks(count);
            (_mm256_maskload_ps(src, lo), _mm256_maskload_ps(src.wrapping_add(LANES), hi))
        }
    };
    (_mm256_shuffle_ps::<0x88>(v0, v1), _mm256_shuffle_ps::<0xDD>(v0, v1))
}

/// The masks of the first-maximum scan a → b → c → d: where it moves to b, to c, to d
/// (each strictly greater than the best so far; false on a NaN either side), and the
/// first maximum's value.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn scan(a: __m256, b: __m256, c: __m256, d: __m256) -> ([__m256; 3], __m256) {
    let to_b = _mm256_cmp_ps::<_CMP_GT_OQ>(b, a);
    let best = _mm256_blendv_ps(a, b, to_b);
    let to_c = _mm256_cmp_ps::<_CMP_GT_OQ>(c, best);
    let best = _mm256_blendv_ps(best, c, to_c);
    let to_d = _mm256_cmp_ps::<_CMP_GT_OQ>(d, best);
    ([to_b, to_c, to_d], _mm256_blendv_ps(best, d, to_d))
}

/// The lanes where ReLU passes a value on (v > 0; false on a NaN): all unless `relu`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn passes(best: __m256, relu: bool) -> __m256 {
    if relu {
        _mm256_cmp_ps::<_CMP_GT_OQ>(best, _mm256_setzero_ps())
    } else {
        _mm256_castsi256_ps(_mm256_set1_epi32(-1))
    }
}

/// # Safety
/// The CPU has AVX2; h and w are even; `x` holds h·w values and `y` oh·ow.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn plane_max(x: &[f32], y: &mut [f32], g: &Pool2d, relu: bool) {
    let (oh, ow, w) = (g.oh(), g.ow(), g.w);
    for oy in 0..oh {
        for ox0 in (0..ow).step_by(LANES) {
            let count = LANES.min(ow - ox0);
            // SAFETY: 2·count values from column 2·ox0 of rows 2·oy and 2·oy + 1 lie inside
            // the plane (2·(ox0 + count) ≤ 2·ow = w, 2·oy + 1 < h); the count outputs from
            // (oy, ox0) lie inside y (ox0 + count ≤ ow).
            unsafe {
                let (a, b) = corners(x.as_ptr().add(2 * oy * w + 2 * ox0), count);
                let (c, d) = corners(x.as_ptr().add((2 * oy + 1) * w + 2 * ox0), count);
                let best = scan(a, b, c, d).1;
                // +0.0 where ReLU stops the value.
                let best = swap_middle(_mm256_and_ps(passes(best, relu), best));
                let dst = y.as_mut_ptr().add(oy * ow + ox0);
                store_first(dst, count, best)
            }
        }
    }
}

/// # Safety
/// The CPU has AVX2; h and w are even; `x` holds h·w values, `dy` oh·ow, and `dx`
/// points at h·w writable values (all of which this writes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn plane_grad(x: &[f32], dy: &[f32], dx: *mut f32, g: &Pool2d, relu: bool) {
    let (oh, ow, w) = (g.oh(), g.ow(), g.w);
    for oy in 0..oh {
        let rows = [2 * oy * w, (2 * oy + 1) * w];
        for ox0 in (0..ow).step_by(LANES) {
            let count = LANES.min(ow - ox0);
            // SAFETY: 2·count values from column 2·ox0 of each row lie inside the plane
            // (2·(ox0 + count) ≤ w), and count gradients from (oy, ox0) inside dy.
            let [(a, b), (c, d)] = rows.map(|r| unsafe { corners(x.as_ptr().add(r + 2 * ox0), count) });
            let grad = unsafe {
                let src = dy.as_ptr().add(oy * ow + ox0);
                swap_middle(if count == LANES {
                    _mm256_loadu_ps(src)
                } else {
                    _mm256_maskload_ps(src, first_lanes(count))
                })
            };
            let ([to_b, to_c, to_d], best) = scan(a, b, c, d);
            // +0.0 where ReLU stopped the value.
            let grad = _mm256_and_ps(passes(best, relu), grad);
            // The winner: d where the scan moved to d, else c where it moved to c, else
            // b where it moved to b, else a. `andnot(m, g)` keeps g where m is clear.
            let win_d = _mm256_and_ps(to_d, grad);
            let not_d = _mm256_andnot_ps(to_d, grad);
            let win_c = _mm256_and_ps(to_c, not_d);
            let not_cd = _mm256_andnot_ps(to_c, not_d);
            let (win_b, win_a) = (_mm256_and_ps(to_b, not_cd), _mm256_andnot_ps(to_b, not_cd));
            for (r, (left, right)) in rows.iter().zip([(win_a, win_b), (win_c, win_d)]) {
                let (first, second) = (_mm256_unpacklo_ps(left, right), _mm256_unpackhi_ps(left, right));
                // SAFETY: 2·count values from column 2·ox0 of this row lie inside dx's h·w;
                // a short row stores exactly those (`store_first`), the second vector
                // only where it holds any.
                unsafe {
                    let dst = dx.add(r + 2 * ox0);
                    store_first(dst, 2 * count, first);
                    if count > LANES / 2 {
                        store_first(dst.add(LANES), 2 * count - LANES, second);
                    }
                }
            }
        }
    }
}
