//! Fused loss kernels: the summed loss (accumulated in f64) and its gradient in one
//! pass. Sums run in eight independent lanes combined in a fixed order, so they
//! vectorise instead of waiting on one long chain of dependent additions, and the
//! result still depends only on the data.

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
            let mut lanes = Lanes::default();
            let mut block = [T::zero(); BLOCK];
            for ((g, p), t) in grad.chunks_mut(BLOCK).zip(pred.chunks(BLOCK)).zip(target.chunks(BLOCK)) {
                let sq = &mut block[..p.len()];
                for (((g, sq), p), t) in g.iter_mut().zip(sq.iter_mut()).zip(p).zip(t) {
                    let d = *p - *t;
                    *sq = d * d;
                    *g = d + d;
                }
                lanes.add(sq);
            }
            total = lanes.total();
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
            // gradient σ(z) − t, as vectorised passes over blocks held on the stack.
            let mut lanes = Lanes::default();
            let mut block = [T::zero(); BLOCK];
            for ((g, z), t) in grad.chunks_mut(BLOCK).zip(pred.chunks(BLOCK)).zip(target.chunks(BLOCK)) {
                let e = &mut block[..z.len()];
                e.iter_mut().zip(z).for_each(|(e, z)| *e = -z.abs());
                T::exp_in_place(e);
                for (((g, z), e), t) in g.iter_mut().zip(z).zip(e.iter_mut()).zip(t) {
                    let p = if *z >= T::zero() { T::one() / (T::one() + *e) } else { *e / (T::one() + *e) };
                    *g = p - *t;
                    *e = T::one() + *e;
                }
                T::ln_positive_in_place(e);
                e.iter_mut().zip(z).zip(t).for_each(|((s, z), t)| *s = z.max(T::zero()) - *z * *t + *s);
                lanes.add(e);
            }
            total = lanes.total();
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

/// Values per block of the stack-held scratch in the fused passes.
const BLOCK: usize = 256;
const LANES: usize = 8;

/// A sum in `LANES` independent f64 partial sums, combined in a fixed order.
#[derive(Default)]
struct Lanes([f64; LANES]);

impl Lanes {
    fn add<T: Element>(&mut self, xs: &[T]) {
        // Whole chunks first, on a local copy, so the partial sums stay in registers.
        let mut acc = self.0;
        let chunks = xs.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for l in 0..LANES {
                acc[l] += c[l].as_f64();
            }
        }
        for (l, v) in acc.iter_mut().zip(rest) {
            *l += v.as_f64();
        }
        self.0 = acc;
    }
    fn total(&self) -> f64 {
        self.0.iter().sum()
    }
}
