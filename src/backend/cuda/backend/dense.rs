//! Copies, products, element-wise ops, row ops, softmax and the fused losses.

use super::memory::{blocks, grid_for, CudaBuf, CudaElement, Op, Res};
use super::CudaBackend;
use crate::backend::cuda::ops::{loss_code, map_code, zip_code};
use crate::backend::{LossKernel, Map, MatMul, Zip};

impl CudaBackend {
    pub(super) fn upload_on<T: CudaElement>(&self, op: Op, host: &[T]) -> Res<CudaBuf<T>> {
        if host.is_empty() {
            return Ok(CudaBuf { slice: None, len: 0 });
        }
        let slice = self.stream.clone_htod(host).map_err(|e| {
            let bytes = super::memory::human_bytes(std::mem::size_of_val(host));
            self.error(op, format!("copying {bytes} to the device failed: {e:?}"))
        })?;
        Ok(CudaBuf { slice: Some(slice), len: host.len() })
    }

    pub(super) fn download_on<T: CudaElement>(&self, op: Op, buf: &CudaBuf<T>) -> Res<Vec<T>> {
        if buf.len == 0 {
            return Ok(Vec::new());
        }
        let d = self.dev(op, buf)?;
        self.stream.clone_dtoh(d).map_err(|e| {
            self.error(op, format!("copying {} values to the host failed (or a kernel before it did): {e:?}", buf.len))
        })
    }

    pub(super) fn filled_on<T: CudaElement>(&self, op: Op, len: usize, value: f64) -> Res<CudaBuf<T>> {
        let out = self.alloc::<T>(op, len, "the buffer")?;
        if len > 0 {
            let n = len as u64;
            launch!(self, op, T, "filled", grid_for(len); self.dev(op, &out)?, &n, &value);
        }
        Ok(out)
    }

    pub(super) fn copy_on<T: CudaElement>(&self, op: Op, buf: &CudaBuf<T>) -> Res<CudaBuf<T>> {
        if buf.len == 0 {
            return Ok(CudaBuf { slice: None, len: 0 });
        }
        let slice = self.stream.clone_dtod(self.dev(op, buf)?).map_err(|e| {
            let bytes = super::memory::human_bytes(buf.len * std::mem::size_of::<T>());
            self.error(op, format!("copying {bytes} on the device failed: {e:?}"))
        })?;
        Ok(CudaBuf { slice: Some(slice), len: buf.len })
    }

    pub(super) fn matmul_on<T: CudaElement>(
        &self,
        op: Op,
        a: &CudaBuf<T>,
        b: &CudaBuf<T>,
        d: MatMul,
    ) -> Res<CudaBuf<T>> {
        self.need(op, a.len == d.m * d.k, || format!("A has {} values, not {}×{}", a.len, d.m, d.k))?;
        self.need(op, b.len == d.k * d.n, || format!("B has {} values, not {}×{}", b.len, d.k, d.n))?;
        let mut c = self.alloc::<T>(op, d.m * d.n, "the product")?;
        if d.m > 0 && d.n > 0 && d.k > 0 {
            let (a, b) = (self.dev(op, a)?, self.dev(op, b)?);
            self.gemm(op, a, b, self.dev_mut(op, &mut c)?, d, 0.0)?;
        }
        Ok(c)
    }

    pub(super) fn map_on<T: CudaElement>(&self, op: Op, f: Map, x: &CudaBuf<T>) -> Res<CudaBuf<T>> {
        let y = self.alloc::<T>(op, x.len, "the output")?;
        if x.len > 0 {
            let (code, scalar) = map_code(f);
            let n = x.len as u64;
            launch!(self, op, T, "map", grid_for(x.len); &code, &scalar, self.dev(op, x)?, self.dev(op, &y)?, &n);
        }
        Ok(y)
    }

    pub(super) fn map_grad_on<T: CudaElement>(
        &self,
        op: Op,
        f: Map,
        x: &CudaBuf<T>,
        y: &CudaBuf<T>,
        dy: &CudaBuf<T>,
    ) -> Res<CudaBuf<T>> {
        self.need(op, x.len == dy.len && y.len == dy.len, || {
            format!("x {}, y {}, dy {} values", x.len, y.len, dy.len)
        })?;
        let dx = self.alloc::<T>(op, dy.len, "the gradient")?;
        if dy.len > 0 {
            let (code, scalar) = map_code(f);
            let n = dy.len as u64;
            let (x, y, dyd, dxd) = (self.dev(op, x)?, self.dev(op, y)?, self.dev(op, dy)?, self.dev(op, &dx)?);
            launch!(self, op, T, "map_grad", grid_for(dy.len); &code, &scalar, x, y, dyd, dxd, &n);
        }
        Ok(dx)
    }

    pub(super) fn zip_on<T: CudaElement>(&self, op: Op, f: Zip, a: &CudaBuf<T>, b: &CudaBuf<T>) -> Res<CudaBuf<T>> {
        self.need(op, a.len == b.len, || format!("lengths differ: {} and {}", a.len, b.len))?;
        let out = self.alloc::<T>(op, a.len, "the output")?;
        if a.len > 0 {
            let code = zip_code(f);
            let n = a.len as u64;
            launch!(self, op, T, "zip", grid_for(a.len); &code, self.dev(op, a)?, self.dev(op, b)?, self.dev(op, &out)?, &n);
        }
        Ok(out)
    }

    pub(super) fn add_assign_on<T: CudaElement>(&self, op: Op, a: &mut CudaBuf<T>, b: &CudaBuf<T>) -> Res<()> {
        self.need(op, a.len == b.len, || format!("lengths differ: {} and {}", a.len, b.len))?;
        if a.len > 0 {
            let n = a.len as u64;
            let cfg = grid_for(a.len);
            let bd = self.dev(op, b)?;
            launch!(self, op, T, "add_assign", cfg; self.dev_mut(op, a)?, bd, &n);
        }
        Ok(())
    }

    pub(super) fn add_row_on<T: CudaElement>(
        &self,
        op: Op,
        x: &CudaBuf<T>,
        row: &CudaBuf<T>,
        cols: usize,
    ) -> Res<CudaBuf<T>> {
        self.need(op, row.len == cols, || format!("the row has {} values, not {cols}", row.len))?;
        let out = self.alloc::<T>(op, x.len, "the output")?;
        if x.len > 0 {
            let (n, c) = (x.len as u64, cols as u64);
            launch!(self, op, T, "add_row", grid_for(x.len); self.dev(op, x)?, self.dev(op, row)?, self.dev(op, &out)?, &n, &c);
        }
        Ok(out)
    }

    pub(super) fn sum_rows_on<T: CudaElement>(&self, op: Op, x: &CudaBuf<T>, cols: usize) -> Res<CudaBuf<T>> {
        let out = self.alloc::<T>(op, cols, "the sums")?;
        if let Some(rows) = x.len.checked_div(cols).filter(|r| *r > 0) {
            let (rows, c) = (rows as u64, cols as u64);
            launch!(self, op, T, "sum_rows", grid_for(cols); self.dev(op, x)?, self.dev(op, &out)?, &rows, &c);
        }
        Ok(out)
    }

    pub(super) fn sum_all_on<T: CudaElement>(&self, op: Op, x: &CudaBuf<T>) -> Res<CudaBuf<T>> {
        let out = self.alloc::<T>(op, 1, "the sum")?;
        if x.len > 0 {
            let n = x.len as u64;
            launch!(self, op, T, "sum_all", blocks(1); self.dev(op, x)?, self.dev(op, &out)?, &n);
        }
        Ok(out)
    }

    /// softmax_rows (dy None) or softmax_rows_grad (x is y): one block per row.
    pub(super) fn softmax_on<T: CudaElement>(
        &self,
        op: Op,
        name: &'static str,
        x: &CudaBuf<T>,
        dy: Option<&CudaBuf<T>>,
        cols: usize,
    ) -> Res<CudaBuf<T>> {
        let out = self.alloc::<T>(op, x.len, "the output")?;
        let rows = x.len.checked_div(cols).unwrap_or(0);
        if rows > 0 {
            let c = cols as u64;
            let (xd, od) = (self.dev(op, x)?, self.dev(op, &out)?);
            match dy {
                Some(dy) => launch!(self, op, T, name, blocks(rows); xd, self.dev(op, dy)?, od, &c),
                None => launch!(self, op, T, name, blocks(rows); xd, od, &c),
            }
        }
        Ok(out)
    }

    pub(super) fn concat_cols_on<T: CudaElement>(
        &self,
        op: Op,
        parts: &[(&CudaBuf<T>, usize)],
        rows: usize,
    ) -> Res<CudaBuf<T>> {
        let total: usize = parts.iter().map(|p| p.1).sum();
        let out = self.alloc::<T>(op, rows * total, "the output")?;
        let mut offset = 0usize;
        for (part, width) in parts {
            if rows * width > 0 {
                let (r, w, t, o) = (rows as u64, *width as u64, total as u64, offset as u64);
                let (pd, od) = (self.dev(op, part)?, self.dev(op, &out)?);
                launch!(self, op, T, "concat_cols", grid_for(rows * width); pd, od, &r, &w, &t, &o);
            }
            offset += width;
        }
        Ok(out)
    }

    pub(super) fn slice_cols_on<T: CudaElement>(
        &self,
        op: Op,
        x: &CudaBuf<T>,
        cols: usize,
        start: usize,
        width: usize,
    ) -> Res<CudaBuf<T>> {
        let rows = x.len.checked_div(cols).unwrap_or(0);
        let out = self.alloc::<T>(op, rows * width, "the output")?;
        if rows * width > 0 {
            let (r, c, s, w) = (rows as u64, cols as u64, start as u64, width as u64);
            launch!(self, op, T, "slice_cols", grid_for(rows * width); self.dev(op, x)?, self.dev(op, &out)?, &r, &c, &s, &w);
        }
        Ok(out)
    }

    /// The loss's terms in f64 (one per element, or per row for softmax cross-entropy),
    /// summed by one block in a fixed order, and the gradient.
    pub(super) fn loss_on<T: CudaElement>(
        &self,
        op: Op,
        kind: LossKernel,
        pred: &CudaBuf<T>,
        target: &CudaBuf<T>,
        cols: usize,
    ) -> Res<(f64, CudaBuf<T>)> {
        self.need(op, pred.len == target.len, || format!("prediction {} and target {} values", pred.len, target.len))?;
        let grad = self.alloc::<T>(op, pred.len, "the gradient")?;
        if pred.len == 0 {
            return Ok((0.0, grad));
        }
        let terms_len = match loss_code(kind) {
            Some(_) => pred.len,
            None => pred.len.checked_div(cols).unwrap_or(0),
        };
        let terms = self.alloc::<f64>(op, terms_len, "the loss terms")?;
        let total = self.alloc::<f64>(op, 1, "the loss")?;
        let (p, t, g) = (self.dev(op, pred)?, self.dev(op, target)?, self.dev(op, &grad)?);
        if terms_len > 0 {
            let td = self.dev(op, &terms)?;
            match loss_code(kind) {
                Some(code) => {
                    let n = pred.len as u64;
                    launch!(self, op, T, "loss", grid_for(pred.len); &code, p, t, g, td, &n);
                }
                None => {
                    let c = cols as u64;
                    launch!(self, op, T, "loss_softmax_cross_entropy", blocks(terms_len); p, t, g, td, &c);
                }
            }
            let n = terms_len as u64;
            launch!(self, op, T, "loss_sum", blocks(1); td, self.dev(op, &total)?, &n);
        }
        let total = self.download_on(op, &total)?;
        Ok((total.first().copied().unwrap_or(0.0), grad))
    }
}
