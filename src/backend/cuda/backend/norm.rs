//! Per-channel ops and batch normalisation: one block per channel for the reductions,
//! summed in a fixed order.

use super::memory::{blocks, grid_for, CudaBuf, CudaElement, Op, Res};
use super::CudaBackend;
use crate::backend::Channels;

type Four<T> = (CudaBuf<T>, CudaBuf<T>, CudaBuf<T>, CudaBuf<T>);
type Three<T> = (CudaBuf<T>, CudaBuf<T>, CudaBuf<T>);

impl CudaBackend {
    /// add_channels or scale_channels (the op's name).
    pub(super) fn channels_on<T: CudaElement>(
        &self,
        op: Op,
        x: &CudaBuf<T>,
        v: &CudaBuf<T>,
        g: Channels,
    ) -> Res<CudaBuf<T>> {
        self.channels_named(op, op.name, x, v, g)
    }

    pub(super) fn channels_named<T: CudaElement>(
        &self,
        op: Op,
        name: &'static str,
        x: &CudaBuf<T>,
        v: &CudaBuf<T>,
        g: Channels,
    ) -> Res<CudaBuf<T>> {
        self.need(op, v.len == g.c, || format!("{} channel values for {} channels", v.len, g.c))?;
        self.need(op, x.len == g.batch * g.c * g.spatial, || format!("x has {} values", x.len))?;
        let out = self.alloc::<T>(op, x.len, "the output")?;
        if x.len > 0 {
            let (n, c, s) = (x.len as u64, g.c as u64, g.spatial as u64);
            launch!(self, op, T, name, grid_for(x.len); self.dev(op, x)?, self.dev(op, v)?, self.dev(op, &out)?, &n, &c, &s);
        }
        Ok(out)
    }

    pub(super) fn sum_channels_on<T: CudaElement>(&self, op: Op, x: &CudaBuf<T>, g: Channels) -> Res<CudaBuf<T>> {
        self.need(op, x.len == g.batch * g.c * g.spatial, || format!("x has {} values", x.len))?;
        let out = self.alloc::<T>(op, g.c, "the sums")?;
        if g.c > 0 && x.len > 0 {
            let (b, c, s) = (g.batch as u64, g.c as u64, g.spatial as u64);
            launch!(self, op, T, "sum_channels", blocks(g.c); self.dev(op, x)?, self.dev(op, &out)?, &b, &c, &s);
        }
        Ok(out)
    }

    pub(super) fn batch_norm_on<T: CudaElement>(
        &self,
        op: Op,
        x: &CudaBuf<T>,
        gamma: &CudaBuf<T>,
        beta: &CudaBuf<T>,
        g: Channels,
        eps: f64,
    ) -> Res<Four<T>> {
        self.need(op, x.len == g.batch * g.c * g.spatial, || format!("x has {} values", x.len))?;
        self.need(op, gamma.len == g.c && beta.len == g.c, || format!("γ {} and β {} values", gamma.len, beta.len))?;
        let y = self.alloc::<T>(op, x.len, "the output")?;
        let mean = self.alloc::<T>(op, g.c, "the means")?;
        let inv = self.alloc::<T>(op, g.c, "1/σ")?;
        let var = self.alloc::<T>(op, g.c, "the variances")?;
        if g.c > 0 && x.len > 0 {
            let (b, c, s) = (g.batch as u64, g.c as u64, g.spatial as u64);
            let (xd, gd, bd) = (self.dev(op, x)?, self.dev(op, gamma)?, self.dev(op, beta)?);
            let (yd, md, id, vd) = (self.dev(op, &y)?, self.dev(op, &mean)?, self.dev(op, &inv)?, self.dev(op, &var)?);
            launch!(self, op, T, "batch_norm", blocks(g.c); xd, gd, bd, yd, md, id, vd, &b, &c, &s, &eps);
        }
        Ok((y, mean, inv, var))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn batch_norm_grad_on<T: CudaElement>(
        &self,
        op: Op,
        x: &CudaBuf<T>,
        mean: &CudaBuf<T>,
        inv_std: &CudaBuf<T>,
        gamma: &CudaBuf<T>,
        dy: &CudaBuf<T>,
        g: Channels,
    ) -> Res<Three<T>> {
        self.need(op, x.len == g.batch * g.c * g.spatial && dy.len == x.len, || {
            format!("x {} and dy {} values", x.len, dy.len)
        })?;
        let ok = mean.len == g.c && inv_std.len == g.c && gamma.len == g.c;
        self.need(op, ok, || {
            format!("mean {}, 1/σ {}, γ {} values for {} channels", mean.len, inv_std.len, gamma.len, g.c)
        })?;
        let dx = self.alloc::<T>(op, x.len, "the input gradient")?;
        let dgamma = self.alloc::<T>(op, g.c, "dγ")?;
        let dbeta = self.alloc::<T>(op, g.c, "dβ")?;
        if g.c > 0 && x.len > 0 {
            let (b, c, s) = (g.batch as u64, g.c as u64, g.spatial as u64);
            let (xd, md, id, gd, dyd) = (
                self.dev(op, x)?,
                self.dev(op, mean)?,
                self.dev(op, inv_std)?,
                self.dev(op, gamma)?,
                self.dev(op, dy)?,
            );
            let (dxd, dgd, dbd) = (self.dev(op, &dx)?, self.dev(op, &dgamma)?, self.dev(op, &dbeta)?);
            launch!(self, op, T, "batch_norm_grad", blocks(g.c); xd, md, id, gd, dyd, dxd, dgd, dbd, &b, &c, &s);
        }
        Ok((dx, dgamma, dbeta))
    }
}
