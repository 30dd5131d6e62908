//! The kernel sources, embedded in the binary so nothing is read from disk at run time.

/// The shared header, pasted in place of `#include "common.cuh"`: NVRTC then needs no
/// include path, and the binary no CUDA headers.
pub const HEADER: &str = include_str!("../../../kernels/common.cuh");

/// Every kernels/*.cu file, by name.
pub const FILES: &[(&str, &str)] = &[
    ("elementwise.cu", include_str!("../../../kernels/elementwise.cu")),
    ("reduce.cu", include_str!("../../../kernels/reduce.cu")),
    ("softmax_loss.cu", include_str!("../../../kernels/softmax_loss.cu")),
    ("conv.cu", include_str!("../../../kernels/conv.cu")),
    ("pool.cu", include_str!("../../../kernels/pool.cu")),
    ("batchnorm.cu", include_str!("../../../kernels/batchnorm.cu")),
    ("optim.cu", include_str!("../../../kernels/optim.cu")),
];

const INCLUDE: &str = "#include \"common.cuh\"";

/// The text NVRTC compiles for one file: the file with the header pasted in.
pub fn full_source(file: &str) -> String {
    file.replacen(INCLUDE, HEADER, 1)
}
