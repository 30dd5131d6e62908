//! Optimizer updates, element by element (PyTorch's formulas).

use crate::backend::{AdamStep, Element, RmsPropStep};

pub fn adam<T: Element>(param: &mut [T], grad: &[T], m: &mut [T], v: &mut [T], s: AdamStep) {
    let (b1, b2) = (T::from_f64(s.beta1), T::from_f64(s.beta2));
    let (one_b1, one_b2) = (T::from_f64(1.0 - s.beta1), T::from_f64(1.0 - s.beta2));
    let c1 = T::from_f64(1.0 / (1.0 - s.beta1.powi(s.t as i32)));
    let c2 = T::from_f64(1.0 / (1.0 - s.beta2.powi(s.t as i32)));
    let (lr, eps, wd) = (T::from_f64(s.lr), T::from_f64(s.eps), T::from_f64(s.weight_decay));
    let decay = T::from_f64(1.0 - s.lr * s.weight_decay);
    for (((p, g), m), v) in param.iter_mut().zip(grad).zip(m.iter_mut()).zip(v.iter_mut()) {
        let g = if s.decoupled {
            *p = *p * decay;
            *g
        } else {
            *g + wd * *p
        };
        *m = b1 * *m + one_b1 * g;
        *v = b2 * *v + one_b2 * g * g;
        *p = *p - lr * (*m * c1) / ((*v * c2).sqrt() + eps);
    }
}

pub fn rmsprop<T: Element>(param: &mut [T], grad: &[T], sq: &mut [T], momentum: Option<&mut [T]>, s: RmsPropStep) {
    let (alpha, one_alpha) = (T::from_f64(s.alpha), T::from_f64(1.0 - s.alpha));
    let (lr, eps, wd, mu) =
        (T::from_f64(s.lr), T::from_f64(s.eps), T::from_f64(s.weight_decay), T::from_f64(s.momentum));
    match momentum {
        None => {
            for ((p, g), q) in param.iter_mut().zip(grad).zip(sq.iter_mut()) {
                let g = *g + wd * *p;
                *q = alpha * *q + one_alpha * g * g;
                *p = *p - lr * g / (q.sqrt() + eps);
            }
        }
        Some(buf) => {
            for (((p, g), q), b) in param.iter_mut().zip(grad).zip(sq.iter_mut()).zip(buf.iter_mut()) {
                let g = *g + wd * *p;
                *q = alpha * *q + one_alpha * g * g;
                *b = mu * *b + g / (q.sqrt() + eps);
                *p = *p - lr * *b;
            }
        }
    }
}
