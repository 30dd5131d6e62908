//! What the CPU backend needs of each element type beyond [`Element`]: matrixmultiply's
//! GEMM for it, and the hand-vectorised kernels where the type has them (f32 with
//! AVX-512). Each fast path answers `None` (or false) where the geometry or the CPU
//! path (`path::CpuPath`, chosen once in `path`) does not suit it, and the caller takes
//! the portable loops. f64, used for exact comparisons and gradient checks, always
//! takes the portable loops.

use super::path::CpuPath;
use super::{direct_conv, narrow_gemm, pool2x2, weight_grad};
use crate::backend::{Conv2d, Element, MatMul, Pool2d};

/// matrixmultiply's GEMM signature: C = α·A·B + β·C with arbitrary row and column
/// strides. Calling it is unsafe: the pointers and strides must describe valid,
/// non-overlapping matrices of the given sizes.
pub type Gemm<T> =
    unsafe fn(usize, usize, usize, T, *const T, isize, isize, *const T, isize, isize, T, *mut T, isize, isize);

pub trait CpuKernels: Element {
    const GEMM: Gemm<Self>;

    /// A stride-1 convolution by the direct kernel (where the shape suits it: the same
    /// bits as the im2col path, on every CPU path).
    fn direct_conv2d(
        _x: &[Self],
        _w: &[Self],
        _bias: Option<&[Self]>,
        _g: Conv2d,
        _path: CpuPath,
    ) -> Option<Vec<Self>> {
        None
    }
    /// The convolution weight gradient with output channels in the vector lanes (the
    /// same bits as the im2col path).
    fn direct_conv2d_grad_weight(_x: &[Self], _dy: &[Self], _g: Conv2d, _path: CpuPath) -> Option<Vec<Self>> {
        None
    }
    /// The 2×2, stride-2 max-pool and its gradient (AVX-512; the same bits as conv.rs).
    fn fast_max_pool2d(_x: &[Self], _g: Pool2d, _path: CpuPath) -> Option<Vec<Self>> {
        None
    }
    fn fast_max_pool2d_grad(_x: &[Self], _dy: &[Self], _g: Pool2d, _path: CpuPath) -> Option<Vec<Self>> {
        None
    }
    /// C = op(A)·op(B) for tiny dense layers, several rows per vector; false leaves `c`
    /// alone.
    fn narrow_matmul(_a: &[Self], _b: &[Self], _d: MatMul, _c: &mut [Self], _path: CpuPath) -> bool {
        false
    }
}

impl CpuKernels for f32 {
    const GEMM: Gemm<Self> = matrixmultiply::sgemm;
    fn direct_conv2d(x: &[Self], w: &[Self], bias: Option<&[Self]>, g: Conv2d, path: CpuPath) -> Option<Vec<Self>> {
        direct_conv::supported(&g).then(|| direct_conv::conv2d(x, w, bias, g, path))
    }
    fn direct_conv2d_grad_weight(x: &[Self], dy: &[Self], g: Conv2d, path: CpuPath) -> Option<Vec<Self>> {
        weight_grad::supported(&g).then(|| weight_grad::conv2d_grad_weight(x, dy, g, path))
    }
    fn fast_max_pool2d(x: &[Self], g: Pool2d, path: CpuPath) -> Option<Vec<Self>> {
        pool2x2::supported(&g, path).then(|| pool2x2::max_pool(x, g, path))
    }
    fn fast_max_pool2d_grad(x: &[Self], dy: &[Self], g: Pool2d, path: CpuPath) -> Option<Vec<Self>> {
        pool2x2::supported(&g, path).then(|| pool2x2::max_pool_grad(x, dy, g, path))
    }
    fn narrow_matmul(a: &[Self], b: &[Self], d: MatMul, c: &mut [Self], path: CpuPath) -> bool {
        narrow_gemm::try_matmul(a, b, d, c, path)
    }
}

impl CpuKernels for f64 {
    const GEMM: Gemm<Self> = matrixmultiply::dgemm;
}
