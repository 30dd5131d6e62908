//! Is CUDA usable here? cudarc panics when a library it calls into is missing (it loads
//! libraries lazily, on the first call), so the libraries are looked for first and
//! their absence becomes an error value with a one-line message; only then is the
//! driver initialised.

use std::fmt;

/// Why CUDA cannot be used here, in one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CudaError(pub String);

impl fmt::Display for CudaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CudaError {}

/// Whether libcuda (the driver) can be loaded.
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the candidate names; no symbol is called.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// Whether libnvrtc can be loaded.
pub fn nvrtc_present() -> bool {
    // SAFETY: as in `driver_present`.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Whether libcublas can be loaded.
pub fn cublas_present() -> bool {
    // SAFETY: as in `driver_present`.
    unsafe { cudarc::cublas::sys::is_culib_present() }
}

/// What a working CUDA installation reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CudaInfo {
    pub devices: usize,
    /// The driver's CUDA version as major.minor (e.g. 12.4).
    pub driver_version: String,
}

/// Checks, in order, the driver library, NVRTC, cuBLAS, driver initialisation and the
/// device count; the first failure is the error.
pub fn probe() -> Result<CudaInfo, CudaError> {
    if !driver_present() {
        return Err(CudaError("no CUDA driver: libcuda.so could not be loaded".into()));
    }
    if !nvrtc_present() {
        return Err(CudaError(
            "no NVRTC: libnvrtc.so.12 could not be loaded (pip install nvidia-cuda-nvrtc-cu12 and add its lib folder to LD_LIBRARY_PATH)".into(),
        ));
    }
    if !cublas_present() {
        return Err(CudaError(
            "no cuBLAS: libcublas.so.12 could not be loaded (pip install nvidia-cublas-cu12 and add its lib folder to LD_LIBRARY_PATH)".into(),
        ));
    }
    cudarc::driver::result::init().map_err(|e| CudaError(format!("the CUDA driver did not start: {e:?}")))?;
    let devices = cudarc::driver::result::device::get_count()
        .map_err(|e| CudaError(format!("the CUDA driver could not count devices: {e:?}")))?;
    if devices < 1 {
        return Err(CudaError("no CUDA device".into()));
    }
    let mut version = 0;
    // SAFETY: the driver library is loaded (checked above) and initialised; the pointer
    // is to a live local.
    unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) }
        .result()
        .map_err(|e| CudaError(format!("the CUDA driver did not report its version: {e:?}")))?;
    Ok(CudaInfo { devices: devices as usize, driver_version: format!("{}.{}", version / 1000, version % 1000 / 10) })
}
