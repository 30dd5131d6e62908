//! The common 2×2, stride-2 max-pool in f32 with AVX-512 (avx512.rs, 16 windows per
//! vector) or AVX2 (avx2.rs, 8), forward and gradient. For a row of windows both split
//! the two input rows into the windows' four corners a, b, c, d (window order) and take
//! the first maximum as conv.rs defines it: start from a, move to each later corner that
//! is strictly greater (so ties go to the earlier corner and a NaN in a later corner is
//! passed over). The output is the winner's value and the gradient goes to the winner
//! alone, so the results are the general path's bits on every input, ±0 and NaN
//! included. The gradient writes the upstream value to the winning corner and zeros to
//! the other three, so every element of dx is written once: no zero-filled buffer
//! first, no scattered stores.

mod avx2;
mod avx512;

use super::path::CpuPath;
use crate::backend::Pool2d;
use rayon::prelude::*;

/// Whether the geometry is this kernel's: 2×2 windows, stride 2, and even sides, so the
/// windows cover every input value.
pub fn fits(g: &Pool2d) -> bool {
    g.k == 2 && g.stride == 2 && g.h.is_multiple_of(2) && g.w.is_multiple_of(2)
}

/// Whether this geometry takes this kernel on this CPU path: avx512 where the CPU has
/// AVX-512F (`CpuPath::avx512`), avx2 where it has AVX2 and FMA (`CpuPath::avx2`).
pub fn supported(g: &Pool2d, path: CpuPath) -> bool {
    cfg!(target_arch = "x86_64") && fits(g) && (path.avx512() || path.avx2())
}

/// The pooled values, through ReLU where `relu`; call only where `supported(&g, path)`.
pub fn max_pool(x: &[f32], g: Pool2d, relu: bool, path: CpuPath) -> Vec<f32> {
    assert!(supported(&g, path), "2×2 max-pool on an unsupported geometry or CPU path");
    let (plane, out_plane) = (g.h * g.w, g.oh() * g.ow());
    assert_eq!(x.len(), g.batch * g.c * plane, "max-pool: x has the wrong length");
    let wide = path.avx512();
    let mut y = vec![0.0f32; g.batch * g.c * out_plane];
    y.par_chunks_mut(out_plane).zip(x.par_chunks(plane)).for_each(|(yp, xp)| {
        // SAFETY: `supported` (asserted above) holds only where the CPU has AVX-512F
        // (`wide`) or else AVX2 and FMA, and the sides are even; xp holds one plane's h·w
        // values and yp its oh·ow outputs (x's length was asserted), as `plane_max` asks.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            if wide {
                avx512::plane_max(xp, yp, &g, relu)
            } else {
                avx2::plane_max(xp, yp, &g, relu)
            }
        };
    });
    y
}

/// dx for dy, through the ReLU first where `relu`; call only where `supported(&g, path)`.
pub fn max_pool_grad(x: &[f32], dy: &[f32], g: Pool2d, relu: bool, path: CpuPath) -> Vec<f32> {
    assert!(supported(&g, path), "2×2 max-pool gradient on an unsupported geometry or CPU path");
    let (plane, out_plane) = (g.h * g.w, g.oh() * g.ow());
    assert_eq!(x.len(), g.batch * g.c * plane, "max-pool gradient: x has the wrong length");
    assert_eq!(dy.len(), g.batch * g.c * out_plane, "max-pool gradient: dy has the wrong length");
    let wide = path.avx512();
    let mut dx: Vec<f32> = Vec::with_capacity(x.len());
    dx.spare_capacity_mut().par_chunks_mut(plane).zip(x.par_chunks(plane)).zip(dy.par_chunks(out_plane)).for_each(
        |((dxp, xp), dyp)| {
            // SAFETY: AVX-512F (`wide`) or AVX2 + FMA, and even sides, as above; dxp is one
            // plane's h·w (spare) slots, xp its h·w inputs and dyp its oh·ow gradients
            // (lengths asserted), as `plane_grad` asks; it writes every one of dxp's slots.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                let dxp = dxp.as_mut_ptr().cast::<f32>();
                if wide {
                    avx512::plane_grad(xp, dyp, dxp, &g, relu)
                } else {
                    avx2::plane_grad(xp, dyp, dxp, &g, relu)
                }
            };
        },
    );
    // SAFETY: the capacity is x.len(), and every plane of it was written in full above
    // (even sides: the windows tile it), so the first x.len() values are initialised.
    unsafe { dx.set_len(x.len()) };
    dx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::parity::required;

    fn the_vector_pool_and_gradient_are_the_general_ones_to_the_bit(path: CpuPath) {
        // Rows of windows that fill whole vectors of 8 and 16, and short ones (ow = 1, 3,
        // 7, 9, 15, 17, 20).
        let shapes = [
            Pool2d { batch: 3, c: 5, h: 28, w: 28, k: 2, stride: 2 },
            Pool2d { batch: 2, c: 3, h: 14, w: 14, k: 2, stride: 2 },
            Pool2d { batch: 1, c: 2, h: 6, w: 40, k: 2, stride: 2 },
            Pool2d { batch: 1, c: 1, h: 2, w: 2, k: 2, stride: 2 },
            Pool2d { batch: 2, c: 2, h: 4, w: 6, k: 2, stride: 2 },
            Pool2d { batch: 1, c: 3, h: 6, w: 16, k: 2, stride: 2 },
            Pool2d { batch: 1, c: 2, h: 4, w: 18, k: 2, stride: 2 },
            Pool2d { batch: 1, c: 2, h: 8, w: 30, k: 2, stride: 2 },
            Pool2d { batch: 1, c: 2, h: 2, w: 32, k: 2, stride: 2 },
            Pool2d { batch: 1, c: 1, h: 4, w: 34, k: 2, stride: 2 },
        ];
        for g in shapes {
            assert!(supported(&g, path), "{g:?}");
            for (salt, relu) in [0, 1, 2].into_iter().flat_map(|salt| [(salt, false), (salt, true)]) {
                // Few distinct values, so windows hold ties and the first-maximum rule
                // matters, and ±0 ties, NaN in every corner and ±∞.
                let x: Vec<f32> = (0..g.batch * g.c * g.h * g.w)
                    .map(|i| match (i + salt) % 13 {
                        0 => f32::NAN,
                        5 => f32::NEG_INFINITY,
                        9 if salt == 2 => f32::INFINITY,
                        3 | 8 => -0.0,
                        6 | 11 => 0.0,
                        _ => ((i * 7919 + salt) % 5) as f32 - 2.0,
                    })
                    .collect();
                let dy: Vec<f32> = (0..g.batch * g.c * g.oh() * g.ow())
                    .map(|i| if i % 7 == 3 { -0.0 } else { i as f32 - 7.5 })
                    .collect();
                let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
                let want = super::super::conv::max_pool2d(&x, g, relu);
                let at = format!("{g:?} on {path}, salt {salt}, relu {relu}");
                assert_eq!(bits(max_pool(&x, g, relu, path)), bits(want), "{at}");
                let want = super::super::conv::max_pool2d_grad(&x, &dy, g, relu);
                assert_eq!(bits(max_pool_grad(&x, &dy, g, relu, path)), bits(want), "{at}");
            }
        }
    }

    #[test]
    #[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
    fn avx512() {
        the_vector_pool_and_gradient_are_the_general_ones_to_the_bit(required(CpuPath::Avx512));
    }

    #[test]
    #[cfg_attr(not(runner_avx2), ignore = "this CPU lacks AVX2+FMA: the avx2 path is skipped")]
    fn avx2() {
        the_vector_pool_and_gradient_are_the_general_ones_to_the_bit(required(CpuPath::Avx2));
    }

    #[test]
    fn the_portable_path_takes_the_general_pool() {
        assert!(!supported(&Pool2d { batch: 1, c: 1, h: 28, w: 28, k: 2, stride: 2 }, CpuPath::Portable));
    }
}
