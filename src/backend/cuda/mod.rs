//! The CUDA backend's build-time half: the kernels of kernels/ embedded in the binary,
//! the one list of kernel names, a probe that turns a missing driver, NVRTC or cuBLAS
//! into an error value (cudarc would panic), and NVRTC compilation once per process.
//! cudarc loads every CUDA library at run time, so this builds and runs without a
//! toolkit, a driver or a GPU.

pub mod backend;
pub mod compile;
pub mod ops;
pub mod probe;
pub mod sources;
#[cfg(test)]
mod tests;

pub use backend::{CudaBackend, CudaBuf, CudaElement};
pub use compile::{compiled, Compiled, Target};
pub use ops::{symbol, KERNELS};
pub use probe::{probe, CudaError, CudaInfo};
