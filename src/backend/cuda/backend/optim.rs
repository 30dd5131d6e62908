//! The optimizer updates, in place, one fused kernel each.

use super::memory::{grid_for, CudaBuf, CudaElement, Op, Res};
use super::CudaBackend;
use crate::backend::{AdamStep, RmsPropStep, SgdStep};

impl CudaBackend {
    fn same_lengths<T>(&self, op: Op, param: &CudaBuf<T>, others: &[usize]) -> Res<()> {
        let ok = others.iter().all(|l| *l == param.len);
        self.need(op, ok, || format!("the parameter has {} values, its state {others:?}", param.len))
    }

    pub(super) fn adam_on<T: CudaElement>(
        &self,
        op: Op,
        param: &mut CudaBuf<T>,
        grad: &CudaBuf<T>,
        m: &mut CudaBuf<T>,
        v: &mut CudaBuf<T>,
        s: AdamStep,
    ) -> Res<()> {
        self.same_lengths(op, param, &[grad.len, m.len, v.len])?;
        if param.len == 0 {
            return Ok(());
        }
        let n = param.len as u64;
        let (b1, ob1, b2, ob2) = (s.beta1, 1.0 - s.beta1, s.beta2, 1.0 - s.beta2);
        let c1 = 1.0 / (1.0 - s.beta1.powi(s.t as i32));
        let c2 = 1.0 / (1.0 - s.beta2.powi(s.t as i32));
        let decay = 1.0 - s.lr * s.weight_decay;
        let decoupled = i32::from(s.decoupled);
        let cfg = grid_for(param.len);
        let gd = self.dev(op, grad)?;
        let (pd, md, vd) = (self.dev_mut(op, param)?, self.dev_mut(op, m)?, self.dev_mut(op, v)?);
        launch!(self, op, T, "adam_update", cfg;
            pd, gd, md, vd, &n, &b1, &ob1, &b2, &ob2, &c1, &c2, &s.lr, &s.eps, &s.weight_decay, &decay, &decoupled);
        Ok(())
    }

    pub(super) fn rmsprop_on<T: CudaElement>(
        &self,
        op: Op,
        param: &mut CudaBuf<T>,
        grad: &CudaBuf<T>,
        square_avg: &mut CudaBuf<T>,
        momentum: Option<&mut CudaBuf<T>>,
        s: RmsPropStep,
    ) -> Res<()> {
        let mom_len = momentum.as_ref().map_or(param.len, |b| b.len);
        self.same_lengths(op, param, &[grad.len, square_avg.len, mom_len])?;
        if param.len == 0 {
            return Ok(());
        }
        let n = param.len as u64;
        let one_alpha = 1.0 - s.alpha;
        let cfg = grid_for(param.len);
        let gd = self.dev(op, grad)?;
        let (pd, sd) = (self.dev_mut(op, param)?, self.dev_mut(op, square_avg)?);
        match momentum {
            Some(buf) => {
                let bd = self.dev_mut(op, buf)?;
                launch!(self, op, T, "rmsprop_update", cfg;
                    pd, gd, sd, bd, &n, &s.alpha, &one_alpha, &s.lr, &s.eps, &s.weight_decay, &s.momentum)
            }
            None => {
                // The kernel reads no momentum buffer when momentum is 0: a null pointer.
                let null = 0u64;
                launch!(self, op, T, "rmsprop_update", cfg;
                    pd, gd, sd, &null, &n, &s.alpha, &one_alpha, &s.lr, &s.eps, &s.weight_decay, &s.momentum)
            }
        }
        Ok(())
    }

    pub(super) fn sgd_on<T: CudaElement>(
        &self,
        op: Op,
        param: &mut CudaBuf<T>,
        grad: &CudaBuf<T>,
        velocity: Option<&mut CudaBuf<T>>,
        s: SgdStep,
    ) -> Res<()> {
        let v_len = velocity.as_ref().map_or(param.len, |b| b.len);
        self.same_lengths(op, param, &[grad.len, v_len])?;
        if param.len == 0 {
            return Ok(());
        }
        let n = param.len as u64;
        let nesterov = i32::from(s.nesterov);
        let cfg = grid_for(param.len);
        let gd = self.dev(op, grad)?;
        let pd = self.dev_mut(op, param)?;
        match velocity {
            Some(v) => {
                let vd = self.dev_mut(op, v)?;
                launch!(self, op, T, "sgd_update", cfg; pd, gd, vd, &n, &s.lr, &s.weight_decay, &s.momentum, &nesterov)
            }
            None => {
                let null = 0u64;
                launch!(self, op, T, "sgd_update", cfg; pd, gd, &null, &n, &s.lr, &s.weight_decay, &s.momentum, &nesterov)
            }
        }
        Ok(())
    }
}
