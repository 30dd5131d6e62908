//! Fused loss kernels: the summed loss (accumulated in f64, in row order) and its
//! gradient in one pass.

use super::softmax_in_place;
use crate::backend::{Element, LossKernel};

/// Probabilities are clamped this far from 0 and 1 so ln() stays finite.
const PROB_EPS: f64 = 1e-12;

pub fn loss<T: Element>(kind: LossKernel, pred: &[T], target: &[T], cols: usize) -> (f64, Vec<T>) {
    assert_eq!(pred.len(), target.len(), "loss: prediction and target lengths differ");
    let mut grad = vec![T::zero(); pred.len()];
    let mut total = 0.0f64;
    match kind {
        LossKernel::SquaredError => {
            for ((g, p), t) in grad.iter_mut().zip(pred).zip(target) {
                let d = *p - *t;
                total += d.as_f64() * d.as_f64();
                *g = d + d;
            }
        }
        LossKernel::Bce => {
            for ((g, p), t) in grad.iter_mut().zip(pred).zip(target) {
                let p = p.as_f64().clamp(PROB_EPS, 1.0 - PROB_EPS);
                let t = t.as_f64();
                total -= t * p.ln() + (1.0 - t) * (1.0 - p).ln();
                *g = T::from_f64((p - t) / (p * (1.0 - p)));
            }
        }
        LossKernel::SigmoidBce => {
            // loss = softplus(z) − t·z with softplus(z) = max(z, 0) + ln(1 + e^−|z|), and
            // gradient σ(z) − t, all as vectorised passes over the slice.
            let mut e: Vec<T> = pred.iter().map(|z| -z.abs()).collect();
            T::exp_in_place(&mut e);
            for ((g, z), (e, t)) in grad.iter_mut().zip(pred).zip(e.iter().zip(target)) {
                let p = if *z >= T::zero() { T::one() / (T::one() + *e) } else { *e / (T::one() + *e) };
                *g = p - *t;
            }
            let mut soft: Vec<T> = e.iter().map(|e| T::one() + *e).collect();
            T::ln_positive_in_place(&mut soft);
            for ((s, z), t) in soft.iter().zip(pred).zip(target) {
                total += (z.max(T::zero()) - *z * *t + *s).as_f64();
            }
        }
        LossKernel::SoftmaxCrossEntropy => {
            grad.copy_from_slice(pred);
            for (g, t) in grad.chunks_exact_mut(cols).zip(target.chunks_exact(cols)) {
                softmax_in_place(g);
                for (p, t) in g.iter_mut().zip(t) {
                    let tf = t.as_f64();
                    if tf != 0.0 {
                        total -= tf * p.as_f64().max(PROB_EPS).ln();
                    }
                    *p = *p - *t;
                }
            }
        }
    }
    (total, grad)
}
