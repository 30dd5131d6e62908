//! The backend's fallible boundary without a `Result` on every op: a sticky error.
//! The first failure an op meets (out of memory, a failed launch, a lost device) is
//! kept; every op after it does no work and returns a placeholder of the right length,
//! and [`Backend::check`](super::Backend::check) hands the kept error to whoever is at a
//! sync point (a training step's end, a metrics record, a file about to be written).
//! One check per step instead of a `?` after each of hundreds of ops, and no op ever
//! panics because a device failed.

use std::fmt;
use std::sync::OnceLock;

/// What failed first, in one line: the backend, the op and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError {
    /// `cuda`, `cpu`, or a test backend's name.
    pub backend: &'static str,
    /// The op (kernel symbol where there is one, e.g. `conv2d_f32`).
    pub op: String,
    /// What failed, e.g. "out of memory allocating 1.2 GB for the output".
    pub message: String,
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} backend failed in {}: {}", self.backend, self.op, self.message)
    }
}

impl std::error::Error for BackendError {}

/// The first error since the backend was made. Thread-safe; later errors are dropped
/// (they are usually consequences of the first).
#[derive(Debug, Default)]
pub struct Sticky {
    first: OnceLock<BackendError>,
}

impl Sticky {
    pub fn new() -> Self {
        Sticky::default()
    }

    /// True while no op has failed.
    pub fn ok(&self) -> bool {
        self.first.get().is_none()
    }

    /// Keeps `e` unless an error is already kept.
    pub fn record(&self, e: BackendError) {
        let _ = self.first.set(e);
    }

    /// The kept error, if any.
    pub fn get(&self) -> Option<&BackendError> {
        self.first.get()
    }

    pub fn check(&self) -> Result<(), BackendError> {
        match self.first.get() {
            None => Ok(()),
            Some(e) => Err(e.clone()),
        }
    }

    /// Runs `work` unless an error is kept; its error is kept. `None` when it did not
    /// run or failed: the caller then returns its placeholder.
    pub fn run<R>(&self, work: impl FnOnce() -> Result<R, BackendError>) -> Option<R> {
        if !self.ok() {
            return None;
        }
        match work() {
            Ok(r) => Some(r),
            Err(e) => {
                self.record(e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(op: &str) -> BackendError {
        BackendError { backend: "test", op: op.into(), message: format!("{op} broke") }
    }

    #[test]
    fn the_first_error_sticks_and_later_work_is_skipped() {
        let s = Sticky::new();
        assert!(s.ok());
        assert_eq!(s.run(|| Ok(3)), Some(3));
        assert_eq!(s.check(), Ok(()));
        assert_eq!(s.run::<i32>(|| Err(err("matmul_f32"))), None);
        let mut ran = false;
        assert_eq!(
            s.run(|| {
                ran = true;
                Ok(1)
            }),
            None
        );
        assert!(!ran, "work after an error must not run");
        s.record(err("later"));
        let e = s.check().unwrap_err();
        assert_eq!(e.op, "matmul_f32");
        assert_eq!(e.to_string(), "the test backend failed in matmul_f32: matmul_f32 broke");
        assert!(!s.ok());
    }

    #[test]
    fn the_error_becomes_a_typed_run_error() {
        let e: crate::error::Error = err("conv2d_f64").into();
        assert!(matches!(e, crate::error::Error::Backend(_)));
        assert_eq!(e.exit_code(), 2);
        assert!(e.rendered().contains("conv2d_f64 broke"));
    }
}
