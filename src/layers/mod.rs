//! The model: a checked DAG plus its parameter buffers, and the forward pass that
//! records each layer as a composition of tape ops.

mod init;

pub use init::initial_values;

use crate::autodiff::{Tape, Var};
use crate::backend::{Backend, Element, Map, Zip};
use crate::graph::{Dag, NodeOp};
use crate::rng::StreamRng;

pub struct Model<T: Element, B: Backend<T>> {
    pub dag: Dag,
    /// One buffer per parameter, per node, in the order of `Node::params`.
    pub params: Vec<Vec<B::Buf>>,
    _t: std::marker::PhantomData<T>,
}

/// How a forward pass runs.
pub struct Mode<'r> {
    /// Training: batch-norm uses batch statistics and dropout drops.
    pub train: bool,
    /// Record gradients for the parameters.
    pub param_grads: bool,
    /// Where dropout draws its masks (needed when training with dropout).
    pub dropout: Option<&'r mut StreamRng>,
    /// Apply a ReLU whose only consumer is a max-pool after the pool instead, in one op
    /// with it (`Tape::max_pool2d_relu`): max(relu(x)) = relu(max(x)) with the same
    /// window choice, so every value and gradient downstream is the same (for inputs
    /// without NaN: a window that starts with NaN pools to NaN, then 0, where ReLU first
    /// would keep its maximum), for a quarter of the ReLU work with 2×2 windows and no
    /// pass of its own. The ReLU node's own entry in `Forward::nodes` then holds its
    /// input, so only passes that read no inner node (training steps, scoring) turn it
    /// on.
    pub pool_before_relu: bool,
}

impl Mode<'_> {
    pub fn eval() -> Mode<'static> {
        Mode { train: false, param_grads: false, dropout: None, pool_before_relu: false }
    }
}

/// Batch statistics of one batch-norm node, for its running averages.
pub struct BatchStats<Buf> {
    pub node: usize,
    pub mean: Buf,
    pub var: Buf,
    /// Values per channel in the batch (for the unbiased variance).
    pub count: usize,
}

/// The tape handles of one forward pass: one per node, and one per parameter.
pub struct Forward<Buf> {
    pub nodes: Vec<Var>,
    pub params: Vec<Vec<Var>>,
    pub batch_stats: Vec<BatchStats<Buf>>,
}

impl<T: Element, B: Backend<T>> Model<T, B> {
    /// A model with initial values drawn from `seed`, or taken from `given` (checkpoint
    /// name → values) where it has them.
    pub fn new(dag: Dag, backend: &B, seed: u64, given: Option<&std::collections::HashMap<String, Vec<f64>>>) -> Self {
        let params = dag
            .nodes
            .iter()
            .map(|node| {
                node.params
                    .iter()
                    .map(|p| {
                        let name = format!("{}.{}", node.name, p.name);
                        let values = match given.and_then(|g| g.get(&name)) {
                            Some(v) => v.clone(),
                            None => initial_values(seed, &node.name, p),
                        };
                        let host: Vec<T> = values.into_iter().map(T::from_f64).collect();
                        backend.upload(&host)
                    })
                    .collect()
            })
            .collect();
        Model { dag, params, _t: std::marker::PhantomData }
    }

    /// Every parameter as (checkpoint name, shape, buffer), in graph order.
    pub fn named_params(&self) -> Vec<(String, Vec<usize>, &B::Buf)> {
        let mut out = Vec::new();
        for (node, bufs) in self.dag.nodes.iter().zip(&self.params) {
            for (p, buf) in node.params.iter().zip(bufs) {
                out.push((format!("{}.{}", node.name, p.name), p.shape.clone(), buf));
            }
        }
        out
    }

    /// Records the whole graph on `tape` from the input `x` (batch first).
    pub fn forward(&self, tape: &mut Tape<'_, T, B>, x: Var, mode: &mut Mode) -> Forward<B::Buf> {
        let be = tape.backend();
        let mut vars: Vec<Var> = Vec::with_capacity(self.dag.nodes.len());
        let mut param_vars = Vec::with_capacity(self.dag.nodes.len());
        let mut batch_stats = Vec::new();
        let deferred_relu = if mode.pool_before_relu { self.relus_feeding_only_a_max_pool() } else { Vec::new() };
        for (index, (node, bufs)) in self.dag.nodes.iter().zip(&self.params).enumerate() {
            let pv: Vec<Var> = node
                .params
                .iter()
                .zip(bufs)
                .map(|(p, buf)| tape.leaf(be.copy(buf), p.shape.clone(), mode.param_grads && p.trainable))
                .collect();
            let input = |k: usize| vars[node.inputs[k]];
            let out = match &node.op {
                NodeOp::Input => x,
                NodeOp::Dense { bias, .. } => {
                    let y = tape.matmul(input(0), pv[0], false, true);
                    if *bias {
                        tape.add_row(y, pv[1])
                    } else {
                        y
                    }
                }
                NodeOp::Map(Map::Identity) => input(0),
                NodeOp::Map(Map::Relu) if deferred_relu.contains(&index) => input(0),
                NodeOp::Map(f) => tape.map(*f, input(0)),
                NodeOp::Softmax => tape.softmax(input(0)),
                NodeOp::Zip(f) => tape.zip(*f, input(0), input(1)),
                NodeOp::Concat => {
                    let parts: Vec<Var> = node.inputs.iter().map(|&i| vars[i]).collect();
                    tape.concat(&parts)
                }
                NodeOp::Mean => tape.mean_all(input(0)),
                NodeOp::Sum => tape.sum_all(input(0)),
                NodeOp::Conv2d { stride, padding, bias, .. } => {
                    tape.conv2d(input(0), pv[0], bias.then(|| pv[1]), *stride, *padding)
                }
                NodeOp::MaxPool2d { kernel, stride } => {
                    if deferred_relu.contains(&node.inputs[0]) {
                        tape.max_pool2d_relu(input(0), *kernel, *stride)
                    } else {
                        tape.max_pool2d(input(0), *kernel, *stride)
                    }
                }
                NodeOp::AvgPool2d { kernel, stride } => tape.avg_pool2d(input(0), *kernel, *stride),
                NodeOp::BatchNorm { eps, .. } => {
                    let x = input(0);
                    if mode.train {
                        let g = tape.channels(x);
                        let (y, mean, var) = tape.batch_norm(x, pv[0], pv[1], *eps);
                        batch_stats.push(BatchStats { node: index, mean, var, count: g.batch * g.spatial });
                        y
                    } else {
                        // γ·(x − running mean)/√(running var + eps) + β as one scale and one
                        // shift per channel (γ and β as constants: evaluation learns nothing).
                        let [gamma, beta, mean, var] = [0, 1, 2, 3].map(|k| be.download(&bufs[k]));
                        let eps = T::from_f64(*eps);
                        let scale: Vec<T> = gamma.iter().zip(&var).map(|(g, v)| *g / (*v + eps).sqrt()).collect();
                        let shift: Vec<T> =
                            beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| *b - *m * *s).collect();
                        let c = scale.len();
                        let scale = tape.leaf(be.upload(&scale), vec![c], false);
                        let shift = tape.leaf(be.upload(&shift), vec![c], false);
                        let scaled = tape.scale_channels(x, scale);
                        tape.add_channels(scaled, shift)
                    }
                }
                NodeOp::Dropout { rate } => match (mode.train, mode.dropout.as_deref_mut()) {
                    (true, Some(rng)) if *rate > 0.0 => {
                        let x = input(0);
                        let n = be.len(tape.value(x));
                        let keep = 1.0 - rate;
                        let mask: Vec<T> = (0..n)
                            .map(|_| {
                                if crate::rng::uniform(rng, 0.0, 1.0) < keep {
                                    T::from_f64(1.0 / keep)
                                } else {
                                    T::zero()
                                }
                            })
                            .collect();
                        let shape = tape.shape(x).to_vec();
                        let m = tape.leaf(be.upload(&mask), shape, false);
                        tape.zip(Zip::Mul, x, m)
                    }
                    _ => input(0),
                },
                NodeOp::Flatten => {
                    let x = input(0);
                    let rows = tape.shape(x)[0];
                    tape.reshape(x, vec![rows, node.width()])
                }
            };
            vars.push(out);
            param_vars.push(pv);
        }
        Forward { nodes: vars, params: param_vars, batch_stats }
    }

    /// The ReLU nodes (not the output) whose one consumer is a max-pool.
    fn relus_feeding_only_a_max_pool(&self) -> Vec<usize> {
        let nodes = &self.dag.nodes;
        (0..nodes.len())
            .filter(|&i| nodes[i].op == NodeOp::Map(Map::Relu) && i != self.dag.output)
            .filter(|&i| {
                let mut consumers = nodes.iter().filter(|n| n.inputs.contains(&i));
                matches!((consumers.next(), consumers.next()), (Some(c), None) if matches!(c.op, NodeOp::MaxPool2d { .. }))
            })
            .collect()
    }

    /// Folds one batch's statistics into the running averages (PyTorch's rule: the
    /// running variance uses the unbiased batch variance).
    pub fn update_running_stats(&mut self, be: &B, stats: Vec<BatchStats<B::Buf>>) {
        for s in stats {
            let NodeOp::BatchNorm { momentum, .. } = self.dag.nodes[s.node].op else { continue };
            let unbias = s.count as f64 / (s.count.max(2) - 1) as f64;
            let bufs = &mut self.params[s.node];
            let blend = |old: &B::Buf, new: &B::Buf, scale: f64| {
                let kept = be.map(Map::MulScalar(1.0 - momentum), old);
                let added = be.map(Map::MulScalar(momentum * scale), new);
                be.zip(Zip::Add, &kept, &added)
            };
            bufs[2] = blend(&bufs[2], &s.mean, 1.0);
            bufs[3] = blend(&bufs[3], &s.var, unbias);
            bufs[4] = be.map(Map::AddScalar(1.0), &bufs[4]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::Tape;
    use crate::backend::CpuBackend;

    /// ReLU then max-pool, and max-pool then ReLU: the same output and the same
    /// parameter gradients, to the bit.
    #[test]
    fn pooling_before_relu_changes_no_value_or_gradient() {
        let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/mnist_cnn.toml");
        let sets = ["data.n=16".to_string(), "data.test_n=8".to_string()];
        let p = crate::experiment::prepare(&spec, &sets, None).expect("the spec loads");
        let be = CpuBackend::new();
        let model = Model::<f32, CpuBackend>::new(p.dag.clone(), &be, 3, None);
        assert_eq!(model.relus_feeding_only_a_max_pool().len(), 2, "both conv blocks have ReLU → max-pool");
        let x: Vec<f32> = p.data.train.inputs.iter().map(|v| v as f32).collect();
        let run = |pool_before_relu: bool| {
            let mut tape = Tape::new(&be);
            let xv = tape.leaf(x.clone(), vec![16, 1, 28, 28], false);
            let mut mode = Mode { train: true, param_grads: true, dropout: None, pool_before_relu };
            let fwd = model.forward(&mut tape, xv, &mut mode);
            let out = fwd.nodes[model.dag.output];
            let value = tape.value(out).clone();
            let total = tape.sum_all(out);
            let grads = tape.backward(total);
            let param_grads: Vec<Vec<f32>> =
                fwd.params.iter().flatten().map(|v| grads.get(*v).expect("a gradient").clone()).collect();
            (value, param_grads)
        };
        assert_eq!(run(true), run(false));
    }
}
