//! The model: a checked DAG plus its parameter buffers, and the forward pass that
//! records each layer as a composition of tape ops.

use crate::autodiff::{Tape, Var};
use crate::backend::{Backend, Element, Map};
use crate::graph::{Dag, NodeOp, ParamDef, ParamInit};
use crate::rng;
use crate::spec::InitKind;

pub struct Model<T: Element, B: Backend<T>> {
    pub dag: Dag,
    /// One buffer per parameter, per node, in the order of `Node::params`.
    pub params: Vec<Vec<B::Buf>>,
    _t: std::marker::PhantomData<T>,
}

/// The tape handles of one forward pass: one per node, and one per parameter.
pub struct Forward {
    pub nodes: Vec<Var>,
    pub params: Vec<Vec<Var>>,
}

/// Initial values of a parameter. Each parameter draws from its own stream
/// (`init/<layer>.<param>`), so adding a layer never changes another's weights.
pub fn initial_values(seed: u64, layer: &str, p: &ParamDef) -> Vec<f64> {
    let n: usize = p.shape.iter().product();
    let mut r = rng::stream(seed, &format!("init/{layer}.{}", p.name));
    let (fan_in, fan_out) = p.fans;
    match &p.init {
        ParamInit::Given(v) => v.clone(),
        ParamInit::Zeros => vec![0.0; n],
        ParamInit::Random(spec) => match spec.kind {
            InitKind::Zeros => vec![0.0; n],
            InitKind::Constant => vec![spec.value.unwrap_or(0.0); n],
            InitKind::Uniform => {
                let (lo, hi) = (spec.low.unwrap_or(-1.0), spec.high.unwrap_or(1.0));
                (0..n).map(|_| rng::uniform(&mut r, lo, hi)).collect()
            }
            InitKind::Normal => {
                let std = spec.std.unwrap_or(1.0);
                (0..n).map(|_| std * rng::normal(&mut r)).collect()
            }
            InitKind::Xavier => {
                let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
                (0..n).map(|_| rng::uniform(&mut r, -a, a)).collect()
            }
            InitKind::He => {
                let std = (2.0 / fan_in as f64).sqrt();
                (0..n).map(|_| std * rng::normal(&mut r)).collect()
            }
        },
    }
}

impl<T: Element, B: Backend<T>> Model<T, B> {
    pub fn new(dag: Dag, backend: &B, seed: u64) -> Self {
        let params = dag
            .nodes
            .iter()
            .map(|node| {
                node.params
                    .iter()
                    .map(|p| {
                        let host: Vec<T> = initial_values(seed, &node.name, p)
                            .into_iter()
                            .map(T::from_f64)
                            .collect();
                        backend.upload(&host)
                    })
                    .collect()
            })
            .collect();
        Model {
            dag,
            params,
            _t: std::marker::PhantomData,
        }
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

    /// Records the whole graph on `tape` from the input `x` (rows×features).
    pub fn forward(&self, tape: &mut Tape<'_, T, B>, x: Var, train_params: bool) -> Forward {
        let be = tape.backend();
        let mut vars: Vec<Var> = Vec::with_capacity(self.dag.nodes.len());
        let mut param_vars = Vec::with_capacity(self.dag.nodes.len());
        for (node, bufs) in self.dag.nodes.iter().zip(&self.params) {
            let pv: Vec<Var> = node
                .params
                .iter()
                .zip(bufs)
                .map(|(p, buf)| tape.leaf(be.copy(buf), p.shape.clone(), train_params))
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
                NodeOp::Map(f) => tape.map(*f, input(0)),
                NodeOp::Softmax => tape.softmax(input(0)),
                NodeOp::Zip(f) => tape.zip(*f, input(0), input(1)),
                NodeOp::Concat => {
                    let parts: Vec<Var> = node.inputs.iter().map(|&i| vars[i]).collect();
                    tape.concat(&parts)
                }
                NodeOp::Mean => tape.mean_all(input(0)),
                NodeOp::Sum => tape.sum_all(input(0)),
            };
            vars.push(out);
            param_vars.push(pv);
        }
        Forward {
            nodes: vars,
            params: param_vars,
        }
    }
}
