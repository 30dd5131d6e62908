//! The memory a run needs, estimated from shapes before anything large is allocated,
//! and refused (at the spec's line for the biggest part) when it exceeds what the
//! machine has. Two passes: the data from the spec and file headers before any data
//! is loaded, then the whole run once the graph is built. All arithmetic saturates, so
//! absurd sizes (10^12 units, 2^63 rows) give "more than 16 EiB", never an overflow.
//!
//! The limit: `RUNNER_MAX_MEMORY` (e.g. `64GiB`, `500MB`, a byte count) when set;
//! otherwise MemAvailable from /proc/meminfo (three quarters of MemTotal when that line
//! is missing, 16 GiB when the file cannot be read).

use crate::backend::DType;
use crate::data::Splits;
use crate::error::{Error, Result};
use crate::graph::{Dag, NodeOp};
use crate::spec::{BatchSize, DataKind, LoadedSpec, Metric, OptimizerKind};
use std::cell::Cell;
use std::path::Path;

/// The environment variable that overrides the machine's limit.
pub const LIMIT_VAR: &str = "RUNNER_MAX_MEMORY";
/// Rows per evaluation forward pass (as `train::evaluate` scores a split).
const EVAL_ROWS: u64 = 128;
/// What the process takes besides the parts estimated from shapes (code, allocator
/// arenas, thread stacks, metric records, plots): measured as the peak RSS of small
/// runs (diamond: 36 MiB) and the intercept of MNIST runs at several batch sizes.
const PROGRAM_BYTES: u64 = 32 << 20;
/// Parts under this share of the total are summed into one line by `render`.
const SMALL_SHARE: f64 = 0.01;

thread_local! {
    static THREAD_LIMIT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Sets (or clears) a limit for checks made on this thread, above the environment and
/// the machine: lets tests run hostile specs in process without risking an abort.
pub fn set_thread_limit(bytes: Option<u64>) {
    THREAD_LIMIT.with(|l| l.set(bytes));
}

/// Where in the spec a part comes from, for the refusal's location.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Site {
    /// A key of `[data]`.
    DataKey(&'static str),
    /// A layer, by its index in `[[model.layers]]`.
    Layer(usize),
    Nowhere,
}

#[derive(Debug, Clone)]
pub struct Part {
    pub what: String,
    pub bytes: u64,
    pub site: Site,
    /// A cost no spec change removes: never named as the part to shrink.
    pub fixed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Estimate {
    pub parts: Vec<Part>,
}

fn mul(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |acc, f| acc.saturating_mul(*f))
}

fn product(dims: &[usize]) -> u64 {
    mul(&dims.iter().map(|d| *d as u64).collect::<Vec<_>>())
}

/// Bytes in binary units, e.g. `7.3 TiB`; saturated sums show as "more than 16 EiB".
pub fn human(bytes: u64) -> String {
    if bytes == u64::MAX {
        return "more than 16 EiB".into();
    }
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A name as shown in a message: long names are cut, so a message stays short.
fn short(name: &str) -> String {
    if name.chars().count() > 40 {
        format!("{}…", name.chars().take(40).collect::<String>())
    } else {
        name.to_string()
    }
}

impl Estimate {
    fn add(&mut self, what: String, bytes: u64, site: Site) {
        self.parts.push(Part { what, bytes, site, fixed: false });
    }

    pub fn total(&self) -> u64 {
        self.parts.iter().fold(0u64, |acc, p| acc.saturating_add(p.bytes))
    }

    pub fn biggest(&self) -> Option<&Part> {
        self.parts.iter().filter(|p| !p.fixed).max_by_key(|p| p.bytes)
    }

    /// A line per part that matters (at least 1% of the total), the rest summed, and
    /// the total against the limit.
    pub fn render(&self) -> String {
        let total = self.total();
        let mut out = String::from("memory estimate:\n");
        let mut rest = 0u64;
        let mut rest_count = 0;
        for p in &self.parts {
            if (p.bytes as f64) < total as f64 * SMALL_SHARE {
                rest = rest.saturating_add(p.bytes);
                rest_count += 1;
            } else {
                out += &format!("  {:>10}  {}\n", human(p.bytes), p.what);
            }
        }
        if rest_count > 0 {
            out += &format!("  {:>10}  {rest_count} smaller parts\n", human(rest));
        }
        let limit = match limit() {
            Ok(l) => format!("limit {} ({})", human(l.bytes), l.from),
            Err(e) => e.to_string(),
        };
        out += &format!("  {:>10}  total; {limit}\n", human(total));
        out
    }
}

pub struct Limit {
    pub bytes: u64,
    /// Where the limit comes from, for messages.
    pub from: String,
}

/// `64GiB`, `1.5 TB`, `500M`, `1000000`: decimal units (kB, MB, GB, TB) are powers
/// of 1000, binary ones (KiB, …) and bare letters (K, M, G, T) powers of 1024.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().ok()?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024f64.powi(2),
        "g" | "gib" => 1024f64.powi(3),
        "t" | "tib" => 1024f64.powi(4),
        _ => return None,
    };
    let bytes = value * scale;
    // `as` saturates at u64::MAX.
    (bytes.is_finite() && bytes >= 1.0).then_some(bytes as u64)
}

/// The most a run may use: this thread's limit, `RUNNER_MAX_MEMORY`, or the machine's.
pub fn limit() -> Result<Limit> {
    if let Some(bytes) = THREAD_LIMIT.with(Cell::get) {
        return Ok(Limit { bytes, from: "this thread's limit".into() });
    }
    if let Ok(text) = std::env::var(LIMIT_VAR) {
        let shown: String = text.chars().take(40).collect();
        return match parse_size(&text) {
            Some(bytes) => Ok(Limit { bytes, from: format!("{LIMIT_VAR}={shown}") }),
            None => Err(Error::Usage(format!(
                "{LIMIT_VAR}={shown} is not a size; write e.g. 64GiB, 500MB or a number of bytes"
            ))),
        };
    }
    Ok(machine_limit())
}

fn machine_limit() -> Limit {
    let Ok(info) = std::fs::read_to_string("/proc/meminfo") else {
        return Limit { bytes: 16 << 30, from: "a default of 16 GiB (/proc/meminfo is unreadable)".into() };
    };
    let field = |name: &str| -> Option<u64> {
        let line = info.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib.saturating_mul(1024))
    };
    let machine = match (field("MemAvailable:"), field("MemTotal:")) {
        (Some(bytes), _) => Limit { bytes, from: "MemAvailable in /proc/meminfo".into() },
        (None, Some(total)) => Limit { bytes: total / 4 * 3, from: "3/4 of MemTotal in /proc/meminfo".into() },
        (None, None) => Limit { bytes: 16 << 30, from: "a default of 16 GiB (no sizes in /proc/meminfo)".into() },
    };
    match address_space_left() {
        Some(bytes) if bytes < machine.bytes => {
            Limit { bytes, from: "the address-space limit (ulimit -v) less what runner has mapped".into() }
        }
        _ => machine,
    }
}

/// What `ulimit -v` (RLIMIT_AS) leaves this process: under it an allocation the machine
/// could hold still fails, and Rust aborts on a failed allocation. None when unlimited.
fn address_space_left() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max address space"))?;
    let soft: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let mapped_kib: u64 = status.lines().find(|l| l.starts_with("VmSize:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(soft.saturating_sub(mapped_kib.saturating_mul(1024)))
}

/// Refuses an estimate over the limit, at the spec line of its biggest part.
pub fn enforce(est: &Estimate, loaded: &LoadedSpec) -> Result<()> {
    let limit = limit()?;
    let total = est.total();
    if total <= limit.bytes {
        return Ok(());
    }
    let Some(big) = est.biggest() else { return Ok(()) };
    let span = match big.site {
        Site::DataKey(key) => {
            crate::spec::data_span(&loaded.source, key, None).or_else(|| Some(loaded.spec.data.span()))
        }
        Site::Layer(i) => loaded.spec.model.layers.get(i).map(|l| l.span()),
        Site::Nowhere => None,
    };
    let message = format!(
        "the run needs about {} of memory, more than the {} allowed ({}); the biggest part is {}: {}. \
         Make it smaller, or set {LIMIT_VAR} (e.g. {LIMIT_VAR}=64GiB) to allow more",
        human(total),
        human(limit.bytes),
        limit.from,
        big.what,
        human(big.bytes)
    );
    Err(loaded.source.error(span, message).into())
}

/// The data set's size from the spec and the files' headers, before it is loaded:
/// its values as f64, twice (generating or parsing, then splitting copies them).
pub fn data_estimate(loaded: &LoadedSpec, base_dir: &Path) -> Result<Estimate> {
    let d = crate::data::resolve_defaults(loaded.spec.data.get_ref());
    let kind = d.kind.unwrap_or(DataKind::Inline);
    let extra = u64::from(d.bias_column.is_some());
    let mut est = Estimate::default();
    let mut add = |what: String, rows: u64, values: u64, site| {
        est.add(
            format!("{what}: {rows} samples × {values} values as f64, and a copy while splitting"),
            mul(&[rows, values, 8, 2]),
            site,
        )
    };
    let name = crate::spec::kind_name(kind);
    match kind {
        DataKind::Inline => {
            let rows = d.inputs.as_ref().map_or(0, Vec::len) as u64;
            let width = |m: &Option<Vec<Vec<f64>>>| m.as_ref().and_then(|m| m.first()).map_or(0, Vec::len) as u64;
            add(format!("data `{name}`"), rows, width(&d.inputs) + width(&d.targets) + extra, Site::DataKey("inputs"));
        }
        DataKind::Csv => {
            let path = crate::data::csv_path(&d, base_dir);
            let rows = crate::data::csv_rows(&path)?;
            let cols = d.feature_columns.as_ref().map_or(0, Vec::len) + d.target_columns.as_ref().map_or(0, Vec::len);
            add(
                format!("data `{}`", short(&path.display().to_string())),
                rows,
                cols as u64 + extra,
                Site::DataKey("path"),
            );
        }
        DataKind::Mnist => {
            for ((path, header), limit) in crate::data::mnist_headers(&d, base_dir)?.into_iter().zip([d.n, d.test_n]) {
                let count = header.dims.first().copied().unwrap_or(0);
                let per: u64 = product(header.dims.get(1..).unwrap_or(&[]));
                let rows = limit.unwrap_or(count).min(count) as u64;
                let file = short(&path.display().to_string());
                est.add(
                    format!("data `{file}`: {rows} images × {per} pixels as bytes and a label as f64, and the file"),
                    mul(&[rows, per.saturating_add(8)]).saturating_add(header.total as u64),
                    Site::DataKey("n"),
                );
            }
        }
        DataKind::Gates => add(format!("data `{name}`"), 4, 3 + extra, Site::DataKey("gate")),
        _ => {
            let features = match kind {
                DataKind::Linear => d.coefficients.as_ref().map_or(0, Vec::len) as u64,
                _ => 2,
            };
            let rows = d.n.unwrap_or(0) as u64;
            add(format!("data `{name}`"), rows, features + 1 + extra, Site::DataKey("n"));
        }
    }
    Ok(est)
}

/// The whole run: the data as loaded, and per layer its parameters (with the tape's
/// copy, the gradient and the optimizer's state) and its activations for a batch
/// (the forward value kept for backward, and its gradient).
pub fn estimate(loaded: &LoadedSpec, data: &Splits, dag: &Dag) -> Estimate {
    let spec = &loaded.spec;
    let elem: u64 = match spec.dtype {
        DType::F32 => 4,
        DType::F64 => 8,
    };
    let mut est = Estimate::default();
    let sets = [Some(&data.train), data.validation.as_ref(), data.test.as_ref()];
    let rows: Vec<u64> = sets.iter().map(|s| s.map_or(0, |s| s.len() as u64)).collect();
    let values = (data.train.features + data.train.target_cols) as u64;
    let all_rows = rows.iter().fold(0u64, |a, r| a.saturating_add(*r));
    let split_names = ["train", "validation", "test"];
    let shown: Vec<String> =
        rows.iter().zip(split_names).filter(|(r, _)| **r > 0).map(|(r, n)| format!("{r} {n}")).collect();
    let data_site = match spec.data.get_ref().kind {
        Some(DataKind::Csv) => Site::DataKey("path"),
        Some(DataKind::Inline) => Site::DataKey("inputs"),
        _ => Site::DataKey("n"),
    };
    // Images are held as bytes (read as f64 when a batch is built), their labels as f64.
    if matches!(data.train.inputs, crate::data::Inputs::Bytes { .. }) {
        let (features, targets) = (data.train.features as u64, data.train.target_cols as u64);
        est.add(
            format!("data: {} samples × {features} values as bytes and {targets} as f64", shown.join(" + ")),
            mul(&[all_rows, features.saturating_add(targets.saturating_mul(8))]),
            data_site,
        );
    } else {
        est.add(
            format!("data: {} samples × {values} values as f64", shown.join(" + ")),
            mul(&[all_rows, values, 8]),
            data_site,
        );
    }
    let train = spec.train.as_ref().map(|t| t.get_ref());
    let n_train = rows[0];
    let out_width = product(&dag.nodes[dag.output].shape);
    let batch = match train.map(|t| t.batch_size) {
        Some(BatchSize::Size(k)) => (k as u64).min(n_train),
        Some(BatchSize::All) => n_train,
        None => 0,
    };
    if train.is_some() {
        // The targets as the output reads them (one-hot for classes), in f64 and the dtype.
        est.add(
            format!("training targets: {n_train} × {out_width} as f64 and {}", spec.dtype.name()),
            mul(&[n_train, out_width, 8 + elem]),
            Site::Nowhere,
        );
    }
    // Classification scores build a confusion matrix of width × width counts.
    let scored = data.train.classes.is_some()
        || spec.metrics.record.iter().any(|m| !matches!(m, Metric::Loss | Metric::Sse | Metric::LogSse));
    if scored && out_width > 1 {
        est.add(
            format!("confusion matrix: {out_width} × {out_width} counts"),
            mul(&[out_width, out_width, 8]),
            Site::Layer(dag.output.saturating_sub(1)),
        );
    }
    // Whole-split passes: gradients for [output] and reductions over the batch.
    let whole_split = !spec.output.gradients.is_empty() || dag.nodes.iter().any(|n| !n.batched);
    let largest_split = rows.iter().copied().max().unwrap_or(0);
    let forward_rows = if whole_split { largest_split } else { EVAL_ROWS.min(largest_split) };
    let backward_rows = if whole_split { batch.max(largest_split) } else { batch };
    // Values of a parameter: the model's, the tape's copy, the gradient, the optimizer's.
    let slots = 3 + optimizer_slots(train);
    let threads = rayon::current_num_threads() as u64;
    for (i, node) in dag.nodes.iter().enumerate() {
        let width = product(&node.shape);
        let params: u64 = node.params.iter().fold(0u64, |a, p| a.saturating_add(product(&p.shape)));
        let activations = mul(&[backward_rows, width, elem, 2]).max(mul(&[forward_rows, width, elem]));
        let scratch = match node.op {
            // im2col: one unrolled image per thread, [c_in·k·k, oh·ow].
            NodeOp::Conv2d { kernel, .. } => {
                let c_in = dag.nodes[node.inputs[0]].shape.first().copied().unwrap_or(1) as u64;
                let plane = product(node.shape.get(1..).unwrap_or(&[]));
                mul(&[threads, c_in, kernel as u64, kernel as u64, plane, elem, 2])
            }
            _ => 0,
        };
        let bytes = mul(&[params, slots, elem]).saturating_add(activations).saturating_add(scratch);
        let site = if i == 0 { data_site } else { Site::Layer(i - 1) };
        let rows_shown = backward_rows.max(forward_rows);
        let shape: Vec<String> = node.shape.iter().map(|d| d.to_string()).collect();
        let what = if params > 0 {
            format!(
                "layer `{}` ({}): {params} parameters × {slots}, activations {rows_shown} × [{}]",
                short(&node.name),
                node.op_name,
                shape.join(", ")
            )
        } else {
            format!(
                "layer `{}` ({}): activations {rows_shown} × [{}]",
                short(&node.name),
                node.op_name,
                shape.join(", ")
            )
        };
        est.add(what, bytes, site);
    }
    est.parts.push(Part {
        what: "the program itself (code, allocator, threads, records, plots)".into(),
        bytes: PROGRAM_BYTES,
        site: Site::Nowhere,
        fixed: true,
    });
    est
}

/// Values the optimizer keeps per parameter.
fn optimizer_slots(train: Option<&crate::spec::TrainSpec>) -> u64 {
    let Some(t) = train else { return 0 };
    let momentum = u64::from(t.momentum > 0.0);
    match t.optimizer {
        OptimizerKind::Adam | OptimizerKind::AdamW => 2,
        OptimizerKind::RmsProp => 1 + momentum,
        OptimizerKind::Sgd => momentum,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_both_unit_systems() {
        assert_eq!(parse_size("64GiB"), Some(64 << 30));
        assert_eq!(parse_size("1.5 GB"), Some(1_500_000_000));
        assert_eq!(parse_size("500M"), Some(500 << 20));
        assert_eq!(parse_size("12345"), Some(12345));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("-1GiB"), None);
        assert_eq!(parse_size("1e400"), None);
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(u64::MAX), "more than 16 EiB");
        assert_eq!(mul(&[1 << 40, 1 << 40]), u64::MAX);
    }
}
