//! The 2×2 max-pool of the module notes on AVX-512F: 16 windows per vector, the corners
//! split from a row's 32 values with `_mm512_permutex2var_ps`, lane masks for short rows.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::super::avx512::{first_lanes, LANES};
use crate::backend::Pool2d;

/// Index vectors that split a row pair's 32 values into 16 left and 16 right corners,
/// and that interleave two such halves back.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn corner_indices() -> [__m512i; 4] {
    let lanes = |f: fn(i32) -> i32| {
        let v: [i32; LANES] = std::array::from_fn(|l| f(l as i32));
        // SAFETY: `v` holds 16 i32, one 512-bit vector.
        unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
    };
    [
        lanes(|l| 2 * l),
        lanes(|l| 2 * l + 1),
        lanes(|l| if l % 2 == 0 { l / 2 } else { LANES as i32 + l / 2 }),
        lanes(|l| if l % 2 == 0 { 8 + l / 2 } else { LANES as i32 + 8 + l / 2 }),
    ]
}

/// The left and right corners of the windows ox0..ox0+count in the row starting at `src`.
/// For a short row the second vector's mask is empty and its address may lie past the
/// buffer, so it is formed with `wrapping_add` (masked-off lanes are never accessed).
///
/// # Safety
/// The CPU has AVX-512F; 2·count values (count ≤ 16) from `src` are readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn corners(src: *const f32, count: usize, left: __m512i, right: __m512i) -> (__m512, __m512) {
    let (lo, hi) = (first_lanes(2 * count), first_lanes((2 * count).saturating_sub(LANES)));
    // SAFETY: the two masks cover exactly the 2·count readable values from `src`.
    let (v0, v1) = unsafe { (_mm512_maskz_loadu_ps(lo, src), _mm512_maskz_loadu_ps(hi, src.wrapping_add(LANES))) };
    (_mm512_permutex2var_ps(v0, left, v1), _mm512_permutex2var_ps(v0, right, v1))
}

/// The masks of the first-maximum scan a → b → c → d: where it moves to b, to c, to d
/// (each strictly greater than the best so far; false on a NaN either side), and the
/// first maximum's value.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn scan(a: __m512, b: __m512, c: __m512, d: __m512) -> ([__mmask16; 3], __m512) {
    let to_b = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(b, a);
    let best = _mm512_mask_blend_ps(to_b, a, b);
    let to_c = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(c, best);
    let best = _mm512_mask_blend_ps(to_c, best, c);
    let to_d = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(d, best);
    ([to_b, to_c, to_d], _mm512_mask_blend_ps(to_d, best, d))
}

/// Where ReLU passes a value on (v > 0; false on a NaN): all lanes unless `relu`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn passes(best: __m512, relu: bool) -> __mmask16 {
    if relu {
        _mm512_cmp_ps_mask::<_CMP_GT_OQ>(best, _mm512_setzero_ps())
    } else {
        u16::MAX
    }
}

/// # Safety
/// The CPU has AVX-512F; h and w are even; `x` holds h·w values and `y` oh·ow.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn plane_max(x: &[f32], y: &mut [f32], g: &Pool2d, relu: bool) {
    let (oh, ow, w) = (g.oh(), g.ow(), g.w);
    let [left, right, _, _] = corner_indices();
    for oy in 0..oh {
        for ox0 in (0..ow).step_by(LANES) {
            let count = LANES.min(ow - ox0);
            // SAFETY: 2·count values from column 2·ox0 of rows 2·oy and 2·oy + 1 lie inside
            // the plane (2·(ox0 + count) ≤ 2·ow = w, 2·oy + 1 < h); the count outputs from
            // (oy, ox0) lie inside y (ox0 + count ≤ ow).
            unsafe {
                let (a, b) = corners(x.as_ptr().add(2 * oy * w + 2 * ox0), count, left, right);
                let (c, d) = corners(x.as_ptr().add((2 * oy + 1) * w + 2 * ox0), count, left, right);
                let best = scan(a, b, c, d).1;
                // +0.0 where ReLU stops the value.
                let best = _mm512_maskz_mov_ps(passes(best, relu), best);
                _mm512_mask_storeu_ps(y.as_mut_ptr().add(oy * ow + ox0), first_lanes(count), best);
            }
        }
    }
}

/// # Safety
/// The CPU has AVX-512F; h and w are even; `x` holds h·w values, `dy` oh·ow, and `dx`
/// points at h·w writable values (all of which this writes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn plane_grad(x: &[f32], dy: &[f32], dx: *mut f32, g: &Pool2d, relu: bool) {
    let (oh, ow, w) = (g.oh(), g.ow(), g.w);
    let [left, right, low_half, high_half] = corner_indices();
    for oy in 0..oh {
        let rows = [2 * oy * w, (2 * oy + 1) * w];
        for ox0 in (0..ow).step_by(LANES) {
            let count = LANES.min(ow - ox0);
            let (lo, hi) = (first_lanes(2 * count), first_lanes((2 * count).saturating_sub(LANES)));
            // SAFETY: 2·count values from column 2·ox0 of each row lie inside the plane
            // (2·(ox0 + count) ≤ w), and count gradients from (oy, ox0) inside dy.
            let [(a, b), (c, d)] = rows.map(|r| unsafe { corners(x.as_ptr().add(r + 2 * ox0), count, left, right) });
            let ([to_b, to_c, to_d], best) = scan(a, b, c, d);
            // +0.0 where ReLU stopped the value.
            let pass = first_lanes(count) & passes(best, relu);
            let grad = unsafe { _mm512_maskz_loadu_ps(pass, dy.as_ptr().add(oy * ow + ox0)) };
            let (win_d, win_c) = (to_d, to_c & !to_d);
            let win_b = to_b & !to_c & !to_d;
            let win_a = !(to_b | to_c | to_d);
            let picks = [(win_a, win_b), (win_c, win_d)];
            for (r, (pick_left, pick_right)) in rows.iter().zip(picks) {
                let (l, rt) = (_mm512_maskz_mov_ps(pick_left, grad), _mm512_maskz_mov_ps(pick_right, grad));
                // SAFETY: the masks cover the 2·count values from column 2·ox0 of this
                // row, inside dx's h·w (the high vector's address, formed with
                // `wrapping_add`, is not accessed where its mask is empty).
                unsafe {
                    let dst = dx.add(r + 2 * ox0);
                    _mm512_mask_storeu_ps(dst, lo, _mm512_permutex2var_ps(l, low_half, rt));
                    _mm512_mask_storeu_ps(dst.wrapping_add(LANES), hi, _mm512_permutex2var_ps(l, high_half, rt));
                }
            }
        }
    }
}
