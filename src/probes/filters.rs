//! `filters`: a conv layer's kernels as heat maps. Kernels on one or a few input
//! channels (the first layer of a grey or colour network) are drawn one per (output,
//! input) pair; deeper kernels, with many input channels, as their mean over the input
//! channels, one per output channel (a picture of 16 × 32 kernels says little).

use super::{file_stem, ProbeContext, ProbeFile};
use crate::graph::NodeOp;
use crate::plot::{map_grid, MapGrid, MapTile, Scale};
use crate::spec::ProbeSpec;

/// Input channels up to which every kernel gets its own tile (grey and RGB inputs).
const EACH_KERNEL_UP_TO: usize = 3;
/// Tiles drawn at most; the CSV has every weight.
const MAX_TILES: usize = 64;

pub fn render(probe: &ProbeSpec, ctx: &ProbeContext) -> Result<Vec<ProbeFile>, String> {
    let dag = ctx.model.dag();
    let node = match &probe.layer {
        Some(name) => dag.resolve(name)?,
        None => dag
            .nodes
            .iter()
            .position(|n| matches!(n.op, NodeOp::Conv2d { .. }))
            .ok_or("the model has no conv2d layer to draw")?,
    };
    let name = &dag.nodes[node].name;
    if !matches!(dag.nodes[node].op, NodeOp::Conv2d { .. }) {
        return Err(format!("layer `{name}` is a {}, not a conv2d layer", dag.nodes[node].op_name));
    }
    let (shape, w) = ctx.model.param(&format!("{name}.weight")).ok_or(format!("layer `{name}` has no weight"))?;
    let [out, inp, kh, kw] = shape[..] else {
        return Err(format!("layer `{name}`'s weight has shape {shape:?}, not [out, in, kh, kw]"));
    };
    let k = kh * kw;
    let kernel = |o: usize, i: usize| &w[(o * inp + i) * k..(o * inp + i + 1) * k];

    // Every weight, and the drawn means where the tiles are means.
    let mut csv = String::from("out_channel,in_channel,row,col,weight\n");
    for o in 0..out {
        for i in 0..inp {
            for (at, v) in kernel(o, i).iter().enumerate() {
                csv.push_str(&format!("{o},{i},{},{},{v}\n", at / kw, at % kw));
            }
        }
    }
    let each = inp <= EACH_KERNEL_UP_TO;
    let mut tiles = Vec::new();
    for o in 0..out {
        if each {
            for i in 0..inp {
                let caption = if inp == 1 { format!("out {o}") } else { format!("out {o}, in {i}") };
                tiles.push(MapTile { values: kernel(o, i).to_vec(), height: kh, width: kw, caption });
            }
        } else {
            let mean: Vec<f64> =
                (0..k).map(|at| (0..inp).map(|i| kernel(o, i)[at]).sum::<f64>() / inp as f64).collect();
            for (at, v) in mean.iter().enumerate() {
                csv.push_str(&format!("{o},mean,{},{},{v}\n", at / kw, at % kw));
            }
            tiles.push(MapTile { values: mean, height: kh, width: kw, caption: format!("out {o}") });
        }
    }
    let total = tiles.len();
    tiles.truncate(MAX_TILES);
    let what = if each {
        format!("{out}×{inp} kernels {kh}×{kw}")
    } else {
        format!("{out} kernels {kh}×{kw}, each the mean over its {inp} input channels")
    };
    let shown = if total > tiles.len() { format!(" ({} of {total} shown)", tiles.len()) } else { String::new() };
    let title = format!("{}: filters of {name}, {what}{shown}", ctx.run_name);
    let columns = if each && inp > 1 { inp } else { 8 };
    let png = map_grid(&MapGrid {
        title: &title,
        tiles: &tiles,
        columns,
        scale: Scale::Diverging,
        units: "weight",
        shared: true,
        row_labels: &[],
    })?;
    let stem = file_stem(probe.kind, Some(name), ctx.split);
    Ok(vec![ProbeFile::new(format!("{stem}.png"), png), ProbeFile::new(format!("{stem}.csv"), csv)])
}
