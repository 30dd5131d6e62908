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

/// Σ over batch and space of f(x) per channel, accumulated in f64.
fn channel_sums<T: Element>(x: &[T], g: Channels, f: impl Fn(usize, T) -> f64 + Sync) -> Vec<f64> {
    (0..g.c)
        .into_par_iter()
        .map(|c| {
            let mut s = 0.0;
            for b in 0..g.batch {
                let start = (b * g.c + c) * g.spatial;
                for (i, v) in x[start..start + g.spatial].iter().enumerate() {
                    s += f(start + i, *v);
                }
            }
            s
        })
        .collect()
}

pub fn sum_channels<T: Element>(x: &[T], g: Channels) -> Vec<T> {
    channel_sums(x, g, |_, v| v.as_f64()).into_iter().map(T::from_f64).collect()
}

pub fn batch_norm<T: Element>(x: &[T], g: Channels, eps: f64) -> (Vec<T>, Vec<T>, Vec<T>, Vec<T>) {
    let n = (g.batch * g.spatial) as f64;
    let mean = channel_sums(x, g, |_, v| v.as_f64());
    let mean: Vec<f64> = mean.iter().map(|s| s / n).collect();
    let var: Vec<f64> = channel_sums(x, g, |i, v| {
        let c = (i / g.spatial) % g.c;
        let d = v.as_f64() - mean[c];
        d * d
    })
    .iter()
    .map(|s| s / n)
    .collect();
    let inv_std: Vec<T> = var.iter().map(|v| T::from_f64(1.0 / (v + eps).sqrt())).collect();
    let mean_t: Vec<T> = mean.iter().map(|m| T::from_f64(*m)).collect();
    let xhat = map_channels(&map_channels(x, &mean_t, g, |a, m| a - m), &inv_std, g, |a, s| a * s);
    (xhat, inv_std, mean_t, var.into_iter().map(T::from_f64).collect())
}

/// dx = (1/σ)(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), per channel over batch and space.
pub fn batch_norm_grad<T: Element>(xhat: &[T], inv_std: &[T], dxhat: &[T], g: Channels) -> Vec<T> {
    let n = (g.batch * g.spatial) as f64;
    let mean_d: Vec<T> = channel_sums(dxhat, g, |_, v| v.as_f64()).iter().map(|s| T::from_f64(s / n)).collect();
    let mean_dx: Vec<T> =
        channel_sums(dxhat, g, |i, v| v.as_f64() * xhat[i].as_f64()).iter().map(|s| T::from_f64(s / n)).collect();
    let mut dx = dxhat.to_vec();
    dx.par_chunks_mut(g.c * g.spatial).enumerate().for_each(|(b, sample)| {
        for (c, plane) in sample.chunks_exact_mut(g.spatial).enumerate() {
            let start = (b * g.c + c) * g.spatial;
            for (i, d) in plane.iter_mut().enumerate() {
                *d = inv_std[c] * (*d - mean_d[c] - xhat[start + i] * mean_dx[c]);
            }
        }
    });
    dx
}
