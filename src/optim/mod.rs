//! Optimizers (SGD with momentum or Nesterov, Adam, AdamW, RMSProp), learning-rate
//! schedules, gradient clipping, and the closed-form least-squares solver.

mod lstsq;
mod schedule;

pub use lstsq::least_squares;
pub use schedule::learning_rate;

use crate::backend::{AdamStep, Backend, Element, Map, RmsPropStep, SgdStep};
use crate::spec::{OptimizerKind, TrainSpec};

/// Per-parameter state: momentum, or Adam's two moments, or RMSProp's square average.
struct Slot<Buf> {
    first: Option<Buf>,
    second: Option<Buf>,
}

pub struct Optimizer<Buf> {
    kind: OptimizerKind,
    spec: TrainSpec,
    slots: Vec<Vec<Slot<Buf>>>,
    steps: u64,
}

impl<Buf> Optimizer<Buf> {
    pub fn new(spec: &TrainSpec) -> Self {
        Optimizer { kind: spec.optimizer, spec: spec.clone(), slots: Vec::new(), steps: 0 }
    }

    /// Updates applied so far (Adam's bias correction counts them).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Every state buffer, as (node, parameter, `first` or `second`, buffer): momentum
    /// or Adam's first moment is `first`, Adam's or RMSProp's square average `second`.
    pub fn state(&self) -> Vec<(usize, usize, &'static str, &Buf)> {
        let mut out = Vec::new();
        for (i, node) in self.slots.iter().enumerate() {
            for (j, slot) in node.iter().enumerate() {
                out.extend(slot.first.as_ref().map(|b| (i, j, "first", b)));
                out.extend(slot.second.as_ref().map(|b| (i, j, "second", b)));
            }
        }
        out
    }

    /// An optimizer continuing from `state()` taken after `steps` updates; `shape`
    /// gives the number of parameters of each node.
    pub fn restored(spec: &TrainSpec, steps: u64, shape: &[usize], state: Vec<(usize, usize, &str, Buf)>) -> Self {
        let mut opt = Optimizer::new(spec);
        opt.steps = steps;
        if steps > 0 {
            opt.slots = shape.iter().map(|&k| (0..k).map(|_| Slot { first: None, second: None }).collect()).collect();
        }
        for (i, j, which, buf) in state {
            if let Some(slot) = opt.slots.get_mut(i).and_then(|n| n.get_mut(j)) {
                match which {
                    "first" => slot.first = Some(buf),
                    _ => slot.second = Some(buf),
                }
            }
        }
        opt
    }

    /// Applies one update with learning rate `lr` to every parameter that has a gradient.
    pub fn update<T: Element, B: Backend<T, Buf = Buf>>(
        &mut self,
        be: &B,
        params: &mut [Vec<Buf>],
        grads: &[Vec<Option<&Buf>>],
        lr: f64,
    ) {
        if self.slots.is_empty() {
            self.slots =
                params.iter().map(|ps| ps.iter().map(|_| Slot { first: None, second: None }).collect()).collect();
        }
        self.steps += 1;
        let t = &self.spec;
        for (i, node_params) in params.iter_mut().enumerate() {
            for (j, p) in node_params.iter_mut().enumerate() {
                let Some(g) = grads[i][j] else { continue };
                let slot = &mut self.slots[i][j];
                let zeros = || be.filled(be.len(g), 0.0);
                match self.kind {
                    OptimizerKind::Sgd => {
                        let step =
                            SgdStep { lr, momentum: t.momentum, nesterov: t.nesterov, weight_decay: t.weight_decay };
                        let v = (t.momentum > 0.0).then(|| slot.first.get_or_insert_with(zeros));
                        be.sgd_update(p, g, v, step);
                    }
                    OptimizerKind::Adam | OptimizerKind::AdamW => {
                        let step = AdamStep {
                            lr,
                            beta1: t.beta1,
                            beta2: t.beta2,
                            eps: t.eps,
                            weight_decay: t.weight_decay,
                            decoupled: self.kind == OptimizerKind::AdamW,
                            t: self.steps,
                        };
                        let m = slot.first.get_or_insert_with(zeros);
                        let v = slot.second.get_or_insert_with(zeros);
                        be.adam_update(p, g, m, v, step);
                    }
                    OptimizerKind::RmsProp => {
                        let step = RmsPropStep {
                            lr,
                            alpha: t.alpha,
                            eps: t.eps,
                            weight_decay: t.weight_decay,
                            momentum: t.momentum,
                        };
                        let sq = slot.second.get_or_insert_with(zeros);
                        let buf = (t.momentum > 0.0).then(|| slot.first.get_or_insert_with(zeros));
                        be.rmsprop_update(p, g, sq, buf, step);
                    }
                }
            }
        }
    }
}

/// Scales the gradients so their global L2 norm is at most `max_norm`; returns the norm
/// before clipping. As torch.nn.utils.clip_grad_norm_: the factor is
/// max_norm / (norm + 1e-6), applied whenever it is below 1, so a norm within 1e-6
/// under `max_norm` is scaled too (by a hair), as PyTorch does.
pub fn clip_global_norm<T: Element, B: Backend<T>>(be: &B, grads: &mut [Option<B::Buf>], max_norm: f64) -> f64 {
    let mut total = 0.0;
    for g in grads.iter().flatten() {
        let sq = be.map(Map::Square, g);
        total += be.download(&be.sum_all(&sq))[0].as_f64();
    }
    let norm = total.sqrt();
    let scale = max_norm / (norm + 1e-6);
    if scale < 1.0 {
        for g in grads.iter_mut().flatten() {
            *g = be.map(Map::MulScalar(scale), g);
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;

    /// torch.nn.utils.clip_grad_norm_ on grads [3, 4] and [0] (norm 5), in f64: max_norm
    /// 5 scales them to [2.99999940000012, 3.99999920000016] (the factor 5 / (5 + 1e-6));
    /// 2 to [1.199999760000048, 1.599999680000064]; 6 leaves them. The old rule scaled
    /// only a norm above max_norm, so max_norm 5 left [3, 4].
    #[test]
    fn clipping_scales_as_pytorch_even_at_the_limit() {
        let be = CpuBackend::new();
        let cases: [(f64, [f64; 2]); 3] = [
            (5.0, [2.99999940000012, 3.99999920000016]),
            (2.0, [1.199999760000048, 1.599999680000064]),
            (6.0, [3.0, 4.0]),
        ];
        for (max_norm, want) in cases {
            let mut grads = vec![Some(be.upload(&[3.0f64, 4.0])), None, Some(be.upload(&[0.0f64]))];
            let norm = clip_global_norm::<f64, _>(&be, &mut grads, max_norm);
            assert_eq!(norm, 5.0);
            let got = be.download(grads[0].as_ref().unwrap());
            assert_eq!(got, want, "max_norm {max_norm}");
            assert_eq!(be.download(grads[2].as_ref().unwrap()), [0.0], "max_norm {max_norm}");
        }
    }
}
