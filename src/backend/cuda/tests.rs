//! Checks that need no GPU: the kernels compile with NVRTC (where libnvrtc loads),
//! every name has its symbols and nothing else is there, the Rust codes match the
//! header's, and a missing driver is an error value.

use super::compile::{compile_file, compiled, Target};
use super::ops::{loss_code, map_code, symbol, zip_code, DTYPES, HOST_ONLY, KERNELS};
use super::probe::{driver_present, nvrtc_present, probe};
use super::sources::{FILES, HEADER};
use crate::backend::{LossKernel, Map, Zip};
use std::collections::BTreeSet;

/// False (after saying why on stderr) where libnvrtc cannot be loaded; a failure
/// instead with RUNNER_REQUIRE_NVRTC=1 (CI installs it and sets that).
fn nvrtc_or_skip(test: &str) -> bool {
    if nvrtc_present() {
        return true;
    }
    if std::env::var("RUNNER_REQUIRE_NVRTC").is_ok_and(|v| v == "1") {
        panic!("{test}: RUNNER_REQUIRE_NVRTC=1 but libnvrtc could not be loaded (pip install nvidia-cuda-nvrtc-cu12 and add its lib folder to LD_LIBRARY_PATH)");
    }
    eprintln!("skipped: {test}: no NVRTC (pip install nvidia-cuda-nvrtc-cu12)");
    false
}

fn expected_symbols() -> BTreeSet<String> {
    KERNELS.iter().flat_map(|k| DTYPES.map(|d| symbol(k.name, d))).collect()
}

#[test]
fn every_kernel_name_has_both_dtypes_in_the_ptx_and_nothing_else_is_there() {
    if !nvrtc_or_skip("every_kernel_name_has_both_dtypes_in_the_ptx_and_nothing_else_is_there") {
        return;
    }
    let done = compiled(Target::Ptx { major: 7, minor: 5 }).unwrap_or_else(|e| panic!("{e}"));
    let mut found = BTreeSet::new();
    for m in &done.modules {
        let entries = m.ptx_entries();
        assert!(!entries.is_empty(), "kernels/{} has no kernels", m.file);
        for e in entries {
            // Each kernel lives in the file the list names.
            let op = KERNELS.iter().find(|k| DTYPES.iter().any(|d| symbol(k.name, *d) == e));
            let op = op.unwrap_or_else(|| panic!("kernels/{} defines {e}, which has no name in KERNELS", m.file));
            assert_eq!(op.file, m.file, "{e} is defined in kernels/{}, KERNELS says {}", m.file, op.file);
            assert!(found.insert(e.clone()), "{e} is defined twice");
        }
    }
    let missing: Vec<_> = expected_symbols().difference(&found).cloned().collect();
    assert!(missing.is_empty(), "no kernel for {missing:?}");
    assert_eq!(found.len(), 2 * KERNELS.len());
}

#[test]
fn kernels_compile_to_sass_for_ampere_and_hopper_with_every_symbol() {
    if !nvrtc_or_skip("kernels_compile_to_sass_for_ampere_and_hopper_with_every_symbol") {
        return;
    }
    for (major, minor) in [(8, 0), (9, 0)] {
        let done = compiled(Target::Sass { major, minor }).unwrap_or_else(|e| panic!("{e}"));
        for k in KERNELS {
            let m = done.modules.iter().find(|m| m.file == k.file).expect("the file is compiled");
            assert_eq!(&m.image[..4], b"\x7fELF", "kernels/{} for sm_{major}{minor} is not a cubin", m.file);
            for d in DTYPES {
                // The symbol table holds each name NUL-terminated.
                let name = format!("\0{}\0", symbol(k.name, d));
                assert!(
                    m.image.windows(name.len()).any(|w| w == name.as_bytes()),
                    "{} missing from the sm_{major}{minor} cubin of kernels/{}",
                    symbol(k.name, d),
                    m.file
                );
            }
        }
    }
}

#[test]
fn compilation_is_cached_per_target() {
    if !nvrtc_or_skip("compilation_is_cached_per_target") {
        return;
    }
    let t = Target::Ptx { major: 8, minor: 0 };
    let a = compiled(t).unwrap_or_else(|e| panic!("{e}"));
    let b = compiled(t).unwrap_or_else(|e| panic!("{e}"));
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(a.modules.len(), FILES.len());
    // No fast-math in the PTX: fast-math turns f32 division, square root and logf into
    // div.approx, sqrt.approx and lg2.approx (the accurate expf uses ex2.approx after
    // its own range reduction either way, so ex2 says nothing).
    for m in &a.modules {
        let text = String::from_utf8_lossy(&m.image);
        assert!(text.contains(".target sm_80"), "kernels/{}", m.file);
        for approx in ["div.approx", "sqrt.approx", "lg2.approx"] {
            assert!(!text.contains(approx), "kernels/{} has {approx}: fast-math", m.file);
        }
    }
    let optim = a.modules.iter().find(|m| m.file == "optim.cu").expect("optim.cu");
    let text = String::from_utf8_lossy(&optim.image);
    assert!(text.contains("div.rn.f32") && text.contains("sqrt.rn.f32"), "IEEE division and square root in Adam");
}

#[test]
fn a_kernel_that_does_not_compile_is_an_error_naming_the_file() {
    if !nvrtc_or_skip("a_kernel_that_does_not_compile_is_an_error_naming_the_file") {
        return;
    }
    let err = compile_file(
        "broken.cu",
        "extern \"C\" __global__ void k() { undeclared(); }",
        Target::Ptx { major: 8, minor: 0 },
    )
    .expect_err("undeclared identifier");
    assert!(err.0.contains("kernels/broken.cu (compute_80): does not compile"), "{err}");
    assert!(err.0.contains("undeclared"), "{err}");
    assert!(!err.0.contains('\n'), "{err}");
}

#[test]
fn every_backend_method_has_a_kernel_or_is_host_only() {
    let text = include_str!("../mod.rs");
    let body = &text[text.find("pub trait Backend<").expect("the trait")..];
    let methods: BTreeSet<&str> = body
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("fn "))
        .map(|r| r.split(['(', '<']).next().unwrap_or(""))
        .collect();
    assert!(methods.len() > 30, "parsed {methods:?}");
    let covered: BTreeSet<&str> =
        KERNELS.iter().flat_map(|k| k.used_by.iter().copied()).chain(HOST_ONLY.iter().copied()).collect();
    let uncovered: Vec<_> = methods.difference(&covered).collect();
    assert!(uncovered.is_empty(), "Backend methods with no kernel: {uncovered:?}");
    let unknown: Vec<_> = covered.difference(&methods).collect();
    assert!(unknown.is_empty(), "KERNELS names methods Backend lacks: {unknown:?}");
}

#[test]
fn every_kernels_file_is_embedded_and_named() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("kernels/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".cu"))
        .collect();
    let embedded: BTreeSet<String> = FILES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, embedded);
    for k in KERNELS {
        assert!(embedded.contains(k.file), "{} names kernels/{}", k.name, k.file);
    }
    for (name, text) in FILES {
        assert!(text.contains("#include \"common.cuh\""), "kernels/{name} does not include the header");
    }
}

/// The value of `#define NAME value` in common.cuh.
fn header_code(name: &str) -> i32 {
    let line = HEADER
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name) && l.starts_with("#define"))
        .unwrap_or_else(|| panic!("common.cuh has no #define {name}"));
    line.split_whitespace().nth(2).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn enum_codes_match_the_header() {
    let maps = [
        ("MAP_IDENTITY", Map::Identity),
        ("MAP_SIGMOID", Map::Sigmoid),
        ("MAP_TANH", Map::Tanh),
        ("MAP_RELU", Map::Relu),
        ("MAP_LEAKY_RELU", Map::LeakyRelu(0.1)),
        ("MAP_EXP", Map::Exp),
        ("MAP_LOG", Map::Log),
        ("MAP_SQUARE", Map::Square),
        ("MAP_ADD_SCALAR", Map::AddScalar(2.0)),
        ("MAP_MUL_SCALAR", Map::MulScalar(3.0)),
    ];
    for (name, f) in maps {
        assert_eq!(map_code(f).0, header_code(name), "{name}");
    }
    assert_eq!(map_code(Map::LeakyRelu(0.1)).1, 0.1);
    for (name, f) in [("ZIP_ADD", Zip::Add), ("ZIP_SUB", Zip::Sub), ("ZIP_MUL", Zip::Mul)] {
        assert_eq!(zip_code(f), header_code(name), "{name}");
    }
    for (name, k) in [
        ("LOSS_SQUARED_ERROR", LossKernel::SquaredError),
        ("LOSS_BCE", LossKernel::Bce),
        ("LOSS_SIGMOID_BCE", LossKernel::SigmoidBce),
    ] {
        assert_eq!(loss_code(k), Some(header_code(name)), "{name}");
    }
    assert_eq!(loss_code(LossKernel::SoftmaxCrossEntropy), None);
}

#[test]
fn without_a_driver_the_probe_is_a_one_line_error() {
    if driver_present() {
        eprintln!("skipped: without_a_driver_the_probe_is_a_one_line_error: this machine has a CUDA driver");
        return;
    }
    let err = probe().expect_err("no driver here");
    assert_eq!(err.0, "no CUDA driver: libcuda.so could not be loaded");
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn without_a_driver_the_backend_is_an_error_not_a_panic() {
    if driver_present() {
        eprintln!("skipped: without_a_driver_the_backend_is_an_error_not_a_panic: this machine has a CUDA driver");
        return;
    }
    let err = super::CudaBackend::new(0).err().expect("no driver here");
    assert_eq!(err.to_string(), "no CUDA driver: libcuda.so could not be loaded");
}

/// Without a device a GPU test skips with the probe's reason, and fails when a device
/// is required; with one, it gets the device.
#[test]
fn gpu_tests_skip_visibly_without_a_device_and_fail_when_one_is_required() {
    use super::{device_or_skip_with, skip_line, unavailable};
    match unavailable() {
        Some(reason) => {
            assert!(device_or_skip_with("t", false).is_none());
            let required = std::panic::catch_unwind(|| device_or_skip_with("t", true));
            let message = required.err().and_then(|p| p.downcast_ref::<String>().cloned()).unwrap_or_default();
            assert!(message.contains("RUNNER_REQUIRE_CUDA=1 but t: no CUDA device"), "{message}");
            assert!(message.contains(&reason), "{message}");
            assert_eq!(skip_line("t", &reason), format!("skipped: t: no CUDA device ({reason})"));
        }
        None => assert!(device_or_skip_with("t", true).is_some()),
    }
}
