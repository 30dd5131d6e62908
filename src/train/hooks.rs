//! `[[hooks]]`: per-layer statistics of the training batch, read off the step's own
//! tape (values and gradients) and the parameters around its update, at the steps a
//! hook is due. The layers know nothing of it; steps with no hook due pay one integer
//! test.
//!
//! On a due step the forward pass places every ReLU where the graph has it
//! (`pool_before_relu: false`): in training a ReLU feeding a max-pool otherwise runs
//! after the pool, and its tape entry would hold its input. Every value and gradient
//! downstream is the same to the bit either way, so the hooks change no result.

use crate::autodiff::{Grads, Tape, Var};
use crate::backend::{Backend, Element, Map};
use crate::graph::{Dag, NodeOp};
use crate::layers::{Forward, Model};
use crate::spec::{HookSpec, LayerStat};

/// Steps between records when a hook does not say.
pub const DEFAULT_EVERY: usize = 10;

/// A hook resolved against the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// Node indices, in the order the spec names them (every node but the input by
    /// default).
    pub nodes: Vec<usize>,
    pub every: usize,
    /// What is recorded, in [`LayerStat::ALL`] order.
    pub stats: Vec<LayerStat>,
}

impl Hook {
    /// `spec`'s nodes as indices (names were checked by `graph::check_fit`; one that
    /// does not resolve is left out).
    pub fn resolve(spec: &HookSpec, dag: &Dag) -> Hook {
        let nodes = match &spec.nodes {
            Some(names) => names.iter().filter_map(|n| dag.find(n)).collect(),
            None => (0..dag.nodes.len()).filter(|&i| dag.nodes[i].op != NodeOp::Input).collect(),
        };
        let asked = spec.stats.as_deref().unwrap_or(&LayerStat::ALL);
        let stats = LayerStat::ALL.into_iter().filter(|s| asked.contains(s)).collect();
        Hook { nodes, every: spec.every.unwrap_or(DEFAULT_EVERY).max(1), stats }
    }

    /// Step 0, every `every` steps, and the last of `total`.
    pub fn due(&self, step: usize, total: usize) -> bool {
        step.is_multiple_of(self.every) || step + 1 == total
    }
}

/// The columns of layers.csv after `step,node,op`: every statistic some hook records.
pub fn columns(hooks: &[Hook]) -> Vec<LayerStat> {
    LayerStat::ALL.into_iter().filter(|s| hooks.iter().any(|h| h.stats.contains(s))).collect()
}

/// One row of layers.csv: a node's statistics at a step. `values` is indexed by
/// [`LayerStat::index`]; `None` where the statistic was not asked or does not apply.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerRow {
    pub step: usize,
    pub node: String,
    pub op: String,
    pub values: [Option<f64>; 7],
}

/// Whether any hook is due at `step`.
pub(super) fn any_due(hooks: &[Hook], step: usize, total: usize) -> bool {
    hooks.iter().any(|h| h.due(step, total))
}

/// Whether a due hook needs ∂loss/∂input to be recorded: it asks for the gradient of a
/// node whose value depends on no trained parameter (the input, a flatten of it), which
/// the tape otherwise does not differentiate.
pub(super) fn needs_input_gradient(dag: &Dag, hooks: &[Hook], step: usize, total: usize) -> bool {
    let mut learned = vec![false; dag.nodes.len()];
    for (i, node) in dag.nodes.iter().enumerate() {
        learned[i] = node.params.iter().any(|p| p.trainable) || node.inputs.iter().any(|&k| learned[k]);
    }
    hooks
        .iter()
        .filter(|h| h.due(step, total) && h.stats.contains(&LayerStat::GradNorm))
        .any(|h| h.nodes.iter().any(|&i| !learned[i]))
}

/// The statistics of a due step, taken from its tape before the update; the update
/// ratios are filled in by [`Watch::after_update`].
pub(super) struct Watch {
    rows: Vec<LayerRow>,
    /// (row, the node's trained parameters before the update, flattened) for each row
    /// that asks for the update ratio.
    before: Vec<(usize, usize, Vec<f64>)>,
}

fn to_f64<T: Element>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.as_f64()).collect()
}

/// Sequential sums in f64: the same bits on any number of threads.
fn norm(values: impl Iterator<Item = f64>) -> f64 {
    values.map(|v| v * v).sum::<f64>().sqrt()
}

/// Population mean and standard deviation (two passes, for accuracy).
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The share of units (positions of one sample) that are zero in every sample.
fn dead_share(v: &[f64], rows: usize) -> f64 {
    let rows = rows.max(1);
    let units = v.len() / rows;
    if units == 0 {
        return 0.0;
    }
    let dead = (0..units).filter(|&u| (0..rows).all(|r| v[r * units + u] == 0.0)).count();
    dead as f64 / units as f64
}

/// A node's trained parameters, flattened in order.
fn trained<T: Element, B: Backend<T>>(be: &B, model: &Model<T, B>, node: usize) -> Vec<f64> {
    let defs = &model.dag.nodes[node].params;
    defs.iter()
        .zip(&model.params[node])
        .filter(|(d, _)| d.trainable)
        .flat_map(|(_, b)| to_f64(&be.download(b)))
        .collect()
}

impl Watch {
    /// Reads every due hook's nodes off the step's tape: values, ∂loss/∂value, the
    /// parameters and their gradients (as the backward pass gave them, before any
    /// clipping).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn before_update<T: Element, B: Backend<T>>(
        be: &B,
        model: &Model<T, B>,
        tape: &Tape<'_, T, B>,
        fwd: &Forward<B::Buf>,
        grads: &Grads<B::Buf>,
        hooks: &[Hook],
        step: usize,
        total: usize,
    ) -> Watch {
        let mut watch = Watch { rows: Vec::new(), before: Vec::new() };
        for hook in hooks.iter().filter(|h| h.due(step, total)) {
            for &i in &hook.nodes {
                let node = &model.dag.nodes[i];
                let var: Var = fwd.nodes[i];
                let asks = |s: LayerStat| hook.stats.contains(&s);
                let mut values = [None; 7];
                if asks(LayerStat::Mean) || asks(LayerStat::Std) || asks(LayerStat::Dead) {
                    let v = to_f64(&be.download(tape.value(var)));
                    let (mean, std) = mean_std(&v);
                    values[LayerStat::Mean.index()] = asks(LayerStat::Mean).then_some(mean);
                    values[LayerStat::Std.index()] = asks(LayerStat::Std).then_some(std);
                    if asks(LayerStat::Dead) && node.op == NodeOp::Map(Map::Relu) {
                        let rows = if node.batched { tape.shape(var).first().copied().unwrap_or(1) } else { 1 };
                        values[LayerStat::Dead.index()] = Some(dead_share(&v, rows));
                    }
                }
                if asks(LayerStat::GradNorm) {
                    // None where the loss's gradient does not pass through the node (a
                    // final softmax or sigmoid when the loss reads the logits).
                    values[LayerStat::GradNorm.index()] =
                        grads.get(var).map(|g| norm(be.download(g).iter().map(|x| x.as_f64())));
                }
                let learned: Vec<usize> = (0..node.params.len()).filter(|&j| node.params[j].trainable).collect();
                if !learned.is_empty() {
                    let weights =
                        (asks(LayerStat::WeightNorm) || asks(LayerStat::UpdateRatio)).then(|| trained(be, model, i));
                    if asks(LayerStat::WeightNorm) {
                        values[LayerStat::WeightNorm.index()] = weights.as_ref().map(|w| norm(w.iter().copied()));
                    }
                    if asks(LayerStat::WeightGradNorm) {
                        let parts: Vec<Vec<f64>> = learned
                            .iter()
                            .filter_map(|&j| grads.get(fwd.params[i][j]).map(|g| to_f64(&be.download(g))))
                            .collect();
                        values[LayerStat::WeightGradNorm.index()] =
                            (!parts.is_empty()).then(|| norm(parts.iter().flatten().copied()));
                    }
                    if let Some(w) = weights.filter(|_| asks(LayerStat::UpdateRatio)) {
                        watch.before.push((watch.rows.len(), i, w));
                    }
                }
                watch.rows.push(LayerRow { step, node: node.name.clone(), op: node.op_name.clone(), values });
            }
        }
        watch
    }

    /// Fills in ‖after − before‖ / ‖before‖ of the update just made (no value where
    /// the parameters were all zero), and hands the rows out.
    pub(super) fn after_update<T: Element, B: Backend<T>>(mut self, be: &B, model: &Model<T, B>) -> Vec<LayerRow> {
        for (row, node, before) in &self.before {
            let after = trained(be, model, *node);
            let size = norm(before.iter().copied());
            let moved = norm(after.iter().zip(before).map(|(a, b)| a - b));
            self.rows[*row].values[LayerStat::UpdateRatio.index()] = (size > 0.0).then(|| moved / size);
        }
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_small_batch() {
        let (mean, std) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(mean, 2.5);
        assert_eq!(std, 1.25f64.sqrt());
        // Two samples of three units: unit 1 is zero in both, unit 0 only in one.
        assert_eq!(dead_share(&[0.0, 0.0, 5.0, 1.0, 0.0, 0.0], 2), 1.0 / 3.0);
        assert_eq!(norm([3.0, 4.0].into_iter()), 5.0);
    }

    #[test]
    fn hooks_are_due_at_the_first_step_every_every_steps_and_the_last() {
        let h = Hook { nodes: vec![], every: 4, stats: vec![] };
        let due: Vec<usize> = (0..10).filter(|&s| h.due(s, 10)).collect();
        assert_eq!(due, [0, 4, 8, 9]);
    }

    #[test]
    fn columns_follow_the_statistics_order_whatever_the_spec_order() {
        let a = Hook { nodes: vec![], every: 1, stats: vec![LayerStat::GradNorm] };
        let b = Hook { nodes: vec![], every: 1, stats: vec![LayerStat::Mean, LayerStat::UpdateRatio] };
        assert_eq!(columns(&[a, b]), [LayerStat::Mean, LayerStat::GradNorm, LayerStat::UpdateRatio]);
    }
}
