//! Scores of a model's outputs against targets, one value per requested metric.

use crate::spec::Metric;

/// What a split's outputs are scored against: the target matrix the loss sees.
pub struct Scored<'a> {
    pub outputs: &'a [f64],
    pub targets: &'a [f64],
    pub cols: usize,
    pub loss: f64,
    /// Each output is its own yes/no label (`multi_label`), not one class of a row.
    pub multi_label: bool,
}

/// Whether a model's outputs are scored as independent labels: several sigmoid
/// outputs against a 0/1 target matrix (not class ids). Then accuracy is the fraction
/// of outputs right at the 0.5 threshold, and precision, recall and F1 are each
/// label's (its 1s the positives) averaged over the labels, as torchmetrics' multilabel
/// scores; argmax would score each row as one class.
pub fn multi_label(dag: &crate::graph::Dag, classes: Option<usize>) -> bool {
    let out = &dag.nodes[dag.output];
    classes.is_none() && out.width() > 1 && out.op == crate::graph::NodeOp::Map(crate::backend::Map::Sigmoid)
}

pub fn score(metrics: &[Metric], s: &Scored) -> Vec<f64> {
    let scores = if !metrics.iter().any(|m| matches!(m, Metric::Precision | Metric::Recall | Metric::F1)) {
        None
    } else if s.multi_label {
        Some(label_scores(s))
    } else if s.cols == 1 {
        // One output is a yes/no classifier: its positive class's scores, as
        // scikit-learn's binary default (classes.csv lists both classes and their mean).
        Some(confusion(s).class_scores(1))
    } else {
        Some(confusion(s).macro_scores())
    };
    metrics
        .iter()
        .map(|m| match m {
            Metric::Loss => s.loss,
            Metric::Sse => sse(s),
            Metric::LogSse => sse(s).ln(),
            Metric::Accuracy => accuracy(s),
            Metric::Precision | Metric::Recall | Metric::F1 => {
                let c = scores.unwrap_or_default();
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
    if s.multi_label {
        let hits = s.outputs.iter().zip(s.targets).filter(|(p, t)| (**p >= 0.5) == (**t >= 0.5)).count();
        return hits as f64 / s.outputs.len().max(1) as f64;
    }
    let rows = s.outputs.chunks_exact(s.cols).zip(s.targets.chunks_exact(s.cols));
    let total = s.outputs.len() / s.cols.max(1);
    let hits = rows.filter(|(p, t)| class_of(p) == class_of(t)).count();
    hits as f64 / total.max(1) as f64
}

/// Multi-label (precision, recall, F1): each label's scores with its 1s as the
/// positives (0.5 threshold), averaged over the labels that occur in the targets or the
/// predictions.
fn label_scores(s: &Scored) -> (f64, f64, f64) {
    let cols = s.cols.max(1);
    let rows = || s.outputs.chunks_exact(cols).zip(s.targets.chunks_exact(cols));
    let per_label: Vec<Confusion> = (0..cols)
        .map(|j| {
            let mut m = vec![vec![0; 2]; 2];
            for (p, t) in rows() {
                m[usize::from(t[j] >= 0.5)][usize::from(p[j] >= 0.5)] += 1;
            }
            Confusion { classes: 2, m }
        })
        .collect();
    let present: Vec<(f64, f64, f64)> = per_label.iter().filter(|c| c.occurs(1)).map(|c| c.class_scores(1)).collect();
    average(&present)
}

/// The mean of each of (precision, recall, F1) over `scores`; zeros for none.
fn average(scores: &[(f64, f64, f64)]) -> (f64, f64, f64) {
    let k = scores.len().max(1) as f64;
    (
        scores.iter().map(|s| s.0).sum::<f64>() / k,
        scores.iter().map(|s| s.1).sum::<f64>() / k,
        scores.iter().map(|s| s.2).sum::<f64>() / k,
    )
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

    /// Whether class c is among the true or the predicted classes.
    pub fn occurs(&self, c: usize) -> bool {
        self.m[c].iter().any(|n| *n > 0) || (0..self.classes).any(|t| self.m[t][c] > 0)
    }

    /// The macro average over the classes that occur among the true or the predicted
    /// classes (scikit-learn's default set of labels): a class in neither has no
    /// precision or recall to count, and would pull the mean towards 0.
    pub fn macro_scores(&self) -> (f64, f64, f64) {
        let present: Vec<_> = (0..self.classes).filter(|c| self.occurs(*c)).map(|c| self.class_scores(c)).collect();
        average(&present)
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
        let s = Scored { outputs: &outputs, targets: &targets, cols: 1, loss: 0.0, multi_label: false };
        let v = score(&[Metric::Accuracy, Metric::Precision, Metric::Recall, Metric::F1], &s);
        assert_eq!(v, vec![0.6, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]);
    }

    /// Two softmax columns are two classes: the macro average (classes.csv's `macro`
    /// row), not class 1's alone. Truth 0,0,0,1,1, predicted 0,0,1,1,0: class 0 has P R
    /// F1 2/3, class 1 has 1/2.
    #[test]
    fn two_class_columns_are_macro_averaged() {
        let outputs = [0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.4, 0.6, 0.6, 0.4];
        let targets = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
        let s = Scored { outputs: &outputs, targets: &targets, cols: 2, loss: 0.0, multi_label: false };
        let v = score(&[Metric::Precision, Metric::Recall, Metric::F1], &s);
        let mean = (2.0 / 3.0 + 0.5) / 2.0;
        assert!(v.iter().all(|x| (x - mean).abs() < 1e-15), "{v:?}");
    }

    /// A class neither true nor predicted anywhere is left out of the macro average:
    /// truth 0,1,1 and predictions 0,1,0 over 3 classes average classes 0 and 1 only.
    #[test]
    fn macro_averages_leave_out_classes_that_never_occur() {
        let outputs = [0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.8, 0.1, 0.1];
        let targets = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0];
        let s = Scored { outputs: &outputs, targets: &targets, cols: 3, loss: 0.0, multi_label: false };
        let v = score(&[Metric::Precision, Metric::Recall], &s);
        // class 0: P 1/2, R 1; class 1: P 1, R 1/2.
        assert_eq!(v, vec![0.75, 0.75]);
    }

    /// Several sigmoid outputs are labels: every thresholded output right is accuracy
    /// 1 and precision, recall and F1 1, where argmax per row scored 0.4 (a row whose
    /// labels are [1, 1, 0] is no single class).
    #[test]
    fn multi_label_outputs_are_scored_label_by_label() {
        let outputs = [0.9, 0.8, 0.1, 0.2, 0.7, 0.6, 0.1, 0.2, 0.3, 0.6, 0.1, 0.9, 0.4, 0.45, 0.2];
        let targets = [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0];
        let s = Scored { outputs: &outputs, targets: &targets, cols: 3, loss: 0.0, multi_label: true };
        let v = score(&[Metric::Accuracy, Metric::Precision, Metric::Recall, Metric::F1], &s);
        assert_eq!(v, vec![1.0, 1.0, 1.0, 1.0]);
        // One label wrong in one row: 14 of 15 outputs right; label 2 then has P 2/3.
        let mut wrong = outputs;
        wrong[14] = 0.7;
        let s = Scored { outputs: &wrong, targets: &targets, cols: 3, loss: 0.0, multi_label: true };
        let v = score(&[Metric::Accuracy, Metric::Precision, Metric::Recall], &s);
        assert_eq!(v, vec![14.0 / 15.0, (1.0 + 1.0 + 2.0 / 3.0) / 3.0, 1.0]);
    }

    #[test]
    fn multiclass_accuracy_uses_argmax() {
        let outputs = [0.1, 0.7, 0.2, 0.5, 0.3, 0.2];
        let targets = [0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let s = Scored { outputs: &outputs, targets: &targets, cols: 3, loss: 0.0, multi_label: false };
        assert_eq!(score(&[Metric::Accuracy, Metric::Sse], &s)[0], 0.5);
    }
}
