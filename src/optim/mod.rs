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
/// before clipping.
pub fn clip_global_norm<T: Element, B: Backend<T>>(be: &B, grads: &mut [Option<B::Buf>], max_norm: f64) -> f64 {
    let mut total = 0.0;
    for g in grads.iter().flatten() {
        let sq = be.map(Map::Square, g);
        total += be.download(&be.sum_all(&sq))[0].as_f64();
    }
    let norm = total.sqrt();
    if norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for g in grads.iter_mut().flatten() {
            *g = be.map(Map::MulScalar(scale), g);
        }
    }
    norm
}
