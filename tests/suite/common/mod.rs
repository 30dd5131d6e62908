#![allow(dead_code)]
//! Helpers shared by the integration tests: run the real binary, read its files.

pub mod browser;

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The run folder: the last line of standard output.
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(self.stdout.lines().last().unwrap_or_else(|| panic!("no output; stderr: {}", self.stderr)))
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn runner(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.args(args).current_dir(root());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("runner starts");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs an experiment into `results`, asserting success.
pub fn run_ok(spec: &str, results: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec!["run", spec, "--quiet", "--results", results.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = runner(&args, &[]);
    assert_eq!(out.code, 0, "runner {args:?} failed:\n{}", out.stderr);
    out.dir()
}

/// A CSV file as a header and rows of strings.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("").split(',').map(String::from).collect();
    let rows = lines.map(|l| l.split(',').map(String::from).collect()).collect();
    (header, rows)
}

/// One numeric column of a CSV file.
pub fn column(path: &Path, name: &str) -> Vec<f64> {
    let (header, rows) = read_csv(path);
    let i = header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    rows.iter().map(|r| r[i].parse().unwrap()).collect()
}

/// Rows of a metrics CSV for one split, as (step, value of `metric`).
pub fn metric(dir: &Path, split: &str, name: &str) -> Vec<(usize, f64)> {
    let (header, rows) = read_csv(&dir.join("metrics.csv"));
    let i = header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no metric {name}"));
    rows.iter().filter(|r| r[2] == split).map(|r| (r[0].parse().unwrap(), r[i].parse().unwrap())).collect()
}

pub fn write_spec(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A run folder's manifest.json, parsed.
pub fn read_manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// A safetensors file's bytes with its JSON header (as text) replaced by `edit`'s,
/// padded with spaces to 8 bytes as the format wants; the tensors' bytes unchanged.
pub fn with_header_text(file: &[u8], edit: impl FnOnce(&str) -> String) -> Vec<u8> {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let mut text = edit(std::str::from_utf8(&file[8..8 + n]).unwrap().trim_end()).into_bytes();
    text.resize(text.len().div_ceil(8) * 8, b' ');
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(&file[8 + n..]);
    out
}

/// A resume checkpoint's bytes with its `runner.resume` metadata edited by `edit`.
pub fn with_resume_meta(checkpoint: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    with_header_text(checkpoint, |text| {
        let mut header: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut meta: serde_json::Value =
            serde_json::from_str(header["__metadata__"]["runner.resume"].as_str().unwrap()).unwrap();
        edit(&mut meta);
        header["__metadata__"]["runner.resume"] = meta.to_string().into();
        header.to_string()
    })
}
