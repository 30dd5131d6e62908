//! What a comparison found: per file, how many values were compared, how many moved
//! within the tolerance and how many beyond it, and the worst one.

use super::tolerance::{Agreement, Tol};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every value within tolerance (exit 0).
    Same,
    /// Some value beyond it (exit 1).
    Different,
    /// The runs cannot be compared, with the reasons (exit 2).
    Incomparable,
}

impl Verdict {
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Same => 0,
            Verdict::Different => 1,
            Verdict::Incomparable => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Identical,
    Within,
    Different,
    /// Changed, but only as a consequence of values that moved within tolerance
    /// (a picture, or a file kept only by hash); not a difference of its own.
    Noted,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Identical => "identical",
            Status::Within => "within tolerance",
            Status::Different => "DIFFERENT",
            Status::Noted => "changed (follows values)",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Where: `step 10 train`, `line 4`, `conv1.weight[12]`.
    pub at: String,
    pub column: String,
    pub a: String,
    pub b: String,
    pub abs_diff: f64,
    pub allowed: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub file: String,
    /// metrics, final_metrics, csv, tensors, image, hash, bytes.
    pub kind: &'static str,
    pub compared: usize,
    /// Values not bit-identical but within tolerance.
    pub within: usize,
    pub beyond: usize,
    pub max_abs_diff: f64,
    /// The value furthest beyond the tolerance, else the largest difference.
    pub worst: Option<Cell>,
    pub detail: Option<String>,
    pub status: Status,
}

impl Item {
    pub fn new(file: &str, kind: &'static str) -> Item {
        Item {
            file: file.to_string(),
            kind,
            compared: 0,
            within: 0,
            beyond: 0,
            max_abs_diff: 0.0,
            worst: None,
            detail: None,
            status: Status::Identical,
        }
    }

    /// Records one numeric value; `at` and `column` are built only when needed.
    pub fn value(&mut self, a: f64, b: f64, tol: Tol, place: impl FnOnce() -> (String, String)) {
        self.compared += 1;
        let agreement = super::tolerance::agree(a, b, tol);
        if agreement == Agreement::Identical {
            return;
        }
        let diff = if a.is_nan() || b.is_nan() { f64::INFINITY } else { (a - b).abs() };
        let beyond = agreement == Agreement::Beyond;
        if beyond {
            self.beyond += 1;
        } else {
            self.within += 1;
        }
        self.max_abs_diff = self.max_abs_diff.max(diff);
        self.offer(diff, tol.bound(b), place, a.to_string(), b.to_string());
    }

    /// Records one text cell: equal or different.
    pub fn text(&mut self, a: &str, b: &str, place: impl FnOnce() -> (String, String)) {
        self.compared += 1;
        if a != b {
            self.beyond += 1;
            self.offer(f64::INFINITY, 0.0, place, a.to_string(), b.to_string());
        }
    }

    fn offer(&mut self, diff: f64, allowed: f64, place: impl FnOnce() -> (String, String), a: String, b: String) {
        // Ranked by how far past its allowance a value is: |Δ| / allowed.
        let score = |d: f64, allowed: f64| {
            if allowed > 0.0 {
                d / allowed
            } else if d > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        };
        let better = match &self.worst {
            None => true,
            Some(w) => {
                let (new, old) = (score(diff, allowed), score(w.abs_diff, w.allowed));
                new > old || (new == old && diff > w.abs_diff)
            }
        };
        if better {
            let (at, column) = place();
            self.worst = Some(Cell { at, column, a, b, abs_diff: diff, allowed });
        }
    }

    pub fn finish(mut self) -> Item {
        self.status = if self.beyond > 0 {
            Status::Different
        } else if self.within > 0 {
            Status::Within
        } else {
            Status::Identical
        };
        self
    }
}

/// One pair of runs compared.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The pair's name inside a sweep (empty for two runs).
    pub pair: String,
    pub a: String,
    pub b: String,
    pub verdict: Verdict,
    /// Why the runs could not be compared.
    pub reasons: Vec<String>,
    /// `cpu/avx512` and the like, per run.
    pub engine_a: String,
    pub engine_b: String,
    /// Set when the runs ran different CPU paths, kernels or backends.
    pub engine_note: Option<String>,
    /// Set when the specs differ in settings (seed, learning rate, …): the values are
    /// compared, and differ because of them.
    pub settings_note: Option<String>,
    pub tolerance: String,
    pub items: Vec<Item>,
    /// Per-name tolerances no compared value goes by (see [`super::names`]).
    #[serde(skip)]
    pub unknown_names: Vec<super::names::UnknownName>,
}

impl Report {
    pub fn incomparable(pair: &str, a: &str, b: &str, reasons: Vec<String>) -> Report {
        Report {
            pair: pair.to_string(),
            a: a.to_string(),
            b: b.to_string(),
            verdict: Verdict::Incomparable,
            reasons,
            engine_a: String::new(),
            engine_b: String::new(),
            engine_note: None,
            settings_note: None,
            tolerance: String::new(),
            items: vec![],
            unknown_names: vec![],
        }
    }

    pub fn settle(&mut self) {
        self.verdict = if !self.reasons.is_empty() {
            Verdict::Incomparable
        } else if self.items.iter().any(|i| i.status == Status::Different) {
            Verdict::Different
        } else {
            Verdict::Same
        };
    }
}

/// Everything `runner diff` compared: one pair, or a sweep's pairs.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    pub a: String,
    pub b: String,
    /// Reasons that concern the whole (runs only in one sweep).
    pub reasons: Vec<String>,
    pub pairs: Vec<Report>,
}

impl Outcome {
    pub fn settle(&mut self) {
        let worst = self.pairs.iter().map(|p| p.verdict).max().unwrap_or(Verdict::Same);
        self.verdict = if self.reasons.is_empty() { worst } else { Verdict::Incomparable };
    }

    pub fn differing_values(&self) -> usize {
        self.pairs
            .iter()
            .flat_map(|p| &p.items)
            .filter(|i| i.status == Status::Different)
            .map(|i| i.beyond.max(1))
            .sum()
    }
}
