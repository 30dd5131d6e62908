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

    /// sign(∂ cross-entropy/∂ input) per feature for raw rows, and the class
    /// probabilities at those inputs (from the same forward pass that made the seed).
    fn loss_sign(&self, raw: &[f64], labels: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let model_rows = self.to_model(raw);
        let s = self.model.values(&model_rows, &[self.scores.node]).into_iter().next().unwrap_or_default();
        let seed = self.scores.loss_seed(&s, labels);
        let g = self.model.input_gradient(&model_rows, self.scores.node, &seed, ReluRule::Gradient);
        (g.input.iter().map(|v| sign(*v)).collect(), self.scores.probabilities(&s))
    }

    /// Adversarial rows and their class probabilities for each of `epsilons` (in that
    /// order), from raw rows × features with true `labels`.
    ///
    /// FGSM: clamp(x + ε·sign(∇ₓCE(x))); the sign is taken once and serves every ε.
    ///
    /// PGD, ε by ε from the smallest: from a uniform point of the ε-ball (clamped) or x,
    /// `steps` steps of `step_size`·sign(∇ₓCE), each projected back into the ball and
    /// the valid range. A sample is done as soon as the model misclassifies it: at x
    /// itself, at any step, or at a smaller ε (an input within a smaller ball lies within
    /// every larger one); it keeps that input for every larger ε and is not attacked
    /// again. So PGD's accuracy never rises with ε, and the passes go to the samples
    /// still standing. ε = 0: the ball is one point, x is scored as it is.
    pub fn sweep(
        &self,
        which: Attack,
        raw: &[f64],
        labels: &[usize],
        epsilons: &[f64],
        pgd: Pgd,
        rng: &mut StreamRng,
    ) -> Vec<Outcome> {
        let f = self.features().max(1);
        let clean = Outcome { adv: raw.to_vec(), probs: self.probabilities(raw) };
        match which {
            Attack::Fgsm => {
                let g = if epsilons.iter().any(|e| *e > 0.0) { self.loss_sign(raw, labels).0 } else { Vec::new() };
                epsilons
                    .iter()
                    .map(|&eps| {
                        if eps == 0.0 {
                            return clean.clone();
                        }
                        let mut x = raw.to_vec();
                        for (k, v) in x.iter_mut().enumerate() {
                            if self.mask[k % f] {
                                *v = self.clamp(*v + eps * g[k]);
                            }
                        }
                        let probs = self.probabilities(&x);
                        Outcome { adv: x, probs }
                    })
                    .collect()
            }
            Attack::Pgd => {
                let k = self.scores.classes;
                let mut order: Vec<usize> = (0..epsilons.len()).collect();
                order.sort_by(|&a, &b| epsilons[a].total_cmp(&epsilons[b]));
                let mut current = clean.clone();
                let predicted = argmax_rows(&clean.probs, k);
                let mut standing: Vec<usize> = (0..labels.len()).filter(|&i| predicted[i] == labels[i]).collect();
                let mut out = vec![None; epsilons.len()];
                for at in order {
                    let eps = epsilons[at];
                    if eps > 0.0 && !standing.is_empty() {
                        let rows: Vec<f64> =
                            standing.iter().flat_map(|&i| raw[i * f..(i + 1) * f].iter().copied()).collect();
                        let ys: Vec<usize> = standing.iter().map(|&i| labels[i]).collect();
                        let (x, probs) = self.pgd(&rows, &ys, eps, pgd, rng);
                        let fooled = argmax_rows(&probs, k);
                        let mut still = Vec::with_capacity(standing.len());
                        for (r, &i) in standing.iter().enumerate() {
                            current.adv[i * f..(i + 1) * f].copy_from_slice(&x[r * f..(r + 1) * f]);
                            current.probs[i * k..(i + 1) * k].copy_from_slice(&probs[r * k..(r + 1) * k]);
                            if fooled[r] == labels[i] {
                                still.push(i);
                            }
                        }
                        standing = still;
                    }
                    out[at] = Some(current.clone());
                }
                out.into_iter().map(|o| o.unwrap_or_else(|| clean.clone())).collect()
            }
        }
    }

    /// PGD at one ε for rows the model gets right: the inputs reached and their
    /// probabilities (a row stops at the first input the model misclassifies).
    fn pgd(&self, raw: &[f64], labels: &[usize], eps: f64, pgd: Pgd, rng: &mut StreamRng) -> (Vec<f64>, Vec<f64>) {
        let f = self.features().max(1);
        let k = self.scores.classes;
        let alpha = pgd.step_size.unwrap_or(2.5 * eps / pgd.steps.max(1) as f64);
        let mut x = raw.to_vec();
        if pgd.random_start {
            for (j, v) in x.iter_mut().enumerate() {
                if self.mask[j % f] {
                    *v = self.clamp(*v + uniform(rng, -eps, eps));
                }
            }
        }
        let mut probs = vec![0.0; labels.len() * k];
        let mut active: Vec<usize> = (0..labels.len()).collect();
        for _ in 0..pgd.steps {
            if active.is_empty() {
                break;
            }
            let rows: Vec<f64> = active.iter().flat_map(|&i| x[i * f..(i + 1) * f].iter().copied()).collect();
            let ys: Vec<usize> = active.iter().map(|&i| labels[i]).collect();
            let (g, p) = self.loss_sign(&rows, &ys);
            let predicted = argmax_rows(&p, k);
            let mut still = Vec::with_capacity(active.len());
            for (a, &i) in active.iter().enumerate() {
                probs[i * k..(i + 1) * k].copy_from_slice(&p[a * k..(a + 1) * k]);
                if predicted[a] != labels[i] {
                    continue;
                }
                still.push(i);
                for j in 0..f {
                    if self.mask[j] {
                        let x0 = raw[i * f + j];
                        let moved = x[i * f + j] + alpha * g[a * f + j];
                        x[i * f + j] = self.clamp(moved.clamp(x0 - eps, x0 + eps));
                    }
                }
            }
            active = still;
        }
        // The rows that took every step are scored where they ended.
        if !active.is_empty() {
            let rows: Vec<f64> = active.iter().flat_map(|&i| x[i * f..(i + 1) * f].iter().copied()).collect();
            let p = self.probabilities(&rows);
            for (a, &i) in active.iter().enumerate() {
                probs[i * k..(i + 1) * k].copy_from_slice(&p[a * k..(a + 1) * k]);
            }
        }
        (x, probs)
    }
}

/// Adversarial raw rows and the model's class probabilities for them.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub adv: Vec<f64>,
    pub probs: Vec<f64>,
}
