//! Which `[[hooks]]` statistics a node can record: `dead` is a ReLU's, the weight
//! statistics belong to nodes with trained parameters. A statistic a hook lists
//! explicitly that none of its nodes records would leave its column empty (and, alone,
//! nothing for layers.png to draw): it is refused before training.

use super::{Dag, NodeOp};
use crate::backend::Map;
use crate::spec::{HookSpec, LayerStat};

/// Whether node `i` of `dag` can record `stat`.
fn records(dag: &Dag, i: usize, stat: LayerStat) -> bool {
    let node = &dag.nodes[i];
    match stat {
        LayerStat::Dead => node.op == NodeOp::Map(Map::Relu),
        LayerStat::WeightNorm | LayerStat::WeightGradNorm | LayerStat::UpdateRatio => {
            node.params.iter().any(|p| p.trainable)
        }
        LayerStat::Mean | LayerStat::Std | LayerStat::GradNorm => true,
    }
}

/// The first statistic `hook` lists that none of its nodes records, with why:
/// (its index in `stats`, the message).
pub fn unrecordable(hook: &HookSpec, dag: &Dag) -> Option<(usize, String)> {
    let stats = hook.stats.as_ref()?;
    let nodes: Vec<usize> = match &hook.nodes {
        Some(names) => names.iter().filter_map(|n| dag.find(n)).collect(),
        None => (0..dag.nodes.len()).filter(|&i| dag.nodes[i].op != NodeOp::Input).collect(),
    };
    let (j, stat) = stats.iter().enumerate().find(|(_, &s)| !nodes.iter().any(|&i| records(dag, i, s)))?;
    let what = match stat {
        LayerStat::Dead => "is recorded for ReLU nodes",
        _ => "is recorded for nodes with trained parameters (dense, conv2d, batchnorm)",
    };
    let which = if hook.nodes.is_some() { "none of this hook's `nodes` is one" } else { "the model has none" };
    Some((j, format!("[[hooks]] stats: `{}` {what}, and {which}", stat.name())))
}
