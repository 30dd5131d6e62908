//! Shape inference and parameters of the image layers: conv2d, pools, batchnorm,
//! dropout and flatten. Images are [channels, height, width] per sample.

use super::{checked_size, shape_str, Fail, Node, NodeOp, ParamDef, ParamInit};
use crate::spec::{InitKind, InitSpec, LayerOp, LayerSpec};

fn image_dims(what: &str, first: &Node) -> Result<(usize, usize, usize), Fail> {
    match first.shape[..] {
        [c, h, w] => Ok((c, h, w)),
        _ => Err((
            "op".into(),
            format!(
                "{what} needs an image input [channels, height, width]; `{}` has shape {}",
                first.name,
                shape_str(first)
            ),
        )),
    }
}

/// Output size of a window of `k` with `stride` over `n` values padded by `pad` each side.
/// Zero sizes and absurd paddings are refused by validation; this still never divides by
/// zero or overflows.
fn windows(what: &str, n: usize, k: usize, stride: usize, pad: usize) -> Result<usize, Fail> {
    let padded = pad.checked_mul(2).and_then(|p| p.checked_add(n)).unwrap_or(usize::MAX);
    if k == 0 || stride == 0 {
        return Err(("kernel".into(), format!("{what}: `kernel` and `stride` must be at least 1")));
    }
    if k > padded {
        return Err(("kernel".into(), format!("{what}: a window of {k} does not fit in {n} values (padding {pad})")));
    }
    Ok((padded - k) / stride + 1)
}

fn constant(value: f64) -> ParamInit {
    ParamInit::Random(InitSpec { kind: InitKind::Constant, low: None, high: None, std: None, value: Some(value) })
}

pub fn build(l: &LayerSpec, what: &str, first: &Node, node: &mut Node) -> Result<(), Fail> {
    match l.op {
        LayerOp::Conv2d => {
            let (c, h, w) = image_dims(what, first)?;
            let (channels, kernel) = (l.channels.unwrap_or(1), l.kernel.unwrap_or(1));
            let (stride, padding) = (l.stride.unwrap_or(1), l.padding.unwrap_or(0));
            let oh = windows(what, h, kernel, stride, padding)?;
            let ow = windows(what, w, kernel, stride, padding)?;
            let bias = l.bias.unwrap_or(true);
            checked_size(what, &[channels, c, kernel, kernel])?;
            checked_size(what, &[channels, oh, ow])?;
            node.op = NodeOp::Conv2d { channels, kernel, stride, padding, bias };
            node.shape = vec![channels, oh, ow];
            let fans = (c * kernel * kernel, channels * kernel * kernel);
            let init = ParamInit::Random(l.init.clone().unwrap_or_else(super::torch_init));
            let weight = ParamDef {
                name: "weight".into(),
                shape: vec![channels, c, kernel, kernel],
                init,
                fans,
                trainable: true,
            };
            node.params.push(weight);
            if bias {
                node.params.push(ParamDef {
                    name: "bias".into(),
                    shape: vec![channels],
                    init: super::default_bias_init(l),
                    fans,
                    trainable: true,
                });
            }
        }
        LayerOp::MaxPool2d | LayerOp::AvgPool2d => {
            let (c, h, w) = image_dims(what, first)?;
            let kernel = l.kernel.unwrap_or(2);
            let stride = l.stride.unwrap_or(kernel);
            node.shape = vec![c, windows(what, h, kernel, stride, 0)?, windows(what, w, kernel, stride, 0)?];
            node.op = if l.op == LayerOp::MaxPool2d {
                NodeOp::MaxPool2d { kernel, stride }
            } else {
                NodeOp::AvgPool2d { kernel, stride }
            };
        }
        // Batch-norm on a flat input normalises each feature; on a scalar there is nothing to do.
        LayerOp::BatchNorm if first.shape.is_empty() => {
            return Err(("op".into(), format!("{what} needs a batched input; `{}` is a scalar", first.name)))
        }
        LayerOp::BatchNorm => {
            let c = first.shape.first().copied().unwrap_or(1);
            node.op = NodeOp::BatchNorm { momentum: l.momentum.unwrap_or(0.1), eps: l.eps.unwrap_or(1e-5) };
            let def = |name: &str, shape: Vec<usize>, init, trainable| ParamDef {
                name: name.into(),
                shape,
                init,
                fans: (c, c),
                trainable,
            };
            node.params.push(def("weight", vec![c], constant(1.0), true));
            node.params.push(def("bias", vec![c], ParamInit::Zeros, true));
            node.params.push(def("running_mean", vec![c], ParamInit::Zeros, false));
            node.params.push(def("running_var", vec![c], constant(1.0), false));
            node.params.push(def("num_batches_tracked", vec![], ParamInit::Zeros, false));
        }
        LayerOp::Dropout => node.op = NodeOp::Dropout { rate: l.rate.unwrap_or(0.5) },
        LayerOp::Flatten => {
            node.op = NodeOp::Flatten;
            node.shape = vec![checked_size(what, &first.shape)?];
        }
        _ => return Err(("op".into(), format!("{what} is not an image layer"))),
    }
    Ok(())
}
