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
                csv.push_str(&format!("{o},{i},{},{},{}\n", at / kw, at % kw, ctx.num(*v)));
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
                csv.push_str(&format!("{o},mean,{},{},{}\n", at / kw, at % kw, ctx.num(*v)));
            }
            tiles.push(MapTile { values: mean, height: kh, width: kw, caption: format!("out {o}") });
        }
    }
    let total = tiles.len();
    tiles.truncate(MAX_TILES);
    let what = if inp == 1 {
        format!("{out} kernels {kh}×{kw}")
    } else if each {
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

#[cfg(test)]
mod tests {
    use super::super::fixture::{column, data, files, model, png_size, spread, text};
    use crate::spec::{ProbeKind, ProbeSpec};

    /// conv1: 1 → 4 channels, conv2: 4 → 2 channels, 3×3 kernels.
    const CONVS: &str = "[[model.layers]]\nname = \"conv1\"\nop = \"conv2d\"\nchannels = 4\nkernel = 3\n\
                         [[model.layers]]\nname = \"relu1\"\nop = \"relu\"\n\
                         [[model.layers]]\nname = \"conv2\"\nop = \"conv2d\"\nchannels = 2\nkernel = 3\n";

    fn layer(name: Option<&str>) -> ProbeSpec {
        ProbeSpec { layer: name.map(String::from), ..ProbeSpec::of(ProbeKind::Filters) }
    }

    #[test]
    fn the_csv_holds_the_checkpoint_weights_and_the_drawn_means() {
        let (w1, w2) = (spread(4 * 9, 1), spread(2 * 4 * 9, 2));
        let m = model(CONVS, vec![1, 7, 7], &[("conv1.weight", w1.clone()), ("conv2.weight", w2.clone())]);
        let d = data(vec![1, 7, 7], spread(2 * 49, 3), &[0, 1], 2);
        // The default is the first conv layer: every weight in checkpoint order.
        let first = files(&layer(None), &m, &d).expect("drawn");
        let csv = text(&first, "filters_conv1.csv");
        assert_eq!(column(csv, "weight"), w1);
        let (out, row, col) = (column(csv, "out_channel"), column(csv, "row"), column(csv, "col"));
        for k in 0..w1.len() {
            assert_eq!((out[k], row[k], col[k]), ((k / 9) as f64, (k % 9 / 3) as f64, (k % 3) as f64));
        }
        let (w, h) = png_size(&first.iter().find(|f| f.name == "filters_conv1.png").expect("a picture").bytes);
        // One row of four tiles: the colour bar spans the row, so the picture is short.
        assert!((300..2000).contains(&w) && (150..2000).contains(&h), "{w} × {h}");
        assert_eq!(first, files(&layer(None), &m, &d).expect("drawn"), "the same bytes twice");

        // conv2 has 4 input channels: its tiles are means, listed after the weights.
        let second = files(&layer(Some("conv2")), &m, &d).expect("drawn");
        let csv = text(&second, "filters_conv2.csv");
        let lines: Vec<&str> = csv.lines().skip(1).collect();
        let weights: Vec<f64> =
            lines.iter().map(|l| l.rsplit(',').next().and_then(|v| v.parse().ok()).expect("a number")).collect();
        assert_eq!(weights[..w2.len()], w2[..]);
        let means: Vec<&&str> = lines.iter().filter(|l| l.split(',').nth(1) == Some("mean")).collect();
        assert_eq!(means.len(), 2 * 9);
        for (k, mean) in weights[w2.len()..].iter().enumerate() {
            let (o, at) = (k / 9, k % 9);
            let want = (0..4).map(|i| w2[(o * 4 + i) * 9 + at]).sum::<f64>() / 4.0;
            assert!((mean - want).abs() < 1e-15, "out {o}, cell {at}: {mean} vs {want}");
        }
    }

    #[test]
    fn a_missing_or_non_conv_layer_is_an_error() {
        let m = model(CONVS, vec![1, 7, 7], &[]);
        let d = data(vec![1, 7, 7], spread(49, 3), &[0], 2);
        let e = files(&layer(Some("relu1")), &m, &d).expect_err("refused");
        assert!(e.contains("`relu1` is a relu, not a conv2d layer"), "{e}");
        let e = files(&layer(Some("conv3")), &m, &d).expect_err("refused");
        assert!(e.contains("no node `conv3`"), "{e}");
        let dense = model("[[model.layers]]\nname = \"fc\"\nop = \"dense\"\nunits = 2\n", vec![3], &[]);
        let e = files(&layer(None), &dense, &data(vec![3], vec![0.0; 3], &[0], 2)).expect_err("refused");
        assert!(e.contains("no conv2d layer"), "{e}");
    }
}
