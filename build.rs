//! Tells the tests which CPU paths the build host can run. The project is built with
//! `target-cpu=native` (.cargo/config.toml) where it runs, so the build host is the test
//! machine; a test of a path this CPU lacks is then compiled as `#[ignore]` with a
//! reason naming the path, and `cargo test` lists it as ignored (skipped), never as a
//! pass. The tests still check at run time that the CPU has the path (a build copied to
//! another machine fails loudly instead of skipping or crashing).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(runner_avx2)");
    println!("cargo::rustc-check-cfg=cfg(runner_avx512)");
    let target_is_x86_64 = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "x86_64");
    let host = std::env::var("HOST").unwrap_or_default();
    let target = std::env::var("TARGET").unwrap_or_default();
    // Detection runs on the build host: it speaks for the test machine only when the
    // build is not cross-compiled.
    if !target_is_x86_64 || host != target {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            println!("cargo::rustc-cfg=runner_avx2");
        }
        if std::is_x86_feature_detected!("avx512f") {
            println!("cargo::rustc-cfg=runner_avx512");
        }
    }
}
