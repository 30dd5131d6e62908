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

/// The variable that turns a skipped GPU test into a failure (`scripts/gpu-check.sh`
/// sets it on a GPU machine).
pub const REQUIRE_CUDA_VAR: &str = "RUNNER_REQUIRE_CUDA";

/// Why a GPU test cannot run here, or None where device 0 works.
pub fn unavailable() -> Option<String> {
    match CudaBackend::new(0) {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}

/// For GPU tests: device 0, or None after printing `skipped: TEST: no CUDA device
/// (REASON)` to stderr; a panic instead when RUNNER_REQUIRE_CUDA=1.
pub fn device_or_skip(test: &str) -> Option<CudaBackend> {
    device_or_skip_with(test, std::env::var(REQUIRE_CUDA_VAR).is_ok_and(|v| v == "1"))
}

/// `device_or_skip` with the requirement given (tests of the skip path).
pub fn device_or_skip_with(test: &str, require: bool) -> Option<CudaBackend> {
    match CudaBackend::new(0) {
        Ok(be) => Some(be),
        Err(reason) => {
            let line = skip_line(test, &reason.to_string());
            if require {
                panic!("{REQUIRE_CUDA_VAR}=1 but {}", line.trim_start_matches("skipped: "));
            }
            eprintln!("{line}");
            None
        }
    }
}

/// The line a skipped GPU test prints.
pub fn skip_line(test: &str, reason: &str) -> String {
    format!("skipped: {test}: no CUDA device ({reason})")
}
