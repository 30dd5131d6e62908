//! Optimizers that update parameters from gradients, and the closed-form solver.

mod lstsq;

pub use lstsq::least_squares;

use crate::backend::{Backend, Element, SgdStep};

/// Stochastic gradient descent with optional (Nesterov) momentum and weight decay.
/// Whether it is batch, mini-batch or stochastic is the batch size's business.
pub struct Sgd<Buf> {
    step: SgdStep,
    velocity: Vec<Vec<Option<Buf>>>,
}

impl<Buf> Sgd<Buf> {
    pub fn new(step: SgdStep) -> Self {
        Sgd {
            step,
            velocity: Vec::new(),
        }
    }

    /// Applies one update to every parameter that has a gradient.
    pub fn update<T: Element, B: Backend<T, Buf = Buf>>(
        &mut self,
        backend: &B,
        params: &mut [Vec<Buf>],
        grads: &[Vec<Option<&Buf>>],
    ) {
        if self.velocity.is_empty() {
            self.velocity = params
                .iter()
                .map(|ps| ps.iter().map(|_| None).collect())
                .collect();
        }
        for (i, node_params) in params.iter_mut().enumerate() {
            for (j, p) in node_params.iter_mut().enumerate() {
                let Some(g) = grads[i][j] else { continue };
                let v = if self.step.momentum > 0.0 {
                    let slot = &mut self.velocity[i][j];
                    Some(slot.get_or_insert_with(|| backend.filled(backend.len(g), 0.0)))
                } else {
                    None
                };
                backend.sgd_update(p, g, v, self.step);
            }
        }
    }
}
