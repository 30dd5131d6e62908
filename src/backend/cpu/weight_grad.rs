//! The convolution weight gradient for stride 1 in f32 with AVX-512, with output
//! channels in the vector lanes:
//!
//!   dW[o][c, ky, kx] = Σ over images and output pixels (y, x) of
//!                      dy[o][y, x] · x_padded[c][y + ky, x + kx]
//!
//! Each image's dy is first turned pixel-major ([y, x][o]), so one load gives 16 output
//! channels of one pixel; each input value is broadcast and multiplied into them. A
//! tile of 12 (channel, ky, kx) triples × 32 output channels keeps its 24 sums in
//! registers over every pixel of a group of images, so no sum is ever reduced across
//! lanes (summing along the pixels inside the lanes was a third of the earlier kernel).
//! Groups of `GRAD_GROUP` images are summed in order, so the result does not depend on
//! the thread count.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::avx512::LANES;
use super::conv::GRAD_GROUP;
use super::path::CpuPath;
use crate::backend::Conv2d;
use rayon::prelude::*;

/// Whether the weight gradient of this geometry takes this kernel on this CPU path
/// (which is only ever avx512 where the CPU has AVX-512F: `CpuPath::avx512`).
pub fn supported(g: &Conv2d, path: CpuPath) -> bool {
    cfg!(target_arch = "x86_64") && g.stride == 1 && g.c_out.is_multiple_of(LANES) && path.avx512()
}

/// One image made ready for the kernel: the zero-padded input and dy pixel-major.
struct Prepared {
    padded: Vec<f32>,
    dy: Vec<f32>,
}

/// dW [c_out, c_in, kh, kw]; call only where `supported(&g, path)`.
pub fn conv2d_grad_weight(x: &[f32], dy: &[f32], g: Conv2d, path: CpuPath) -> Vec<f32> {
    // Checked, not trusted: the unsafe kernels below read by these sizes.
    assert!(supported(&g, path), "direct weight gradient on an unsupported geometry or CPU path");
    let (in_size, pixels) = (g.c_in * g.h * g.w, g.oh() * g.ow());
    assert_eq!(x.len(), g.batch * in_size, "weight gradient: x has the wrong length");
    assert_eq!(dy.len(), g.batch * g.c_out * pixels, "weight gradient: dy has the wrong length");
    let k = g.patch();
    let parts: Vec<Vec<f32>> = (0..g.batch.div_ceil(GRAD_GROUP))
        .into_par_iter()
        .map(|grp| {
            let images: Vec<Prepared> = (grp * GRAD_GROUP..((grp + 1) * GRAD_GROUP).min(g.batch))
                .map(|b| {
                    let mut padded = Vec::new();
                    super::conv::pad_image(&x[b * in_size..(b + 1) * in_size], &g, &mut padded, 0);
                    let dyb = &dy[b * g.c_out * pixels..(b + 1) * g.c_out * pixels];
                    let mut dyt = vec![0.0f32; dyb.len()];
                    // SAFETY: `supported` (asserted above) holds only where the CPU has
                    // AVX-512F; both buffers hold c_out·pixels values and c_out is a
                    // multiple of 16, as `pixel_major` asks.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        pixel_major(dyb, pixels, g.c_out, &mut dyt)
                    };
                    Prepared { padded, dy: dyt }
                })
                .collect();
            // dWᵀ [triple][o] for this group.
            let mut dwt = vec![0.0f32; k * g.c_out];
            // SAFETY: AVX-512F as above; every image was prepared from this `g` (padded
            // planes of c_in·(h + 2·pad)·(w + 2·pad), dy pixel-major with c_out per
            // pixel) and `dwt` holds kh·kw·c_in·c_out values: `group_gradient`'s contract.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                group_gradient(&images, &g, &mut dwt)
            };
            dwt
        })
        .collect();
    let mut total = vec![0.0f32; k * g.c_out];
    for part in &parts {
        total.iter_mut().zip(part).for_each(|(t, v)| *t += *v);
    }
    // [triple][o] → [o][triple], PyTorch's layout.
    let mut dw = vec![0.0f32; k * g.c_out];
    for (t, row) in total.chunks_exact(g.c_out).enumerate() {
        for (o, v) in row.iter().enumerate() {
            dw[o * k + t] = *v;
        }
    }
    dw
}

/// dy [o][p] → [p][o]: 16×16 blocks transposed in registers, the last pixels one by one.
///
/// # Safety
/// The CPU has AVX-512F; c_out is a multiple of 16; `dy` and `out` hold c_out·pixels values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pixel_major(dy: &[f32], pixels: usize, c_out: usize, out: &mut [f32]) {
    let whole = pixels - pixels % LANES;
    for o0 in (0..c_out).step_by(LANES) {
        for p0 in (0..whole).step_by(LANES) {
            // SAFETY (loads and stores): o0 + 16 ≤ c_out (c_out is a multiple of 16) and
            // p0 + 16 ≤ pixels, so rows o0..o0+16 of dy hold pixels p0..p0+16 and out's
            // rows p0..p0+16 hold channels o0..o0+16, all inside the c_out·pixels values.
            let rows: [__m512; LANES] =
                std::array::from_fn(|o| unsafe { _mm512_loadu_ps(dy.as_ptr().add((o0 + o) * pixels + p0)) });
            for (p, v) in transpose16(rows).iter().enumerate() {
                unsafe { _mm512_storeu_ps(out.as_mut_ptr().add((p0 + p) * c_out + o0), *v) };
            }
        }
        for p in whole..pixels {
            for o in o0..o0 + LANES {
                out[p * c_out + o] = dy[o * pixels + p];
            }
        }
    }
}

/// A 16×16 transpose: unpack pairs of rows, then 64-bit pairs, then 128-bit lanes twice.
/// Register-only, so safe to call wherever AVX-512F is enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn transpose16(r: [__m512; LANES]) -> [__m512; LANES] {
    let mut t = [_mm512_setzero_ps(); LANES];
    for i in (0..LANES).step_by(2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    let mut u = [_mm512_setzero_ps(); LANES];
    for i in (0..LANES).step_by(4) {
        u[i] = _mm512_shuffle_ps::<0x44>(t[i], t[i + 2]);
        u[i + 1] = _mm512_shuffle_ps::<0xEE>(t[i], t[i + 2]);
        u[i + 2] = _mm512_shuffle_ps::<0x44>(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_shuffle_ps::<0xEE>(t[i + 1], t[i + 3]);
    }
    let mut v = [_mm512_setzero_ps(); LANES];
    for h in [0, 8] {
        for i in 0..4 {
            v[h + i] = _mm512_shuffle_f32x4::<0x88>(u[h + i], u[h + i + 4]);
            v[h + i + 4] = _mm512_shuffle_f32x4::<0xDD>(u[h + i], u[h + i + 4]);
        }
    }
    std::array::from_fn(|i| {
        if i < 8 {
            _mm512_shuffle_f32x4::<0x88>(v[i], v[i + 8])
        } else {
            _mm512_shuffle_f32x4::<0xDD>(v[i - 8], v[i])
        }
    })
}

/// Offset of each (channel, ky, kx) triple's first input value in a padded image.
fn triple_offsets(g: &Conv2d) -> Vec<usize> {
    let (ph, pw) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    let mut offsets = Vec::with_capacity(g.patch());
    for c in 0..g.c_in {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                offsets.push((c * ph + ky) * pw + kx);
            }
        }
    }
    offsets
}

/// Adds one group of images' weight gradient into dwt [triple][o].
///
/// # Safety
/// The CPU has AVX-512F; c_out is a multiple of 16; each image's `padded` holds
/// c_in·(h + 2·pad)·(w + 2·pad) values and its `dy` oh·ow·c_out; `dwt` holds
/// c_in·kh·kw·c_out.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn group_gradient(images: &[Prepared], g: &Conv2d, dwt: &mut [f32]) {
    let offsets = triple_offsets(g);
    let k = offsets.len();
    // Triples per tile: up to 24 sums in registers (12 per vector with two vectors of
    // channels), split evenly over the tiles so the last one is not mostly padding.
    let per_tile = |most: usize| {
        let tiles = k.div_ceil(most);
        k.div_ceil(tiles).next_multiple_of(4)
    };
    let mut o0 = 0;
    while o0 < g.c_out {
        let wide = g.c_out - o0 >= 2 * LANES;
        let t = per_tile(if wide { 12 } else { 24 });
        for t0 in (0..k).step_by(t) {
            // SAFETY: this function's contract is `tile`'s; t0 < k and o0 + 16·V ≤ c_out
            // (V = 2 only where 32 channels are left).
            unsafe {
                match (wide, t) {
                    (true, 4) => tile::<2, 4>(images, g, &offsets, t0, o0, dwt),
                    (true, 8) => tile::<2, 8>(images, g, &offsets, t0, o0, dwt),
                    (true, _) => tile::<2, 12>(images, g, &offsets, t0, o0, dwt),
                    (false, 4) => tile::<1, 4>(images, g, &offsets, t0, o0, dwt),
                    (false, 8) => tile::<1, 8>(images, g, &offsets, t0, o0, dwt),
                    (false, 12) => tile::<1, 12>(images, g, &offsets, t0, o0, dwt),
                    (false, 16) => tile::<1, 16>(images, g, &offsets, t0, o0, dwt),
                    (false, 20) => tile::<1, 20>(images, g, &offsets, t0, o0, dwt),
                    (false, _) => tile::<1, 24>(images, g, &offsets, t0, o0, dwt),
                }
            }
        }
        o0 += if wide { 2 * LANES } else { LANES };
    }
}

/// Adds into dwt the sums for output channels o0..o0+16·V and triples t0..t0+T (fewer
/// at the end: the spare slots repeat triple t0 and are not stored).
///
/// # Safety
/// As for `group_gradient`, with `offsets` from `triple_offsets(g)`, t0 < offsets.len()
/// and o0 + 16·V ≤ c_out.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile<const V: usize, const T: usize>(
    images: &[Prepared],
    g: &Conv2d,
    offsets: &[usize],
    t0: usize,
    o0: usize,
    dwt: &mut [f32],
) {
    let count = T.min(offsets.len() - t0);
    let off: [usize; T] = std::array::from_fn(|s| offsets[t0 + if s < count { s } else { 0 }]);
    let (oh, ow, pw) = (g.oh(), g.ow(), g.w + 2 * g.pad);
    let mut acc = [[_mm512_setzero_ps(); T]; V];
    for image in images {
        let (xp, dp) = (image.padded.as_ptr(), image.dy.as_ptr());
        for y in 0..oh {
            for x in 0..ow {
                // SAFETY (pointer arithmetic and reads): pixel (y, x) plus a triple's
                // offset stays inside the padded image (y + ky < h + 2·pad and
                // x + kx < w + 2·pad, since oh = h + 2·pad − kh + 1 with stride 1), and
                // dy's row for the pixel holds c_out ≥ o0 + 16·V values.
                let (base, row) = unsafe { (xp.add(y * pw + x), dp.add((y * ow + x) * g.c_out + o0)) };
                let d: [__m512; V] = std::array::from_fn(|v| unsafe { _mm512_loadu_ps(row.add(v * LANES)) });
                for s in 0..T {
                    let xv = _mm512_set1_ps(unsafe { *base.add(off[s]) });
                    for v in 0..V {
                        acc[v][s] = _mm512_fmadd_ps(d[v], xv, acc[v][s]);
                    }
                }
            }
        }
    }
    for (v, acc_v) in acc.iter().enumerate() {
        for (s, a) in acc_v.iter().enumerate().take(count) {
            // Triple t0 + s < k, channels o0 + 16·v .. +16 ≤ c_out: inside dwt [k][c_out].
            let dst = &mut dwt[(t0 + s) * g.c_out + o0 + v * LANES..][..LANES];
            // SAFETY: `dst` is 16 values long, exactly one vector.
            unsafe { _mm512_storeu_ps(dst.as_mut_ptr(), _mm512_add_ps(_mm512_loadu_ps(dst.as_ptr()), *a)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::parity::{required, two_orders_bound};

    #[test]
    #[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
    fn pixel_major_is_a_transpose() {
        required(CpuPath::Avx512);
        for (pixels, c_out) in [(196, 32), (16, 16), (37, 48)] {
            let dy: Vec<f32> = (0..pixels * c_out).map(|i| i as f32).collect();
            let mut out = vec![0.0; dy.len()];
            // SAFETY: `required` checked AVX-512F; c_out is a multiple of 16 and both
            // buffers hold c_out·pixels values.
            unsafe { pixel_major(&dy, pixels, c_out, &mut out) };
            for p in 0..pixels {
                for o in 0..c_out {
                    assert_eq!(out[p * c_out + o], dy[o * pixels + p], "pixel {p}, channel {o}");
                }
            }
        }
    }

    #[test]
    #[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
    fn the_lane_per_channel_weight_gradient_matches_the_im2col_path() {
        let path = required(CpuPath::Avx512);
        let shapes = [
            Conv2d { batch: 11, c_in: 3, h: 9, w: 21, c_out: 16, kh: 5, kw: 5, stride: 1, pad: 2 },
            Conv2d { batch: 9, c_in: 16, h: 14, w: 14, c_out: 32, kh: 5, kw: 5, stride: 1, pad: 2 },
            Conv2d { batch: 3, c_in: 2, h: 7, w: 6, c_out: 48, kh: 3, kw: 2, stride: 1, pad: 0 },
            Conv2d { batch: 2, c_in: 1, h: 28, w: 28, c_out: 16, kh: 5, kw: 5, stride: 1, pad: 2 },
        ];
        for g in shapes {
            assert!(supported(&g, path), "{g:?}");
            let x: Vec<f32> = (0..g.batch * g.c_in * g.h * g.w).map(|i| ((i * 7) % 13) as f32 * 0.25 - 1.5).collect();
            let dy: Vec<f32> =
                (0..g.batch * g.c_out * g.oh() * g.ow()).map(|i| ((i * 3) % 17) as f32 * 0.1 - 0.8).collect();
            let fast = conv2d_grad_weight(&x, &dy, g, path);
            let general = super::super::conv::conv2d_grad_weight(&x, &dy, g);
            // One product per image and output pixel, summed in two orders (see `parity`).
            let abs = |v: &[f32]| v.iter().map(|x| x.abs() as f64).collect::<Vec<_>>();
            let sizes = super::super::conv::conv2d_grad_weight::<f64>(&abs(&x), &abs(&dy), g);
            for ((a, b), size) in fast.iter().zip(&general).zip(sizes) {
                let bound = two_orders_bound(g.batch * g.oh() * g.ow(), size);
                assert!(((a - b).abs() as f64) <= bound, "{g:?}: {a} vs {b}, bound {bound:e}");
            }
        }
    }
}
