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
    #[error("{source}\nThe run's folder is kept with status `failed` and this error in its manifest: {}", dir.display())]
    RunFailed { source: Box<Error>, dir: PathBuf },
    /// `runner diff` found values beyond tolerance (its report is on standard output).
    #[error("{0}")]
    RunsDiffer(String),
    #[error("interrupted by {} after {steps} steps; status `interrupted`, its files are in {}", signal_name(*signal), dir.display())]
    Interrupted { signal: i32, steps: usize, dir: PathBuf },
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

    /// The process exit code for this error: 1 for runs that differ (`runner diff`), 3
    /// for a run that diverged, 128 + the signal for an interrupted run (130 for SIGINT,
    /// 143 for SIGTERM), 2 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Diverged { .. } => 3,
            Error::RunFailed { source, .. } => source.exit_code(),
            Error::Interrupted { signal, .. } => 128 + signal,
            Error::RunsDiffer(_) => 1,
            _ => 2,
        }
    }
}

/// An error at a place in a spec file, rendered as `file:line:col: message` with the line
/// and a caret under the column.
#[derive(Debug, Clone)]
pub struct SpecError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub source_line: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
                " ".repeat(self.col.saturating_sub(1))
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// The text of a spec file, to turn byte spans into line and column.
#[derive(Debug, Clone)]
pub struct Source {
    pub file: String,
    pub text: String,
}

impl Source {
    pub fn error(&self, span: Option<std::ops::Range<usize>>, message: impl Into<String>) -> SpecError {
        let start = span.map(|s| s.start.min(self.text.len())).unwrap_or(0);
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = self.text[line_start..start].chars().count() + 1;
        let source_line = self.text[line_start..].lines().next().unwrap_or("").to_string();
        SpecError { file: self.file.clone(), line, col, message: message.into(), source_line }
    }
}
