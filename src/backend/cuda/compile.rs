//! Compiling kernels/ with NVRTC, once per process and target, cached.
//!
//! Target: on a device the kernels are compiled to SASS for the device's own
//! architecture (`--gpu-architecture=sm_XY`) and loaded as a cubin. PTX would carry the
//! ISA version of the NVRTC that wrote it (NVRTC 12.9 writes ISA 8.8), and a driver
//! older than that NVRTC refuses it; a cubin from any CUDA 12.x NVRTC loads on every
//! 12.x driver (CUDA's minor-version compatibility), so the pip wheel's newest NVRTC
//! works with whatever 12.x driver the machine has. PTX (`compute_XY`) is produced for
//! the checks without a GPU, which read its `.entry` lines.
//!
//! Options: no fast-math (`--use_fast_math` is never passed; denormals kept, IEEE
//! division and square root, spelled out), and `--fmad=false`: the CPU rounds every
//! product before adding, so contracting a·b + c into one FMA would make the GPU's
//! values differ from the CPU's for no gain these memory-bound kernels would notice.

use super::probe::{nvrtc_present, CudaError};
use super::sources::{full_source, FILES};
use cudarc::nvrtc::{result, sys};
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::{Arc, Mutex, OnceLock};

/// What NVRTC is asked to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// PTX text for a virtual architecture compute_{major}{minor}.
    Ptx { major: u32, minor: u32 },
    /// A cubin (SASS) for the real architecture sm_{major}{minor}.
    Sass { major: u32, minor: u32 },
}

impl Target {
    pub fn arch(self) -> String {
        match self {
            Target::Ptx { major, minor } => format!("compute_{major}{minor}"),
            Target::Sass { major, minor } => format!("sm_{major}{minor}"),
        }
    }
}

/// The NVRTC options for `target`.
pub fn options(target: Target) -> Vec<String> {
    vec![
        format!("--gpu-architecture={}", target.arch()),
        "--fmad=false".into(),
        "--ftz=false".into(),
        "--prec-div=true".into(),
        "--prec-sqrt=true".into(),
        "--std=c++17".into(),
    ]
}

/// One compiled kernels/ file.
#[derive(Debug)]
pub struct Module {
    pub file: &'static str,
    /// PTX text (PTX targets) or a cubin (SASS targets).
    pub image: Vec<u8>,
}

impl Module {
    /// The `.entry` names in a PTX module (empty for a cubin).
    pub fn ptx_entries(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.image);
        text.lines()
            .filter_map(|l| {
                l.trim_start().strip_prefix(".visible .entry ").or_else(|| l.trim_start().strip_prefix(".entry "))
            })
            .map(|rest| rest.split(|c: char| c == '(' || c.is_whitespace()).next().unwrap_or("").to_string())
            .collect()
    }
}

/// Every kernels/ file compiled for one target.
#[derive(Debug)]
pub struct Compiled {
    pub target: Target,
    pub modules: Vec<Module>,
}

/// Every kernels/ file compiled for `target`: compiled on the first call of the process
/// for that target, the same `Arc` afterwards. A failed compile is not cached.
pub fn compiled(target: Target) -> Result<Arc<Compiled>, CudaError> {
    static CACHE: OnceLock<Mutex<HashMap<Target, Arc<Compiled>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(done) = map.get(&target) {
        return Ok(done.clone());
    }
    let modules = FILES.iter().map(|(name, text)| compile_file(name, text, target)).collect::<Result<Vec<_>, _>>()?;
    let done = Arc::new(Compiled { target, modules });
    map.insert(target, done.clone());
    Ok(done)
}

/// The NVRTC version as (major, minor).
pub fn nvrtc_version() -> Result<(i32, i32), CudaError> {
    if !nvrtc_present() {
        return Err(no_nvrtc());
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: libnvrtc is loadable (checked above); the pointers are to live locals.
    unsafe { sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(|e| CudaError(format!("NVRTC did not report its version: {e:?}")))?;
    Ok((major, minor))
}

fn no_nvrtc() -> CudaError {
    CudaError("no NVRTC: libnvrtc.so.12 could not be loaded (pip install nvidia-cuda-nvrtc-cu12)".into())
}

/// Compiles one file; the error names the file, the target and NVRTC's log.
pub fn compile_file(file: &'static str, text: &str, target: Target) -> Result<Module, CudaError> {
    if !nvrtc_present() {
        return Err(no_nvrtc());
    }
    let fail =
        |what: &str, e: &dyn std::fmt::Debug| CudaError(format!("kernels/{file} ({}): {what}: {e:?}", target.arch()));
    let src = CString::new(full_source(text)).map_err(|e| fail("source holds a NUL byte", &e))?;
    let name = CString::new(file).map_err(|e| fail("file name holds a NUL byte", &e))?;
    let prog = result::create_program(&src, Some(&name)).map_err(|e| fail("nvrtcCreateProgram", &e))?;
    // SAFETY: `prog` was created above, `src` and `name` outlive it, and it is destroyed
    // exactly once, at the end of this block, whatever happened in between.
    unsafe {
        let out = (|| {
            if let Err(e) = result::compile_program(prog, &options(target)) {
                let log =
                    result::get_program_log(prog).map(|l| CStr::from_ptr(l.as_ptr()).to_string_lossy().into_owned());
                let log = log.unwrap_or_default().replace('\n', " | ");
                return Err(CudaError(format!("kernels/{file} ({}): does not compile: {e:?}: {log}", target.arch())));
            }
            match target {
                Target::Ptx { .. } => {
                    let ptx = result::get_ptx(prog).map_err(|e| fail("nvrtcGetPTX", &e))?;
                    let text = CStr::from_ptr(ptx.as_ptr()).to_bytes().to_vec();
                    Ok(Module { file, image: text })
                }
                Target::Sass { .. } => {
                    let mut size = 0usize;
                    sys::nvrtcGetCUBINSize(prog, &mut size).result().map_err(|e| fail("nvrtcGetCUBINSize", &e))?;
                    let mut cubin = vec![0u8; size];
                    sys::nvrtcGetCUBIN(prog, cubin.as_mut_ptr().cast())
                        .result()
                        .map_err(|e| fail("nvrtcGetCUBIN", &e))?;
                    Ok(Module { file, image: cubin })
                }
            }
        })();
        let _ = result::destroy_program(prog);
        out
    }
}
