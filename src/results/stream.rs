//! CSV files written while the run goes on (metrics.csv, params.csv, layers.csv): memory stays flat
//! however long the run, and a run killed even by SIGKILL leaves its rows so far.

use super::files::{metrics_header, metrics_row, params_header, params_row};
use crate::backend::DType;
use crate::error::{Error, Result};
use crate::spec::{LayerStat, Metric};
use crate::train::{LayerRow, Record};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Rows reach the file within this long of being recorded, however far apart records
/// are (an epoch record may be the only row for minutes): a killed run loses at most
/// the rows of the last quarter second, and the live view (`--serve`, `runner watch`)
/// follows the file. A background thread flushes on this timer, so the training loop
/// never reads the clock and never waits for a system call per row (at the diamond's
/// ~2.5 µs per step with a record per step, one would be most of the step).
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// …or when this many bytes are waiting, which bounds the memory the rows take.
const FLUSH_BYTES: usize = 64 * 1024;

/// An append-only text file written in whole lines.
pub struct LineStream {
    state: Arc<Mutex<Pending>>,
    /// Dropping the sender stops the flusher thread, which is then joined.
    flusher: Option<(Sender<()>, JoinHandle<()>)>,
}

/// What the training thread and the flusher share: the file and the lines not yet in it.
struct Pending {
    path: PathBuf,
    file: File,
    lines: String,
    /// Bytes handed to the OS so far: the file's length.
    written: u64,
    /// The first write error; rows after it are dropped and `finish` reports it.
    error: Option<Error>,
    /// sha256 of the bytes handed to the OS so far, when the stream keeps one (a resume
    /// checkpoint records metrics.csv's, so a row edited before it is noticed). Kept as
    /// the rows go rather than read back at each checkpoint, which would cost the whole
    /// file every time.
    sha: Option<Sha256>,
}

impl Pending {
    /// Hands the pending lines to the OS (not fsync: surviving the process is the
    /// point, not surviving the machine). Only whole lines are ever pending, so the
    /// file never holds half a row.
    fn flush(&mut self) {
        if self.error.is_none() && !self.lines.is_empty() {
            match self.file.write_all(self.lines.as_bytes()) {
                Ok(()) => {
                    self.written += self.lines.len() as u64;
                    if let Some(h) = &mut self.sha {
                        h.update(self.lines.as_bytes());
                    }
                }
                Err(e) => self.error = Some(Error::io(&self.path, e)),
            }
        }
        self.lines.clear();
    }
}

impl LineStream {
    /// Creates (truncating) `path` and writes `header` at once, so the file names its
    /// columns from the start.
    pub fn create(path: &Path, header: &str, hashed: bool) -> Result<LineStream> {
        let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
        file.write_all(header.as_bytes()).map_err(|e| Error::io(path, e))?;
        let sha = hashed.then(|| Sha256::new_with_prefix(header.as_bytes()));
        Self::over(path, file, header.len() as u64, sha)
    }

    /// Opens `path` to append after its first `keep` bytes, dropping the rest (rows a
    /// resumed run writes again).
    pub fn reopen(path: &Path, keep: u64, hashed: bool) -> Result<LineStream> {
        let sha = if hashed { Some(prefix_hasher(path, keep).map_err(|e| Error::io(path, e))?) } else { None };
        let mut file = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| Error::io(path, e))?;
        file.set_len(keep).map_err(|e| Error::io(path, e))?;
        file.seek(std::io::SeekFrom::End(0)).map_err(|e| Error::io(path, e))?;
        Self::over(path, file, keep, sha)
    }

    fn over(path: &Path, file: File, written: u64, sha: Option<Sha256>) -> Result<LineStream> {
        let state = Arc::new(Mutex::new(Pending {
            path: path.to_path_buf(),
            file,
            lines: String::with_capacity(FLUSH_BYTES + 4096),
            written,
            error: None,
            sha,
        }));
        let (stop, stopped) = channel::<()>();
        let shared = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("flush".into())
            .spawn(move || {
                // Nothing is ever sent: the sender's drop ends the wait with Disconnected.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(FLUSH_EVERY) {
                    lock(&shared).flush();
                }
            })
            .map_err(|e| Error::io(path, e))?;
        Ok(LineStream { state, flusher: Some((stop, thread)) })
    }

    /// The file's length once pending lines are flushed.
    pub fn written(&self) -> u64 {
        lock(&self.state).written
    }

    /// sha256 (hex) of the file's first [`written`](Self::written) bytes, when hashed.
    pub fn written_sha256(&self) -> Option<String> {
        lock(&self.state).sha.clone().map(|h| hex(&h.finalize()))
    }

    /// Appends whatever `line` writes (whole lines, ending in '\n').
    pub fn push(&mut self, line: impl FnOnce(&mut String)) {
        let mut pending = lock(&self.state);
        if pending.error.is_some() {
            return;
        }
        line(&mut pending.lines);
        if pending.lines.len() >= FLUSH_BYTES {
            pending.flush();
        }
    }

    /// Hands the pending lines to the OS now.
    pub fn flush(&mut self) {
        lock(&self.state).flush();
    }

    /// Writes what is pending; the first error of the file's life, if any.
    pub fn finish(mut self) -> Result<()> {
        self.stop_flusher();
        let mut pending = lock(&self.state);
        pending.flush();
        match pending.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn stop_flusher(&mut self) {
        if let Some((stop, thread)) = self.flusher.take() {
            drop(stop);
            // The thread only flushes; a panic there has already been reported.
            let _ = thread.join();
        }
    }
}

impl Drop for LineStream {
    /// A stream dropped without `finish` (the run failed) still ends its thread.
    fn drop(&mut self) {
        self.stop_flusher();
    }
}

/// The shared state, even after a panic elsewhere: it holds only bytes and a length.
fn lock(state: &Mutex<Pending>) -> MutexGuard<'_, Pending> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Bytes (a digest) as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of `bytes`, as lowercase hex: the one spelling of every hash a results
/// folder records or checks.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A hasher fed the first `len` bytes of `path` (streamed: metrics.csv may be large).
fn prefix_hasher(path: &Path, len: u64) -> std::io::Result<Sha256> {
    use std::io::Read;
    let mut file = File::open(path)?.take(len);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut read = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        read += n as u64;
    }
    if read < len {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("{read} bytes, not {len}")));
    }
    Ok(h)
}

/// sha256 (hex) of the first `len` bytes of `path`.
pub fn prefix_sha256(path: &Path, len: u64) -> std::io::Result<String> {
    Ok(hex(&prefix_hasher(path, len)?.finalize()))
}

/// metrics.csv as it is recorded: `step,epoch,split,<metric>…`.
pub struct MetricsStream(LineStream, DType);

impl MetricsStream {
    /// Continues the file after its first `keep` bytes.
    pub fn reopen(path: &Path, keep: u64, dtype: DType) -> Result<Self> {
        Ok(MetricsStream(LineStream::reopen(path, keep, true)?, dtype))
    }

    /// Flushes, and returns the file's length and the sha256 of its bytes.
    pub fn flushed_len(&mut self) -> (u64, Option<String>) {
        self.0.flush();
        (self.0.written(), self.0.written_sha256())
    }

    pub fn create(path: &Path, metrics: &[Metric], dtype: DType) -> Result<Self> {
        Ok(MetricsStream(LineStream::create(path, &metrics_header(metrics), true)?, dtype))
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
        Ok(ParamsStream(LineStream::reopen(path, keep, false)?, dtype))
    }

    /// Flushes, and returns the file's length.
    pub fn flushed_len(&mut self) -> u64 {
        self.0.flush();
        self.0.written()
    }

    pub fn create(path: &Path, names: &[String], dtype: DType) -> Result<Self> {
        Ok(ParamsStream(LineStream::create(path, &params_header(names), false)?, dtype))
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
        Ok(LayersStream { line: LineStream::create(path, &header, false)?, columns: columns.to_vec(), dtype })
    }

    /// Continues the file after its first `keep` bytes.
    pub fn reopen(path: &Path, keep: u64, columns: &[LayerStat], dtype: DType) -> Result<Self> {
        Ok(LayersStream { line: LineStream::reopen(path, keep, false)?, columns: columns.to_vec(), dtype })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A row recorded before a long pause (an epoch's record, the last before the
    /// next epoch) reaches the file on the timer, not at the next push.
    #[test]
    fn a_lone_row_reaches_the_file_without_another_push() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let mut s = LineStream::create(&path, "step\n", false).unwrap();
        s.push(|out| out.push_str("1\n"));
        let started = Instant::now();
        while std::fs::read_to_string(&path).unwrap() != "step\n1\n" {
            assert!(started.elapsed() < Duration::from_secs(10), "the row never reached the file");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(started.elapsed() >= Duration::from_millis(50), "flushed by the timer, not at once");
        s.push(|out| out.push_str("2\n"));
        s.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "step\n1\n2\n");
    }

    #[test]
    fn a_reopened_stream_cuts_and_appends_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let sha = |text: &str| hex(&Sha256::digest(text.as_bytes()));
        let mut s = LineStream::create(&path, "step\n", true).unwrap();
        assert_eq!(s.written_sha256(), Some(sha("step\n")));
        s.push(|out| out.push_str("1\n2\n"));
        s.flush();
        assert_eq!(s.written(), 9);
        assert_eq!(s.written_sha256(), Some(sha("step\n1\n2\n")));
        s.finish().unwrap();
        assert_eq!(prefix_sha256(&path, 7).unwrap(), sha("step\n1\n"));
        assert!(prefix_sha256(&path, 10).is_err(), "a file shorter than the prefix asked");
        // Reopened, the hash goes on from the bytes kept.
        let mut s = LineStream::reopen(&path, 7, true).unwrap();
        assert_eq!(s.written_sha256(), Some(sha("step\n1\n")));
        s.push(|out| out.push_str("3\n"));
        s.flush();
        assert_eq!(s.written_sha256(), Some(sha("step\n1\n3\n")));
        s.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "step\n1\n3\n");
    }
}
