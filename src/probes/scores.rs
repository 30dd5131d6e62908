//! A classifier's class scores, probabilities and loss gradients, whatever its last
//! layer: logits (a cross-entropy model), a softmax, or one sigmoid unit (a binary
//! model). Attributions explain a score before squashing; attacks follow the
//! cross-entropy's gradient; both read them here.

use crate::backend::Map;
use crate::graph::{Dag, NodeOp};

/// Where the scores are read and how many classes they stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scores {
    /// The node holding the scores: the output, or the input of a final softmax/sigmoid.
    pub node: usize,
    /// Values per row at `node`.
    pub width: usize,
    /// Classes: the width, or 2 for one sigmoid unit.
    pub classes: usize,
    /// The output squashes `node` (softmax or sigmoid) rather than being the logits.
    squashed: bool,
}

impl Scores {
    pub fn of(dag: &Dag) -> Scores {
        let out = &dag.nodes[dag.output];
        let squashed = matches!(out.op, NodeOp::Softmax | NodeOp::Map(Map::Sigmoid)) && out.inputs.len() == 1;
        let node = if squashed { out.inputs[0] } else { dag.output };
        let width = dag.nodes[node].width().max(1);
        Scores { node, width, classes: if width == 1 { 2 } else { width }, squashed }
    }

    /// Class probabilities (rows × classes) from the scores at `node`: softmax of
    /// logits, or [1 − p, p] for one sigmoid unit. A single unsquashed output is read as
    /// a probability already (a regression-style 0/1 model), clamped to [0, 1].
    pub fn probabilities(&self, scores: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(scores.len() / self.width * self.classes);
        for row in scores.chunks_exact(self.width) {
            if self.width == 1 {
                let p = if self.squashed { 1.0 / (1.0 + (-row[0]).exp()) } else { row[0].clamp(0.0, 1.0) };
                out.extend([1.0 - p, p]);
            } else {
                let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let exps: Vec<f64> = row.iter().map(|v| (v - max).exp()).collect();
                let sum: f64 = exps.iter().sum();
                out.extend(exps.iter().map(|e| e / sum));
            }
        }
        out
    }

    /// The seed that picks one class's score per row: one-hot, or ±1 on a single
    /// sigmoid logit (its logit is class 1's score against class 0).
    pub fn class_seed(&self, classes: &[usize]) -> Vec<f64> {
        let mut seed = vec![0.0; classes.len() * self.width];
        for (row, &c) in classes.iter().enumerate() {
            if self.width == 1 {
                seed[row] = if c == 1 { 1.0 } else { -1.0 };
            } else if c < self.width {
                seed[row * self.width + c] = 1.0;
            }
        }
        seed
    }

    /// ∂(Σ cross-entropy)/∂scores for true `labels`: p − onehot(label) per row (for one
    /// sigmoid unit, p − y on its logit).
    pub fn loss_seed(&self, scores: &[f64], labels: &[usize]) -> Vec<f64> {
        let p = self.probabilities(scores);
        let mut seed = Vec::with_capacity(scores.len());
        for (row, &y) in labels.iter().enumerate() {
            let probs = &p[row * self.classes..(row + 1) * self.classes];
            if self.width == 1 {
                seed.push(probs[1] - if y == 1 { 1.0 } else { 0.0 });
            } else {
                seed.extend(probs.iter().enumerate().map(|(c, q)| q - if c == y { 1.0 } else { 0.0 }));
            }
        }
        seed
    }
}

/// The most probable class of each row of probabilities (rows × classes).
pub fn argmax_rows(probs: &[f64], classes: usize) -> Vec<usize> {
    probs
        .chunks_exact(classes.max(1))
        .map(|r| r.iter().enumerate().fold((0, f64::NEG_INFINITY), |b, (i, v)| if *v > b.1 { (i, *v) } else { b }).0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(width: usize, squashed: bool) -> Scores {
        Scores { node: 0, width, classes: if width == 1 { 2 } else { width }, squashed }
    }

    #[test]
    fn probabilities_and_seeds_of_logits_and_of_a_sigmoid_unit() {
        let s = scores(3, false);
        let p = s.probabilities(&[0.0, 0.0, 0.0]);
        assert!(p.iter().all(|v| (v - 1.0 / 3.0).abs() < 1e-15));
        assert_eq!(s.class_seed(&[2, 0]), [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        let g = s.loss_seed(&[0.0, 0.0, 0.0], &[1]);
        assert!((g[1] + 2.0 / 3.0).abs() < 1e-15 && (g[0] - 1.0 / 3.0).abs() < 1e-15);
        let b = scores(1, true);
        assert_eq!(b.probabilities(&[0.0]), [0.5, 0.5]);
        assert_eq!(b.class_seed(&[0, 1]), [-1.0, 1.0]);
        assert_eq!(b.loss_seed(&[0.0], &[1]), [-0.5]);
        assert_eq!(argmax_rows(&[0.2, 0.8, 0.6, 0.4], 2), [1, 0]);
    }
}
