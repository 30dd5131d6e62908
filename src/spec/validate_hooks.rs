//! Per-field checks of `[[hooks]]` entries: the cadence is a whole number of steps,
//! and the lists, when given, are non-empty and name nothing twice. Whether the nodes
//! exist and the run trains by steps is checked against the graph in `graph::fit`.

use super::probe::HookSpec;
use super::validate::Check;
use crate::error::Result;

/// Steps between records: more than this is a typo (the first and last steps are
/// recorded anyway, so a huge value means "only those").
pub const MAX_HOOK_EVERY: usize = 1 << 40;

pub(super) fn validate_hook(c: &Check, i: usize, h: &HookSpec) -> Result<()> {
    let base = format!("hooks.{i}");
    if let Some(every) = h.every {
        c.ensure((1..=MAX_HOOK_EVERY).contains(&every), &format!("{base}.every"), || {
            let bound = if every == 0 { "at least 1".to_string() } else { format!("at most {MAX_HOOK_EVERY} (2^40)") };
            format!("[[hooks]] `every` (steps between records) must be {bound}, found {every}")
        })?;
    }
    if let Some(nodes) = &h.nodes {
        c.ensure(!nodes.is_empty(), &format!("{base}.nodes"), || {
            "[[hooks]] `nodes` is empty; leave it out to watch every node but the input".into()
        })?;
        if let Some((_, j)) = super::validate::repeated(nodes) {
            return Err(c.fail(&format!("{base}.nodes.{j}"), format!("[[hooks]] `nodes` lists `{}` twice", nodes[j])));
        }
    }
    if let Some(stats) = &h.stats {
        c.ensure(!stats.is_empty(), &format!("{base}.stats"), || {
            "[[hooks]] `stats` is empty; leave it out to record every statistic".into()
        })?;
        if let Some((_, j)) = super::validate::repeated(stats) {
            let name = stats[j].name();
            return Err(c.fail(&format!("{base}.stats.{j}"), format!("[[hooks]] `stats` lists `{name}` twice")));
        }
    }
    Ok(())
}

/// A node is watched by one `[[hooks]]` table at most: two would write its rows twice
/// into layers.csv. A table without `nodes` watches every node.
pub(super) fn no_node_twice(c: &Check, hooks: &[&HookSpec]) -> Result<()> {
    for (j, later) in hooks.iter().enumerate() {
        for (i, earlier) in hooks[..j].iter().enumerate() {
            let shared = match (&earlier.nodes, &later.nodes) {
                (Some(a), Some(b)) => b.iter().find(|n| a.contains(n)).map(|n| format!("`{n}`")),
                // A table without `nodes` watches every node but the input.
                (None, Some(listed)) | (Some(listed), None) => listed
                    .iter()
                    .find(|n| *n != crate::graph::INPUT)
                    .map(|n| format!("`{n}` (a table without `nodes` watches every node but the input)")),
                (None, None) => Some("every node (neither table lists its `nodes`)".to_string()),
            };
            if let Some(shared) = shared {
                let at = if later.nodes.is_some() { format!("hooks.{j}.nodes") } else { format!("hooks.{j}") };
                return Err(c.fail(
                    &at,
                    format!(
                        "[[hooks]] tables {} and {} both watch {shared}; a node's rows would repeat in layers.csv \
                         (give each table its own nodes)",
                        i + 1,
                        j + 1
                    ),
                ));
            }
        }
    }
    Ok(())
}
