//! The common 2×2, stride-2 max-pool in f32 with AVX-512, forward and gradient. For
//! 16 windows at a time both split the two input rows into the windows' four corners
//! a, b, c, d (window order) and take the first maximum as conv.rs defines it: start
//! from a, move to each later corner that is strictly greater (so ties go to the
//! earlier corner and a NaN in a later corner is passed over). The output is the
//! winner's value and the gradient goes to the winner alone, so the results are the
//! general path's bits on every input, ±0 and NaN included. The gradient writes the
//! upstream value to the winning corner and zeros to the other three, so every
//! element of dx is written once: no zero-filled buffer first, no scattered stores.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::avx512::{first_lanes, LANES};
use super::path::CpuPath;
use crate::backend::Pool2d;
use rayon::prelude::*;

/// Whether the geometry is this kernel's: 2×2 windows, stride 2, and even sides, so the
/// windows cover every input value.
pub fn fits(g: &Pool2d) -> bool {
    g.k == 2 && g.stride == 2 && g.h.is_multiple_of(2) && g.w.is_multiple_of(2)
}

/// Whether this geometry takes this kernel on this CPU path (which is only ever avx512
/// where the CPU has AVX-512F: `CpuPath::avx512`).
pub fn supported(g: &Pool2d, path: CpuPath) -> bool {
    cfg!(target_arch = "x86_64") && fits(g) && path.avx512()
}

/// The pooled values; call only where `supported(&g, path)`.
pub fn max_pool(x: &[f32], g: Pool2d, path: CpuPath) -> Vec<f32> {
    assert!(supported(&g, path), "2×2 max-pool on an unsupported geometry or CPU path");
    let (plane, out_plane) = (g.h * g.w, g.oh() * g.ow());
    assert_eq!(x.len(), g.batch * g.c * plane, "max-pool: x has the wrong length");
    let mut y = vec![0.0f32; g.batch * g.c * out_plane];
    y.par_chunks_mut(out_plane).zip(x.par_chunks(plane)).for_each(|(yp, xp)| {
        // SAFETY: `supported` (asserted above) holds only where the CPU has AVX-512F and
        // the sides are even; xp holds one plane's h·w values and yp its oh·ow outputs
        // (x's length was asserted), as `plane_max` asks.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            plane_max(xp, yp, &g)
        };
    });
    y
}

/// dx for dy; call only where `supported(&g, path)`.
pub fn max_pool_grad(x: &[f32], dy: &[f32], g: Pool2d, path: CpuPath) -> Vec<f32> {
    assert!(supported(&g, path), "2×2 max-pool gradient on an unsupported geometry or CPU path");
    let (plane, out_plane) = (g.h * g.w, g.oh() * g.ow());
    assert_eq!(x.len(), g.batch * g.c * plane, "max-pool gradient: x has the wrong length");
    assert_eq!(dy.len(), g.batch * g.c * out_plane, "max-pool gradient: dy has the wrong length");
    let mut dx: Vec<f32> = Vec::with_capacity(x.len());
    dx.spare_capacity_mut().par_chunks_mut(plane).zip(x.par_chunks(plane)).zip(dy.par_chunks(out_plane)).for_each(
        |((dxp, xp), dyp)| {
            // SAFETY: AVX-512F and even sides as above; dxp is one plane's h·w (spare)
            // slots, xp its h·w inputs and dyp its oh·ow gradients (lengths asserted), as
            // `plane_grad` asks; it writes every one of dxp's slots.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                plane_grad(xp, dyp, dxp.as_mut_ptr().cast::<f32>(), &g)
            };
        },
    );
    // SAFETY: the capacity is x.len(), and every plane of it was written in full above
    // (even sides: the windows tile it), so the first x.len() values are initialised.
    unsafe { dx.set_len(x.len()) };
    dx
}

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
/// (each strictly greater than the best so far; false on a NaN either side).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn moves(a: __m512, b: __m512, c: __m512, d: __m512) -> (__mmask16, __mmask16, __mmask16) {
    let to_b = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(b, a);
    let best = _mm512_mask_blend_ps(to_b, a, b);
    let to_c = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(c, best);
    let best = _mm512_mask_blend_ps(to_c, best, c);
    let to_d = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(d, best);
    (to_b, to_c, to_d)
}

/// The first maximum's value per window.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn first_maximum(a: __m512, b: __m512, c: __m512, d: __m512) -> __m512 {
    let best = _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(b, a), a, b);
    let best = _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(c, best), best, c);
    _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(d, best), best, d)
}

/// # Safety
/// The CPU has AVX-512F; h and w are even; `x` holds h·w values and `y` oh·ow.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn plane_max(x: &[f32], y: &mut [f32], g: &Pool2d) {
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
                let best = first_maximum(a, b, c, d);
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
unsafe fn plane_grad(x: &[f32], dy: &[f32], dx: *mut f32, g: &Pool2d) {
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
            let grad = unsafe { _mm512_maskz_loadu_ps(first_lanes(count), dy.as_ptr().add(oy * ow + ox0)) };
            let (to_b, to_c, to_d) = moves(a, b, c, d);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::parity::required;

    #[test]
    #[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
    fn the_vector_pool_and_gradient_are_the_general_ones_to_the_bit() {
        let path = required(CpuPath::Avx512);
        let shapes = [
            Pool2d { batch: 3, c: 5, h: 28, w: 28, k: 2, stride: 2 },
            Pool2d { batch: 2, c: 3, h: 14, w: 14, k: 2, stride: 2 },
            Pool2d { batch: 1, c: 2, h: 6, w: 40, k: 2, stride: 2 },
            Pool2d { batch: 1, c: 1, h: 2, w: 2, k: 2, stride: 2 },
        ];
        for g in shapes {
            assert!(supported(&g, path), "{g:?}");
            // Few distinct values, so windows hold ties and the first-maximum rule
            // matters, and ±0 ties, NaN in every corner and −∞.
            let x: Vec<f32> = (0..g.batch * g.c * g.h * g.w)
                .map(|i| match i % 13 {
                    0 => f32::NAN,
                    5 => f32::NEG_INFINITY,
                    3 | 8 => -0.0,
                    _ => ((i * 7919) % 5) as f32 - 2.0,
                })
                .collect();
            let dy: Vec<f32> = (0..g.batch * g.c * g.oh() * g.ow()).map(|i| i as f32 - 7.5).collect();
            let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
            assert_eq!(bits(max_pool(&x, g, path)), bits(super::super::conv::max_pool2d(&x, g)), "{g:?}");
            let want = super::super::conv::max_pool2d_grad(&x, &dy, g);
            assert_eq!(bits(max_pool_grad(&x, &dy, g, path)), bits(want), "{g:?}");
        }
    }
}
