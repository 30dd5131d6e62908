//! Spec → layer DAG: named nodes in topological order (a layer may only name earlier
//! layers), shapes inferred and checked before any compute, parameters counted and
//! their initial values decided. Nothing here runs.

mod fit;
mod hook_stats;
mod spatial;
mod summary;

pub use fit::{check_fit, check_fit_for, MAX_STEPS};
pub use summary::summary_table;

use crate::backend::{Map, Zip};
use crate::error::{Result, Source};
use crate::spec::{InitSpec, LayerOp, LayerSpec, Spec};
use std::collections::HashMap;

/// The name of the data node every model starts from.
pub const INPUT: &str = "input";

#[derive(Debug, Clone, PartialEq)]
pub enum NodeOp {
    Input,
    /// y = x·Wᵀ + b with W stored [units, in] (PyTorch's layout).
    Dense {
        units: usize,
        bias: bool,
    },
    Map(Map),
    Softmax,
    Zip(Zip),
    Concat,
    Mean,
    Sum,
    /// Weight [channels, c_in, kernel, kernel] (PyTorch's layout), optional bias [channels].
    Conv2d {
        channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
    },
    MaxPool2d {
        kernel: usize,
        stride: usize,
    },
    AvgPool2d {
        kernel: usize,
        stride: usize,
    },
    /// Per-channel (the first axis) normalisation; params weight, bias, and the
    /// untrained running_mean, running_var, num_batches_tracked.
    BatchNorm {
        momentum: f64,
        eps: f64,
    },
    Dropout {
        rate: f64,
    },
    Flatten,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamInit {
    Given(Vec<f64>),
    Random(InitSpec),
    Zeros,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    /// `weight` or `bias`; the checkpoint name is `<layer>.<name>`.
    pub name: String,
    pub shape: Vec<usize>,
    pub init: ParamInit,
    /// Fan-in and fan-out, for Xavier and He.
    pub fans: (usize, usize),
    /// False for state that is not learned by gradient (batch-norm's running statistics).
    pub trainable: bool,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub op: NodeOp,
    /// The spec's op name, for tables and messages.
    pub op_name: String,
    pub inputs: Vec<usize>,
    /// Per-sample shape; empty for a reduction to one scalar over the whole batch.
    pub shape: Vec<usize>,
    pub batched: bool,
    pub params: Vec<ParamDef>,
}

impl Node {
    pub fn width(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn param_count(&self) -> usize {
        self.params.iter().map(|p| p.shape.iter().product::<usize>()).sum()
    }
}

#[derive(Debug, Clone)]
pub struct Dag {
    pub nodes: Vec<Node>,
    pub output: usize,
}

impl Dag {
    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    pub fn param_count(&self) -> usize {
        self.nodes.iter().map(Node::param_count).sum()
    }

    /// Looks up a node named in the spec, with a "did you mean" when it is missing.
    pub fn resolve(&self, name: &str) -> std::result::Result<usize, String> {
        self.find(name).ok_or_else(|| {
            let hint = crate::spec::suggest(name, self.nodes.iter().map(|n| n.name.as_str()))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            format!("there is no node `{name}`{hint}")
        })
    }

    pub fn from_spec(spec: &Spec, source: &Source, input_shape: Vec<usize>) -> Result<Dag> {
        let mut nodes = vec![Node {
            name: INPUT.into(),
            op: NodeOp::Input,
            op_name: "input".into(),
            inputs: vec![],
            shape: input_shape,
            batched: true,
            params: vec![],
        }];
        if spec.model.layers.is_empty() {
            return Err(crate::spec::error_at(source, "model.layers", "[model] has no layers"));
        }
        let names: Vec<&str> = spec.model.layers.iter().map(|l| l.get_ref().name.as_str()).collect();
        // Each layer looks its inputs and its own name up here, not by a scan of the
        // nodes so far: a scan made a spec of 100,000 layers take minutes (quadratic).
        let mut index: HashMap<&str, usize> = HashMap::from([(INPUT, 0)]);
        for (i, layer) in spec.model.layers.iter().enumerate() {
            let node = build_node(layer.get_ref(), &nodes, &index, &names[i + 1..]).map_err(|(key, m)| {
                // A key the layer does not write (its default inputs) is reported at its op.
                let key = match key.as_str() {
                    "" => "name".to_string(),
                    k if k.starts_with("inputs") && layer.get_ref().inputs.is_none() => "op".to_string(),
                    _ => key,
                };
                crate::spec::error_at(source, &format!("model.layers.{i}.{key}"), m)
            })?;
            index.insert(names[i], nodes.len());
            nodes.push(node);
        }
        let dag_so_far = Dag { nodes, output: 0 };
        let output = match &spec.model.output {
            Some(name) => dag_so_far
                .resolve(name)
                .map_err(|m| crate::spec::error_at(source, "model.output", format!("[model] output: {m}")))?,
            None => dag_so_far.nodes.len() - 1,
        };
        Ok(Dag { output, ..dag_so_far })
    }
}

/// A failed layer: the key it is about (empty for the layer as a whole) and the message.
type Fail = (String, String);

fn fail<T>(key: &str, message: String) -> std::result::Result<T, Fail> {
    Err((key.to_string(), message))
}

/// The product of a shape's dimensions, or an error naming the layer when its f64
/// values could not even be addressed (a `Vec` that large panics; whether the machine
/// has the memory is a later, finer check).
pub(crate) fn checked_size(what: &str, dims: &[usize]) -> std::result::Result<usize, Fail> {
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match count {
        Some(n) if n.checked_mul(8).is_some_and(|bytes| bytes <= isize::MAX as usize) => Ok(n),
        _ => Err((String::new(), format!("{what}: a shape of {dims:?} has more values than this machine can address"))),
    }
}

pub(crate) fn shape_str(n: &Node) -> String {
    if n.shape.is_empty() {
        "scalar".into()
    } else {
        format!("{:?}", n.shape)
    }
}

/// `index` maps the names of `nodes` to their positions; `later` names the layers after
/// this one, to tell a forward reference from a typo.
fn build_node(
    l: &LayerSpec,
    nodes: &[Node],
    index: &HashMap<&str, usize>,
    later: &[&str],
) -> std::result::Result<Node, Fail> {
    let op_name = crate::spec::op_name_of(l.op);
    let what = format!("layer `{}` ({op_name})", l.name);
    if index.contains_key(l.name.as_str()) {
        let whose = if l.name == INPUT { " (by the data)" } else { "" };
        return fail("name", format!("{what}: the name `{}` is already taken{whose}", l.name));
    }
    let previous = nodes.last().map(|n| n.name.clone()).unwrap_or_else(|| INPUT.to_string());
    let input_names = l.inputs.clone().unwrap_or_else(|| vec![previous]);
    let mut inputs = Vec::with_capacity(input_names.len());
    for (j, name) in input_names.iter().enumerate() {
        match index.get(name.as_str()) {
            Some(&i) => inputs.push(i),
            None if name == &l.name || later.contains(&name.as_str()) => {
                let which = if name == &l.name { "is this layer itself" } else { "comes later" };
                return fail(
                    &format!("inputs.{j}"),
                    format!("{what}: input `{name}` {which}; a layer takes only earlier layers (no cycles)"),
                );
            }
            None => {
                let hint = crate::spec::suggest(name, nodes.iter().map(|n| n.name.as_str()))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return fail(&format!("inputs.{j}"), format!("{what}: input `{name}` is not an earlier layer{hint}"));
            }
        }
    }
    let arity = match l.op {
        LayerOp::Add | LayerOp::Sub | LayerOp::Mul => Some(2),
        LayerOp::Concat => None,
        _ => Some(1),
    };
    match arity {
        Some(k) if inputs.len() != k => {
            return fail("inputs", format!("{what} takes {k} input(s), found {}", inputs.len()));
        }
        None if inputs.len() < 2 => {
            return fail("inputs", format!("{what} joins at least 2 inputs, found {}", inputs.len()))
        }
        _ => {}
    }
    let first = &nodes[inputs[0]];
    if !first.batched && !matches!(l.op, LayerOp::AddScalar | LayerOp::MulScalar | LayerOp::Identity) {
        return fail(
            "inputs",
            format!("{what}: input `{}` is a scalar reduction; only scalar arithmetic may follow it", first.name),
        );
    }
    let mut node = Node {
        name: l.name.clone(),
        op: NodeOp::Map(Map::Identity),
        op_name,
        inputs: inputs.clone(),
        shape: first.shape.clone(),
        batched: first.batched,
        params: vec![],
    };
    match l.op {
        LayerOp::Dense => {
            let units = l.units.unwrap_or(1);
            if first.shape.len() != 1 {
                return fail(
                    "op",
                    format!(
                        "{what} needs a flat input; `{}` has shape {} (add a `flatten` layer before it)",
                        first.name,
                        shape_str(first)
                    ),
                );
            }
            let fan_in = first.shape[0];
            checked_size(&what, &[units, fan_in]).map_err(|(_, m)| ("units".to_string(), m))?;
            let bias = l.bias.unwrap_or(true);
            node.op = NodeOp::Dense { units, bias };
            node.shape = vec![units];
            node.params.push(dense_weight(l, &what, fan_in, units)?);
            if bias {
                let init = match &l.biases {
                    Some(b) if b.len() != units => {
                        return fail("biases", format!("{what}: `biases` has {} values for {units} units", b.len()));
                    }
                    Some(b) => ParamInit::Given(b.clone()),
                    None => default_bias_init(l),
                };
                node.params.push(ParamDef {
                    name: "bias".into(),
                    shape: vec![units],
                    init,
                    fans: (fan_in, units),
                    trainable: true,
                });
            }
        }
        LayerOp::Sigmoid => node.op = NodeOp::Map(Map::Sigmoid),
        LayerOp::Tanh => node.op = NodeOp::Map(Map::Tanh),
        LayerOp::Relu => node.op = NodeOp::Map(Map::Relu),
        LayerOp::LeakyRelu => node.op = NodeOp::Map(Map::LeakyRelu(l.alpha.unwrap_or(0.01))),
        LayerOp::Identity => {}
        LayerOp::AddScalar => node.op = NodeOp::Map(Map::AddScalar(l.value.unwrap_or(0.0))),
        LayerOp::MulScalar => node.op = NodeOp::Map(Map::MulScalar(l.value.unwrap_or(1.0))),
        LayerOp::Softmax => {
            if first.shape.len() != 1 {
                let m = format!("{what} needs a flat input; `{}` has shape {}", first.name, shape_str(first));
                return fail("op", m);
            }
            node.op = NodeOp::Softmax;
        }
        LayerOp::Add | LayerOp::Sub | LayerOp::Mul => {
            let second = &nodes[inputs[1]];
            if second.shape != first.shape || second.batched != first.batched {
                return fail(
                    "inputs",
                    format!(
                        "{what}: inputs `{}` {} and `{}` {} have different shapes",
                        first.name,
                        shape_str(first),
                        second.name,
                        shape_str(second)
                    ),
                );
            }
            node.op = NodeOp::Zip(match l.op {
                LayerOp::Add => Zip::Add,
                LayerOp::Sub => Zip::Sub,
                _ => Zip::Mul,
            });
        }
        LayerOp::Concat => {
            let mut width: usize = 0;
            for &i in &inputs {
                let n = &nodes[i];
                if n.shape.len() != 1 || !n.batched {
                    let m = format!("{what}: input `{}` has shape {}; concat joins flat inputs", n.name, shape_str(n));
                    return fail("inputs", m);
                }
                width = match width.checked_add(n.shape[0]) {
                    Some(w) => w,
                    None => return fail("inputs", format!("{what}: the joined width does not fit in memory")),
                };
            }
            node.op = NodeOp::Concat;
            node.shape = vec![width];
        }
        LayerOp::Conv2d
        | LayerOp::MaxPool2d
        | LayerOp::AvgPool2d
        | LayerOp::BatchNorm
        | LayerOp::Dropout
        | LayerOp::Flatten => spatial::build(l, &what, first, &mut node)?,
        LayerOp::Mean | LayerOp::Sum => {
            node.op = if l.op == LayerOp::Mean { NodeOp::Mean } else { NodeOp::Sum };
            node.shape = vec![];
            node.batched = false;
        }
    }
    Ok(node)
}

/// The weight of a dense layer: given in×out (as in the notes' x·W) and stored out×in.
fn dense_weight(l: &LayerSpec, what: &str, fan_in: usize, units: usize) -> std::result::Result<ParamDef, Fail> {
    let init = match &l.weights {
        Some(rows) => {
            let cols = rows.first().map(Vec::len).unwrap_or(0);
            if let Some(r) = rows.iter().position(|r| r.len() != cols) {
                let m = format!("{what}: `weights` row {r} has {} values; row 0 has {cols}", rows[r].len());
                return fail(&format!("weights.{r}"), m);
            }
            if rows.len() != fan_in || cols != units {
                return fail("weights", format!(
                    "{what}: `weights` is {}×{cols} but the layer maps {fan_in} inputs to {units} units (expects {fan_in}×{units}, rows are inputs)",
                    rows.len()
                ));
            }
            let mut stored = vec![0.0; fan_in * units];
            for (i, row) in rows.iter().enumerate() {
                for (o, v) in row.iter().enumerate() {
                    stored[o * fan_in + i] = *v;
                }
            }
            ParamInit::Given(stored)
        }
        None => ParamInit::Random(l.init.clone().unwrap_or_else(torch_init)),
    };
    Ok(ParamDef { name: "weight".into(), shape: vec![units, fan_in], init, fans: (fan_in, units), trainable: true })
}

/// PyTorch's default initialisation of Linear and Conv2d weights.
pub(crate) fn torch_init() -> InitSpec {
    InitSpec { kind: crate::spec::InitKind::Torch, low: None, high: None, std: None, value: None }
}

/// A bias follows PyTorch (U(±1/√fan_in)) when its weight does; otherwise it starts at 0.
pub(crate) fn default_bias_init(l: &LayerSpec) -> ParamInit {
    let torch_weights = l.weights.is_none() && l.init.as_ref().is_none_or(|i| i.kind == crate::spec::InitKind::Torch);
    if torch_weights {
        ParamInit::Random(torch_init())
    } else {
        ParamInit::Zeros
    }
}
