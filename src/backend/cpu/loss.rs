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
            for ((g, z), t) in grad.iter_mut().zip(pred).zip(target) {
                let zf = z.as_f64();
                let tf = t.as_f64();
                // ln(1 + e^z) − t·z, written to avoid overflow for large |z|.
                total += zf.max(0.0) - zf * tf + (-zf.abs()).exp().ln_1p();
                let p = T::one() / (T::one() + (-*z).exp());
                *g = p - *t;
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
