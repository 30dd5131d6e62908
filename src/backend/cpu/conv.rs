//! Convolution and pooling on NCHW images, and the definition of their values on every
//! CPU path. Convolution unrolls each image's patches (im2col) and multiplies by the
//! weight with the GEMM of gemm.rs, so each output is one chain of fused multiply-adds:
//! `acc = bias (or +0.0); for (c_in, ky, kx) in order: acc = fma(w, x, acc)`, the
//! padding's zeros included. The weight gradient is, per weight, one chain from +0.0
//! over (image, pixel) within each group of `GRAD_GROUP` images, the groups then added
//! in order from +0.0. The direct kernels (direct_conv.rs, weight_grad.rs, pool2x2/)
//! compute exactly these values, so the kernel a shape takes changes no bit. Images
//! run in parallel, each on one thread, so no value depends on the thread count.

use super::{gemm_into, CpuKernels};
use crate::backend::{Conv2d, Element, MatMul, Pool2d};
use rayon::prelude::*;

/// Images whose weight-gradient contributions are summed together before the groups
/// are added in order: fixed, so the sum's order never depends on the threads.
pub(crate) const GRAD_GROUP: usize = 8;

/// Unrolls one image [c_in, h, w] into columns [c_in·kh·kw, oh·ow]. The image is first
/// copied into a zero-padded plane, so every column row is a plain strided read with
/// no bounds tests (im2col was a fifth of a training step before).
fn im2col<T: Element>(x: &[T], g: &Conv2d, cols: &mut [T], padded: &mut Vec<T>) {
    let (oh, ow) = (g.oh(), g.ow());
    let p = oh * ow;
    let (ph, pw) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    pad_image(x, g, padded, 0);
    for c in 0..g.c_in {
        let plane = &padded[c * ph * pw..(c + 1) * ph * pw];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = &mut cols[((c * g.kh + i) * g.kw + j) * p..][..p];
                for (oy, out) in row.chunks_exact_mut(ow).enumerate() {
                    let src = &plane[(oy * g.stride + i) * pw + j..];
                    if g.stride == 1 {
                        copy_short(out, &src[..ow]);
                    } else {
                        for (ox, o) in out.iter_mut().enumerate() {
                            *o = src[ox * g.stride];
                        }
                    }
                }
            }
        }
    }
}

/// The image [c_in, h, w] in zero-padded planes [c_in, h + 2·pad, w + 2·pad], followed
/// by `slack` zeros (room for vector reads past the last row).
pub(crate) fn pad_image<T: Element>(x: &[T], g: &Conv2d, padded: &mut Vec<T>, slack: usize) {
    let (ph, pw) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    padded.clear();
    padded.resize(g.c_in * ph * pw + slack, T::zero());
    if g.h == 0 || g.w == 0 {
        return;
    }
    for (plane, image) in padded.chunks_exact_mut(ph * pw).zip(x.chunks_exact(g.h * g.w)) {
        let rows = plane[g.pad * pw..].chunks_exact_mut(pw);
        for (row, src) in rows.zip(image.chunks_exact(g.w)) {
            copy_short(&mut row[g.pad..g.pad + g.w], src);
        }
    }
}

/// dst = src for one image row (MNIST's 28 or 14 values): in fixed 8-value pieces,
/// which the compiler turns into vector moves, where a plain copy of a length known
/// only at run time is a memcpy call costing more than the copy (it was 4% of a
/// training step). The last piece overlaps the one before it when the length is no
/// multiple of 8, writing some values twice with the same bits.
fn copy_short<T: Element>(dst: &mut [T], src: &[T]) {
    const PIECE: usize = 8;
    let n = src.len();
    assert_eq!(dst.len(), n, "copy_short: lengths differ");
    if n < PIECE {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
        return;
    }
    let piece = |dst: &mut [T], src: &[T], at: usize| {
        let s: &[T; PIECE] = src[at..at + PIECE].try_into().expect("a piece of 8");
        let d: &mut [T; PIECE] = (&mut dst[at..at + PIECE]).try_into().expect("a piece of 8");
        *d = *s;
    };
    for at in (0..n - PIECE).step_by(PIECE) {
        piece(dst, src, at);
    }
    piece(dst, src, n - PIECE);
}

/// Adds columns [c_in·kh·kw, oh·ow] back into an image [c_in, h, w] (the adjoint of
/// im2col), through a zero-padded plane as im2col reads.
fn col2im<T: Element>(cols: &[T], g: &Conv2d, dx: &mut [T], padded: &mut Vec<T>) {
    let (oh, ow) = (g.oh(), g.ow());
    let p = oh * ow;
    let (ph, pw) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    padded.clear();
    padded.resize(g.c_in * ph * pw, T::zero());
    for c in 0..g.c_in {
        let plane = &mut padded[c * ph * pw..(c + 1) * ph * pw];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = &cols[((c * g.kh + i) * g.kw + j) * p..][..p];
                for (oy, src) in row.chunks_exact(ow).enumerate() {
                    let dst = &mut plane[(oy * g.stride + i) * pw + j..];
                    if g.stride == 1 {
                        for (d, v) in dst.iter_mut().zip(src) {
                            *d = *d + *v;
                        }
                    } else {
                        for (ox, v) in src.iter().enumerate() {
                            dst[ox * g.stride] = dst[ox * g.stride] + *v;
                        }
                    }
                }
            }
        }
    }
    for c in 0..g.c_in {
        for y in 0..g.h {
            let src = &padded[(c * ph + y + g.pad) * pw + g.pad..][..g.w];
            dx[(c * g.h + y) * g.w..][..g.w].copy_from_slice(src);
        }
    }
}

pub fn conv2d<T: CpuKernels>(x: &[T], w: &[T], bias: Option<&[T]>, g: Conv2d) -> Vec<T> {
    let (k, p) = (g.patch(), g.oh() * g.ow());
    let in_size = g.c_in * g.h * g.w;
    let mut y = vec![T::zero(); g.batch * g.c_out * p];
    let d = MatMul { m: g.c_out, k, n: p, trans_a: false, trans_b: false };
    y.par_chunks_mut(g.c_out * p).enumerate().for_each_init(
        || (vec![T::zero(); k * p], Vec::new()),
        |(cols, padded), (b, yb)| {
            im2col(&x[b * in_size..(b + 1) * in_size], &g, cols, padded);
            // The bias goes in first, so the GEMM accumulates onto it: one pass fewer.
            if let Some(bias) = bias {
                for (plane, bv) in yb.chunks_exact_mut(p).zip(bias) {
                    plane.fill(*bv);
                }
            }
            gemm_into(w, cols, yb, d, bias.is_some());
        },
    );
    y
}

/// dx from dy, by the one rule of every CPU path: with stride 1 (and a square kernel,
/// pad < kernel) dx is dy convolved with the flipped, transposed weight
/// ([`backward_geometry`]), one chain over (c_out, ky, kx) per value, which the direct
/// kernel computes to the same bits; otherwise Wᵀ·dy per image, added back by col2im.
pub fn conv2d_grad_input<T: CpuKernels>(dy: &[T], w: &[T], g: Conv2d) -> Vec<T> {
    match backward_geometry(&g) {
        Some(back) => conv2d(dy, &flipped_transposed(w, &g), None, back),
        None => col2im_grad_input(dy, w, g),
    }
}

/// The convolution that maps dy back to dx, where there is one (stride 1, a square
/// kernel and pad < kernel): its input is dy and its padding kernel − 1 − pad, so its
/// output is h × w. Depends on the shape alone, so every path takes the same route.
pub fn backward_geometry(g: &Conv2d) -> Option<Conv2d> {
    (g.stride == 1 && g.kh == g.kw && g.pad < g.kh).then(|| Conv2d {
        batch: g.batch,
        c_in: g.c_out,
        h: g.oh(),
        w: g.ow(),
        c_out: g.c_in,
        stride: 1,
        pad: g.kh - 1 - g.pad,
        ..*g
    })
}

/// dx for the geometries without a [`backward_geometry`]: d cols = Wᵀ·dy per image,
/// then col2im adds the columns back.
fn col2im_grad_input<T: CpuKernels>(dy: &[T], w: &[T], g: Conv2d) -> Vec<T> {
    let (k, p) = (g.patch(), g.oh() * g.ow());
    let in_size = g.c_in * g.h * g.w;
    let mut dx = vec![T::zero(); g.batch * in_size];
    dx.par_chunks_mut(in_size).enumerate().for_each_init(
        || (vec![T::zero(); k * p], Vec::new()),
        |(cols, padded), (b, dxb)| {
            // d cols = Wᵀ · dy_b
            let d = MatMul { m: k, k: g.c_out, n: p, trans_a: true, trans_b: false };
            gemm_into(w, &dy[b * g.c_out * p..(b + 1) * g.c_out * p], cols, d, false);
            col2im(cols, &g, dxb, padded);
        },
    );
    dx
}

/// w [c_out, c_in, kh, kw] → [c_in, c_out, kh, kw] with each kernel rotated 180°: the
/// weight of the convolution that maps dy back to dx (stride 1).
pub fn flipped_transposed<T: Element>(w: &[T], g: &Conv2d) -> Vec<T> {
    let mut out = vec![T::zero(); w.len()];
    for o in 0..g.c_out {
        for c in 0..g.c_in {
            for i in 0..g.kh {
                for j in 0..g.kw {
                    out[((c * g.c_out + o) * g.kh + (g.kh - 1 - i)) * g.kw + (g.kw - 1 - j)] =
                        w[((o * g.c_in + c) * g.kh + i) * g.kw + j];
                }
            }
        }
    }
    out
}

/// dW from x and dy. Each image is unrolled again here, into a buffer that stays in
/// cache, rather than kept from the forward pass: re-unrolling costs less than writing
/// the whole batch's columns to memory and reading them back.
pub fn conv2d_grad_weight<T: CpuKernels>(x: &[T], dy: &[T], g: Conv2d) -> Vec<T> {
    let (k, p) = (g.patch(), g.oh() * g.ow());
    let in_size = g.c_in * g.h * g.w;
    // dWᵀ [k, c_out] = Σ_b cols_b [k, p] · dy_bᵀ [p, c_out]: the large operand (cols) is
    // read row by row when packed, which is much faster than packing its transpose.
    let d = MatMul { m: k, k: p, n: g.c_out, trans_a: false, trans_b: true };
    let groups: Vec<Vec<T>> = (0..g.batch.div_ceil(GRAD_GROUP))
        .into_par_iter()
        .map(|grp| {
            let mut cols = vec![T::zero(); k * p];
            let mut padded = Vec::new();
            let mut dwt = vec![T::zero(); k * g.c_out];
            for b in grp * GRAD_GROUP..((grp + 1) * GRAD_GROUP).min(g.batch) {
                let first = b == grp * GRAD_GROUP;
                im2col(&x[b * in_size..(b + 1) * in_size], &g, &mut cols, &mut padded);
                let dyb = &dy[b * g.c_out * p..(b + 1) * g.c_out * p];
                gemm_into(&cols, dyb, &mut dwt, d, !first);
            }
            dwt
        })
        .collect();
    let mut total = vec![T::zero(); g.c_out * k];
    for part in &groups {
        for (kk, row) in part.chunks_exact(g.c_out).enumerate() {
            for (o, v) in row.iter().enumerate() {
                total[o * k + kk] = total[o * k + kk] + *v;
            }
        }
    }
    total
}

/// The first maximum of a window, the one rule of every max-pool kernel: start from the
/// window's first value and move to each later one (in window order) that is strictly
/// greater. Ties go to the earlier value; a NaN is kept if it comes first and passed
/// over otherwise. The output is the winner's value and the gradient goes to it alone.
#[inline(always)]
fn first_maximum<T: Element>(best: T, v: T) -> T {
    if v > best {
        v
    } else {
        best
    }
}

/// The max-pool, then ReLU where `relu`: relu(max(window)) in one pass.
pub fn max_pool2d<T: Element>(x: &[T], g: Pool2d, relu: bool) -> Vec<T> {
    let floor = |v: T| if relu { super::elementwise::relu(v) } else { v };
    if g.k == 2 && g.stride == 2 {
        let (oh, ow) = (g.oh(), g.ow());
        let mut y = vec![T::zero(); g.batch * g.c * oh * ow];
        // The common case, as row passes the compiler vectorises (the comparisons
        // become selects).
        y.par_chunks_mut(oh * ow).enumerate().for_each(|(plane, yp)| {
            let xp = &x[plane * g.h * g.w..(plane + 1) * g.h * g.w];
            for (oy, yrow) in yp.chunks_exact_mut(ow).enumerate() {
                let (r0, r1) = (&xp[2 * oy * g.w..][..2 * ow], &xp[(2 * oy + 1) * g.w..][..2 * ow]);
                for (ox, out) in yrow.iter_mut().enumerate() {
                    let best = first_maximum(r0[2 * ox], r0[2 * ox + 1]);
                    let best = first_maximum(best, r1[2 * ox]);
                    *out = floor(first_maximum(best, r1[2 * ox + 1]));
                }
            }
        });
        return y;
    }
    pool_windows(x, g, |window| {
        floor(window.next().map_or(T::neg_infinity(), |first| window.fold(first, first_maximum)))
    })
}

/// dx for dy through the max-pool, and first through its ReLU where `relu`: the
/// gradient goes to the winner where the pooled value is positive, else +0.0 does (as
/// ReLU's gradient and then the pool's would send it).
pub fn max_pool2d_grad<T: Element>(x: &[T], dy: &[T], g: Pool2d, relu: bool) -> Vec<T> {
    let (oh, ow) = (g.oh(), g.ow());
    let mut dx = vec![T::zero(); x.len()];
    if g.k == 2 && g.stride == 2 {
        dx.par_chunks_mut(g.h * g.w).enumerate().for_each(|(plane, dxp)| {
            let xp = &x[plane * g.h * g.w..(plane + 1) * g.h * g.w];
            let dyp = &dy[plane * oh * ow..(plane + 1) * oh * ow];
            for oy in 0..oh {
                let (i0, i1) = (2 * oy * g.w, (2 * oy + 1) * g.w);
                for ox in 0..ow {
                    let (i0, i1) = (i0 + 2 * ox, i1 + 2 * ox);
                    // The scan of `first_maximum`, with its moves kept: the upstream
                    // value goes to the winner and zeros to the other three corners
                    // (no branches: the comparisons depend on the data).
                    let (a, b, c, d) = (xp[i0], xp[i0 + 1], xp[i1], xp[i1 + 1]);
                    let to_b = b > a;
                    let best = if to_b { b } else { a };
                    let to_c = c > best;
                    let best = if to_c { c } else { best };
                    let to_d = d > best;
                    let best = if to_d { d } else { best };
                    let grad = dyp[oy * ow + ox];
                    let grad = if !relu || best > T::zero() { grad } else { T::zero() };
                    let pick = |win: bool| if win { grad } else { T::zero() };
                    dxp[i0] = pick(!(to_b || to_c || to_d));
                    dxp[i0 + 1] = pick(to_b && !to_c && !to_d);
                    dxp[i1] = pick(to_c && !to_d);
                    dxp[i1 + 1] = pick(to_d);
                }
            }
        });
        return dx;
    }
    dx.par_chunks_mut(g.h * g.w).enumerate().for_each(|(plane, dxp)| {
        let xp = &x[plane * g.h * g.w..(plane + 1) * g.h * g.w];
        let dyp = &dy[plane * oh * ow..(plane + 1) * oh * ow];
        for oy in 0..oh {
            for ox in 0..ow {
                // `first_maximum` over the window, keeping where the winner is.
                let mut at = (oy * g.stride) * g.w + ox * g.stride;
                for i in 0..g.k {
                    for j in 0..g.k {
                        let idx = (oy * g.stride + i) * g.w + ox * g.stride + j;
                        if xp[idx] > xp[at] {
                            at = idx;
                        }
                    }
                }
                let grad = dyp[oy * ow + ox];
                let grad = if !relu || xp[at] > T::zero() { grad } else { T::zero() };
                dxp[at] = dxp[at] + grad;
            }
        }
    });
    dx
}

pub fn avg_pool2d<T: Element>(x: &[T], g: Pool2d) -> Vec<T> {
    let inv = T::from_f64(1.0 / (g.k * g.k) as f64);
    pool_windows(x, g, |window| window.fold(T::zero(), |s, v| s + v) * inv)
}

/// Each output of a pooling: `reduce` over its window's values, in window order.
fn pool_windows<T: Element>(x: &[T], g: Pool2d, reduce: impl Fn(&mut dyn Iterator<Item = T>) -> T + Sync) -> Vec<T> {
    let (oh, ow) = (g.oh(), g.ow());
    let mut y = vec![T::zero(); g.batch * g.c * oh * ow];
    y.par_chunks_mut(oh * ow).enumerate().for_each(|(plane, yp)| {
        let xp = &x[plane * g.h * g.w..(plane + 1) * g.h * g.w];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut window = (0..g.k * g.k).map(|t| xp[(oy * g.stride + t / g.k) * g.w + ox * g.stride + t % g.k]);
                yp[oy * ow + ox] = reduce(&mut window);
            }
        }
    });
    y
}

pub fn avg_pool2d_grad<T: Element>(dy: &[T], g: Pool2d) -> Vec<T> {
    let (oh, ow) = (g.oh(), g.ow());
    let inv = T::from_f64(1.0 / (g.k * g.k) as f64);
    let mut dx = vec![T::zero(); g.batch * g.c * g.h * g.w];
    dx.par_chunks_mut(g.h * g.w).enumerate().for_each(|(plane, dxp)| {
        let dyp = &dy[plane * oh * ow..(plane + 1) * oh * ow];
        for oy in 0..oh {
            for ox in 0..ow {
                let share = dyp[oy * ow + ox] * inv;
                for i in 0..g.k {
                    for j in 0..g.k {
                        let idx = (oy * g.stride + i) * g.w + ox * g.stride + j;
                        dxp[idx] = dxp[idx] + share;
                    }
                }
            }
        }
    });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one output at a time.
    fn reference(x: &[f64], w: &[f64], g: Conv2d) -> Vec<f64> {
        let (oh, ow) = (g.oh(), g.ow());
        let mut y = vec![0.0; g.batch * g.c_out * oh * ow];
        for b in 0..g.batch {
            for o in 0..g.c_out {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut s = 0.0;
                        for c in 0..g.c_in {
                            for i in 0..g.kh {
                                for j in 0..g.kw {
                                    let yy = (oy * g.stride + i) as isize - g.pad as isize;
                                    let xx = (ox * g.stride + j) as isize - g.pad as isize;
                                    if yy >= 0 && xx >= 0 && (yy as usize) < g.h && (xx as usize) < g.w {
                                        s += x[((b * g.c_in + c) * g.h + yy as usize) * g.w + xx as usize]
                                            * w[((o * g.c_in + c) * g.kh + i) * g.kw + j];
                                    }
                                }
                            }
                        }
                        y[((b * g.c_out + o) * oh + oy) * ow + ox] = s;
                    }
                }
            }
        }
        y
    }

    /// Every value of the padded image, for lengths below, at and past the 8-value
    /// pieces (and padding 0), against the definition.
    #[test]
    fn padded_images_hold_the_image_and_zeros_elsewhere() {
        for (w, pad) in [(1, 2), (7, 1), (8, 0), (9, 2), (14, 2), (28, 2), (33, 3)] {
            let g = Conv2d { batch: 1, c_in: 2, h: 3, w, c_out: 8, kh: 1, kw: 1, stride: 1, pad };
            let x: Vec<f32> = (0..2 * 3 * w).map(|i| i as f32 + 1.0).collect();
            let mut padded = vec![f32::NAN; 5];
            pad_image(&x, &g, &mut padded, 4);
            let (ph, pw) = (3 + 2 * pad, w + 2 * pad);
            assert_eq!(padded.len(), 2 * ph * pw + 4);
            for (i, v) in padded.iter().enumerate() {
                let (c, y, xx) = (i / (ph * pw), i % (ph * pw) / pw, i % pw);
                let inside = c < 2 && (pad..pad + 3).contains(&y) && (pad..pad + w).contains(&xx);
                let want = if inside { x[(c * 3 + y - pad) * w + xx - pad] } else { 0.0 };
                assert_eq!(v.to_bits(), want.to_bits(), "w {w} pad {pad} at {i}");
            }
        }
    }

    #[test]
    fn convolution_matches_the_definition() {
        for (stride, pad, kh, kw) in [(1, 0, 3, 3), (1, 2, 5, 5), (2, 1, 3, 2), (3, 0, 1, 1)] {
            let g = Conv2d { batch: 3, c_in: 2, h: 7, w: 6, c_out: 4, kh, kw, stride, pad };
            let x: Vec<f64> = (0..g.batch * g.c_in * g.h * g.w).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
            let w: Vec<f64> = (0..g.c_out * g.patch()).map(|i| ((i * 5) % 7) as f64 - 3.0).collect();
            assert_eq!(conv2d(&x, &w, None, g), reference(&x, &w, g), "{g:?}");
        }
    }

    #[test]
    fn pooling_matches_hand_computed_values() {
        let x: Vec<f64> = vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 1.0, 0.0, 1.0, 2.0, 2.0, 9.0, 0.0, 3.0, 7.0];
        let g = Pool2d { batch: 1, c: 1, h: 4, w: 4, k: 2, stride: 2 };
        assert_eq!(max_pool2d(&x, g, false), vec![5.0, 8.0, 9.0, 7.0]);
        assert_eq!(avg_pool2d(&x, g), vec![13.0 / 4.0, 11.0 / 4.0, 10.0 / 4.0, 14.0 / 4.0]);
        let dx = max_pool2d_grad(&x, &[1.0, 2.0, 3.0, 4.0], g, false);
        assert_eq!(dx, vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 4.0]);
    }

    /// With its ReLU a window whose maximum is not positive gives +0.0 and sends no
    /// gradient; the others are the plain pool's. For 2×2 windows and overlapping 3×3.
    #[test]
    fn pooling_with_relu_zeroes_the_windows_without_a_positive_maximum() {
        let x: Vec<f64> =
            vec![-1.0, -5.0, 2.0, 0.0, -3.0, -4.0, 8.0, 1.0, 0.0, -0.0, 2.0, 2.0, -0.0, 0.0, 3.0, f64::NAN];
        let g = Pool2d { batch: 1, c: 1, h: 4, w: 4, k: 2, stride: 2 };
        let bits = |v: Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(max_pool2d(&x, g, true)), bits(vec![0.0, 8.0, 0.0, 3.0]));
        let dx = max_pool2d_grad(&x, &[1.0, 2.0, 3.0, 4.0], g, true);
        assert_eq!(
            bits(dx),
            bits(vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0, 0.0])
        );
        // Overlapping 3×3 windows, stride 1: two with a positive maximum (the 8 at
        // index 2, shared), two without (their first maximum is −0.0 or 0.0).
        #[rustfmt::skip]
        let x: Vec<f64> = vec![
            -1.0, -5.0, 8.0, -2.0,
            -3.0, -4.0, -2.0, -7.0,
            -0.0, -6.0, -3.0, -1.0,
            -2.0, -9.0, -8.0, 0.0,
        ];
        let g = Pool2d { batch: 1, c: 1, h: 4, w: 4, k: 3, stride: 1 };
        assert_eq!(bits(max_pool2d(&x, g, false)), bits(vec![8.0, 8.0, -0.0, 0.0]));
        assert_eq!(bits(max_pool2d(&x, g, true)), bits(vec![8.0, 8.0, 0.0, 0.0]));
        let y = [-1.0, 0.5, 2.0, -0.5];
        let mut want = vec![0.0; 16];
        want[2] = -1.0 + 0.5;
        assert_eq!(bits(max_pool2d_grad(&x, &y, g, true)), bits(want.clone()));
        // Without the ReLU the two other windows send theirs to their first maxima.
        want[8] = 2.0;
        want[15] = -0.5;
        assert_eq!(bits(max_pool2d_grad(&x, &y, g, false)), bits(want));
        let neg: Vec<f64> = x.iter().map(|v| -v.abs() - 1.0).collect();
        assert_eq!(bits(max_pool2d(&neg, g, true)), bits(vec![0.0; 4]));
        assert_eq!(bits(max_pool2d_grad(&neg, &y, g, true)), bits(vec![0.0; 16]));
    }
}
