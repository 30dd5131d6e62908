//! Buffers, the sticky error and the helpers every op family uses: allocation, device
//! pointers of buffers, kernel lookup and cuBLAS products, each turning a CUDA failure
//! into a [`BackendError`] that names the device, the op and what failed.

use super::CudaBackend;
use crate::backend::{BackendError, DType, Element, MatMul};
use cudarc::cublas::{sys::cublasOperation_t, CudaBlas, Gemm, GemmConfig, StridedBatchedConfig};
use cudarc::driver::{CudaFunction, CudaSlice, DevicePtr, DevicePtrMut, DeviceRepr, LaunchConfig, ValidAsZeroBits};

pub(super) const BLOCK: u32 = 256;
/// Grid-stride kernels use at most this many blocks (enough to fill any current GPU).
const MAX_GRID: u64 = 8192;

pub(super) type Res<T> = Result<T, BackendError>;

/// The element types the CUDA backend computes in, with their cuBLAS products (so no
/// op needs a `CudaBlas: Gemm<T>` bound of its own).
pub trait CudaElement: Element + DeviceRepr + ValidAsZeroBits {
    /// # Safety
    /// As `cudarc::cublas::Gemm::gemm`: the buffers hold what `cfg` describes.
    unsafe fn gemm(
        blas: &CudaBlas,
        cfg: GemmConfig<Self>,
        a: &impl DevicePtr<Self>,
        b: &impl DevicePtr<Self>,
        c: &mut impl DevicePtrMut<Self>,
    ) -> Result<(), cudarc::cublas::result::CublasError>;
    /// # Safety
    /// As `cudarc::cublas::Gemm::gemm_strided_batched`.
    unsafe fn gemm_batched(
        blas: &CudaBlas,
        cfg: StridedBatchedConfig<Self>,
        a: &impl DevicePtr<Self>,
        b: &impl DevicePtr<Self>,
        c: &mut impl DevicePtrMut<Self>,
    ) -> Result<(), cudarc::cublas::result::CublasError>;
}

macro_rules! cuda_element {
    ($t:ty) => {
        impl CudaElement for $t {
            unsafe fn gemm(
                blas: &CudaBlas,
                cfg: GemmConfig<$t>,
                a: &impl DevicePtr<$t>,
                b: &impl DevicePtr<$t>,
                c: &mut impl DevicePtrMut<$t>,
            ) -> Result<(), cudarc::cublas::result::CublasError> {
                // SAFETY: the caller's contract.
                unsafe { Gemm::<$t>::gemm(blas, cfg, a, b, c) }
            }
            unsafe fn gemm_batched(
                blas: &CudaBlas,
                cfg: StridedBatchedConfig<$t>,
                a: &impl DevicePtr<$t>,
                b: &impl DevicePtr<$t>,
                c: &mut impl DevicePtrMut<$t>,
            ) -> Result<(), cudarc::cublas::result::CublasError> {
                // SAFETY: the caller's contract.
                unsafe { Gemm::<$t>::gemm_strided_batched(blas, cfg, a, b, c) }
            }
        }
    };
}
cuda_element!(f32);
cuda_element!(f64);

/// A device buffer of `len` values. Empty buffers hold no allocation (the driver is
/// never asked for zero bytes); after an error, ops return placeholders: the right
/// length, no memory, never read.
pub struct CudaBuf<T> {
    pub(super) slice: Option<CudaSlice<T>>,
    pub(super) len: usize,
}

impl<T> CudaBuf<T> {
    pub(super) fn placeholder(len: usize) -> Self {
        CudaBuf { slice: None, len }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Whether this buffer holds device memory (false for empty buffers and
    /// placeholders).
    pub fn on_device(&self) -> bool {
        self.slice.is_some()
    }
}

/// The op being run, for error messages: its name and dtype give the kernel symbol.
#[derive(Clone, Copy, Debug)]
pub(super) struct Op {
    pub name: &'static str,
    pub dtype: DType,
}

impl Op {
    pub fn symbol(&self) -> String {
        crate::backend::cuda::symbol(self.name, self.dtype)
    }
}

pub(super) fn grid_for(n: usize) -> LaunchConfig {
    let blocks = (n as u64).div_ceil(BLOCK as u64).clamp(1, MAX_GRID) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 }
}

pub(super) fn blocks(count: usize) -> LaunchConfig {
    LaunchConfig { grid_dim: (count as u32, 1, 1), block_dim: (BLOCK, 1, 1), shared_mem_bytes: 0 }
}

/// Bytes as a person reads them: 1.2 GB, 640 KB.
pub(super) fn human_bytes(bytes: usize) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} KB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.1} GB", b / 1e9),
    }
}

impl CudaBackend {
    /// An error of `op` on this device.
    pub(super) fn error(&self, op: Op, message: impl std::fmt::Display) -> BackendError {
        BackendError {
            backend: "cuda",
            op: op.symbol(),
            message: format!("CUDA device {} ({}): {message}", self.ordinal, self.device),
        }
    }

    /// Runs one op's `work` unless an error is kept; a failure is kept and the op
    /// returns a placeholder of `len` values.
    pub(super) fn guarded<T: CudaElement>(
        &self,
        name: &'static str,
        len: usize,
        work: impl FnOnce(Op) -> Res<CudaBuf<T>>,
    ) -> CudaBuf<T> {
        let op = Op { name, dtype: T::DTYPE };
        self.sticky.run(|| work(op)).unwrap_or_else(|| CudaBuf::placeholder(len))
    }

    /// `guarded` for in-place ops.
    pub(super) fn guarded_unit<T: CudaElement>(&self, name: &'static str, work: impl FnOnce(Op) -> Res<()>) {
        let op = Op { name, dtype: T::DTYPE };
        let _ = self.sticky.run(|| work(op));
    }

    /// A zeroed buffer of n values; `what` names it in an out-of-memory message.
    pub(super) fn alloc<T: CudaElement>(&self, op: Op, n: usize, what: &str) -> Res<CudaBuf<T>> {
        if n == 0 {
            return Ok(CudaBuf { slice: None, len: 0 });
        }
        let slice = self.stream.alloc_zeros::<T>(n).map_err(|e| {
            let bytes = human_bytes(n.saturating_mul(std::mem::size_of::<T>()));
            self.error(op, format!("allocating {bytes} for {what} failed: {e:?}"))
        })?;
        Ok(CudaBuf { slice: Some(slice), len: n })
    }

    /// The device memory of a non-empty buffer.
    pub(super) fn dev<'a, T>(&self, op: Op, b: &'a CudaBuf<T>) -> Res<&'a CudaSlice<T>> {
        b.slice.as_ref().ok_or_else(|| self.no_memory(op, b.len))
    }

    pub(super) fn dev_mut<'a, T>(&self, op: Op, b: &'a mut CudaBuf<T>) -> Res<&'a mut CudaSlice<T>> {
        let len = b.len;
        b.slice.as_mut().ok_or_else(|| self.no_memory(op, len))
    }

    fn no_memory(&self, op: Op, len: usize) -> BackendError {
        self.error(op, format!("a buffer of {len} values has no device memory (empty, or made after an error)"))
    }

    /// Fails unless `ok`, with `what` (a length mismatch: a caller's bug, reported
    /// like any other failure rather than a panic).
    pub(super) fn need(&self, op: Op, ok: bool, what: impl FnOnce() -> String) -> Res<()> {
        if ok {
            Ok(())
        } else {
            Err(self.error(op, what()))
        }
    }

    pub(super) fn function<T: Element>(&self, op: Op, name: &str) -> Res<&CudaFunction> {
        let s = crate::backend::cuda::symbol(name, T::DTYPE);
        self.functions.get(&s).ok_or_else(|| self.error(op, format!("no kernel {s} was loaded")))
    }

    /// C (m×n, row-major) = op(A)·op(B) + beta·C, on device pointers of any kind.
    pub(super) fn gemm<T: CudaElement>(
        &self,
        op: Op,
        a: &impl DevicePtr<T>,
        b: &impl DevicePtr<T>,
        c: &mut impl DevicePtrMut<T>,
        d: MatMul,
        beta: f64,
    ) -> Res<()> {
        let cfg = row_major_gemm::<T>(d, T::from_f64(beta));
        // SAFETY: A holds m·k, B k·n and C m·n values (checked by the callers), and the
        // leading dimensions describe those row-major layouts (`row_major_gemm`).
        unsafe { T::gemm(&self.blas, cfg, b, a, c) }
            .map_err(|e| self.error(op, format!("cuBLAS GEMM {}×{}×{} failed: {e:?}", d.m, d.k, d.n)))
    }

    /// `count` independent products C_i = op(A_i)·op(B_i) with the given strides
    /// (0 shares an operand), row-major as `gemm`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn gemm_batched<T: CudaElement>(
        &self,
        op: Op,
        a: &impl DevicePtr<T>,
        stride_a: usize,
        b: &impl DevicePtr<T>,
        stride_b: usize,
        c: &mut impl DevicePtrMut<T>,
        stride_c: usize,
        d: MatMul,
        count: usize,
    ) -> Res<()> {
        let gemm = row_major_gemm::<T>(d, T::zero());
        let cfg = StridedBatchedConfig {
            gemm,
            batch_size: count as i32,
            stride_a: stride_b as i64,
            stride_b: stride_a as i64,
            stride_c: stride_c as i64,
        };
        // SAFETY: as in `gemm`, for each of the `count` products at its stride.
        unsafe { T::gemm_batched(&self.blas, cfg, b, a, c) }
            .map_err(|e| self.error(op, format!("cuBLAS batched GEMM {count}×({}×{}×{}) failed: {e:?}", d.m, d.k, d.n)))
    }
}

/// cuBLAS is column-major: the row-major C = op(A)·op(B) is computed as the
/// column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so cuBLAS's first operand is our B.
pub(super) fn row_major_gemm<T: CudaElement>(d: MatMul, beta: T) -> GemmConfig<T> {
    let (m, k, n) = (d.m as i32, d.k as i32, d.n as i32);
    let op = |t: bool| if t { cublasOperation_t::CUBLAS_OP_T } else { cublasOperation_t::CUBLAS_OP_N };
    GemmConfig {
        transa: op(d.trans_b),
        transb: op(d.trans_a),
        m: n,
        n: m,
        k,
        alpha: T::one(),
        lda: if d.trans_b { k } else { n },
        ldb: if d.trans_a { m } else { k },
        beta,
        ldc: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(640_000), "640.0 KB");
        assert_eq!(human_bytes(1_200_000_000), "1.2 GB");
    }

    /// The row-major product as cuBLAS's column-major one: B first, dimensions swapped,
    /// leading dimensions the row lengths of the stored matrices.
    #[test]
    fn the_row_major_gemm_swaps_operands_and_dimensions() {
        let d = MatMul { m: 3, k: 5, n: 7, trans_a: false, trans_b: false };
        let c = row_major_gemm::<f32>(d, 0.0);
        assert_eq!((c.m, c.n, c.k, c.lda, c.ldb, c.ldc), (7, 3, 5, 7, 5, 7));
        let d = MatMul { m: 3, k: 5, n: 7, trans_a: true, trans_b: true };
        let c = row_major_gemm::<f64>(d, 1.0);
        assert_eq!((c.lda, c.ldb, c.ldc), (5, 3, 7));
        assert_eq!(c.transa, cublasOperation_t::CUBLAS_OP_T);
        assert_eq!(c.beta, 1.0);
    }

    #[test]
    fn grids_are_capped_and_never_empty() {
        assert_eq!(grid_for(0).grid_dim.0, 1);
        assert_eq!(grid_for(257).grid_dim.0, 2);
        assert_eq!(grid_for(usize::MAX / 2).grid_dim.0, MAX_GRID as u32);
    }
}
