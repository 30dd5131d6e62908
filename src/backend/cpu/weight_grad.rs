//! The convolution weight gradient for stride 1 in f32, with output channels in the
//! vector lanes:
//!
//!   dW[o][c, ky, kx] = Σ over images and output pixels (y, x) of
//!                      dy[o][y, x] · x_padded[c][y + ky, x + kx]
//!
//! Each image's dy is first turned pixel-major ([y, x][o], `pixel_major`), so one load gives a vector
//! of output channels of one pixel; each input value is broadcast and multiplied into
//! them. A tile of (channel, ky, kx) triples × output channels keeps its sums in
//! registers over every pixel of a group of images, so no sum is ever reduced across
//! lanes. One source for every CPU path (`lanes`): with AVX-512F up to 24 sums of 16
//! channels in 32 registers, with AVX2 + FMA and on the portable path 10 or 12 sums of 8.
//!
//! With the bias, each image's dy planes are also summed (`channels::plane_total`) as
//! they are turned pixel-major, so the bias's gradient takes no pass over dy of its own.
//!
//! Each weight's sum is the im2col path's (conv.rs) to the bit: within a group of
//! `GRAD_GROUP` images one chain of fused multiply-adds from +0.0 over (image, pixel)
//! in order, then the groups added in order from +0.0. So which kernel a geometry
//! takes never changes a value, nor does the thread count.

use super::conv::GRAD_GROUP;
use super::lanes::{Isa, Lanes, Portable};
use super::path::CpuPath;
use crate::backend::Conv2d;
use rayon::prelude::*;

/// Output channels per step of the outer loop: two vectors of 8 or one of 16.
const CHANNELS: usize = 16;

/// Whether the weight gradient of this geometry takes this kernel: by shape alone, on
/// every path.
pub fn supported(g: &Conv2d) -> bool {
    g.stride == 1 && g.c_out.is_multiple_of(CHANNELS)
}

/// One image made ready for the kernel: the zero-padded input and dy pixel-major.
struct Prepared {
    padded: Vec<f32>,
    dy: Vec<f32>,
}

/// dW [c_out, c_in, kh, kw], and with `bias` the bias's gradient: dy summed per output
/// channel, each image's planes (`channels::plane_total`) while they are turned
/// pixel-major and in cache, then added over the images in order from +0.0, the bits of
/// `channels::sum_channels`. Call only where `supported(&g)`. `path` picks the vector
/// width, which changes no value.
pub fn conv2d_grad_weight(x: &[f32], dy: &[f32], g: Conv2d, bias: bool, path: CpuPath) -> (Vec<f32>, Option<Vec<f32>>) {
    // Checked, not trusted: the unsafe kernels below read by these sizes.
    assert!(supported(&g), "direct weight gradient on an unsupported geometry");
    let (in_size, pixels) = (g.c_in * g.h * g.w, g.oh() * g.ow());
    assert_eq!(x.len(), g.batch * in_size, "weight gradient: x has the wrong length");
    assert_eq!(dy.len(), g.batch * g.c_out * pixels, "weight gradient: dy has the wrong length");
    let k = g.patch();
    let isa = Isa::of(path);
    // Per group: dWᵀ [triple][o], and each image's plane totals [c_out] where `bias`.
    let parts: Vec<(Vec<f32>, Vec<f64>)> = (0..g.batch.div_ceil(GRAD_GROUP))
        .into_par_iter()
        .map(|grp| {
            let mut totals = Vec::new();
            let images: Vec<Prepared> = (grp * GRAD_GROUP..((grp + 1) * GRAD_GROUP).min(g.batch))
                .map(|b| {
                    let mut padded = Vec::new();
                    super::conv::pad_image(&x[b * in_size..(b + 1) * in_size], &g, &mut padded, 0);
                    let dyb = &dy[b * g.c_out * pixels..(b + 1) * g.c_out * pixels];
                    if bias {
                        totals.extend(dyb.chunks_exact(pixels).map(super::channels::plane_total));
                    }
                    let mut dyt = vec![0.0f32; dyb.len()];
                    super::pixel_major::pixel_major(dyb, pixels, g.c_out, &mut dyt, isa);
                    Prepared { padded, dy: dyt }
                })
                .collect();
            // dWᵀ [triple][o] for this group.
            let mut dwt = vec![0.0f32; k * g.c_out];
            // SAFETY: `Isa::of` answers Avx512 or Avx2 only where the CPU has those
            // instructions; every image was prepared from this `g` (padded planes of
            // c_in·(h + 2·pad)·(w + 2·pad), dy pixel-major with c_out per pixel), c_out
            // is a multiple of 16 and `dwt` holds kh·kw·c_in·c_out values: the
            // contract of the `group_*` functions.
            unsafe {
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => group_avx512(&images, &g, &mut dwt),
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => group_avx2(&images, &g, &mut dwt),
                    _ => group_eight::<Portable>(&images, &g, &mut dwt),
                }
            }
            (dwt, totals)
        })
        .collect();
    // The groups in order from +0.0, as conv.rs adds them.
    let mut total = vec![0.0f32; k * g.c_out];
    for (part, _) in &parts {
        total.iter_mut().zip(part).for_each(|(t, v)| *t += *v);
    }
    // The images' plane totals in order from +0.0, as `channels::sum_channels` adds them.
    let db = bias.then(|| {
        let mut sums = vec![0.0f64; g.c_out];
        for image in parts.iter().flat_map(|(_, totals)| totals.chunks_exact(g.c_out)) {
            sums.iter_mut().zip(image).for_each(|(s, v)| *s += *v);
        }
        sums.into_iter().map(|s| s as f32).collect()
    });
    // [triple][o] → [o][triple], PyTorch's layout.
    let mut dw = vec![0.0f32; k * g.c_out];
    for (t, row) in total.chunks_exact(g.c_out).enumerate() {
        for (o, v) in row.iter().enumerate() {
            dw[o * k + t] = *v;
        }
    }
    (dw, db)
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

/// # Safety
/// As for `group_sixteen`, and the CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn group_avx512(images: &[Prepared], g: &Conv2d, dwt: &mut [f32]) {
    // SAFETY: the caller's.
    unsafe { group_sixteen::<super::lanes::Avx512>(images, g, dwt) }
}

/// # Safety
/// As for `group_eight`, and the CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn group_avx2(images: &[Prepared], g: &Conv2d, dwt: &mut [f32]) {
    // SAFETY: the caller's.
    unsafe { group_eight::<super::lanes::Avx2>(images, g, dwt) }
}

/// One group of images' weight gradient into dwt [triple][o], 16 lanes (32 registers).
///
/// # Safety
/// The CPU runs `V`, 16 lanes; c_out is a multiple of 16; each image's `padded` holds
/// c_in·(h + 2·pad)·(w + 2·pad) values and its `dy` oh·ow·c_out; `dwt` holds
/// c_in·kh·kw·c_out.
#[inline(always)]
#[cfg(target_arch = "x86_64")]
unsafe fn group_sixteen<V: Lanes>(images: &[Prepared], g: &Conv2d, dwt: &mut [f32]) {
    debug_assert_eq!(V::N, 16);
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
        let wide = g.c_out - o0 >= 2 * V::N;
        let t = per_tile(if wide { 12 } else { 24 });
        for t0 in (0..k).step_by(t) {
            // SAFETY: this function's contract is `tile`'s; t0 < k and o0 + 16·NV ≤
            // c_out (NV = 2 only where 32 channels are left).
            unsafe {
                match (wide, t) {
                    (true, 4) => tile::<V, 2, 4>(images, g, &offsets, t0, o0, dwt),
                    (true, 8) => tile::<V, 2, 8>(images, g, &offsets, t0, o0, dwt),
                    (true, _) => tile::<V, 2, 12>(images, g, &offsets, t0, o0, dwt),
                    (false, 4) => tile::<V, 1, 4>(images, g, &offsets, t0, o0, dwt),
                    (false, 8) => tile::<V, 1, 8>(images, g, &offsets, t0, o0, dwt),
                    (false, 12) => tile::<V, 1, 12>(images, g, &offsets, t0, o0, dwt),
                    (false, 16) => tile::<V, 1, 16>(images, g, &offsets, t0, o0, dwt),
                    (false, 20) => tile::<V, 1, 20>(images, g, &offsets, t0, o0, dwt),
                    (false, _) => tile::<V, 1, 24>(images, g, &offsets, t0, o0, dwt),
                }
            }
        }
        o0 += if wide { 2 * V::N } else { V::N };
    }
}

/// One group of images' weight gradient into dwt [triple][o], 8 lanes (16 registers):
/// tiles of 6 triples × 16 channels (12 sums), or 5 where that leaves fewer spare
/// slots (a 5×5 kernel over one input channel: 25 triples are 5 full tiles of 5, where
/// tiles of 6 left the fifth with one triple).
///
/// # Safety
/// As for `group_sixteen`, with `V` of 8 lanes.
#[inline(always)]
unsafe fn group_eight<V: Lanes>(images: &[Prepared], g: &Conv2d, dwt: &mut [f32]) {
    debug_assert_eq!(V::N, 8);
    let offsets = triple_offsets(g);
    let k = offsets.len();
    let five = k.next_multiple_of(5) < k.next_multiple_of(6);
    for o0 in (0..g.c_out).step_by(2 * V::N) {
        for t0 in (0..k).step_by(if five { 5 } else { 6 }) {
            // SAFETY: this function's contract is `tile`'s; t0 < k and o0 + 16 ≤ c_out.
            unsafe {
                if five {
                    tile::<V, 2, 5>(images, g, &offsets, t0, o0, dwt)
                } else {
                    tile::<V, 2, 6>(images, g, &offsets, t0, o0, dwt)
                }
            }
        }
    }
}

/// Sets in dwt the sums for output channels o0..o0+N·NV and triples t0..t0+T (fewer at
/// the end: the spare slots repeat triple t0 and are not stored). Each sum is one chain
/// from +0.0 over the group's images and their pixels in order.
///
/// # Safety
/// The CPU runs `V`; each image as for `group_sixteen`, `offsets` from
/// `triple_offsets(g)`, t0 < offsets.len() and o0 + N·NV ≤ c_out.
#[inline(always)]
unsafe fn tile<V: Lanes, const NV: usize, const T: usize>(
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
    // SAFETY (every `Lanes` call): the caller's, the CPU runs `V`.
    let mut acc = [[unsafe { V::splat(0.0) }; T]; NV];
    for image in images {
        let (xp, dp) = (image.padded.as_ptr(), image.dy.as_ptr());
        for y in 0..oh {
            for x in 0..ow {
                // SAFETY (pointer arithmetic and reads): pixel (y, x) plus a triple's
                // offset stays inside the padded image (y + ky < h + 2·pad and
                // x + kx < w + 2·pad, since oh = h + 2·pad − kh + 1 with stride 1), and
                // dy's row for the pixel holds c_out ≥ o0 + N·NV values.
                let (base, row) = unsafe { (xp.add(y * pw + x), dp.add((y * ow + x) * g.c_out + o0)) };
                let d: [V; NV] = std::array::from_fn(|v| unsafe { V::load(row.add(v * V::N)) });
                for s in 0..T {
                    let xv = unsafe { V::splat(*base.add(off[s])) };
                    for v in 0..NV {
                        acc[v][s] = unsafe { d[v].mul_add(xv, acc[v][s]) };
                    }
                }
            }
        }
    }
    for (v, acc_v) in acc.iter().enumerate() {
        for (s, a) in acc_v.iter().enumerate().take(count) {
            // Triple t0 + s < k, channels o0 + N·v .. +N ≤ c_out: inside dwt [k][c_out].
            let dst = &mut dwt[(t0 + s) * g.c_out + o0 + v * V::N..][..V::N];
            // SAFETY: `dst` is N values long, exactly one vector.
            unsafe { a.store(dst.as_mut_ptr()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::path;

    /// The im2col path's bits on every lane width this CPU runs, and with the bias the
    /// bits of `sum_channels` too: batches that leave a short last group, channel counts
    /// that take every tile shape, odd images.
    #[test]
    fn the_lane_per_channel_weight_gradient_is_the_im2col_path_to_the_bit() {
        let shapes = [
            Conv2d { batch: 11, c_in: 3, h: 9, w: 21, c_out: 16, kh: 5, kw: 5, stride: 1, pad: 2 },
            Conv2d { batch: 9, c_in: 16, h: 14, w: 14, c_out: 32, kh: 5, kw: 5, stride: 1, pad: 2 },
            Conv2d { batch: 3, c_in: 2, h: 7, w: 6, c_out: 48, kh: 3, kw: 2, stride: 1, pad: 0 },
            Conv2d { batch: 2, c_in: 1, h: 28, w: 28, c_out: 16, kh: 5, kw: 5, stride: 1, pad: 2 },
            Conv2d { batch: 17, c_in: 5, h: 5, w: 7, c_out: 64, kh: 3, kw: 3, stride: 1, pad: 1 },
        ];
        for g in shapes {
            assert!(supported(&g), "{g:?}");
            let x: Vec<f32> = (0..g.batch * g.c_in * g.h * g.w).map(|i| ((i * 7) % 13) as f32 * 0.37 - 1.5).collect();
            let dy: Vec<f32> =
                (0..g.batch * g.c_out * g.oh() * g.ow()).map(|i| ((i * 3) % 17) as f32 * 0.1 - 0.8).collect();
            let general = super::super::conv::conv2d_grad_weight(&x, &dy, g);
            let ch = crate::backend::Channels { batch: g.batch, c: g.c_out, spatial: g.oh() * g.ow() };
            let sums = super::super::channels::sum_channels(&dy, ch);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for p in path::available() {
                let (fast, none) = conv2d_grad_weight(&x, &dy, g, false, p);
                assert_eq!(bits(&fast), bits(&general), "{g:?} on {p}");
                assert!(none.is_none(), "no bias asked for, none summed");
                let (with_bias, db) = conv2d_grad_weight(&x, &dy, g, true, p);
                assert_eq!(bits(&with_bias), bits(&general), "{g:?} on {p}, with the bias");
                assert_eq!(bits(&db.expect("the bias's gradient")), bits(&sums), "{g:?} on {p}: the bias");
            }
        }
    }

    /// The bias's gradient adds the images' plane totals in image order from +0.0, as
    /// `sum_channels` does, across a group boundary (images 0–7, then 8): with planes
    /// summing to 1e30, −1e30 and then 1.0 seven times, that order gives 7 and any
    /// other (reversed, or the ones before the cancellation) gives 0 or 1e30.
    #[test]
    fn the_bias_gradient_adds_the_images_in_order() {
        let g = Conv2d { batch: 9, c_in: 1, h: 4, w: 4, c_out: 16, kh: 3, kw: 3, stride: 1, pad: 1 };
        let pixels = g.oh() * g.ow();
        let mut dy = vec![0.0f32; g.batch * g.c_out * pixels];
        for b in 0..g.batch {
            let v = match b {
                0 => 1e30,
                1 => -1e30,
                _ => 1.0,
            };
            for c in 0..g.c_out {
                dy[(b * g.c_out + c) * pixels + c % pixels] = v;
            }
        }
        let x = vec![0.5f32; g.batch * g.c_in * g.h * g.w];
        let ch = crate::backend::Channels { batch: g.batch, c: g.c_out, spatial: pixels };
        assert_eq!(super::super::channels::sum_channels(&dy, ch), vec![7.0f32; g.c_out]);
        for p in path::available() {
            let (_, db) = conv2d_grad_weight(&x, &dy, g, true, p);
            assert_eq!(db.expect("the bias's gradient"), vec![7.0f32; g.c_out], "on {p}");
        }
    }
}
