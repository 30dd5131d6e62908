//! The one place that chooses the CPU path: how wide the vectors of the hand-written
//! kernels and the element-wise loops are. Every dispatch site (the GEMM microkernels,
//! the direct convolution and weight-gradient kernels through `lanes`, `pool2x2`,
//! `narrow_gemm`, and the element-wise exp/ln/sigmoid in `backend::element`) asks this
//! module instead of detecting features on its own, so a path can be forced for tests
//! and is named in the manifest. A path changes speed only: every kernel computes one
//! definition in one order, so all three give the same bits (tests/suite/cpu_paths.rs).
//!
//! * `avx512`: 16-lane AVX-512F kernels and loops.
//! * `avx2`: the same kernels on 8-lane AVX2 + FMA vectors: what an AVX2-only machine runs.
//! * `portable`: the same kernels on plain arrays with `mul_add`.
//!
//! The environment variable `RUNNER_CPU=auto|portable|avx2|avx512` forces one; `auto`
//! (or unset) takes the widest this CPU has. A path this CPU lacks, or an unknown
//! value, is an error value from [`select`], which `experiment::prepare` calls before
//! any compute.
//!
//! Every matrix product follows one summation order whatever the path (gemm/mod.rs), so
//! the GEMM kernel a path picks ([`gemm_kernel`] names it) changes speed, not bits.
//! One thing this module does not control: `.cargo/config.toml` builds with `target-cpu=native`, so loops the
//! compiler vectorises on its own may use the host's widest vectors whatever the path;
//! that changes no value: Rust never contracts a multiply and an add into an FMA, nor
//! reorders float arithmetic, by itself, so the vector width alone never changes a bit.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// The environment variable that forces a path.
pub const ENV: &str = "RUNNER_CPU";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuPath {
    Portable,
    Avx2,
    Avx512,
}

impl CpuPath {
    pub const ALL: [CpuPath; 3] = [CpuPath::Portable, CpuPath::Avx2, CpuPath::Avx512];

    pub fn name(self) -> &'static str {
        match self {
            CpuPath::Portable => "portable",
            CpuPath::Avx2 => "avx2",
            CpuPath::Avx512 => "avx512",
        }
    }

    /// Whether this CPU has the instructions the path uses.
    pub fn available(self) -> bool {
        let f = features();
        match self {
            CpuPath::Portable => true,
            CpuPath::Avx2 => f.avx2 && f.fma,
            CpuPath::Avx512 => f.avx512f,
        }
    }

    /// Whether the AVX-512F kernels may run on this path: it is `Avx512` and the CPU
    /// has AVX-512F. Every kernel asks this before calling a `target_feature(avx512f)`
    /// function, so even a hand-made `CpuPath::Avx512` on a CPU without it never runs one.
    pub fn avx512(self) -> bool {
        self == CpuPath::Avx512 && features().avx512f
    }

    /// Whether the AVX2 + FMA kernels may run on this path: it is `Avx2` and the CPU has
    /// both (the avx512 path takes its AVX-512F kernels instead).
    pub fn avx2(self) -> bool {
        let f = features();
        self == CpuPath::Avx2 && f.avx2 && f.fma
    }
}

impl std::fmt::Display for CpuPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The x86 features the paths depend on, detected once.
#[derive(Clone, Copy, Debug, Default)]
struct Features {
    avx: bool,
    avx2: bool,
    fma: bool,
    avx512f: bool,
}

fn features() -> Features {
    static FEATURES: OnceLock<Features> = OnceLock::new();
    *FEATURES.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            Features {
                avx: std::is_x86_feature_detected!("avx"),
                avx2: std::is_x86_feature_detected!("avx2"),
                fma: std::is_x86_feature_detected!("fma"),
                avx512f: std::is_x86_feature_detected!("avx512f"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Features::default()
        }
    })
}

/// The widest path this CPU can run.
pub fn detected() -> CpuPath {
    CpuPath::ALL.into_iter().rev().find(|p| p.available()).unwrap_or(CpuPath::Portable)
}

/// The paths this CPU can run, portable first.
pub fn available() -> Vec<CpuPath> {
    CpuPath::ALL.into_iter().filter(|p| p.available()).collect()
}

/// The path a value of `RUNNER_CPU` asks for, checked against this CPU.
pub fn parse(value: &str) -> std::result::Result<CpuPath, String> {
    let names = "auto, portable, avx2, avx512";
    let path = match value.trim() {
        "" | "auto" => return Ok(detected()),
        "portable" => CpuPath::Portable,
        "avx2" => CpuPath::Avx2,
        "avx512" => CpuPath::Avx512,
        other => return Err(format!("{ENV}={other:?} is not a CPU path; choose one of {names}")),
    };
    if path.available() {
        Ok(path)
    } else {
        let usable: Vec<&str> = available().iter().map(|p| p.name()).collect();
        Err(format!(
            "{ENV}={}: this CPU lacks {}; it can run auto, {}",
            path.name(),
            if path == CpuPath::Avx512 { "AVX-512F" } else { "AVX2 or FMA" },
            usable.join(", ")
        ))
    }
}

fn chosen() -> &'static std::result::Result<CpuPath, String> {
    static CHOSEN: OnceLock<std::result::Result<CpuPath, String>> = OnceLock::new();
    CHOSEN.get_or_init(|| match std::env::var(ENV) {
        Ok(value) => parse(&value),
        Err(std::env::VarError::NotPresent) => Ok(detected()),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{ENV} is not valid UTF-8")),
    })
}

/// The path this process runs: `RUNNER_CPU` if set, else the widest the CPU has. Read
/// once; call it before any compute so a bad value is a clean error.
pub fn select() -> Result<CpuPath> {
    chosen().clone().map_err(Error::Usage)
}

/// The process's path for dispatch. Where `RUNNER_CPU` is invalid (which [`select`]
/// reports before any run starts) this is `Portable`: never a path the CPU lacks.
pub fn current() -> CpuPath {
    chosen().clone().unwrap_or(CpuPath::Portable)
}

/// The GEMM microkernel this process's path runs (gemm/micro.rs), as the manifest names
/// it; the f32 one (f64 runs the same kernel at half the columns).
pub fn gemm_kernel() -> &'static str {
    gemm_label(Kernel::of(current()))
}

fn gemm_label(kernel: Kernel) -> &'static str {
    let path = match kernel {
        Kernel::Avx512 => CpuPath::Avx512,
        Kernel::Avx2 => CpuPath::Avx2,
        Kernel::Portable | Kernel::Unrolled => CpuPath::Portable,
    };
    <f32 as super::CpuKernels>::micro(path).name
}

/// The op families whose kernel the manifest names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Large matrix products (the packed-panel GEMM, gemm/).
    Gemm,
    Conv,
    ConvInputGrad,
    ConvWeightGrad,
    /// 2×2 stride-2 max-pool, forward and gradient.
    Pool2x2,
    /// Products of tiny dense layers.
    DenseSmallGemm,
    /// exp, ln and sigmoid over slices.
    Elementwise,
}

impl Family {
    const ALL: [Family; 7] = [
        Family::Gemm,
        Family::Conv,
        Family::ConvInputGrad,
        Family::ConvWeightGrad,
        Family::Pool2x2,
        Family::DenseSmallGemm,
        Family::Elementwise,
    ];

    fn name(self) -> &'static str {
        match self {
            Family::Gemm => "gemm",
            Family::Conv => "conv",
            Family::ConvInputGrad => "conv_input_grad",
            Family::ConvWeightGrad => "conv_weight_grad",
            Family::Pool2x2 => "pool2x2",
            Family::DenseSmallGemm => "dense_small_gemm",
            Family::Elementwise => "elementwise",
        }
    }
}

/// Which kernel ran for a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The generic loops on plain arrays.
    Portable,
    /// Element-wise loops compiled for AVX2 + FMA.
    Avx2,
    /// A hand-written AVX-512F kernel (or AVX-512 element-wise loops).
    Avx512,
    /// A convolution by im2col and the GEMM (for the input gradient, of the flipped
    /// weight with stride 1, else col2im), where the direct kernels do not take the shape.
    Unrolled,
}

impl Kernel {
    /// The kernel family a path runs: its own microkernels where the CPU has them.
    pub fn of(path: CpuPath) -> Kernel {
        if path.avx512() {
            Kernel::Avx512
        } else if path.avx2() {
            Kernel::Avx2
        } else {
            Kernel::Portable
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    fn label(self, family: Family) -> String {
        let lanes = match self {
            Kernel::Avx512 => "avx512",
            Kernel::Avx2 => "avx2",
            _ => "portable",
        };
        match (family, self) {
            (Family::Gemm, kernel) => gemm_label(kernel).into(),
            // im2col of the flipped weight (stride 1) or col2im (other strides).
            (Family::ConvInputGrad, Kernel::Unrolled) => format!("unrolled-{}", gemm_kernel()),
            (_, Kernel::Unrolled) => format!("im2col-{}", gemm_kernel()),
            (Family::Conv | Family::ConvInputGrad, _) => format!("direct-{lanes}"),
            (Family::ConvWeightGrad, _) => format!("channel-lanes-{lanes}"),
            (Family::DenseSmallGemm, Kernel::Avx512) => "avx512-packed".into(),
            (Family::DenseSmallGemm, Kernel::Avx2) => "avx2-packed".into(),
            (_, Kernel::Avx2) => "avx2-fma".into(),
            (_, Kernel::Portable) => "portable".into(),
            (_, Kernel::Avx512) => "avx512".into(),
        }
    }
}

/// One set of kernel bits per family: which kernels ran in this process. The kernel
/// choice also depends on shapes (direct convolution needs stride 1 and output channels
/// a multiple of 8, for example), so the manifest names what actually ran rather than
/// what the path allows. A relaxed flag per op call is cheap (a load, and a store only
/// the first time) and touches no value the op computes.
static USED: [AtomicU8; 7] = [const { AtomicU8::new(0) }; 7];

/// Records that `kernel` ran for `family`.
pub fn note(family: Family, kernel: Kernel) {
    let slot = &USED[family as usize];
    if slot.load(Ordering::Relaxed) & kernel.bit() == 0 {
        slot.fetch_or(kernel.bit(), Ordering::Relaxed);
    }
}

/// What the manifest records about the CPU: the path in force, the widest detected,
/// the features that decide it, and per op family the kernels that ran in this
/// process (an empty list: the family never ran).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CpuReport {
    pub path: &'static str,
    pub detected: &'static str,
    pub features: Vec<&'static str>,
    pub ops: BTreeMap<&'static str, Vec<String>>,
}

pub fn report() -> CpuReport {
    let f = features();
    let features = [("avx", f.avx), ("avx2", f.avx2), ("fma", f.fma), ("avx512f", f.avx512f)]
        .into_iter()
        .filter_map(|(name, has)| has.then_some(name))
        .collect();
    let ops = Family::ALL
        .into_iter()
        .map(|family| {
            let bits = USED[family as usize].load(Ordering::Relaxed);
            let kernels = [Kernel::Avx512, Kernel::Avx2, Kernel::Portable, Kernel::Unrolled]
                .into_iter()
                .filter(|k| bits & k.bit() != 0)
                .map(|k| k.label(family))
                .collect();
            (family.name(), kernels)
        })
        .collect();
    CpuReport { path: current().name(), detected: detected().name(), features, ops }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_of_runner_cpu_is_a_path_or_a_clear_error() {
        assert_eq!(parse("portable"), Ok(CpuPath::Portable));
        assert_eq!(parse("auto"), Ok(detected()));
        assert_eq!(parse(""), Ok(detected()));
        let bogus = parse("avx1024").unwrap_err();
        assert!(bogus.contains("\"avx1024\" is not a CPU path") && !bogus.contains('\n'), "{bogus}");
        for path in [CpuPath::Avx2, CpuPath::Avx512] {
            match parse(path.name()) {
                Ok(p) => assert!(p == path && path.available()),
                Err(e) => assert!(!path.available() && e.contains("this CPU lacks"), "{e}"),
            }
        }
    }

    #[test]
    fn the_detected_path_is_the_widest_available() {
        let all = available();
        assert_eq!(all[0], CpuPath::Portable);
        assert_eq!(all.last(), Some(&detected()));
    }
}
