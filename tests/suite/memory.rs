//! The memory estimate: `runner check` prints it, a run over the limit is refused at
//! the spec line of its biggest part, and `RUNNER_MAX_MEMORY` moves the limit.

use crate::common::*;

fn spec_with(dir: &std::path::Path, data: &str, units: &str) -> std::path::PathBuf {
    let text = format!(
        "name = \"t\"\n[data]\n{data}\n\n[[model.layers]]\nname = \"wide\"\nop = \"dense\"\nunits = {units}\n\n\
         [[model.layers]]\nname = \"out\"\nop = \"dense\"\nunits = 1\n\n[train]\nloss = \"mse\"\nlr = 0.1\niterations = 1\n"
    );
    write_spec(dir, "spec.toml", &text)
}

#[test]
fn check_prints_the_estimate_with_its_biggest_parts_and_total() {
    let out = runner(&["check", "experiments/mnist_cnn.toml"], &[("RUNNER_MAX_MEMORY", "8GiB")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let section = out.stdout.split("memory estimate:\n").nth(1).expect("an estimate section");
    // The data: 10,000 images of 784 pixels held as bytes, and a label as f64.
    assert!(
        section.contains("7.6 MiB  data: 8000 train + 2000 test samples × 784 values as bytes and 1 as f64"),
        "{section}"
    );
    assert!(section.contains("layer `conv1` (conv2d)"), "{section}");
    let total = section.lines().find(|l| l.contains("total;")).expect("a total line");
    assert!(total.contains("limit 8.0 GiB (RUNNER_MAX_MEMORY=8GiB)"), "{total}");
}

#[test]
fn a_run_over_the_limit_is_refused_at_its_biggest_part_and_the_variable_allows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_with(tmp.path(), "kind = \"xor\"\nn = 200", "4096");
    let spec = spec.to_str().unwrap();
    // 200 rows × 4096 units × 4 bytes × 2 (values, gradients) is 6.25 MiB on its own.
    let refused = runner(&["check", spec], &[("RUNNER_MAX_MEMORY", "2MiB")]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("spec.toml:6:1:"), "at the `wide` layer: {}", refused.stderr);
    assert!(refused.stderr.contains("the biggest part is layer `wide` (dense)"), "{}", refused.stderr);
    assert!(refused.stderr.contains("more than the 2.0 MiB allowed (RUNNER_MAX_MEMORY=2MiB)"), "{}", refused.stderr);
    let allowed = runner(&["check", spec], &[("RUNNER_MAX_MEMORY", "64MiB")]);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
}

#[test]
fn data_is_sized_before_it_is_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    // 10^9 rows would take 16 GiB to generate; the refusal comes first, at `n`.
    let spec = spec_with(tmp.path(), "kind = \"circle\"\nn = 1000000000", "2");
    let started = std::time::Instant::now();
    let out = runner(&["check", spec.to_str().unwrap()], &[("RUNNER_MAX_MEMORY", "1GiB")]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("spec.toml:4:1:"), "at `n`: {}", out.stderr);
    assert!(out.stderr.contains("the biggest part is data `circle`"), "{}", out.stderr);
    assert!(started.elapsed().as_secs() < 10, "nothing was generated");
}

#[test]
fn a_bad_limit_is_a_usage_error() {
    let out = runner(&["check", "experiments/xor.toml"], &[("RUNNER_MAX_MEMORY", "lots")]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.starts_with("error: RUNNER_MAX_MEMORY=lots is not a size"), "{}", out.stderr);
}

#[test]
fn a_csv_file_is_sized_from_its_line_count() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("a,b,y\n");
    for i in 0..5000 {
        csv += &format!("{i},{},{}\n", i % 7, i % 2);
    }
    std::fs::write(tmp.path().join("d.csv"), csv).unwrap();
    let data = "kind = \"csv\"\npath = \"d.csv\"\nfeature_columns = [\"a\", \"b\"]\ntarget_columns = [\"y\"]";
    let spec = spec_with(tmp.path(), data, "2");
    // 5000 rows × 3 values × 8 bytes × 2 = 234 KiB, over a 100 KiB limit.
    let out = runner(&["check", spec.to_str().unwrap()], &[("RUNNER_MAX_MEMORY", "100KiB")]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("spec.toml:4:1:"), "at `path`: {}", out.stderr);
    assert!(out.stderr.contains("5000 samples × 3 values"), "{}", out.stderr);
}
