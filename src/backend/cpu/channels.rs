//! Per-channel ops on [batch, c, spatial] values: biases, scales, sums and batch
//! normalisation. Channel statistics are summed in f64 in a fixed order (batch, then
//! space), one channel per task, so they never depend on the thread count.

use crate::backend::{Channels, Element};
use rayon::prelude::*;

pub fn map_channels<T: Element>(x: &[T], v: &[T], g: Channels, f: impl Fn(T, T) -> T + Sync) -> Vec<T> {
    let mut out = x.to_vec();
    out.par_chunks_mut(g.c * g.spatial).for_each(|sample| {
        for (plane, vc) in sample.chunks_exact_mut(g.spatial).zip(v) {
            plane.iter_mut().for_each(|o| *o = f(*o, *vc));
        }
    });
    out
}

/// Σ f(x, y) over one plane, in f64, with eight partial sums (so it vectorises)
/// combined in a fixed order.
#[inline(always)]
fn plane_sum<T: Element>(x: &[T], y: &[T], f: impl Fn(f64, f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] += f(a[l].as_f64(), b[l].as_f64());
        }
    }
    let mut s = acc.iter().sum::<f64>();
    for (a, b) in xr.iter().zip(yr) {
        s += f(a.as_f64(), b.as_f64());
    }
    s
}

/// Σ x over one plane in f64: the per-(image, channel) term of `sum_channels` (the same
/// `plane_sum` as `channel_sums` takes), whose channel totals are these added over the
/// images in order from +0.0.
pub(crate) fn plane_total<T: Element>(x: &[T]) -> f64 {
    plane_sum(x, x, |v, _| v)
}

/// Σ over batch and space of f(x, y, c) per channel c, accumulated in f64, one channel
/// per task, batch then space in order.
fn channel_sums<T: Element>(x: &[T], y: &[T], g: Channels, f: impl Fn(f64, f64, usize) -> f64 + Sync) -> Vec<f64> {
    (0..g.c)
        .into_par_iter()
        .map(|c| {
            (0..g.batch)
                .map(|b| {
                    let at = (b * g.c + c) * g.spatial;
                    plane_sum(&x[at..at + g.spatial], &y[at..at + g.spatial], |u, v| f(u, v, c))
                })
                .fold(0.0, |s, v| s + v)
        })
        .collect()
}

pub fn sum_channels<T: Element>(x: &[T], g: Channels) -> Vec<T> {
    channel_sums(x, x, g, |v, _, _| v).into_iter().map(T::from_f64).collect()
}

/// y = x·scale[c] + shift[c], one sample per task.
fn affine<T: Element>(x: &[T], scale: &[T], shift: &[T], g: Channels) -> Vec<T> {
    let mut out = x.to_vec();
    out.par_chunks_mut(g.c * g.spatial).for_each(|sample| {
        for ((plane, s), t) in sample.chunks_exact_mut(g.spatial).zip(scale).zip(shift) {
            plane.iter_mut().for_each(|o| *o = *o * *s + *t);
        }
    });
    out
}

/// One pass of statistics and one of output: y = x·(γ/σ) + (β − μγ/σ).
pub fn batch_norm<T: Element>(
    x: &[T],
    gamma: &[T],
    beta: &[T],
    g: Channels,
    eps: f64,
) -> (Vec<T>, Vec<T>, Vec<T>, Vec<T>) {
    let n = (g.batch * g.spatial) as f64;
    let mean: Vec<f64> = channel_sums(x, x, g, |v, _, _| v).iter().map(|s| s / n).collect();
    let var: Vec<f64> = channel_sums(x, x, g, |v, _, c| (v - mean[c]) * (v - mean[c])).iter().map(|s| s / n).collect();
    let inv: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let scale: Vec<T> = (0..g.c).map(|c| T::from_f64(gamma[c].as_f64() * inv[c])).collect();
    let shift: Vec<T> =
        (0..g.c).map(|c| T::from_f64(beta[c].as_f64() - mean[c] * gamma[c].as_f64() * inv[c])).collect();
    let y = affine(x, &scale, &shift, g);
    let to_t = |v: &[f64]| v.iter().map(|x| T::from_f64(*x)).collect::<Vec<T>>();
    (y, to_t(&mean), to_t(&inv), to_t(&var))
}

/// With x̂ = (x − μ)/σ: dβ = Σdy, dγ = Σdy·x̂, dx = (γ/σ)·(dy − dβ/N − x̂·dγ/N).
pub fn batch_norm_grad<T: Element>(
    x: &[T],
    mean: &[T],
    inv_std: &[T],
    gamma: &[T],
    dy: &[T],
    g: Channels,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let n = (g.batch * g.spatial) as f64;
    let dbeta = channel_sums(dy, dy, g, |d, _, _| d);
    let dgamma = channel_sums(dy, x, g, |d, v, c| d * (v - mean[c].as_f64()) * inv_std[c].as_f64());
    // dx = a·dy + b·x + k per channel, with a = γ/σ, b = −a·dγ/(Nσ), k = −a·dβ/N − b·μ.
    let mut coef = Vec::with_capacity(g.c);
    for c in 0..g.c {
        let (inv, mu) = (inv_std[c].as_f64(), mean[c].as_f64());
        let a = gamma[c].as_f64() * inv;
        let b = -a * dgamma[c] * inv / n;
        let k = -a * dbeta[c] / n - b * mu;
        coef.push((T::from_f64(a), T::from_f64(b), T::from_f64(k)));
    }
    let mut dx = dy.to_vec();
    dx.par_chunks_mut(g.c * g.spatial).enumerate().for_each(|(s, sample)| {
        for (c, plane) in sample.chunks_exact_mut(g.spatial).enumerate() {
            let (a, b, k) = coef[c];
            let xs = &x[(s * g.c + c) * g.spatial..][..g.spatial];
            for (d, xv) in plane.iter_mut().zip(xs) {
                *d = a * *d + b * *xv + k;
            }
        }
    });
    let to_t = |v: &[f64]| v.iter().map(|x| T::from_f64(*x)).collect::<Vec<T>>();
    (dx, to_t(&dgamma), to_t(&dbeta))
}
