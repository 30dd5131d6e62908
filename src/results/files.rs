//! The contents of a run folder's files, as bytes. Numbers are written as the shortest
//! decimal that reads back to the same value in the run's dtype (see `number`), so the
//! same values always give the same bytes.

use super::number::{format_value, push_cell};
use crate::backend::DType;
use crate::spec::Metric;
use crate::train::Record;
use serde::Serialize;
use std::fmt::Write;

/// metrics.csv's first line: `step,epoch,split,<metric>…`.
pub fn metrics_header(metrics: &[Metric]) -> String {
    let mut out = String::from("step,epoch,split");
    for m in metrics {
        out.push(',');
        out.push_str(m.name());
    }
    out.push('\n');
    out
}

/// One row of metrics.csv, appended to `out`.
pub fn metrics_row(out: &mut String, r: &Record, dtype: DType) {
    let _ = write!(out, "{},{},{}", r.step, r.epoch, r.split.name());
    for &v in &r.values {
        push_cell(out, v, dtype);
    }
    out.push('\n');
}

/// params.csv's first line: one column per parameter element, named `layer.param[i][j]`.
pub fn params_header(names: &[String]) -> String {
    let mut out = String::from("step");
    for n in names {
        let _ = write!(out, ",{n}");
    }
    out.push('\n');
    out
}

/// One row of params.csv, appended to `out`.
pub fn params_row(out: &mut String, step: usize, values: &[f64], dtype: DType) {
    let _ = write!(out, "{step}");
    for &v in values {
        push_cell(out, v, dtype);
    }
    out.push('\n');
}

/// A table of named blocks of columns with the same number of rows.
pub struct Columns {
    pub names: Vec<String>,
    pub rows: usize,
    pub cells: Vec<Vec<f64>>, // per row
}

impl Columns {
    pub fn new(rows: usize) -> Self {
        Columns { names: vec![], rows, cells: vec![Vec::new(); rows] }
    }

    /// Appends a rows×width block, its columns named by `name(j)`.
    pub fn push_block(&mut self, values: &[f64], width: usize, name: impl Fn(usize) -> String) {
        if width == 0 {
            return;
        }
        for j in 0..width {
            self.names.push(name(j));
        }
        for (r, row) in self.cells.iter_mut().enumerate() {
            row.extend_from_slice(&values[r * width..(r + 1) * width]);
        }
    }

    pub fn to_csv(&self, dtype: DType) -> String {
        let mut out = self.names.join(",");
        out.push('\n');
        for row in &self.cells {
            let line: Vec<String> = row.iter().map(|&v| format_value(v, dtype)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        out
    }
}

/// Element names of a parameter: `w[i][j]` for a matrix (no commas, for CSV headers), `b[i]` for a vector.
pub fn element_names(name: &str, shape: &[usize]) -> Vec<String> {
    match shape {
        [r, c] => (0..r * c).map(|k| format!("{name}[{}][{}]", k / c, k % c)).collect(),
        _ => (0..shape.iter().product()).map(|k| format!("{name}[{k}]")).collect(),
    }
}

/// A safetensors file of the named tensors (bytes in the run's `dtype`), readable by
/// Python's `safetensors`. A batch-norm's `num_batches_tracked` is written as int64, the
/// dtype PyTorch's BatchNorm keeps it in: as a float it loaded, but read back as one
/// (`state_dict()["bn.num_batches_tracked"]` is an int64 scalar in PyTorch), and f32
/// stops counting exactly past 2^24 batches.
pub fn safetensors_bytes(tensors: &[(String, Vec<usize>, Vec<u8>)], dtype: DType) -> Result<Vec<u8>, String> {
    let dt = match dtype {
        DType::F32 => safetensors::Dtype::F32,
        DType::F64 => safetensors::Dtype::F64,
    };
    let counts: Vec<Option<Vec<u8>>> =
        tensors.iter().map(|(n, _, bytes)| n.ends_with(COUNT_SUFFIX).then(|| as_i64_bytes(bytes, dtype))).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .zip(&counts)
        .map(|((n, shape, bytes), count)| {
            let (dt, bytes) = match count {
                Some(c) => (safetensors::Dtype::I64, c.as_slice()),
                None => (dt, bytes.as_slice()),
            };
            safetensors::tensor::TensorView::new(dt, shape.clone(), bytes)
                .map(|v| (n.clone(), v))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::tensor::serialize(views, Some(meta)).map_err(|e| e.to_string())
}

/// The one integer parameter: a batch-norm's count of training batches.
const COUNT_SUFFIX: &str = ".num_batches_tracked";

/// Little-endian floats of `dtype` as little-endian int64 (a count: whole, ≥ 0).
fn as_i64_bytes(bytes: &[u8], dtype: DType) -> Vec<u8> {
    let values: Vec<f64> = match dtype {
        DType::F32 => bytes.chunks_exact(4).map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect(),
        DType::F64 => bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).collect(),
    };
    values.into_iter().flat_map(|v| (v.round() as i64).to_le_bytes()).collect()
}

/// What the CUDA device reported, for the manifest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CudaReport {
    /// The device's name, e.g. "NVIDIA H200".
    pub device: String,
    /// Compute capability, e.g. "9.0".
    pub capability: String,
    /// The newest CUDA version the driver supports (cuDriverGetVersion), e.g. "12.4".
    pub driver_cuda_version: String,
    /// The NVRTC library that compiled kernels/, e.g. "12.4".
    pub nvrtc_version: String,
}

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub program: String,
    pub version: String,
    pub git_commit: Option<String>,
    pub name: String,
    pub spec_file: String,
    pub spec_hash: String,
    pub seed: u64,
    pub streams: Vec<String>,
    pub backend: String,
    /// What was asked (`--backend` or the spec's `backend`), what was taken and why, e.g.
    /// "auto: cpu, because no CUDA driver: libcuda.so could not be loaded".
    #[serde(default)]
    pub backend_choice: String,
    /// The GPU and the CUDA versions (CUDA backend only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda: Option<CudaReport>,
    /// The CPU path and the kernel each op family ran (CPU backend only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<crate::backend::cpu::path::CpuReport>,
    pub dtype: String,
    pub threads: usize,
    pub started: String,
    pub finished: String,
    pub wall_seconds: f64,
    pub status: String,
    /// Why a run with status `failed` failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub steps: usize,
    pub parameters: usize,
    pub final_metrics: std::collections::BTreeMap<String, f64>,
    /// Training samples per second (training steps only, evaluation excluded).
    pub train_samples_per_second: Option<f64>,
    /// Samples per second in evaluation forward passes.
    pub inference_samples_per_second: Option<f64>,
    pub files: Vec<String>,
    /// sha256 of each data file the run read (data and `[model] init`), by absolute
    /// path; a rerun of the run folder's spec.toml checks them.
    pub data_files: std::collections::BTreeMap<String, String>,
    /// Each time `runner resume` continued the run: when, from which step, after what.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resumed: Vec<super::ResumeEvent>,
    /// The kinds of the probes not drawn because a stop (Ctrl-C, SIGTERM) came while the
    /// probes were drawn; `runner probe <folder>` draws them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes_skipped: Vec<String>,
    /// What `runner probe` drew into the folder (each call appends a record). A resume
    /// carries the stopped run's records over, marking those whose files it removed
    /// (`removed_by_resume`): drawn from a model the run has trained past.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probed: Vec<serde_json::Value>,
}

/// FNV-1a 64 of the resolved spec, to tell at a glance whether two runs had one spec.
pub fn spec_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// `true,<pred 0>,<pred 1>,…`: one row per true class, counts per predicted class.
pub fn confusion_csv(c: &crate::metrics::Confusion) -> String {
    let mut out = String::from("true");
    for p in 0..c.classes {
        let _ = write!(out, ",pred_{p}");
    }
    out.push('\n');
    for (t, row) in c.m.iter().enumerate() {
        let _ = write!(out, "{t}");
        for v in row {
            let _ = write!(out, ",{v}");
        }
        out.push('\n');
    }
    out
}

/// Per-class precision, recall, F1 and support, then their macro averages: over the
/// classes that occur among the true or predicted ones, as metrics.csv's scores
/// (`Confusion::macro_scores`).
pub fn classes_csv(c: &crate::metrics::Confusion, dtype: DType) -> String {
    let mut out = String::from("class,precision,recall,f1,support\n");
    for k in 0..c.classes {
        let (p, r, f) = c.class_scores(k);
        let support: usize = c.m[k].iter().sum();
        let _ = write!(out, "{k}");
        for v in [p, r, f] {
            push_cell(&mut out, v, dtype);
        }
        let _ = writeln!(out, ",{support}");
    }
    let total: usize = c.m.iter().flatten().sum();
    let (p, r, f) = c.macro_scores();
    out.push_str("macro");
    for v in [p, r, f] {
        push_cell(&mut out, v, dtype);
    }
    let _ = writeln!(out, ",{total}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Confusion;

    #[test]
    fn the_macro_row_leaves_out_a_class_that_never_occurs_as_metrics_csv_does() {
        // Class 2 is neither true nor predicted: class 0 scores (1, 2/3, 0.8), class 1
        // (0.75, 1, 6/7); averaged over those two, not divided by three.
        let c = Confusion { classes: 3, m: vec![vec![2, 1, 0], vec![0, 3, 0], vec![0, 0, 0]] };
        let csv = classes_csv(&c, DType::F64);
        let last = csv.lines().last().unwrap();
        let cells: Vec<f64> = last.split(',').skip(1).map(|v| v.parse().unwrap()).collect();
        assert!(last.starts_with("macro,"), "{csv}");
        let want = [0.875, (2.0 / 3.0 + 1.0) / 2.0, (0.8 + 6.0 / 7.0) / 2.0, 6.0];
        for (got, want) in cells.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{last}: {got} vs {want}");
        }
        assert!(csv.contains("\n2,0,0,0,0\n"), "the class still has its row: {csv}");
    }

    /// A batch-norm's count is int64 as in PyTorch's state_dict; every other tensor keeps
    /// the run's dtype. The old writer gave the count the run's float dtype.
    #[test]
    fn batch_norm_counts_are_int64_and_weights_keep_the_run_dtype() {
        /// A value as the run's little-endian bytes.
        type Encode = fn(f64) -> Vec<u8>;
        let cases: [(DType, Encode); 2] =
            [(DType::F32, |v| (v as f32).to_le_bytes().to_vec()), (DType::F64, |v| v.to_le_bytes().to_vec())];
        for (dtype, le) in cases {
            let tensors = vec![
                ("bn1.weight".to_string(), vec![2], [1.5, -0.25].iter().flat_map(|v| le(*v)).collect()),
                ("bn1.num_batches_tracked".to_string(), vec![], le(4.0)),
            ];
            let bytes = safetensors_bytes(&tensors, dtype).unwrap();
            let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            let count = st.tensor("bn1.num_batches_tracked").unwrap();
            assert_eq!((count.dtype(), count.shape()), (safetensors::Dtype::I64, &[][..]));
            assert_eq!(count.data(), 4i64.to_le_bytes());
            let w = st.tensor("bn1.weight").unwrap();
            let want = if dtype == DType::F32 { safetensors::Dtype::F32 } else { safetensors::Dtype::F64 };
            assert_eq!((w.dtype(), w.data()), (want, tensors[0].2.as_slice()));
        }
    }
}
