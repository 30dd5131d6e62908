//! Turns the backend a run asks for (`--backend`, else the spec's `backend`) into a
//! backend and a one-line reason recorded in the manifest. `cpu` never loads a CUDA
//! library; `auto` probes and falls back to the CPU; `cuda` without a usable GPU is an
//! error before any run folder exists.

use crate::backend::cuda::{CudaBackend, CudaInfo};
use crate::backend::BackendChoice;
use crate::error::{Error, Result};
use crate::results::CudaReport;

/// The backend a run will use, with why.
pub enum Chosen {
    Cpu { why: String },
    Cuda { backend: Box<CudaBackend>, report: CudaReport, why: String },
}

impl Chosen {
    /// The manifest's `backend_choice`: what was asked, what was taken and why.
    pub fn why(&self) -> &str {
        match self {
            Chosen::Cpu { why } | Chosen::Cuda { why, .. } => why,
        }
    }
    pub fn cuda_report(&self) -> Option<&CudaReport> {
        match self {
            Chosen::Cpu { .. } => None,
            Chosen::Cuda { report, .. } => Some(report),
        }
    }
}

/// Where the choice came from, for messages: `--backend cuda` or `backend = "cuda"`.
pub enum Asked {
    Flag(BackendChoice),
    /// The spec's key, with the spec's path.
    Spec(BackendChoice, String),
}

impl Asked {
    pub fn new(flag: Option<BackendChoice>, spec: BackendChoice, spec_path: &std::path::Path) -> Self {
        match flag {
            Some(c) => Asked::Flag(c),
            None => Asked::Spec(spec, spec_path.display().to_string()),
        }
    }
    fn choice(&self) -> BackendChoice {
        match self {
            Asked::Flag(c) | Asked::Spec(c, _) => *c,
        }
    }
    fn label(&self) -> String {
        match self {
            Asked::Flag(c) => format!("--backend {}", c.name()),
            Asked::Spec(c, path) => format!("{path}: backend = \"{}\"", c.name()),
        }
    }
}

/// Whether `auto` may take a working GPU. False until the CUDA backend's parity tests
/// (every op and whole experiments against the CPU) have passed on a GPU: until then a
/// default run must not silently move onto code that has never run. `--backend cuda`
/// (or `backend = "cuda"`) still uses it, on purpose.
const AUTO_TAKES_CUDA: bool = false;

/// Picks the backend; `cuda` without a usable GPU is an [`Error::Usage`] (exit 2).
pub fn choose(asked: &Asked) -> Result<Chosen> {
    match asked.choice() {
        BackendChoice::Cpu => Ok(Chosen::Cpu { why: format!("cpu: asked for ({})", asked.label()) }),
        BackendChoice::Auto => Ok(match open_cuda() {
            Ok((backend, report)) if AUTO_TAKES_CUDA => {
                let why = format!("auto: cuda, because device 0 ({}) works", report.device);
                Chosen::Cuda { backend: Box::new(backend), report, why }
            }
            Ok((_, report)) => Chosen::Cpu {
                why: format!(
                    "auto: cpu, because the CUDA backend is not yet checked against the CPU on a GPU \
                     (device 0 ({}) works; --backend cuda uses it)",
                    report.device
                ),
            },
            Err(reason) => Chosen::Cpu { why: format!("auto: cpu, because {reason}") },
        }),
        BackendChoice::Cuda => match open_cuda() {
            Ok((backend, report)) => Ok(Chosen::Cuda {
                backend: Box::new(backend),
                report,
                why: format!("cuda: asked for ({})", asked.label()),
            }),
            Err(reason) => Err(Error::Usage(format!("{}: {reason}", asked.label()))),
        },
    }
}

/// Device 0 with its kernels loaded, or why not (one line).
fn open_cuda() -> std::result::Result<(CudaBackend, CudaReport), String> {
    let info: CudaInfo = crate::backend::cuda::probe().map_err(|e| e.to_string())?;
    let backend = CudaBackend::new(0).map_err(|e| e.to_string())?;
    let report = CudaReport {
        device: backend.device.clone(),
        capability: format!("{}.{}", backend.capability.0, backend.capability.1),
        driver_cuda_version: info.driver_version,
        nvrtc_version: nvrtc_version(),
    };
    Ok((backend, report))
}

/// NVRTC's version as major.minor; only called after the probe found the library.
fn nvrtc_version() -> String {
    let (mut major, mut minor) = (0, 0);
    // SAFETY: the probe loaded libnvrtc; the pointers are to live locals.
    let status = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
    match status {
        cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS => format!("{major}.{minor}"),
        other => format!("unknown ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_never_probes_and_says_it_was_asked() {
        let c = choose(&Asked::Flag(BackendChoice::Cpu)).unwrap();
        assert!(matches!(c, Chosen::Cpu { .. }));
        assert_eq!(c.why(), "cpu: asked for (--backend cpu)");
        assert!(c.cuda_report().is_none());
        let c = choose(&Asked::Spec(BackendChoice::Cpu, "x.toml".into())).unwrap();
        assert_eq!(c.why(), "cpu: asked for (x.toml: backend = \"cpu\")");
    }

    #[test]
    fn the_flag_wins_over_the_spec() {
        let path = std::path::Path::new("x.toml");
        assert!(matches!(
            Asked::new(Some(BackendChoice::Cpu), BackendChoice::Cuda, path),
            Asked::Flag(BackendChoice::Cpu)
        ));
        assert!(matches!(Asked::new(None, BackendChoice::Cuda, path), Asked::Spec(BackendChoice::Cuda, _)));
    }

    /// Without a GPU (CI, this machine) auto falls back with the probe's reason and
    /// cuda is a one-line usage error; with one, cuda takes it and auto does once
    /// `AUTO_TAKES_CUDA` is set.
    #[test]
    fn auto_and_cuda_follow_the_probe() {
        let auto = choose(&Asked::Flag(BackendChoice::Auto)).unwrap();
        let cuda = choose(&Asked::Flag(BackendChoice::Cuda));
        match crate::backend::cuda::probe() {
            Err(reason) => {
                eprintln!("skipped: auto_and_cuda_follow_the_probe (GPU half): no CUDA device");
                assert!(matches!(auto, Chosen::Cpu { .. }));
                assert_eq!(auto.why(), format!("auto: cpu, because {reason}"));
                let Err(Error::Usage(message)) = cuda else { panic!("cuda without a GPU must be a usage error") };
                assert_eq!(message, format!("--backend cuda: {reason}"));
                assert!(!message.contains('\n'));
            }
            Ok(_) => {
                assert_eq!(matches!(auto, Chosen::Cuda { .. }), AUTO_TAKES_CUDA, "{}", auto.why());
                assert!(matches!(cuda, Ok(Chosen::Cuda { .. })));
            }
        }
    }
}
