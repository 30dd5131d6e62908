//! Direct convolution for stride 1 in f32 with AVX-512, without unrolling patches:
//! each block of 8 output channels × 3 output rows × 16 pixels keeps its sums in 24
//! vector registers while the loop runs over input channels and kernel taps, so every
//! loaded input row feeds 8 fused multiply-adds. Used on the avx512 CPU path where the
//! geometry fits (stride 1, output channels a multiple of 8); everything else takes the
//! im2col path. Each image is one task, so results do not depend on the thread count
//! (they differ from the im2col path's in the last bits: another summation order).

use super::avx512::{first_lanes, LANES};
use super::path::CpuPath;
use crate::backend::Conv2d;
use rayon::prelude::*;

const OB: usize = 8;

/// Whether this geometry takes the direct path on this CPU path (which is only ever
/// avx512 where the CPU has AVX-512F: `CpuPath::avx512`).
pub fn supported(g: &Conv2d, path: CpuPath) -> bool {
    cfg!(target_arch = "x86_64") && g.stride == 1 && g.c_out.is_multiple_of(OB) && path.avx512()
}

/// y = w ⊛ x (+ bias) for f32; call only where `supported(&g, path)`.
pub fn conv2d(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: Conv2d, path: CpuPath) -> Vec<f32> {
    // Checked, not trusted: the unsafe kernel below reads and writes by these sizes.
    assert!(supported(&g, path), "direct convolution on an unsupported geometry or CPU path");
    assert_eq!(x.len(), g.batch * g.c_in * g.h * g.w, "direct convolution: x has the wrong length");
    assert_eq!(w.len(), g.c_out * g.patch(), "direct convolution: w has the wrong length");
    assert!(bias.is_none_or(|b| b.len() == g.c_out), "direct convolution: bias has the wrong length");
    // The weight as [c_in, kh, kw, c_out], so a block's 8 output channels are adjacent.
    let taps = g.kh * g.kw;
    let mut wt = vec![0.0f32; w.len()];
    for o in 0..g.c_out {
        for c in 0..g.c_in {
            for t in 0..taps {
                wt[(c * taps + t) * g.c_out + o] = w[(o * g.c_in + c) * taps + t];
            }
        }
    }
    let (oh, ow) = (g.oh(), g.ow());
    let in_size = g.c_in * g.h * g.w;
    let mut y = vec![0.0f32; g.batch * g.c_out * oh * ow];
    y.par_chunks_mut(g.c_out * oh * ow).enumerate().for_each_init(Vec::new, |padded, (b, yb)| {
        pad_image(&x[b * in_size..(b + 1) * in_size], &g, padded);
        // SAFETY: `supported` (asserted above) holds only where the CPU has AVX-512F.
        // `padded` is this image padded with the slack `image` needs, `wt` holds
        // c_in·kh·kw·c_out weights, `bias` c_out values and `yb` this image's c_out·oh·ow
        // outputs: the sizes `image`'s contract asks for.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            image(padded, &wt, bias, &g, yb)
        };
    });
    y
}

/// The zero-padded image with one row and one vector of slack at the end, so the last
/// block's spare lanes read zeros, not past the buffer.
fn pad_image(x: &[f32], g: &Conv2d, padded: &mut Vec<f32>) {
    super::conv::pad_image(x, g, padded, g.w + 2 * g.pad + LANES);
}

/// One image's convolution.
///
/// # Safety
/// The CPU has AVX-512F; `g.c_out` is a multiple of 8; `padded` holds the image's
/// c_in·(h + 2·pad)·(w + 2·pad) padded values plus (w + 2·pad + 16) of slack, `wt`
/// c_in·kh·kw·c_out values, `bias` (if any) c_out and `y` c_out·oh·ow.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn image(padded: &[f32], wt: &[f32], bias: Option<&[f32]>, g: &Conv2d, y: &mut [f32]) {
    let oh = g.oh();
    for o0 in (0..g.c_out).step_by(OB) {
        // Three output rows at a time (24 sums in registers), then what is left.
        let mut r0 = 0;
        while r0 < oh {
            let rows = (oh - r0).min(3);
            // SAFETY: this function's contract is `rows_block`'s, and o0 + 8 ≤ c_out,
            // r0 + rows ≤ oh by the loops.
            unsafe {
                match rows {
                    3 => rows_block::<3>(padded, wt, bias, g, y, o0, r0),
                    2 => rows_block::<2>(padded, wt, bias, g, y, o0, r0),
                    _ => rows_block::<1>(padded, wt, bias, g, y, o0, r0),
                }
            }
            r0 += rows;
        }
    }
}

/// Output channels [o0, o0+8) × rows [r0, r0+R) of one image, 16 pixels at a time.
///
/// # Safety
/// As for `image`, with o0 + 8 ≤ c_out and r0 + R ≤ oh.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_block<const R: usize>(
    padded: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2d,
    y: &mut [f32],
    o0: usize,
    r0: usize,
) {
    use std::arch::x86_64::*;
    let (oh, ow) = (g.oh(), g.ow());
    let (ph, pw) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    let pp = padded.as_ptr();
    for x0 in (0..ow).step_by(LANES) {
        let mut acc = [[_mm512_setzero_ps(); R]; OB];
        for c in 0..g.c_in {
            for i in 0..g.kh {
                // Rows r0+i .. r0+i+R of channel c; reads stay below
                // c·ph·pw + (r0+R−1+i)·pw + x0 + kw−1 + 16 ≤ len(padded) by the slack.
                // (oh = ph − kh + 1 with stride 1, so r0+R−1+i < ph, and the slack of
                // pw + 16 covers x0 + j + 16 running past the row's end.)
                let base = (c * ph + r0 + i) * pw + x0;
                for j in 0..g.kw {
                    let mut xs = [_mm512_setzero_ps(); R];
                    for (r, v) in xs.iter_mut().enumerate() {
                        // SAFETY: the 16 values from base + r·pw + j lie inside `padded`,
                        // by the bound above.
                        *v = unsafe { _mm512_loadu_ps(pp.add(base + r * pw + j)) };
                    }
                    // Tap (c, i, j)'s weights for output channels o0..o0+8.
                    let wrow = &wt[((c * g.kh + i) * g.kw + j) * g.c_out + o0..][..OB];
                    for (acc_o, w) in acc.iter_mut().zip(wrow) {
                        let wv = _mm512_set1_ps(*w);
                        for (a, xv) in acc_o.iter_mut().zip(&xs) {
                            *a = _mm512_fmadd_ps(wv, *xv, *a);
                        }
                    }
                }
            }
        }
        let valid = LANES.min(ow - x0);
        let mask: __mmask16 = first_lanes(valid);
        for (o, acc_o) in acc.iter().enumerate() {
            let bv = _mm512_set1_ps(bias.map_or(0.0, |b| b[o0 + o]));
            for (r, v) in acc_o.iter().enumerate() {
                let row = &mut y[((o0 + o) * oh + r0 + r) * ow..][..ow];
                // SAFETY: the mask covers `valid` = min(16, ow − x0) lanes from x0, inside
                // this output row; masked-off lanes are not accessed.
                unsafe { _mm512_mask_storeu_ps(row.as_mut_ptr().add(x0), mask, _mm512_add_ps(*v, bv)) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::parity::{required, two_orders_bound};

    #[test]
    #[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
    fn direct_convolution_matches_the_im2col_path() {
        let path = required(CpuPath::Avx512);
        let shapes = [
            Conv2d { batch: 3, c_in: 2, h: 9, w: 21, c_out: 8, kh: 5, kw: 5, stride: 1, pad: 2 },
            Conv2d { batch: 2, c_in: 3, h: 7, w: 7, c_out: 16, kh: 3, kw: 2, stride: 1, pad: 0 },
            Conv2d { batch: 1, c_in: 1, h: 28, w: 28, c_out: 16, kh: 5, kw: 5, stride: 1, pad: 2 },
        ];
        for g in shapes {
            assert!(supported(&g, path), "{g:?}");
            let x: Vec<f32> = (0..g.batch * g.c_in * g.h * g.w).map(|i| ((i * 7) % 13) as f32 * 0.25 - 1.5).collect();
            let w: Vec<f32> = (0..g.c_out * g.patch()).map(|i| ((i * 5) % 11) as f32 * 0.125 - 0.6).collect();
            let b: Vec<f32> = (0..g.c_out).map(|i| i as f32 * 0.1).collect();
            let direct = conv2d(&x, &w, Some(&b), g, path);
            let general = super::super::conv::conv2d(&x, &w, Some(&b), g);
            // Two orders of the same patch + 1 terms (see `parity`).
            let abs = |v: &[f32]| v.iter().map(|x| x.abs() as f64).collect::<Vec<_>>();
            let sizes = super::super::conv::conv2d::<f64>(&abs(&x), &abs(&w), Some(&abs(&b)), g);
            for ((a, b), size) in direct.iter().zip(&general).zip(sizes) {
                let bound = two_orders_bound(g.patch() + 1, size);
                assert!(((a - b).abs() as f64) <= bound, "{g:?}: {a} vs {b}, bound {bound:e}");
            }
        }
    }

    #[test]
    #[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
    fn the_input_gradient_as_a_direct_convolution_matches_col2im() {
        use crate::backend::{Backend, CpuBackend};
        let path = required(CpuPath::Avx512);
        let g = Conv2d { batch: 2, c_in: 8, h: 9, w: 11, c_out: 4, kh: 5, kw: 5, stride: 1, pad: 2 };
        assert!(supported(&Conv2d { c_out: g.c_in, ..g }, path));
        let dy: Vec<f32> =
            (0..g.batch * g.c_out * g.oh() * g.ow()).map(|i| ((i * 3) % 17) as f32 * 0.1 - 0.8).collect();
        let w: Vec<f32> = (0..g.c_out * g.patch()).map(|i| ((i * 5) % 11) as f32 * 0.125 - 0.6).collect();
        let fast = CpuBackend::on(path).expect("checked by `required`").conv2d_grad_input(&dy, &w, g);
        let general = super::super::conv::conv2d_grad_input(&dy, &w, g);
        let abs = |v: &[f32]| v.iter().map(|x| x.abs() as f64).collect::<Vec<_>>();
        let sizes = super::super::conv::conv2d_grad_input::<f64>(&abs(&dy), &abs(&w), g);
        for ((a, b), size) in fast.iter().zip(&general).zip(sizes) {
            // At most c_out·kh·kw products per dx value, in two orders.
            let bound = two_orders_bound(g.c_out * g.kh * g.kw, size);
            assert!(((a - b).abs() as f64) <= bound, "{a} vs {b}, bound {bound:e}");
        }
    }
}
