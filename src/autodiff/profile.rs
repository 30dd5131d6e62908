//! `RUNNER_PROFILE=1`: where the training steps' time goes, op by op. The tape takes a
//! lap at every op it records and every op backward passes through, the training loop
//! at the batch and the update, and the run ends with a table on stderr (time, calls,
//! time per call, share), largest first. Nothing is written to the results folder, so
//! the files stay the same bytes. Ops on the tape run one after another on the calling
//! thread (each may use every core inside), so the laps add up to the steps' time.
//! Off (the default), a lap costs one test of a flag read once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

/// Whether `RUNNER_PROFILE` is set to anything but "" or "0".
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("RUNNER_PROFILE").is_ok_and(|v| !v.is_empty() && v != "0"))
}

#[derive(Default)]
struct Laps {
    /// When the last lap ended; None outside a step (that time is not counted).
    since: Option<Instant>,
    /// Seconds and calls per label.
    totals: HashMap<String, (f64, u64)>,
}

thread_local! {
    static LAPS: RefCell<Laps> = RefCell::new(Laps::default());
}

/// Starts counting: a step begins.
pub fn start() {
    if enabled() {
        LAPS.with(|l| l.borrow_mut().since = Some(Instant::now()));
    }
}

/// Stops counting until the next `start` (recording, scoring, the end of a step).
pub fn pause() {
    if enabled() {
        LAPS.with(|l| l.borrow_mut().since = None);
    }
}

/// The time since the last lap goes to `label` (made only when profiling).
pub fn lap(label: impl FnOnce() -> String) {
    if !enabled() {
        return;
    }
    LAPS.with(|l| {
        let mut l = l.borrow_mut();
        let Some(since) = l.since else { return };
        let now = Instant::now();
        let entry = l.totals.entry(label()).or_default();
        entry.0 += (now - since).as_secs_f64();
        entry.1 += 1;
        l.since = Some(now);
    });
}

/// The table of what was counted on this thread (None when profiling is off or nothing
/// was counted), and the counts cleared.
pub fn report() -> Option<String> {
    if !enabled() {
        return None;
    }
    let totals = LAPS.with(|l| std::mem::take(&mut l.borrow_mut().totals));
    table(totals)
}

fn table(totals: HashMap<String, (f64, u64)>) -> Option<String> {
    let sum: f64 = totals.values().map(|t| t.0).sum();
    if totals.is_empty() || sum <= 0.0 {
        return None;
    }
    let mut rows: Vec<(String, (f64, u64))> = totals.into_iter().collect();
    rows.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
    let mut out = format!("profile (RUNNER_PROFILE): {:.1} ms counted\n", sum * 1e3);
    out += &format!("{:>10}  {:>7}  {:>9}  {:>6}  what\n", "ms", "calls", "ms/call", "share");
    for (label, (seconds, calls)) in rows {
        out += &format!(
            "{:>10.1}  {:>7}  {:>9.3}  {:>5.1}%  {}\n",
            seconds * 1e3,
            calls,
            seconds * 1e3 / calls as f64,
            100.0 * seconds / sum,
            label
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_labels_by_time_with_calls_and_shares() {
        let totals =
            HashMap::from([("forward conv [2, 4]".to_string(), (0.003, 3)), ("batch".to_string(), (0.001, 1))]);
        let text = table(totals).expect("a table");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "profile (RUNNER_PROFILE): 4.0 ms counted");
        assert!(lines[2].ends_with("forward conv [2, 4]"), "{text}");
        assert!(lines[2].contains("  3  ") && lines[2].contains("1.000") && lines[2].contains("75.0%"), "{text}");
        assert!(lines[3].ends_with("batch") && lines[3].contains("25.0%"), "{text}");
        assert_eq!(table(HashMap::new()), None);
    }
}
