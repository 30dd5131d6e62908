//! `activations`: the feature maps of chosen layers for chosen samples, one picture per
//! layer (rows: samples, columns: channels), read through [`Inspect::values`] so a
//! ReLU shows its true output wherever training placed it.
//!
//! [`Inspect::values`]: crate::inspect::Inspect::values

use super::{file_stem, ProbeContext, ProbeFile};
use crate::data::Dataset;
use crate::graph::{Dag, NodeOp};
use crate::plot::{map_grid, MapGrid, MapTile, Scale};
use crate::spec::ProbeSpec;

/// Samples a probe of single samples looks at when the spec names none.
pub(super) const DEFAULT_IMAGES: usize = 8;
/// Channels drawn per layer; the CSV has every channel.
const MAX_CHANNELS: usize = 16;
/// Samples drawn per picture; CSVs have every chosen sample.
pub(super) const MAX_DRAWN: usize = 16;

/// The spec's `images`, each checked against the split, or the first `default` samples.
pub(super) fn chosen_samples(
    probe: &ProbeSpec,
    d: &Dataset,
    split: &str,
    default: usize,
) -> Result<Vec<usize>, String> {
    match &probe.images {
        Some(list) if list.is_empty() => Err("images: the list is empty".into()),
        Some(list) => match list.iter().find(|&&i| i >= d.len()) {
            Some(i) => Err(format!("images: index {i} is out of range; the {split} split has {} samples", d.len())),
            None => Ok(list.clone()),
        },
        None if d.is_empty() => Err(format!("the {split} split has no samples")),
        None => Ok((0..d.len().min(default)).collect()),
    }
}

/// A sample's true label as text: its class, or its target values.
pub(super) fn true_label(d: &Dataset, i: usize) -> String {
    let t = d.target_row(i);
    match (d.classes, t) {
        (Some(_), [c]) => format!("{}", *c as usize),
        (_, []) => "?".into(),
        _ => t.iter().map(|v| format!("{v:.3}")).collect::<Vec<_>>().join(" "),
    }
}

/// Nodes drawn by default: every conv, ReLU and pool with per-sample maps [c, h, w].
pub(super) fn default_layers(dag: &Dag) -> Vec<usize> {
    (0..dag.nodes.len())
        .filter(|&i| {
            let n = &dag.nodes[i];
            let kind = matches!(
                n.op,
                NodeOp::Conv2d { .. }
                    | NodeOp::Map(crate::backend::Map::Relu)
                    | NodeOp::MaxPool2d { .. }
                    | NodeOp::AvgPool2d { .. }
            );
            kind && n.batched && n.shape.len() == 3
        })
        .collect()
}

pub fn render(probe: &ProbeSpec, ctx: &ProbeContext) -> Result<Vec<ProbeFile>, String> {
    let dag = ctx.model.dag();
    let d = ctx.data;
    let split = ctx.split.name();
    let nodes = match &probe.layers {
        Some(names) if names.is_empty() => return Err("layers: the list is empty".into()),
        Some(names) => names.iter().map(|n| dag.resolve(n)).collect::<Result<Vec<_>, _>>()?,
        None => default_layers(dag),
    };
    if nodes.is_empty() {
        return Err("the model has no conv, ReLU or pool layer with feature maps [c, h, w]; name `layers`".into());
    }
    for &i in &nodes {
        let n = &dag.nodes[i];
        if !n.batched || n.shape.len() != 3 {
            return Err(format!("layer `{}` has per-sample shape {:?}, not feature maps [c, h, w]", n.name, n.shape));
        }
    }
    let samples = chosen_samples(probe, d, split, DEFAULT_IMAGES)?;
    let rows: Vec<f64> = samples.iter().flat_map(|&i| d.input_row(i).into_owned()).collect();
    let values = ctx.model.values(&rows, &nodes);
    let mut files = Vec::new();
    for (&node, v) in nodes.iter().zip(&values) {
        let n = &dag.nodes[node];
        let (c, h, w) = (n.shape[0], n.shape[1], n.shape[2]);
        let map = |s: usize, ch: usize| &v[(s * c + ch) * h * w..(s * c + ch + 1) * h * w];
        // Per sample and channel a summary only: the full maps of a few layers over a
        // handful of images would be hundreds of thousands of rows. The PNG shows them.
        let mut csv = String::from("image,true,channel,mean,max,zero_share\n");
        for (s, &i) in samples.iter().enumerate() {
            let label = true_label(d, i);
            for ch in 0..c {
                let m = map(s, ch);
                let mean = m.iter().sum::<f64>() / m.len().max(1) as f64;
                let max = m.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let zeros = m.iter().filter(|x| **x == 0.0).count() as f64 / m.len().max(1) as f64;
                csv.push_str(&format!("{i},{label},{ch},{},{},{}\n", ctx.num(mean), ctx.num(max), ctx.num(zeros)));
            }
        }
        let shown = c.min(MAX_CHANNELS);
        let drawn = &samples[..samples.len().min(MAX_DRAWN)];
        let mut tiles = Vec::with_capacity(drawn.len() * shown);
        for s in 0..drawn.len() {
            for ch in 0..shown {
                tiles.push(MapTile { values: map(s, ch).to_vec(), height: h, width: w, caption: format!("ch {ch}") });
            }
        }
        let labels: Vec<String> = drawn.iter().map(|&i| format!("#{i} (true {})", true_label(d, i))).collect();
        let mut notes = Vec::new();
        if shown < c {
            notes.push(format!("{shown} of {c} channels shown"));
        }
        if drawn.len() < samples.len() {
            notes.push(format!("{} of {} images shown", drawn.len(), samples.len()));
        }
        let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join(", ")) };
        let title = format!("{}: activations of {} ({}), {split} images{notes}", ctx.run_name, n.name, n.op_name);
        let png = map_grid(&MapGrid {
            title: &title,
            tiles: &tiles,
            columns: shown,
            scale: Scale::Sequential,
            units: &format!("{} output", n.name),
            shared: true,
            row_labels: &labels,
        })?;
        let stem = file_stem(probe.kind, Some(&n.name), ctx.split);
        files.push(ProbeFile::new(format!("{stem}.png"), png));
        files.push(ProbeFile::new(format!("{stem}.csv"), csv));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{column, data, files, model, png_size, spread, text, with_context};
    use crate::spec::{ProbeKind, ProbeSpec};

    const NET: &str = "[[model.layers]]\nname = \"conv1\"\nop = \"conv2d\"\nchannels = 3\nkernel = 3\npadding = 1\n\
                       [[model.layers]]\nname = \"relu1\"\nop = \"relu\"\n\
                       [[model.layers]]\nname = \"pool1\"\nop = \"maxpool2d\"\nkernel = 2\n\
                       [[model.layers]]\nname = \"flat\"\nop = \"flatten\"\n\
                       [[model.layers]]\nname = \"fc\"\nop = \"dense\"\nunits = 2\n";

    #[test]
    fn a_relu_layer_shows_its_true_outputs() {
        let m = model(NET, vec![1, 6, 6], &[]);
        let d = data(vec![1, 6, 6], spread(3 * 36, 4), &[0, 1, 0], 2);
        let made = files(&ProbeSpec::of(ProbeKind::Activations), &m, &d).expect("drawn");
        let names: Vec<&str> = made.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "activations_conv1_test.png",
                "activations_conv1_test.csv",
                "activations_relu1_test.png",
                "activations_relu1_test.csv",
                "activations_pool1_test.png",
                "activations_pool1_test.csv"
            ]
        );
        let csv = text(&made, "activations_relu1_test.csv");
        let (mean, max, zeros) = (column(csv, "mean"), column(csv, "max"), column(csv, "zero_share"));
        let (conv, relu) = with_context(&m, &d, |ctx| {
            let dag = ctx.model.dag();
            let nodes = [dag.resolve("conv1").expect("conv1"), dag.resolve("relu1").expect("relu1")];
            let mut v = ctx.model.values(&d.inputs.values(), &nodes);
            (v.remove(0), v.remove(0))
        });
        // The ReLU node holds max(conv, 0), even though a max-pool follows it.
        assert_eq!(relu, conv.iter().map(|v| v.max(0.0)).collect::<Vec<f64>>());
        assert!(zeros.iter().any(|z| *z > 0.0) && zeros.iter().all(|z| *z < 1.0), "{zeros:?}");
        for (k, map) in relu.chunks(36).enumerate() {
            assert!((mean[k] - map.iter().sum::<f64>() / 36.0).abs() < 1e-15, "map {k}");
            assert_eq!(max[k], map.iter().copied().fold(f64::NEG_INFINITY, f64::max), "map {k}");
            assert_eq!(zeros[k], map.iter().filter(|v| **v == 0.0).count() as f64 / 36.0, "map {k}");
            assert!(map.iter().all(|v| *v >= 0.0));
        }
        let png = &made[2].bytes;
        let (w, h) = png_size(png);
        assert!((300..3000).contains(&w) && (200..2000).contains(&h), "{w} × {h}");
        assert_eq!(made, files(&ProbeSpec::of(ProbeKind::Activations), &m, &d).expect("drawn"), "the same bytes");
    }

    #[test]
    fn channels_beyond_sixteen_are_left_out_of_the_picture_not_the_csv() {
        let wide = NET.replace("channels = 3", "channels = 20");
        let m = model(&wide, vec![1, 6, 6], &[]);
        let d = data(vec![1, 6, 6], spread(2 * 36, 5), &[0, 1], 2);
        let p = ProbeSpec {
            layers: Some(vec!["conv1".into()]),
            images: Some(vec![1]),
            ..ProbeSpec::of(ProbeKind::Activations)
        };
        let made = files(&p, &m, &d).expect("drawn");
        assert_eq!(made.len(), 2);
        // 16 columns of 6 × 6 maps at zoom 12 (72 px) in 108-pixel columns, after the
        // row labels (120) and before the colour bar (120): 20 columns would be 2400.
        assert_eq!(png_size(&made[0].bytes).0, 120 + 16 * 108 + 120);
        let csv = text(&made, "activations_conv1_test.csv");
        assert_eq!(column(csv, "channel"), (0..20).map(f64::from).collect::<Vec<f64>>());
        assert!(column(csv, "image").iter().all(|i| *i == 1.0));
    }

    #[test]
    fn bad_layers_and_images_are_errors() {
        let m = model(NET, vec![1, 6, 6], &[]);
        let d = data(vec![1, 6, 6], spread(2 * 36, 6), &[0, 1], 2);
        let with = |layers: Option<Vec<&str>>, images: Option<Vec<usize>>| {
            let layers = layers.map(|l| l.into_iter().map(String::from).collect());
            files(&ProbeSpec { layers, images, ..ProbeSpec::of(ProbeKind::Activations) }, &m, &d).expect_err("refused")
        };
        assert!(with(Some(vec!["fc"]), None).contains("not feature maps [c, h, w]"));
        assert!(with(Some(vec!["relu"]), None).contains("did you mean"));
        assert!(with(None, Some(vec![2])).contains("index 2 is out of range; the test split has 2 samples"));
    }
}
