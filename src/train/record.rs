//! What the loop records: metric rows per split, parameter paths, throughput.

use super::{evaluate, split_data, Evaluation, LossPlan};
use crate::backend::{Backend, Element};
use crate::data::Splits;
use crate::layers::Model;
use crate::metrics::{score, Scored};
use crate::spec::{Metric, Split};

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub step: usize,
    pub epoch: usize,
    pub split: Split,
    pub values: Vec<f64>,
}

/// What to record, and how often.
pub struct Recording<'a> {
    pub metrics: &'a [Metric],
    pub splits: &'a [Split],
    /// Evaluate the splits every N steps (and after the last).
    pub every: Option<usize>,
    /// Evaluate the splits after every epoch.
    pub per_epoch: bool,
    /// Score the training batch itself every N steps.
    pub batch_every: Option<usize>,
    pub params: bool,
}

/// Most records of one split kept in memory for the pictures. Up to this many, every
/// record is kept (so the pictures of every shipped experiment are unchanged); past it,
/// every other one is dropped and the spacing doubles, so a run of any length holds at
/// most this many per split (~80 bytes each, ~2.6 MB per split) plus each split's last.
/// metrics.csv, written as records are made, always has every record.
pub const KEPT_RECORDS: usize = 1 << 15;

/// What the loop observed, for pictures and the manifest: a bounded, evenly thinned
/// sample of the records and parameter paths (every record goes to the observer, and
/// from it to metrics.csv), the last record of each split, and throughput.
#[derive(Debug, Default)]
pub struct History {
    pub metrics: Vec<Metric>,
    /// Every record while a split has at most [`KEPT_RECORDS`]; past that an evenly
    /// spaced sample of them, plus the split's last record once training ends.
    pub records: Vec<Record>,
    /// The latest record of each split.
    pub last: Vec<Record>,
    /// (step, every parameter value flattened in graph order), when asked for; thinned
    /// as `records` is.
    pub params: Vec<(usize, Vec<f64>)>,
    /// Steps run (the planned number unless the run diverged or was interrupted).
    pub steps: usize,
    /// Set when the loss stopped being finite: (step, value).
    pub diverged: Option<(usize, f64)>,
    /// Set when training stopped early because the observer asked it to.
    pub interrupted: bool,
    /// Seconds in training steps and the samples they processed.
    pub train_seconds: f64,
    pub train_samples: usize,
    /// Seconds in evaluation forward passes and the samples they processed.
    pub eval_seconds: f64,
    pub eval_samples: usize,
    /// The target matrix of each recorded split, built once.
    targets: Vec<(Split, Vec<f64>)>,
    /// The outputs are independent labels (`metrics::multi_label`).
    multi_label: bool,
    /// Records made since the observer last saw them.
    fresh: Vec<Record>,
    fresh_params: Option<(usize, Vec<f64>)>,
    thinning: Vec<(Split, Thinning)>,
    params_thinning: Thinning,
    /// The run's dtype: records hold their values as that type has them (an f32 run's
    /// metrics rounded to f32), so the CSVs, which write each value in the run's dtype,
    /// read back to the very values a resumed run would have had.
    dtype: crate::backend::DType,
}

/// Keeps record number 0, s, 2s, … of a series; doubles s whenever the kept ones fill
/// [`KEPT_RECORDS`].
#[derive(Debug, Clone, Copy)]
struct Thinning {
    seen: usize,
    stride: usize,
    kept: usize,
}

impl Default for Thinning {
    fn default() -> Self {
        Thinning { seen: 0, stride: 1, kept: 0 }
    }
}

impl Thinning {
    /// Whether the next item of the series is kept; `halve` is called first when the
    /// kept ones are full and must drop every other one.
    fn admit(&mut self, halve: impl FnOnce()) -> bool {
        let index = self.seen;
        self.seen += 1;
        if !index.is_multiple_of(self.stride) {
            return false;
        }
        if self.kept == KEPT_RECORDS {
            // The kept items are numbers 0, s, …, (KEPT−1)·s; keeping every other one
            // leaves 0, 2s, 4s, …, and this one (KEPT·s) is on that new grid too.
            halve();
            self.kept = KEPT_RECORDS / 2;
            self.stride *= 2;
        }
        self.kept += 1;
        true
    }
}

/// Keeps every other item (the 1st, 3rd, …) of those `pick` selects; the rest stay.
fn drop_every_other<T>(items: &mut Vec<T>, pick: impl Fn(&T) -> bool) {
    let mut k = 0usize;
    items.retain(|item| {
        if !pick(item) {
            return true;
        }
        k += 1;
        k % 2 == 1
    });
}

impl History {
    pub fn new<T: Element, B: Backend<T>>(model: &Model<T, B>, data: &Splits, plan: &Recording) -> Self {
        let out_width = model.dag.nodes[model.dag.output].width();
        let targets =
            plan.splits.iter().filter_map(|&s| split_data(data, s).map(|d| (s, d.target_matrix(out_width)))).collect();
        let multi_label = crate::metrics::multi_label(&model.dag, data.train.classes);
        History { metrics: plan.metrics.to_vec(), targets, multi_label, dtype: T::DTYPE, ..Default::default() }
    }

    /// Hands the records made since the last call to the observer, and keeps the
    /// bounded summary of them.
    pub fn publish(&mut self, observer: &mut dyn super::Observer) {
        for mut r in std::mem::take(&mut self.fresh) {
            r.values.iter_mut().for_each(|v| *v = crate::results::in_dtype(*v, self.dtype));
            observer.record(&r);
            let split = r.split;
            let at = match self.thinning.iter().position(|(s, _)| *s == split) {
                Some(i) => i,
                None => {
                    self.thinning.push((split, Thinning::default()));
                    self.thinning.len() - 1
                }
            };
            let records = &mut self.records;
            if self.thinning[at].1.admit(|| drop_every_other(records, |x| x.split == split)) {
                self.records.push(r.clone());
            }
            match self.last.iter_mut().find(|x| x.split == split) {
                Some(last) => *last = r,
                None => self.last.push(r),
            }
        }
        if let Some((step, mut values)) = self.fresh_params.take() {
            values.iter_mut().for_each(|v| *v = crate::results::in_dtype(*v, self.dtype));
            observer.params(step, &values);
            let params = &mut self.params;
            if self.params_thinning.admit(|| drop_every_other(params, |_| true)) {
                self.params.push((step, values));
            }
        }
    }

    /// Takes a record written before a checkpoint back into the bounded summary, as
    /// if it had just been made (the thinning then keeps exactly what it kept before).
    pub fn replay(&mut self, record: Record) {
        self.fresh.push(record);
        self.publish(&mut ());
    }

    /// Takes a parameter row written before a checkpoint back, as [`History::replay`].
    pub fn replay_params(&mut self, step: usize, values: Vec<f64>) {
        self.fresh_params = Some((step, values));
        self.publish(&mut ());
    }

    /// Adds each split's last record to the thinned sample when thinning left it out,
    /// so the pictures end where training ended.
    pub fn close(&mut self) {
        for last in &self.last {
            let kept = self.records.iter().rev().find(|r| r.split == last.split);
            if kept.is_some_and(|r| r.step != last.step || r.epoch != last.epoch) {
                self.records.push(last.clone());
            }
        }
    }

    /// Training images (samples) per second.
    pub fn train_rate(&self) -> Option<f64> {
        (self.train_seconds > 0.0).then(|| self.train_samples as f64 / self.train_seconds)
    }

    /// Inference samples per second in evaluation passes.
    pub fn eval_rate(&self) -> Option<f64> {
        (self.eval_seconds > 0.0).then(|| self.eval_samples as f64 / self.eval_seconds)
    }

    /// Scores the training batch of this step from its own (training-mode) outputs.
    pub fn record_batch(
        &mut self,
        step: usize,
        epoch: usize,
        outputs: &[f64],
        targets: &[f64],
        cols: usize,
        loss: f64,
    ) {
        let values = score(&self.metrics, &Scored { outputs, targets, cols, loss, multi_label: self.multi_label });
        self.fresh.push(Record { step, epoch, split: Split::Batch, values });
    }

    /// Scores every requested split at `step` (reusing `train_eval` for the train split
    /// when the step's own forward pass already covered it).
    #[allow(clippy::too_many_arguments)]
    pub fn record<T: Element, B: Backend<T>>(
        &mut self,
        be: &B,
        model: &Model<T, B>,
        data: &Splits,
        plan: &Recording,
        loss: &LossPlan,
        step: usize,
        epoch: usize,
        mut train_eval: Option<Evaluation>,
    ) {
        let out_width = model.dag.nodes[model.dag.output].width();
        let kept = self.fresh.len();
        for (split, targets) in &self.targets {
            let Some(d) = split_data(data, *split) else { continue };
            let ev = match (train_eval.take(), split) {
                (Some(ev), Split::Train) => ev,
                _ => {
                    let start = std::time::Instant::now();
                    let ev = evaluate(be, model, d, loss);
                    self.eval_seconds += start.elapsed().as_secs_f64();
                    self.eval_samples += d.len();
                    ev
                }
            };
            let scored =
                Scored { outputs: &ev.outputs, targets, cols: out_width, loss: ev.loss, multi_label: self.multi_label };
            let values = score(&self.metrics, &scored);
            self.fresh.push(Record { step, epoch, split: *split, values });
        }
        if plan.params {
            self.fresh_params = Some((step, super::flat_params(be, model)));
        }
        // Values computed after a backend error are placeholders: keep none of them.
        if be.check().is_err() {
            self.fresh.truncate(kept);
            self.fresh_params = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts what it is shown.
    #[derive(Default)]
    struct Count(usize);

    impl crate::train::Observer for Count {
        fn record(&mut self, _: &Record) {
            self.0 += 1;
        }
    }

    #[test]
    fn a_long_history_stays_bounded_evenly_spaced_and_ends_at_the_last_record() {
        let mut h = History::default();
        let mut seen = Count::default();
        let n = 5 * KEPT_RECORDS + 123;
        for step in 0..n {
            for split in [Split::Train, Split::Test] {
                h.fresh.push(Record { step, epoch: 0, split, values: vec![step as f64] });
            }
            h.publish(&mut seen);
        }
        h.close();
        assert_eq!(seen.0, 2 * n, "the observer sees every record");
        for split in [Split::Train, Split::Test] {
            let steps: Vec<usize> = h.records.iter().filter(|r| r.split == split).map(|r| r.step).collect();
            assert!(steps.len() <= KEPT_RECORDS + 1 && steps.len() > KEPT_RECORDS / 2, "{} kept", steps.len());
            assert_eq!(steps[0], 0);
            assert_eq!(*steps.last().unwrap(), n - 1, "the last record is drawn");
            let gaps: Vec<usize> = steps.windows(2).map(|w| w[1] - w[0]).collect();
            let stride = gaps[0];
            assert_eq!(stride, 8, "5·KEPT records thin to every 8th");
            assert!(gaps[..gaps.len() - 1].iter().all(|&g| g == stride), "evenly spaced");
            assert_eq!(h.last.iter().find(|r| r.split == split).map(|r| r.step), Some(n - 1));
        }
    }

    #[test]
    fn a_short_history_keeps_every_record() {
        let mut h = History::default();
        for step in 0..1000 {
            h.fresh.push(Record { step, epoch: 0, split: Split::Train, values: vec![] });
            h.publish(&mut ());
        }
        h.close();
        assert_eq!(h.records.iter().map(|r| r.step).collect::<Vec<_>>(), (0..1000).collect::<Vec<_>>());
    }
}
