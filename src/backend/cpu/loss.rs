//! Fused loss kernels: the summed loss (accumulated in f64) and its gradient in one
//! pass. Sums run in eight independent lanes combined in a fixed order, so they
//! vectorise instead of waiting on one long chain of dependent additions, and the
//! result still depends only on the data.

use super::softmax_in_place;
use crate::backend::{Element, LossKernel};

/// BCE on probabilities divides its gradient by p(1−p) with p clamped this far from 0
/// and 1; below it, cross-entropy takes ln p from the logits instead of from p.
const PROB_EPS: f64 = 1e-12;

/// BCE on probabilities clamps each log at −100, as PyTorch's `BCELoss` does, so a
/// saturated wrong prediction (p = 1 in f32 for a 0 target) counts 100, not ∞.
const LOG_FLOOR: f64 = -100.0;

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
                let (p, t) = (p.as_f64(), t.as_f64());
                let (ln_p, ln_q) = (p.ln().max(LOG_FLOOR), (1.0 - p).ln().max(LOG_FLOOR));
                total -= t * ln_p + (1.0 - t) * ln_q;
                let p = p.clamp(PROB_EPS, 1.0 - PROB_EPS);
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
            // loss = −Σ t·ln p, gradient p·Σt − t (p − t for a target row summing to 1:
            // one-hot or a distribution; the general form for any other row, so the
            // gradient is always the reported loss's).
            grad.copy_from_slice(pred);
            let rows = grad.chunks_exact_mut(cols).zip(target.chunks_exact(cols)).zip(pred.chunks_exact(cols));
            for ((g, t), z) in rows {
                softmax_in_place(g);
                let mass = t.iter().fold(T::zero(), |s, v| s + *v);
                for (j, (p, t)) in g.iter_mut().zip(t).enumerate() {
                    let tf = t.as_f64();
                    if tf != 0.0 {
                        let pf = p.as_f64();
                        total -= tf * if pf >= PROB_EPS { pf.ln() } else { log_softmax(z, j) };
                    }
                    *p = if mass == T::one() { *p - *t } else { *p * mass - *t };
                }
            }
        }
    }
    (total, grad)
}

/// ln softmax(z)[j] in f64 from the logits, for a probability too small to take the
/// log of (it underflows to 0 in f32 once a logit trails the largest by about 104).
fn log_softmax<T: Element>(z: &[T], j: usize) -> f64 {
    let max = z.iter().fold(f64::NEG_INFINITY, |m, v| m.max(v.as_f64()));
    let sum: f64 = z.iter().map(|v| (v.as_f64() - max).exp()).sum();
    z[j].as_f64() - max - sum.ln()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample far on the wrong side counts its whole loss: −ln softmax([0, 40])[0] is
    /// ln(1 + e⁴⁰) ≈ 40 (it was capped at −ln 1e−12 ≈ 27.6), in f32 too, where p is 0.
    #[test]
    fn cross_entropy_is_not_capped_when_p_underflows() {
        let (loss64, _) = loss(LossKernel::SoftmaxCrossEntropy, &[0.0f64, 40.0, 3.0, 1.0], &[1.0, 0.0, 1.0, 0.0], 2);
        let expected = (1.0f64 + 40f64.exp()).ln() + (1.0f64 + (-2f64).exp()).ln();
        assert!((loss64 - expected).abs() < 1e-12, "{loss64} vs {expected}");
        let (loss32, _) = loss(LossKernel::SoftmaxCrossEntropy, &[0.0f32, 120.0], &[1.0, 0.0], 2);
        assert!((loss32 - 120.0).abs() < 1e-4, "{loss32}");
    }

    /// The gradient is that of the loss reported, for any target row: p·Σt − t. A
    /// multi-hot row [1, 1, 0] gives 2p − t, an all-zero row (loss 0) gives 0, and a
    /// one-hot row p − t, checked against central differences of the loss.
    #[test]
    fn cross_entropy_gradient_is_the_losss_for_any_target_row() {
        let z = [0.3f64, -1.2, 0.8, 0.5, 0.1, -0.4, 2.0, 1.0, -1.0];
        let t = [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let (_, grad) = loss(LossKernel::SoftmaxCrossEntropy, &z, &t, 3);
        for i in 0..z.len() {
            let h = 1e-6;
            let (mut up, mut down) = (z, z);
            up[i] += h;
            down[i] -= h;
            let numeric = (loss(LossKernel::SoftmaxCrossEntropy, &up, &t, 3).0
                - loss(LossKernel::SoftmaxCrossEntropy, &down, &t, 3).0)
                / (2.0 * h);
            assert!((grad[i] - numeric).abs() < 1e-8, "element {i}: {} vs {numeric}", grad[i]);
        }
        assert!(grad[3..6].iter().all(|g| *g == 0.0), "an all-zero row: {:?}", &grad[3..6]);
    }

    /// BCE on probabilities floors each log at −100, as PyTorch's `BCELoss`: a
    /// prediction of exactly 1 for a 0 target counts 100; inside (1e−12, 1 − 1e−12) the
    /// loss is the plain −[t·ln p + (1−t)·ln(1−p)].
    #[test]
    fn bce_on_probabilities_floors_its_logs_at_minus_100() {
        let (saturated, _) = loss(LossKernel::Bce, &[1.0f32], &[0.0], 1);
        assert_eq!(saturated, 100.0);
        let (plain, _) = loss(LossKernel::Bce, &[0.25f64], &[1.0], 1);
        assert_eq!(plain, -(0.25f64.ln()));
    }
}
