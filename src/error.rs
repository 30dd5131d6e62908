//! Library errors. Each names where and what; `main` renders one once and exits.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Spec(#[from] SpecError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Data(String),
    #[error("the run diverged at step {step}: the loss became {value}. Status `diverged`; metrics so far are in {}", dir.display())]
    Diverged { step: usize, value: f64, dir: PathBuf },
    #[error("{0}")]
    Usage(String),
    /// A compute backend's first failure (out of memory, a failed launch), at a sync point.
    #[error("{0}")]
    Backend(#[from] crate::backend::BackendError),
    #[error("{source}\nThe run's folder is kept with status `failed` and this error in its manifest: {}", dir.display())]
    RunFailed { source: Box<Error>, dir: PathBuf },
    #[error("{source}\nThe run's folder is kept, with what it wrote before the error, but without a manifest (could not be written; is the disk full?): {}", dir.display())]
    RunFailedUnrecorded { source: Box<Error>, dir: PathBuf },
    #[error("cannot resume {}: {reason}", dir.display())]
    Resume { dir: PathBuf, reason: String },
    /// `runner diff` found values beyond tolerance (its report is on standard output).
    #[error("{0}")]
    RunsDiffer(String),
    #[error("interrupted by {} after {steps} step{}; status `interrupted`, its files are in {}", signal_name(*signal), if *steps == 1 { "" } else { "s" }, dir.display())]
    Interrupted { signal: i32, steps: usize, dir: PathBuf },
    #[error("stopped by {} while drawing probes: {} not drawn; the run is complete in {}, and `runner probe {}` draws them", signal_name(*signal), kinds.join(", "), dir.display(), dir.display())]
    ProbesSkipped { signal: i32, kinds: Vec<String>, dir: PathBuf },
}

fn signal_name(signal: i32) -> String {
    match signal {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        s => format!("signal {s}"),
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// The message as printed, with a last guard on its length: a 60,000-character data
    /// path or CSV column name echoed whole would bury it. Each line keeps at most 240
    /// characters, the whole at most 3,000 bytes; short messages pass unchanged.
    pub fn rendered(&self) -> String {
        const LINE_CHARS: usize = 240;
        const TOTAL_BYTES: usize = 3000;
        let message = self.to_string();
        if message.len() <= TOTAL_BYTES {
            return message;
        }
        let mut out = String::new();
        for line in message.lines().map(|l| clip(l, LINE_CHARS)) {
            if out.len() + line.len() + 1 > TOTAL_BYTES {
                out.push('…');
                break;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&line);
        }
        out
    }

    /// The process exit code for this error: 1 for runs that differ (`runner diff`), 3
    /// for a run that diverged, 128 + the signal for an interrupted run (130 for SIGINT,
    /// 143 for SIGTERM), 2 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Diverged { .. } => 3,
            Error::RunFailed { source, .. } | Error::RunFailedUnrecorded { source, .. } => source.exit_code(),
            Error::Interrupted { signal, .. } | Error::ProbesSkipped { signal, .. } => 128 + signal,
            Error::RunsDiffer(_) => 1,
            _ => 2,
        }
    }
}

/// An error at a place in a spec file, rendered as `file:line:col: message` with the line
/// and a caret under the column. An error in a `--set` value has `line` 0 and names the
/// argument as its `file`, since it has no place in the file.
#[derive(Debug, Clone)]
pub struct SpecError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub source_line: String,
    /// The column of the caret in `source_line` (which may be a cut of a long line).
    pub caret_col: usize,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file, self.message);
        }
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.message)?;
        if !self.source_line.is_empty() {
            let gutter = self.line.to_string().len();
            write!(
                f,
                "\n{:gutter$} |\n{} | {}\n{:gutter$} | {}^",
                "",
                self.line,
                self.source_line,
                "",
                " ".repeat(self.caret_col.saturating_sub(1))
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// The text of a spec file, to turn byte spans into line and column. `overrides` are the
/// command-line edits (`--set k=v`, `--unset k`, `--seed N`); a span at or past
/// [`Source::override_base`] falls in one of them (see [`Source::override_span`]).
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub file: String,
    pub text: String,
    pub overrides: Vec<String>,
}

/// The most of a source line an error shows: a 50 MB line is cut around the column.
const SHOWN_LINE_CHARS: usize = 120;
/// The most of one backticked name or value an error message repeats.
const SHOWN_QUOTE_CHARS: usize = 60;

impl Source {
    pub fn new(file: impl Into<String>, text: impl Into<String>) -> Source {
        Source { file: file.into(), text: text.into(), overrides: vec![] }
    }

    /// Where the spans of command-line overrides start: past the end of the text.
    pub fn override_base(&self) -> usize {
        self.text.len() + 1
    }

    /// The span that stands for override `i` in errors: one block of `1 << 20` offsets each.
    pub fn override_span(&self, i: usize) -> std::ops::Range<usize> {
        let start = self.override_base() + (i << 20);
        start..start + (1 << 20)
    }

    pub fn error(&self, span: Option<std::ops::Range<usize>>, message: impl Into<String>) -> SpecError {
        let message = clip_quotes(&message.into());
        let Some(span) = span else {
            return SpecError {
                file: self.file.clone(),
                line: 0,
                col: 0,
                message,
                source_line: String::new(),
                caret_col: 0,
            };
        };
        if span.start >= self.override_base() {
            let i = (span.start - self.override_base()) >> 20;
            let arg = self.overrides.get(i).map(String::as_str).unwrap_or("a command-line override");
            return SpecError {
                file: clip(arg, SHOWN_LINE_CHARS),
                line: 0,
                col: 0,
                message,
                source_line: String::new(),
                caret_col: 0,
            };
        }
        let mut start = span.start.min(self.text.len());
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = self.text[line_start..start].chars().count() + 1;
        let rest = &self.text[line_start..];
        let whole_line = rest.split(['\n', '\r']).next().unwrap_or("");
        let (source_line, caret_col) = window(whole_line, col);
        SpecError { file: self.file.clone(), line, col, message, source_line, caret_col }
    }
}

/// The part of `line` an error shows: all of it when short, else `SHOWN_LINE_CHARS`
/// characters around `col` with `…` where it was cut. Returns the text and the column of
/// `col` inside it.
fn window(line: &str, col: usize) -> (String, usize) {
    let n = line.chars().count();
    if n <= SHOWN_LINE_CHARS {
        return (line.to_string(), col);
    }
    let half = SHOWN_LINE_CHARS / 2;
    let from = col.saturating_sub(1).saturating_sub(half).min(n.saturating_sub(SHOWN_LINE_CHARS));
    let shown: String = line.chars().skip(from).take(SHOWN_LINE_CHARS).collect();
    let head = if from > 0 { "…" } else { "" };
    let tail = if from + SHOWN_LINE_CHARS < n { "…" } else { "" };
    (format!("{head}{shown}{tail}"), col - from + head.chars().count())
}

/// `s` cut to `max` characters, with `…` where it was cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let kept: String = s.chars().take(max).collect();
        format!("{kept}…")
    }
}

/// Every backticked part of a message cut to `SHOWN_QUOTE_CHARS`, so a 64k-character
/// layer name or key is not echoed back whole.
fn clip_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4096));
    for (i, part) in message.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(&clip(part, SHOWN_QUOTE_CHARS));
        } else {
            out.push_str(&clip(part, 4 * SHOWN_LINE_CHARS));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_run_counts_its_steps_in_words() {
        let stopped = |steps| Error::Interrupted { signal: 15, steps, dir: PathBuf::from("/r/xor/run") }.to_string();
        assert!(stopped(1).contains("after 1 step;"), "{}", stopped(1));
        assert!(stopped(2).contains("after 2 steps;"), "{}", stopped(2));
        assert_eq!(Error::Interrupted { signal: 15, steps: 2, dir: "/r".into() }.exit_code(), 143);
    }
}
