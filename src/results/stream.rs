//! CSV files written while the run goes on (metrics.csv, params.csv, layers.csv): memory stays flat
//! however long the run, and a run killed even by SIGKILL leaves its rows so far.

use super::files::{metrics_header, metrics_row, params_header, params_row};
use crate::backend::DType;
use crate::error::{Error, Result};
use crate::spec::{LayerStat, Metric};
use crate::train::{LayerRow, Record};
use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Rows reach the file at least this often. A killed run loses at most the rows of the
/// last half second (and never half a row: only whole lines are written). Flushing per
/// row would cost a system call per record, which at the diamond's ~2.5 µs per step
/// with a record per step would be most of the step.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// …or when this many bytes are waiting, which bounds the memory the rows take.
const FLUSH_BYTES: usize = 64 * 1024;

/// An append-only text file written in whole lines.
pub struct LineStream {
    path: PathBuf,
    file: File,
    pending: String,
    /// Bytes handed to the OS so far: the file's length.
    written: u64,
    last_flush: Instant,
    /// The first write error; rows after it are dropped and `finish` reports it.
    error: Option<Error>,
}

impl LineStream {
    /// Creates (truncating) `path` and writes `header` at once, so the file names its
    /// columns from the start.
    pub fn create(path: &Path, header: &str) -> Result<LineStream> {
        let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
        file.write_all(header.as_bytes()).map_err(|e| Error::io(path, e))?;
        Ok(Self::over(path, file, header.len() as u64))
    }

    /// Opens `path` to append after its first `keep` bytes, dropping the rest (rows a
    /// resumed run writes again).
    pub fn reopen(path: &Path, keep: u64) -> Result<LineStream> {
        let mut file = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| Error::io(path, e))?;
        file.set_len(keep).map_err(|e| Error::io(path, e))?;
        file.seek(std::io::SeekFrom::End(0)).map_err(|e| Error::io(path, e))?;
        Ok(Self::over(path, file, keep))
    }

    fn over(path: &Path, file: File, written: u64) -> LineStream {
        LineStream {
            path: path.to_path_buf(),
            file,
            pending: String::with_capacity(FLUSH_BYTES + 4096),
            written,
            last_flush: Instant::now(),
            error: None,
        }
    }

    /// The file's length once pending lines are flushed.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends whatever `line` writes (whole lines, ending in '\n').
    pub fn push(&mut self, line: impl FnOnce(&mut String)) {
        if self.error.is_some() {
            return;
        }
        line(&mut self.pending);
        // Reading the clock costs ~20 ns (vDSO), far less than formatting the row.
        if self.pending.len() >= FLUSH_BYTES || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Hands the pending lines to the OS (not fsync: surviving the process is the
    /// point, not surviving the machine).
    pub fn flush(&mut self) {
        if self.error.is_none() && !self.pending.is_empty() {
            match self.file.write_all(self.pending.as_bytes()) {
                Ok(()) => self.written += self.pending.len() as u64,
                Err(e) => self.error = Some(Error::io(&self.path, e)),
            }
        }
        self.pending.clear();
        self.last_flush = Instant::now();
    }

    /// Writes what is pending; the first error of the file's life, if any.
    pub fn finish(mut self) -> Result<()> {
        self.flush();
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// metrics.csv as it is recorded: `step,epoch,split,<metric>…`.
pub struct MetricsStream(LineStream, DType);

impl MetricsStream {
    /// Continues the file after its first `keep` bytes.
    pub fn reopen(path: &Path, keep: u64, dtype: DType) -> Result<Self> {
        Ok(MetricsStream(LineStream::reopen(path, keep)?, dtype))
    }

    /// Flushes, and returns the file's length.
    pub fn flushed_len(&mut self) -> u64 {
        self.0.flush();
        self.0.written()
    }

    pub fn create(path: &Path, metrics: &[Metric], dtype: DType) -> Result<Self> {
        Ok(MetricsStream(LineStream::create(path, &metrics_header(metrics))?, dtype))
    }

    pub fn push(&mut self, r: &Record) {
        let dtype = self.1;
        self.0.push(|out| metrics_row(out, r, dtype));
    }

    pub fn finish(self) -> Result<()> {
        self.0.finish()
    }
}

/// params.csv as it is recorded: the step, then every parameter element.
pub struct ParamsStream(LineStream, DType);

impl ParamsStream {
    /// Continues the file after its first `keep` bytes.
    pub fn reopen(path: &Path, keep: u64, dtype: DType) -> Result<Self> {
        Ok(ParamsStream(LineStream::reopen(path, keep)?, dtype))
    }

    /// Flushes, and returns the file's length.
    pub fn flushed_len(&mut self) -> u64 {
        self.0.flush();
        self.0.written()
    }

    pub fn create(path: &Path, names: &[String], dtype: DType) -> Result<Self> {
        Ok(ParamsStream(LineStream::create(path, &params_header(names))?, dtype))
    }

    pub fn push(&mut self, step: usize, values: &[f64]) {
        let dtype = self.1;
        self.0.push(|out| params_row(out, step, values, dtype));
    }

    pub fn finish(self) -> Result<()> {
        self.0.finish()
    }
}

/// layers.csv as hooks record it: `step,node,op`, then the statistics some hook asks
/// for, empty where a row's hook does not ask or the statistic does not apply.
pub struct LayersStream {
    line: LineStream,
    columns: Vec<LayerStat>,
    dtype: DType,
}

impl LayersStream {
    pub fn create(path: &Path, columns: &[LayerStat], dtype: DType) -> Result<Self> {
        let mut header = String::from("step,node,op");
        for c in columns {
            header.push(',');
            header.push_str(&c.name());
        }
        header.push('\n');
        Ok(LayersStream { line: LineStream::create(path, &header)?, columns: columns.to_vec(), dtype })
    }

    /// Continues the file after its first `keep` bytes.
    pub fn reopen(path: &Path, keep: u64, columns: &[LayerStat], dtype: DType) -> Result<Self> {
        Ok(LayersStream { line: LineStream::reopen(path, keep)?, columns: columns.to_vec(), dtype })
    }

    /// Flushes, and returns the file's length.
    pub fn flushed_len(&mut self) -> u64 {
        self.line.flush();
        self.line.written()
    }

    pub fn push(&mut self, rows: &[LayerRow]) {
        let (columns, dtype) = (&self.columns, self.dtype);
        self.line.push(|out| {
            for r in rows {
                layers_row(out, r, columns, dtype);
            }
        });
    }

    pub fn finish(self) -> Result<()> {
        self.line.finish()
    }
}

/// One row of layers.csv (numbers as `number::format_value` writes them), appended to `out`.
pub fn layers_row(out: &mut String, r: &LayerRow, columns: &[LayerStat], dtype: DType) {
    use std::fmt::Write as _;
    let _ = write!(out, "{},{},{}", r.step, r.node, r.op);
    for c in columns {
        match r.values[c.index()] {
            Some(v) => super::number::push_cell(out, v, dtype),
            None => out.push(','),
        }
    }
    out.push('\n');
}
