//! Convolution (im2col + cuBLAS) with both backward passes, and pooling.

use super::memory::{grid_for, CudaBuf, CudaElement, Op, Res};
use super::CudaBackend;
use crate::backend::{Channels, Conv2d, MatMul, Pool2d};
use cudarc::driver::{CudaSlice, CudaView};

/// Values of im2col columns held at once (×4 or ×8 bytes).
const COLS_BUDGET: usize = 1 << 26;

/// Images per im2col chunk for a convolution.
fn chunk(g: &Conv2d) -> usize {
    (COLS_BUDGET / (g.patch() * g.oh() * g.ow()).max(1)).clamp(1, g.batch.max(1))
}

/// A convolution's sizes as the conv.cu kernels take them.
struct ConvDims {
    images: u64,
    c_in: i32,
    h: i32,
    w: i32,
    kh: i32,
    kw: i32,
    stride: i32,
    pad: i32,
    oh: i32,
    ow: i32,
}

impl ConvDims {
    fn new(images: usize, g: &Conv2d) -> Self {
        let i = |v: usize| v as i32;
        ConvDims {
            images: images as u64,
            c_in: i(g.c_in),
            h: i(g.h),
            w: i(g.w),
            kh: i(g.kh),
            kw: i(g.kw),
            stride: i(g.stride),
            pad: i(g.pad),
            oh: i(g.oh()),
            ow: i(g.ow()),
        }
    }
}

impl CudaBackend {
    fn conv_lengths<T>(&self, op: Op, x: Option<&CudaBuf<T>>, w: &CudaBuf<T>, g: &Conv2d) -> Res<()> {
        self.need(op, w.len == g.c_out * g.patch(), || {
            format!("the weight has {} values, not {}", w.len, g.c_out * g.patch())
        })?;
        if let Some(x) = x {
            let want = g.batch * g.c_in * g.h * g.w;
            self.need(op, x.len == want, || format!("the input has {} values, not {want}", x.len))?;
        }
        Ok(())
    }

    pub(super) fn conv2d_on<T: CudaElement>(
        &self,
        op: Op,
        x: &CudaBuf<T>,
        w: &CudaBuf<T>,
        bias: Option<&CudaBuf<T>>,
        g: Conv2d,
    ) -> Res<CudaBuf<T>> {
        self.conv_lengths(op, Some(x), w, &g)?;
        let (k, p) = (g.patch(), g.oh() * g.ow());
        let in_size = g.c_in * g.h * g.w;
        let mut y = self.alloc::<T>(op, g.batch * g.c_out * p, "the output")?;
        if y.len == 0 || k == 0 {
            return Ok(y);
        }
        let chunk = chunk(&g);
        let mut cols = self.alloc::<T>(op, chunk * k * p, "the im2col columns")?;
        let (xd, wd) = (self.dev(op, x)?, self.dev(op, w)?);
        for b0 in (0..g.batch).step_by(chunk) {
            let images = chunk.min(g.batch - b0);
            self.im2col(
                op,
                &xd.slice(b0 * in_size..(b0 + images) * in_size),
                self.dev_mut(op, &mut cols)?,
                images,
                &g,
            )?;
            let d = MatMul { m: g.c_out, k, n: p, trans_a: false, trans_b: false };
            let yd = self.dev_mut(op, &mut y)?;
            let mut yv = yd.slice_mut(b0 * g.c_out * p..(b0 + images) * g.c_out * p);
            self.gemm_batched(op, wd, 0, self.dev(op, &cols)?, k * p, &mut yv, g.c_out * p, d, images)?;
        }
        match bias {
            Some(bias) => {
                self.channels_named(op, "add_channels", &y, bias, Channels { batch: g.batch, c: g.c_out, spatial: p })
            }
            None => Ok(y),
        }
    }

    pub(super) fn conv2d_grad_input_on<T: CudaElement>(
        &self,
        op: Op,
        dy: &CudaBuf<T>,
        w: &CudaBuf<T>,
        g: Conv2d,
    ) -> Res<CudaBuf<T>> {
        self.conv_lengths(op, None, w, &g)?;
        let (k, p) = (g.patch(), g.oh() * g.ow());
        self.need(op, dy.len == g.batch * g.c_out * p, || format!("dy has {} values", dy.len))?;
        let in_size = g.c_in * g.h * g.w;
        let mut dx = self.alloc::<T>(op, g.batch * in_size, "the input gradient")?;
        if dx.len == 0 || p == 0 || k == 0 {
            return Ok(dx);
        }
        let chunk = chunk(&g);
        let mut cols = self.alloc::<T>(op, chunk * k * p, "the im2col columns")?;
        let (dyd, wd) = (self.dev(op, dy)?, self.dev(op, w)?);
        for b0 in (0..g.batch).step_by(chunk) {
            let images = chunk.min(g.batch - b0);
            // cols_b = Wᵀ · dy_b
            let d = MatMul { m: k, k: g.c_out, n: p, trans_a: true, trans_b: false };
            let dyv = dyd.slice(b0 * g.c_out * p..(b0 + images) * g.c_out * p);
            self.gemm_batched(op, wd, 0, &dyv, g.c_out * p, self.dev_mut(op, &mut cols)?, k * p, d, images)?;
            let cfg = grid_for(images * in_size);
            let dxd = self.dev_mut(op, &mut dx)?;
            let mut dxv = dxd.slice_mut(b0 * in_size..(b0 + images) * in_size);
            let ConvDims { images, c_in, h, w: wd_, kh, kw, stride, pad, oh, ow } = ConvDims::new(images, &g);
            let cd = self.dev(op, &cols)?;
            launch!(self, op, T, "col2im", cfg; cd, &mut dxv, &images, &c_in, &h, &wd_, &kh, &kw, &stride, &pad, &oh, &ow);
        }
        Ok(dx)
    }

    pub(super) fn conv2d_grad_weight_on<T: CudaElement>(
        &self,
        op: Op,
        x: &CudaBuf<T>,
        dy: &CudaBuf<T>,
        g: Conv2d,
    ) -> Res<CudaBuf<T>> {
        let (k, p) = (g.patch(), g.oh() * g.ow());
        let in_size = g.c_in * g.h * g.w;
        self.need(op, x.len == g.batch * in_size, || format!("the input has {} values", x.len))?;
        self.need(op, dy.len == g.batch * g.c_out * p, || format!("dy has {} values", dy.len))?;
        let mut dw = self.alloc::<T>(op, g.c_out * k, "the weight gradient")?;
        if dw.len == 0 || p == 0 || g.batch == 0 {
            return Ok(dw);
        }
        let chunk = chunk(&g);
        let mut cols = self.alloc::<T>(op, chunk * k * p, "the im2col columns")?;
        let (xd, dyd) = (self.dev(op, x)?, self.dev(op, dy)?);
        // dW [c_out, k] = Σ_b dy_b [c_out, p] · cols_bᵀ, one GEMM per image in order,
        // each adding onto the last (β = 1): a fixed order of summation.
        let d = MatMul { m: g.c_out, k: p, n: k, trans_a: false, trans_b: true };
        for b0 in (0..g.batch).step_by(chunk) {
            let images = chunk.min(g.batch - b0);
            self.im2col(
                op,
                &xd.slice(b0 * in_size..(b0 + images) * in_size),
                self.dev_mut(op, &mut cols)?,
                images,
                &g,
            )?;
            for i in 0..images {
                let b = b0 + i;
                let beta = if b == 0 { 0.0 } else { 1.0 };
                let dyv = dyd.slice(b * g.c_out * p..(b + 1) * g.c_out * p);
                let cv = self.dev(op, &cols)?.slice(i * k * p..(i + 1) * k * p);
                self.gemm(op, &dyv, &cv, self.dev_mut(op, &mut dw)?, d, beta)?;
            }
        }
        Ok(dw)
    }

    /// Unrolls `images` images of x into `cols` ([images, c_in·kh·kw, oh·ow]).
    fn im2col<T: CudaElement>(
        &self,
        op: Op,
        x: &CudaView<'_, T>,
        cols: &mut CudaSlice<T>,
        images: usize,
        g: &Conv2d,
    ) -> Res<()> {
        let ConvDims { images: n, c_in, h, w, kh, kw, stride, pad, oh, ow } = ConvDims::new(images, g);
        let cfg = grid_for(images * g.patch() * g.oh() * g.ow());
        launch!(self, op, T, "im2col", cfg; x, cols, &n, &c_in, &h, &w, &kh, &kw, &stride, &pad, &oh, &ow);
        Ok(())
    }

    /// A pooling kernel (the op's name): (x, [dy,] out, planes, h, w, k, stride, oh,
    /// ow), one thread per element of the output (`out_len` values).
    pub(super) fn pool_on<T: CudaElement>(
        &self,
        op: Op,
        x: &CudaBuf<T>,
        dy: Option<&CudaBuf<T>>,
        g: Pool2d,
        out_len: usize,
    ) -> Res<CudaBuf<T>> {
        let out = self.alloc::<T>(op, out_len, "the output")?;
        if out_len == 0 {
            return Ok(out);
        }
        let planes = (g.batch * g.c) as u64;
        let i = |v: usize| v as i32;
        let (h, w, k, stride, oh, ow) = (i(g.h), i(g.w), i(g.k), i(g.stride), i(g.oh()), i(g.ow()));
        let cfg = grid_for(out_len);
        let (xd, od) = (self.dev(op, x)?, self.dev(op, &out)?);
        match dy {
            Some(dy) => {
                launch!(self, op, T, op.name, cfg; xd, self.dev(op, dy)?, od, &planes, &h, &w, &k, &stride, &oh, &ow)
            }
            None => launch!(self, op, T, op.name, cfg; xd, od, &planes, &h, &w, &k, &stride, &oh, &ow),
        }
        Ok(out)
    }
}
