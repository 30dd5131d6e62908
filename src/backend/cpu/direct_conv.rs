//! Direct convolution for stride 1 in f32, without unrolling patches: each block of OC
//! output channels × R output rows × one vector of pixels keeps its sums in registers
//! while the loop runs over input channels and kernel taps, so every loaded input row
//! feeds OC fused multiply-adds and every broadcast weight R. One source for every CPU
//! path (`lanes`): 8 channels × 3 rows × 16 pixels with AVX-512F (24 sums in 32
//! registers), 4 channels × 3 rows × 8 pixels with AVX2 + FMA and on the portable path
//! (12 sums in 16 registers). Rows whose width is no multiple of the vector (MNIST's
//! 28 and 14) take output channels in the lanes instead where the shapes allow
//! (`channels`), so no lane idles.
//!
//! Each output is the summation order of the im2col path (conv.rs), to the bit:
//! `acc = bias (or +0.0); for (c_in, ky, kx) in order: acc = fma(w, x, acc)`, the
//! padding's zeros included, so which kernel a geometry takes never changes a value.
//! Each image is one task, so results do not depend on the thread count.

use super::lanes::{Isa, Lanes, Portable};
use super::path::CpuPath;
use crate::backend::Conv2d;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// The direct kernel takes output channels in multiples of this (of which the blocks'
/// 4 or 8 channels are divisors).
const OB: usize = 8;
/// The widest vector any path uses, in f32: the padded image's slack covers one.
const MAX_LANES: usize = 16;

/// Runs `$body` with `$k` a constant kernel side: 5 for 5×5 kernels (the course's), so
/// the tap loops of `rows_block` and `channels` have constant bounds and unroll, else 0
/// for the geometry's own sides (`kernel_sides`). On a Zen 3 (AVX2), 150 runs of each
/// alternating in one process, batch 64, medians with it and without: conv1 forward
/// 447 vs 548 µs, conv2 forward 2,294 vs 2,578 µs, conv2 input gradient 2,224 vs 2,466.
macro_rules! with_side {
    ($g:expr, $k:ident => $body:expr) => {
        if $g.kh == 5 && $g.kw == 5 {
            const $k: usize = 5;
            $body
        } else {
            const $k: usize = 0;
            $body
        }
    };
}

/// The kernel's sides (kh, kw): K × K where K is a constant side, else g's. Checked,
/// not trusted (once per block): the kernels read the padded image and the weights by
/// these sides.
#[inline(always)]
fn kernel_sides<const K: usize>(g: &Conv2d) -> (usize, usize) {
    if K > 0 {
        assert!(g.kh == K && g.kw == K, "a constant kernel side is the geometry's");
        (K, K)
    } else {
        (g.kh, g.kw)
    }
}

/// Whether this geometry takes the direct kernel: by shape alone, on every path.
pub fn supported(g: &Conv2d) -> bool {
    g.stride == 1 && g.c_out.is_multiple_of(OB)
}

/// y = w ⊛ x (+ bias) for f32; call only where `supported(&g)`. `path` picks the vector
/// width, which changes no value.
pub fn conv2d(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: Conv2d, path: CpuPath) -> Vec<f32> {
    // Checked, not trusted: the unsafe kernel below reads and writes by these sizes.
    assert!(supported(&g), "direct convolution on an unsupported geometry");
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
    let isa = Isa::of(path);
    // Not zero-filled: the blocks below store every one of the c_out·oh·ow values of
    // each image (every channel block, every row, every pixel vector up to ow), so the
    // fill would only cost a pass over memory.
    let len = g.batch * g.c_out * oh * ow;
    let mut y: Vec<f32> = Vec::with_capacity(len);
    y.spare_capacity_mut()[..len].par_chunks_mut(g.c_out * oh * ow).enumerate().for_each_init(
        Vec::new,
        |padded, (b, yb)| {
            pad_image(&x[b * in_size..(b + 1) * in_size], &g, padded);
            // SAFETY: `Isa::of` answers Avx512 or Avx2 only where the CPU has those
            // instructions. `padded` is this image padded with the slack `image` needs, `wt`
            // holds c_in·kh·kw·c_out weights, `bias` c_out values and `yb` this image's
            // c_out·oh·ow outputs, and c_out is a multiple of 8 (asserted): `image`'s contract.
            unsafe {
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => with_side!(g, K => image_avx512::<K>(padded, &wt, bias, &g, yb)),
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => with_side!(g, K => image_avx2::<K>(padded, &wt, bias, &g, yb)),
                    _ => with_side!(g, K => image::<Portable, 4, 3, K>(padded, &wt, bias, &g, yb)),
                }
            }
        },
    );
    // SAFETY: the kernels above wrote all `len` values (see the note at the allocation).
    unsafe { y.set_len(len) };
    y
}

/// The zero-padded image with one row and one vector of slack at the end, so the last
/// block's spare lanes read zeros, not past the buffer.
fn pad_image(x: &[f32], g: &Conv2d, padded: &mut Vec<f32>) {
    super::conv::pad_image(x, g, padded, g.w + 2 * g.pad + MAX_LANES);
}

/// # Safety
/// As for `image`, and the CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn image_avx512<const K: usize>(
    padded: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2d,
    y: &mut [MaybeUninit<f32>],
) {
    use super::lanes::Avx512;
    let (ow, c_out) = (g.ow(), g.c_out);
    // Rows whose width is no multiple of 16 (MNIST's 28 and 14) would leave lanes idle
    // with pixels in the lanes; channels in the lanes fill them all. Same bits either way.
    // Not for one 16-channel vector over one input channel (conv1): there each output
    // gets only kh·kw multiply-adds before its transposing store, and pixels in the
    // lanes ran conv1 in 290 µs instead of 335 µs per batch of 64.
    // SAFETY: the caller's, and each `channels` call's c_out is a multiple of its
    // NV·16 and ow of its P.
    unsafe {
        if ow % 16 != 0 && c_out % 32 == 0 && ow % 7 == 0 {
            channels::<Avx512, 2, 7, K>(padded, wt, bias, g, y, 0..ow)
        } else if ow % 16 != 0 && c_out % 16 == 0 && ow % 14 == 0 && g.c_in > 1 {
            channels::<Avx512, 1, 14, K>(padded, wt, bias, g, y, 0..ow)
        } else {
            image::<Avx512, 8, 3, K>(padded, wt, bias, g, y)
        }
    }
}

/// Output pixels [xs.start, xs.end) of every row of one image with output channels in
/// the lanes: blocks of NV vectors of channels × P adjacent pixels of one output row;
/// each tap loads NV weight vectors and broadcasts P input values. Each output's chain
/// is the pixel kernel's (bias, then (c_in, ky, kx)).
///
/// # Safety
/// As for `image`, with c_out a multiple of NV·N, xs.end ≤ ow and xs.len() a multiple
/// of P.
#[inline(always)]
unsafe fn channels<V: Lanes, const NV: usize, const P: usize, const K: usize>(
    padded: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2d,
    y: &mut [MaybeUninit<f32>],
    xs: std::ops::Range<usize>,
) {
    // The pixel loop below is written out for up to 16 pixels.
    const { assert!(P <= 16) };
    let (oh, ow) = (g.oh(), g.ow());
    let (ph, pw) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    let (kh, kw) = kernel_sides::<K>(g);
    let (pp, wp, yp) = (padded.as_ptr(), wt.as_ptr(), y.as_mut_ptr().cast::<f32>());
    let zero = [0.0f32; MAX_LANES];
    for o0 in (0..g.c_out).step_by(NV * V::N) {
        for r in 0..oh {
            for x0 in xs.clone().step_by(P) {
                // SAFETY (every `Lanes` call and pointer below): the CPU runs `V`; the
                // bias's N values from o0 + k·N lie below c_out; input reads lie in row
                // r + i < ph of channel c, at x0 + p + j ≤ ow − 1 + kw − 1 < pw; weight
                // reads at tap·c_out + o0 + k·N + N ≤ c_in·kh·kw·c_out.
                let mut acc: [[V; P]; NV] = std::array::from_fn(|k| {
                    let b = bias.map_or(zero.as_ptr(), |b| unsafe { b.as_ptr().add(o0 + k * V::N) });
                    [unsafe { V::load(b) }; P]
                });
                for c in 0..g.c_in {
                    for i in 0..kh {
                        let base = (c * ph + r + i) * pw + x0;
                        for j in 0..kw {
                            let tap = ((c * kh + i) * kw + j) * g.c_out + o0;
                            let wv: [V; NV] = std::array::from_fn(|k| unsafe { V::load(wp.add(tap + k * V::N)) });
                            let xp = unsafe { pp.add(base + j) };
                            // Pixel p's input is xp[p] and its sums acc[·][p]; p is a
                            // literal, so each broadcast's offset is a constant.
                            macro_rules! pixels {
                                ($($p:literal)*) => {$(
                                    if $p < P {
                                        let xv = unsafe { V::broadcast_at::<$p>(xp) };
                                        for k in 0..NV {
                                            // SAFETY: $p < P, inside acc's row.
                                            let a = unsafe { acc[k].get_unchecked_mut($p) };
                                            *a = unsafe { wv[k].mul_add(xv, *a) };
                                        }
                                    }
                                )*};
                            }
                            pixels!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
                        }
                    }
                }
                // Lanes are channels, y is [c_out, oh, ow]: out through a small transpose.
                for (k, acc_k) in acc.iter().enumerate() {
                    for (p, v) in acc_k.iter().enumerate() {
                        let mut lanes = [0.0f32; MAX_LANES];
                        unsafe { v.store(lanes.as_mut_ptr()) };
                        for (l, val) in lanes.iter().take(V::N).enumerate() {
                            // SAFETY: channel o0 + k·N + l < c_out, r < oh, x0 + p < ow.
                            unsafe { yp.add(((o0 + k * V::N + l) * oh + r) * ow + x0 + p).write(*val) };
                        }
                    }
                }
            }
        }
    }
}

/// Rows whose width is no multiple of 8 (MNIST's 28 and 14) take output channels in the
/// lanes when there is more than one input channel, as on AVX-512, in blocks of 2
/// vectors (16 channels) × at most 6 pixels: 12 sums, 2 weight vectors and a broadcast
/// in AVX2's 16 registers, 8 loads for 12 fused multiply-adds. One vector × 14 pixels
/// (one weight load and 14 broadcasts for 14) is bound by the loads: on a Zen 3 a loop of
/// it ran at 70% of the FMA units' peak where 2 × 6 ran at 96%. A row is cut into
/// blocks as even as it allows (14 = 5 + 5 + 4). The broadcasts are fresh loads
/// (`Lanes::broadcast_at`): where the compiler kept a value broadcast for one tap to
/// reuse it a tap later, it spilled sums in the innermost loop. One input channel keeps
/// pixels in the lanes, as on AVX-512.
///
/// # Safety
/// As for `image`, and the CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn image_avx2<const K: usize>(
    padded: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2d,
    y: &mut [MaybeUninit<f32>],
) {
    use super::lanes::Avx2;
    let ow = g.ow();
    // SAFETY (each call): the caller's; `channels`' c_out is a multiple of its NV·8 and
    // its pixel range a whole number of its P-pixel blocks inside the row.
    unsafe {
        if ow.is_multiple_of(8) || g.c_in == 1 {
            image::<Avx2, 4, 3, K>(padded, wt, bias, g, y)
        } else if g.c_out.is_multiple_of(16) {
            let blocks = ow.div_ceil(6);
            let (p, longer) = (ow / blocks, ow % blocks);
            let split = longer * (p + 1);
            for (p, xs) in [(p + 1, 0..split), (p, split..ow)] {
                match p {
                    _ if xs.is_empty() => {}
                    6 => channels::<Avx2, 2, 6, K>(padded, wt, bias, g, y, xs),
                    5 => channels::<Avx2, 2, 5, K>(padded, wt, bias, g, y, xs),
                    4 => channels::<Avx2, 2, 4, K>(padded, wt, bias, g, y, xs),
                    3 => channels::<Avx2, 2, 3, K>(padded, wt, bias, g, y, xs),
                    2 => channels::<Avx2, 2, 2, K>(padded, wt, bias, g, y, xs),
                    1 => channels::<Avx2, 2, 1, K>(padded, wt, bias, g, y, xs),
                    _ => unreachable!("a block of {p} pixels: blocks hold 1 to 6"),
                }
            }
        } else if ow.is_multiple_of(14) {
            channels::<Avx2, 1, 14, K>(padded, wt, bias, g, y, 0..ow)
        } else if ow.is_multiple_of(7) {
            channels::<Avx2, 1, 7, K>(padded, wt, bias, g, y, 0..ow)
        } else {
            image::<Avx2, 4, 3, K>(padded, wt, bias, g, y)
        }
    }
}

/// One image's convolution, `OC` output channels (4 or 8) and up to `MAXR` output rows
/// per block.
///
/// # Safety
/// The CPU runs `V`; `g.c_out` is a multiple of 8; `padded` holds the image's
/// c_in·(h + 2·pad)·(w + 2·pad) padded values plus (w + 2·pad + 16) of slack, `wt`
/// c_in·kh·kw·c_out values, `bias` (if any) c_out and `y` c_out·oh·ow.
#[inline(always)]
unsafe fn image<V: Lanes, const OC: usize, const MAXR: usize, const K: usize>(
    padded: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2d,
    y: &mut [MaybeUninit<f32>],
) {
    let oh = g.oh();
    for o0 in (0..g.c_out).step_by(OC) {
        let mut r0 = 0;
        while r0 < oh {
            let rows = (oh - r0).min(MAXR);
            // SAFETY: this function's contract is `rows_block`'s, and o0 + OC ≤ c_out (OC
            // divides 8, which divides c_out), r0 + rows ≤ oh by the loops.
            unsafe {
                match rows {
                    3 => rows_block::<V, OC, 3, K>(padded, wt, bias, g, y, o0, r0),
                    2 => rows_block::<V, OC, 2, K>(padded, wt, bias, g, y, o0, r0),
                    _ => rows_block::<V, OC, 1, K>(padded, wt, bias, g, y, o0, r0),
                }
            }
            r0 += rows;
        }
    }
}

/// Output channels [o0, o0+OC) × rows [r0, r0+R) of one image, N pixels at a time.
///
/// # Safety
/// As for `image`, with o0 + OC ≤ c_out and r0 + R ≤ oh.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_block<V: Lanes, const OC: usize, const R: usize, const K: usize>(
    padded: &[f32],
    wt: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2d,
    y: &mut [MaybeUninit<f32>],
    o0: usize,
    r0: usize,
) {
    let (oh, ow) = (g.oh(), g.ow());
    let (ph, pw) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    let (kh, kw) = kernel_sides::<K>(g);
    let pp = padded.as_ptr();
    for x0 in (0..ow).step_by(V::N) {
        // Each chain starts from the bias (or +0.0), as the im2col path's GEMM
        // continues from the bias it prefilled.
        // SAFETY (every `Lanes` call below): the caller's, the CPU runs `V`.
        let mut acc: [[V; R]; OC] = std::array::from_fn(|o| [unsafe { V::splat(bias.map_or(0.0, |b| b[o0 + o])) }; R]);
        for c in 0..g.c_in {
            for i in 0..kh {
                // Rows r0+i .. r0+i+R of channel c; reads stay below
                // c·ph·pw + (r0+R−1+i)·pw + x0 + kw−1 + N ≤ len(padded) by the slack.
                // (oh = ph − kh + 1 with stride 1, so r0+R−1+i < ph, and the slack of
                // pw + 16 covers x0 + j + N running past the row's end.)
                let base = (c * ph + r0 + i) * pw + x0;
                for j in 0..kw {
                    // SAFETY: the N values from base + r·pw + j lie inside `padded`, by
                    // the bound above.
                    let xs: [V; R] = std::array::from_fn(|r| unsafe { V::load(pp.add(base + r * pw + j)) });
                    // Tap (c, i, j)'s weights for output channels o0..o0+OC.
                    let wrow = &wt[((c * kh + i) * kw + j) * g.c_out + o0..][..OC];
                    for (acc_o, w) in acc.iter_mut().zip(wrow) {
                        let wv = unsafe { V::splat(*w) };
                        for (a, xv) in acc_o.iter_mut().zip(&xs) {
                            *a = unsafe { wv.mul_add(*xv, *a) };
                        }
                    }
                }
            }
        }
        let valid = V::N.min(ow - x0);
        for (o, acc_o) in acc.iter().enumerate() {
            for (r, v) in acc_o.iter().enumerate() {
                let row = &mut y[((o0 + o) * oh + r0 + r) * ow..][..ow];
                // SAFETY: `valid` = min(N, ow − x0) values from x0 lie inside this row.
                unsafe {
                    if valid == V::N {
                        v.store(row.as_mut_ptr().add(x0).cast::<f32>())
                    } else {
                        v.store_first(row.as_mut_ptr().add(x0).cast::<f32>(), valid)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::path;

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The im2col path's bits, on every lane width this CPU runs, with and without a
    /// bias, at widths that leave every kind of vector tail.
    #[test]
    fn direct_convolution_is_the_im2col_path_to_the_bit_on_every_path() {
        let shapes = [
            Conv2d { batch: 3, c_in: 2, h: 9, w: 21, c_out: 8, kh: 5, kw: 5, stride: 1, pad: 2 },
            Conv2d { batch: 2, c_in: 3, h: 7, w: 7, c_out: 16, kh: 3, kw: 2, stride: 1, pad: 0 },
            Conv2d { batch: 1, c_in: 5, h: 11, w: 33, c_out: 24, kh: 3, kw: 3, stride: 1, pad: 1 },
            Conv2d { batch: 1, c_in: 1, h: 28, w: 28, c_out: 16, kh: 5, kw: 5, stride: 1, pad: 2 },
            // Channels in the lanes on AVX-512: 2 vectors × 7 pixels, then 1 × 14.
            Conv2d { batch: 2, c_in: 3, h: 14, w: 14, c_out: 64, kh: 5, kw: 5, stride: 1, pad: 2 },
            Conv2d { batch: 1, c_in: 2, h: 9, w: 9, c_out: 32, kh: 3, kw: 3, stride: 1, pad: 0 },
            Conv2d { batch: 2, c_in: 4, h: 14, w: 14, c_out: 16, kh: 3, kw: 3, stride: 1, pad: 1 },
            // AVX2's 2 × (up to 6)-pixel blocks: rows of 1, 2, 13 (5 + 4 + 4) and 23
            // (6 + 6 + 6 + 5) pixels; 24 channels take 1 vector × 14.
            Conv2d { batch: 1, c_in: 2, h: 5, w: 5, c_out: 16, kh: 5, kw: 5, stride: 1, pad: 0 },
            Conv2d { batch: 1, c_in: 3, h: 4, w: 3, c_out: 32, kh: 2, kw: 2, stride: 1, pad: 0 },
            Conv2d { batch: 2, c_in: 2, h: 6, w: 13, c_out: 16, kh: 3, kw: 3, stride: 1, pad: 1 },
            Conv2d { batch: 1, c_in: 3, h: 5, w: 25, c_out: 16, kh: 3, kw: 3, stride: 1, pad: 0 },
            Conv2d { batch: 1, c_in: 2, h: 14, w: 14, c_out: 24, kh: 5, kw: 5, stride: 1, pad: 2 },
            // 5 × 3 and 3 × 5 kernels keep the geometry's sides (not the constant 5 × 5).
            Conv2d { batch: 1, c_in: 1, h: 9, w: 12, c_out: 8, kh: 5, kw: 3, stride: 1, pad: 1 },
            Conv2d { batch: 1, c_in: 3, h: 7, w: 14, c_out: 16, kh: 3, kw: 5, stride: 1, pad: 2 },
        ];
        for g in shapes {
            assert!(supported(&g), "{g:?}");
            let x: Vec<f32> = (0..g.batch * g.c_in * g.h * g.w).map(|i| ((i * 7) % 13) as f32 * 0.37 - 1.5).collect();
            let w: Vec<f32> = (0..g.c_out * g.patch()).map(|i| ((i * 5) % 11) as f32 * 0.113 - 0.6).collect();
            let b: Vec<f32> = (0..g.c_out).map(|i| i as f32 * 0.1 - 0.35).collect();
            for bias in [Some(&b[..]), None] {
                let general = super::super::conv::conv2d(&x, &w, bias, g);
                for p in path::available() {
                    let direct = conv2d(&x, &w, bias, g, p);
                    assert_eq!(bits(&direct), bits(&general), "{g:?} on {p}, bias {}", bias.is_some());
                }
            }
        }
    }
}
