//! What the CPU backend needs of each element type beyond [`Element`]: the GEMM
//! microkernel for each CPU path (gemm/micro.rs), and the hand-vectorised kernels where
//! the type has them (f32 with AVX-512 or AVX2). Each fast path answers `None` (or false) where the geometry or the CPU
//! path (`path::CpuPath`, chosen once in `path`) does not suit it, and the caller takes
//! the portable loops. f64, used for exact comparisons and gradient checks, always
//! takes the portable loops.

use super::gemm::{self, Micro};
use super::path::CpuPath;
use super::{direct_conv, narrow_gemm, pool2x2, weight_grad};
use crate::backend::{Conv2d, Element, MatMul, Pool2d};

/// The GEMM microkernels' block sizes: KC steps of an MR×KC A panel and a KC×NR B panel
/// fit L1 (Zen 4: 32 KiB), an MC×KC block of A fits L2 (1 MiB), a KC×NC block of B L3.
const fn micro<T>(
    name: &'static str,
    (mr, nr): (usize, usize),
    kc: usize,
    (run, run_rows): (gemm::MicroFn<T>, gemm::MicroRowsFn<T>),
) -> Micro<T> {
    let mc = mr * (144usize.div_ceil(mr));
    Micro { name, mr, nr, kc, mc, nc: nr * (2048 / nr), run, run_rows }
}

pub trait CpuKernels: Element {
    /// The GEMM microkernel for `path`. Every one gives the contract's bits (gemm/mod.rs).
    fn micro(path: CpuPath) -> Micro<Self>;

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
    /// same bits as the im2col path), and with `bias` dy's per-channel sums (the bits of
    /// `channels::sum_channels`).
    fn direct_conv2d_grad_weight(
        _x: &[Self],
        _dy: &[Self],
        _g: Conv2d,
        _bias: bool,
        _path: CpuPath,
    ) -> Option<(Vec<Self>, Option<Vec<Self>>)> {
        None
    }
    /// The 2×2, stride-2 max-pool (then ReLU where `relu`) and its gradient (AVX-512 or
    /// AVX2; the same bits as conv.rs).
    fn fast_max_pool2d(_x: &[Self], _g: Pool2d, _relu: bool, _path: CpuPath) -> Option<Vec<Self>> {
        None
    }
    fn fast_max_pool2d_grad(_x: &[Self], _dy: &[Self], _g: Pool2d, _relu: bool, _path: CpuPath) -> Option<Vec<Self>> {
        None
    }
    /// C = op(A)·op(B) for tiny dense layers, several rows per vector; false leaves `c`
    /// alone.
    fn narrow_matmul(_a: &[Self], _b: &[Self], _d: MatMul, _c: &mut [Self], _path: CpuPath) -> bool {
        false
    }
}

impl CpuKernels for f32 {
    fn micro(path: CpuPath) -> Micro<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            if path.avx512() {
                return micro("gemm-avx512-14x32", (14, 32), 256, (gemm::x86::avx512_f32, gemm::x86::avx512_f32_rows));
            }
            if path.avx2() {
                return micro("gemm-avx2-6x16", (6, 16), 256, (gemm::x86::avx2_f32, gemm::x86::avx2_f32_rows));
            }
        }
        let _ = path;
        micro("gemm-portable-8x16", (8, 16), 256, (gemm::portable::<f32, 8, 16>, gemm::portable_rows::<f32, 8, 16>))
    }
    fn direct_conv2d(x: &[Self], w: &[Self], bias: Option<&[Self]>, g: Conv2d, path: CpuPath) -> Option<Vec<Self>> {
        direct_conv::supported(&g).then(|| direct_conv::conv2d(x, w, bias, g, path))
    }
    fn direct_conv2d_grad_weight(
        x: &[Self],
        dy: &[Self],
        g: Conv2d,
        bias: bool,
        path: CpuPath,
    ) -> Option<(Vec<Self>, Option<Vec<Self>>)> {
        weight_grad::supported(&g).then(|| weight_grad::conv2d_grad_weight(x, dy, g, bias, path))
    }
    fn fast_max_pool2d(x: &[Self], g: Pool2d, relu: bool, path: CpuPath) -> Option<Vec<Self>> {
        pool2x2::supported(&g, path).then(|| pool2x2::max_pool(x, g, relu, path))
    }
    fn fast_max_pool2d_grad(x: &[Self], dy: &[Self], g: Pool2d, relu: bool, path: CpuPath) -> Option<Vec<Self>> {
        pool2x2::supported(&g, path).then(|| pool2x2::max_pool_grad(x, dy, g, relu, path))
    }
    fn narrow_matmul(a: &[Self], b: &[Self], d: MatMul, c: &mut [Self], path: CpuPath) -> bool {
        narrow_gemm::try_matmul(a, b, d, c, path)
    }
}

impl CpuKernels for f64 {
    fn micro(path: CpuPath) -> Micro<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            if path.avx512() {
                return micro("gemm-avx512-14x16", (14, 16), 128, (gemm::x86::avx512_f64, gemm::x86::avx512_f64_rows));
            }
            if path.avx2() {
                return micro("gemm-avx2-6x8", (6, 8), 128, (gemm::x86::avx2_f64, gemm::x86::avx2_f64_rows));
            }
        }
        let _ = path;
        micro("gemm-portable-8x8", (8, 8), 128, (gemm::portable::<f64, 8, 8>, gemm::portable_rows::<f64, 8, 8>))
    }
}
