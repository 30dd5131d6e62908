//! Scores of a model's outputs against targets, one value per requested metric.

use crate::spec::Metric;

/// What a split's outputs are scored against: the target matrix the loss sees.
pub struct Scored<'a> {
    pub outputs: &'a [f64],
    pub targets: &'a [f64],
    pub cols: usize,
    pub loss: f64,
}

pub fn score(metrics: &[Metric], s: &Scored) -> Vec<f64> {
    let counts = if metrics.iter().any(|m| matches!(m, Metric::Precision | Metric::Recall | Metric::F1)) {
        Some(confusion(s))
    } else {
        None
    };
    metrics
        .iter()
        .map(|m| match m {
            Metric::Loss => s.loss,
            Metric::Sse => sse(s),
            Metric::LogSse => sse(s).ln(),
            Metric::Accuracy => accuracy(s),
            Metric::Precision | Metric::Recall | Metric::F1 => {
                let c = counts.as_ref().map(|c| c.macro_scores()).unwrap_or_default();
                match m {
                    Metric::Precision => c.0,
                    Metric::Recall => c.1,
                    _ => c.2,
                }
            }
        })
        .collect()
}

/// Summed in eight independent lanes (combined in a fixed order) so it vectorises;
/// one chain of dependent additions is the slow part of scoring every step.
fn sse(s: &Scored) -> f64 {
    const LANES: usize = 8;
    let mut lanes = [0.0f64; LANES];
    let (outputs, targets) = (s.outputs.chunks_exact(LANES), s.targets.chunks_exact(LANES));
    let (rest_o, rest_t) = (outputs.remainder(), targets.remainder());
    for (p, t) in outputs.zip(targets) {
        for l in 0..LANES {
            lanes[l] += (p[l] - t[l]) * (p[l] - t[l]);
        }
    }
    for ((l, p), t) in lanes.iter_mut().zip(rest_o).zip(rest_t) {
        *l += (p - t) * (p - t);
    }
    lanes.iter().sum()
}

/// The class a row stands for: 0.5 threshold for one column, argmax otherwise.
fn class_of(r: &[f64]) -> usize {
    if r.len() == 1 {
        usize::from(r[0] >= 0.5)
    } else {
        r.iter().enumerate().fold((0, f64::NEG_INFINITY), |b, (i, v)| if *v > b.1 { (i, *v) } else { b }).0
    }
}

/// The predicted class of each row: 0.5 threshold for one output, argmax otherwise.
pub fn predicted_classes(outputs: &[f64], cols: usize) -> Vec<usize> {
    outputs.chunks_exact(cols).map(class_of).collect()
}

fn accuracy(s: &Scored) -> f64 {
    let rows = s.outputs.chunks_exact(s.cols).zip(s.targets.chunks_exact(s.cols));
    let total = s.outputs.len() / s.cols.max(1);
    let hits = rows.filter(|(p, t)| class_of(p) == class_of(t)).count();
    hits as f64 / total.max(1) as f64
}

/// A confusion matrix: `m[true][predicted]`.
pub struct Confusion {
    pub classes: usize,
    pub m: Vec<Vec<usize>>,
}

pub fn confusion(s: &Scored) -> Confusion {
    let classes = if s.cols == 1 { 2 } else { s.cols };
    let mut m = vec![vec![0; classes]; classes];
    for (p, t) in predicted_classes(s.outputs, s.cols).iter().zip(predicted_classes(s.targets, s.cols)) {
        m[t][*p] += 1;
    }
    Confusion { classes, m }
}

impl Confusion {
    /// (precision, recall, F1) of class c; 0 where a ratio has no denominator.
    pub fn class_scores(&self, c: usize) -> (f64, f64, f64) {
        let tp = self.m[c][c] as f64;
        let predicted: f64 = (0..self.classes).map(|t| self.m[t][c] as f64).sum();
        let actual: f64 = self.m[c].iter().sum::<usize>() as f64;
        let p = if predicted > 0.0 { tp / predicted } else { 0.0 };
        let r = if actual > 0.0 { tp / actual } else { 0.0 };
        let f = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
        (p, r, f)
    }

    /// Binary problems score the positive class (1); others average over classes.
    pub fn macro_scores(&self) -> (f64, f64, f64) {
        if self.classes == 2 {
            return self.class_scores(1);
        }
        let all: Vec<_> = (0..self.classes).map(|c| self.class_scores(c)).collect();
        let k = self.classes as f64;
        (
            all.iter().map(|s| s.0).sum::<f64>() / k,
            all.iter().map(|s| s.1).sum::<f64>() / k,
            all.iter().map(|s| s.2).sum::<f64>() / k,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_scores_count_the_positive_class() {
        // predictions 1,1,0,0,1 against 1,0,0,1,1: TP 2, FP 1, FN 1, TN 1.
        let outputs = [0.9, 0.6, 0.1, 0.4, 0.7];
        let targets = [1.0, 0.0, 0.0, 1.0, 1.0];
        let s = Scored { outputs: &outputs, targets: &targets, cols: 1, loss: 0.0 };
        let v = score(&[Metric::Accuracy, Metric::Precision, Metric::Recall, Metric::F1], &s);
        assert_eq!(v, vec![0.6, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]);
    }

    #[test]
    fn multiclass_accuracy_uses_argmax() {
        let outputs = [0.1, 0.7, 0.2, 0.5, 0.3, 0.2];
        let targets = [0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let s = Scored { outputs: &outputs, targets: &targets, cols: 3, loss: 0.0 };
        assert_eq!(score(&[Metric::Accuracy, Metric::Sse], &s)[0], 0.5);
    }
}
