//! FGSM and PGD in raw input units (pixels), L∞ budgets, clamped to the valid range.
//! The model sees (raw − mean)/std; with std > 0 the sign of a gradient is the same in
//! both units, so steps are taken on raw values and converted for each pass.

use crate::autodiff::ReluRule;
use crate::data::InputScale;
use crate::inspect::Inspect;
use crate::probes::scores::{argmax_rows, Scores};
use crate::rng::{uniform, StreamRng};
use crate::spec::Attack;

/// What an attack needs of the model and data.
pub struct Setup<'a> {
    pub model: &'a dyn Inspect,
    pub scores: Scores,
    pub scale: InputScale,
    /// Per input feature: may the attack change it? (A constant bias column may not.)
    pub mask: Vec<bool>,
}

/// PGD's settings.
#[derive(Debug, Clone, Copy)]
pub struct Pgd {
    pub steps: usize,
    /// Raw units; None: 2.5·ε/steps.
    pub step_size: Option<f64>,
    pub random_start: bool,
}

/// -1, 0 or 1 (`f64::signum` gives 1 at 0: a zero gradient must not move an input).
pub fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl Setup<'_> {
    fn features(&self) -> usize {
        self.mask.len()
    }

    fn to_model(&self, raw: &[f64]) -> Vec<f64> {
        raw.iter().map(|v| self.scale.to_model(*v)).collect()
    }

    fn clamp(&self, v: f64) -> f64 {
        match self.scale.valid {
            Some((lo, hi)) => v.clamp(lo, hi),
            None => v,
        }
    }

    /// Scores at the score node for raw rows.
    pub fn scores_raw(&self, raw: &[f64]) -> Vec<f64> {
        self.model.values(&self.to_model(raw), &[self.scores.node]).into_iter().next().unwrap_or_default()
    }

    /// Class probabilities for raw rows.
    pub fn probabilities(&self, raw: &[f64]) -> Vec<f64> {
        self.scores.probabilities(&self.scores_raw(raw))
    }

    /// sign(∂ cross-entropy/∂ input) per feature for raw rows, and the predicted class
    /// of each row at those inputs (read from the same forward pass).
    fn loss_sign(&self, raw: &[f64], labels: &[usize]) -> (Vec<f64>, Vec<usize>) {
        let model_rows = self.to_model(raw);
        let s = self.model.values(&model_rows, &[self.scores.node]).into_iter().next().unwrap_or_default();
        let predicted = argmax_rows(&self.scores.probabilities(&s), self.scores.classes);
        let seed = self.scores.loss_seed(&s, labels);
        let g = self.model.input_gradient(&model_rows, self.scores.node, &seed, ReluRule::Gradient);
        (g.input.iter().map(|v| sign(*v)).collect(), predicted)
    }

    /// Adversarial raw rows for `raw` (rows × features) with true `labels`.
    ///
    /// FGSM: clamp(x + ε·sign(∇ₓCE)). PGD: from x (or a uniform point of the ε-ball,
    /// clamped), `steps` steps of `step_size`·sign(∇ₓCE), each projected back into the
    /// ball and the valid range. A PGD sample stops as soon as the model misclassifies
    /// it (the attack has succeeded; later steps could only undo that, and skipping them
    /// saves most of the passes at large ε). ε = 0: the ball is one point, the inputs
    /// come back unchanged without a pass.
    pub fn attack(
        &self,
        raw: &[f64],
        labels: &[usize],
        which: Attack,
        eps: f64,
        pgd: Pgd,
        rng: &mut StreamRng,
    ) -> Vec<f64> {
        let f = self.features();
        if eps == 0.0 || f == 0 {
            return raw.to_vec();
        }
        match which {
            Attack::Fgsm => {
                let (g, _) = self.loss_sign(raw, labels);
                let mut x = raw.to_vec();
                for (k, v) in x.iter_mut().enumerate() {
                    if self.mask[k % f] {
                        *v = self.clamp(*v + eps * g[k]);
                    }
                }
                x
            }
            Attack::Pgd => self.pgd(raw, labels, eps, pgd, rng),
        }
    }

    fn pgd(&self, raw: &[f64], labels: &[usize], eps: f64, pgd: Pgd, rng: &mut StreamRng) -> Vec<f64> {
        let f = self.features();
        let alpha = pgd.step_size.unwrap_or(2.5 * eps / pgd.steps.max(1) as f64);
        let mut x = raw.to_vec();
        if pgd.random_start {
            for (k, v) in x.iter_mut().enumerate() {
                if self.mask[k % f] {
                    *v = self.clamp(*v + uniform(rng, -eps, eps));
                }
            }
        }
        // Samples still being attacked.
        let mut active: Vec<usize> = (0..labels.len()).collect();
        for _ in 0..pgd.steps {
            if active.is_empty() {
                break;
            }
            let rows: Vec<f64> = active.iter().flat_map(|&i| x[i * f..(i + 1) * f].iter().copied()).collect();
            let ys: Vec<usize> = active.iter().map(|&i| labels[i]).collect();
            let (g, predicted) = self.loss_sign(&rows, &ys);
            let mut still = Vec::with_capacity(active.len());
            for (a, &i) in active.iter().enumerate() {
                if predicted[a] != labels[i] {
                    continue;
                }
                still.push(i);
                for j in 0..f {
                    if !self.mask[j] {
                        continue;
                    }
                    let x0 = raw[i * f + j];
                    let moved = x[i * f + j] + alpha * g[a * f + j];
                    x[i * f + j] = self.clamp(moved.clamp(x0 - eps, x0 + eps));
                }
            }
            active = still;
        }
        x
    }
}
