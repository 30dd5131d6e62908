//! What the training loop tells the outside world while it runs, and how the outside
//! world asks it to stop: an observer passed in, instead of more arguments to `train`.

use super::{LayerRow, Record, Snapshot};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Sees every record as it is made (the loop itself keeps only a bounded summary),
/// progress, and whether to stop. Every method has a do-nothing default.
pub trait Observer {
    /// A metric row, in the order the rows belong in metrics.csv.
    fn record(&mut self, _record: &Record) {}
    /// Every parameter value, flattened in graph order, after `step` updates.
    fn params(&mut self, _step: usize, _values: &[f64]) {}
    /// The `[[hooks]]` rows of one step, in the order they belong in layers.csv.
    fn layers(&mut self, _rows: &[LayerRow]) {}
    fn progress(&mut self, _step: usize, _total: usize, _loss: f64) {}
    /// Checked once per step: `true` ends training after the step in progress.
    fn stop_requested(&self) -> bool {
        false
    }
    /// Whether [`Observer::checkpoint`] is wanted (building a snapshot downloads every
    /// parameter, so the loop asks first).
    fn wants_checkpoints(&self) -> bool {
        false
    }
    /// A resume checkpoint between two steps: every `checkpoint_every` steps, and when
    /// training stops because a stop was requested.
    fn checkpoint(&mut self, _snapshot: &Snapshot) {}
}

/// An observer that ignores everything.
impl Observer for () {}

/// A request to stop, set from a signal handler (the CLI registers it) or a test.
/// Cloning shares the request.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    requested: Arc<AtomicBool>,
    /// The signal number that asked, 0 when none did.
    signal: Arc<AtomicUsize>,
    /// True until training begins: while the spec and data are read there is no work to
    /// keep, so a signal then takes its default action (the process ends at once)
    /// instead of waiting for a step that may be minutes of loading away.
    preparing: Arc<AtomicBool>,
}

impl Interrupt {
    /// A request not yet made, in the preparing phase.
    pub fn new() -> Self {
        let i = Self::default();
        i.preparing.store(true, Ordering::SeqCst);
        i
    }

    /// The condition for a signal's default action
    /// (`signal_hook::flag::register_conditional_default`): true until training begins.
    pub fn preparing_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.preparing)
    }

    /// From here a signal stops the run after its current step, keeping its work.
    pub fn training_begins(&self) {
        self.preparing.store(false, Ordering::SeqCst);
    }

    /// The flag a signal handler sets (`signal_hook::flag::register`).
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.requested)
    }

    /// Where a signal handler stores its signal number (`signal_hook::flag::register_usize`).
    pub fn signal_slot(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.signal)
    }

    /// Asks the run to stop, as `signal` would.
    pub fn request(&self, signal: i32) {
        self.signal.store(usize::try_from(signal).unwrap_or(0), Ordering::SeqCst);
        self.requested.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        // Relaxed: the flag carries no data, and the next step's check sees it anyway.
        self.requested.load(Ordering::Relaxed)
    }

    /// The signal that asked to stop, when one did.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => i32::try_from(s).ok(),
        }
    }
}
