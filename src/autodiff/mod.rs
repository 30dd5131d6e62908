//! Reverse-mode automatic differentiation. A [`Tape`] records every op of one forward
//! pass in execution order, with its value; [`Tape::backward`] walks it in reverse,
//! applying one rule per op, written only with [`Backend`] ops so it runs unchanged
//! on any backend.

#[cfg(test)]
mod gradcheck;
pub mod profile;
#[cfg(test)]
mod tests;

use crate::backend::{Backend, Channels, Conv2d, Element, LossKernel, Map, MatMul, Pool2d, Zip};

/// How backward passes a gradient through a ReLU. The true gradient is the default;
/// the other two are the visualisation rules of Zeiler & Fergus (deconvnet) and
/// Springenberg et al. (guided backprop), chosen per probe without the layers knowing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReluRule {
    /// dy where the ReLU's input was positive.
    #[default]
    Gradient,
    /// relu(dy): only positive signals pass back, wherever the input was.
    Deconvnet,
    /// relu(dy) where the ReLU's input was positive: both conditions.
    Guided,
}

/// A handle to a value recorded on a tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(usize);

enum Op<Buf> {
    Leaf,
    MatMul {
        a: Var,
        b: Var,
        dims: MatMul,
    },
    AddRow {
        x: Var,
        row: Var,
    },
    Map {
        x: Var,
        f: Map,
    },
    Zip {
        a: Var,
        b: Var,
        f: Zip,
    },
    Softmax {
        x: Var,
    },
    Concat {
        parts: Vec<Var>,
    },
    SumAll {
        x: Var,
    },
    MeanAll {
        x: Var,
    },
    /// The gradient of the (scaled) loss with respect to `pred`, computed by the fused kernel.
    Loss {
        pred: Var,
        grad: Buf,
    },
    Conv2d {
        x: Var,
        w: Var,
        bias: Option<Var>,
        g: Conv2d,
    },
    /// relu(pool(x)) where `relu`: one op where a ReLU feeds only this max-pool.
    MaxPool2d {
        x: Var,
        g: Pool2d,
        relu: bool,
    },
    AvgPool2d {
        x: Var,
        g: Pool2d,
    },
    AddChannels {
        x: Var,
        v: Var,
        g: Channels,
    },
    ScaleChannels {
        x: Var,
        v: Var,
        g: Channels,
    },
    /// Batch-norm in training; keeps the batch mean and 1/σ for backward.
    BatchNorm {
        x: Var,
        gamma: Var,
        beta: Var,
        mean: Buf,
        inv_std: Buf,
        g: Channels,
    },
    Reshape {
        x: Var,
    },
}

impl<Buf> Op<Buf> {
    /// The op's kind, as profiles name it.
    fn name(&self) -> &'static str {
        match self {
            Op::Leaf => "leaf",
            Op::MatMul { .. } => "matmul",
            Op::AddRow { .. } => "add_row",
            Op::Map { f, .. } => match f {
                Map::Identity => "identity",
                Map::Sigmoid => "sigmoid",
                Map::Tanh => "tanh",
                Map::Relu => "relu",
                Map::LeakyRelu(_) => "leaky_relu",
                Map::Exp => "exp",
                Map::Log => "log",
                Map::Square => "square",
                Map::AddScalar(_) => "add_scalar",
                Map::MulScalar(_) => "mul_scalar",
            },
            Op::Zip { .. } => "zip",
            Op::Softmax { .. } => "softmax",
            Op::Concat { .. } => "concat",
            Op::SumAll { .. } => "sum",
            Op::MeanAll { .. } => "mean",
            Op::Loss { .. } => "loss",
            Op::Conv2d { .. } => "conv2d",
            Op::MaxPool2d { relu: false, .. } => "max_pool2d",
            Op::MaxPool2d { relu: true, .. } => "max_pool2d + relu",
            Op::AvgPool2d { .. } => "avg_pool2d",
            Op::AddChannels { .. } => "add_channels",
            Op::ScaleChannels { .. } => "scale_channels",
            Op::BatchNorm { .. } => "batch_norm",
            Op::Reshape { .. } => "reshape",
        }
    }
}

struct Node<Buf> {
    /// None for a reshape, which shares its input's value (read through `Tape::value`):
    /// a flatten costs no copy of the activations.
    value: Option<Buf>,
    shape: Vec<usize>,
    op: Op<Buf>,
    needs_grad: bool,
}

pub struct Tape<'b, T: Element, B: Backend<T>> {
    backend: &'b B,
    nodes: Vec<Node<B::Buf>>,
    _t: std::marker::PhantomData<T>,
}

/// Rows and columns of a value viewed as a matrix: the first axis is the batch.
pub fn rows_cols(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [r, rest @ ..] => (*r, rest.iter().product()),
    }
}

impl<'b, T: Element, B: Backend<T>> Tape<'b, T, B> {
    pub fn new(backend: &'b B) -> Self {
        // Room for a small network's step, so recording it does not regrow the list.
        Tape { backend, nodes: Vec::with_capacity(32), _t: std::marker::PhantomData }
    }

    pub fn backend(&self) -> &'b B {
        self.backend
    }

    fn push(&mut self, value: B::Buf, shape: Vec<usize>, op: Op<B::Buf>, inputs: &[Var]) -> Var {
        let needs_grad = inputs.iter().any(|v| self.nodes[v.0].needs_grad);
        self.record(Node { value: Some(value), shape, op, needs_grad })
    }

    /// Appends a node; with `RUNNER_PROFILE` the time since the last op goes to it.
    fn record(&mut self, node: Node<B::Buf>) -> Var {
        profile::lap(|| format!("forward {} {:?}", node.op.name(), node.shape));
        self.nodes.push(node);
        Var(self.nodes.len() - 1)
    }

    /// A value from outside the tape: data, a parameter, a target.
    pub fn leaf(&mut self, value: B::Buf, shape: Vec<usize>, needs_grad: bool) -> Var {
        debug_assert_eq!(self.backend.len(&value), shape.iter().product::<usize>());
        self.record(Node { value: Some(value), shape, op: Op::Leaf, needs_grad })
    }

    /// Ends the tape, handing back `v`'s value: the training loop lends its full-batch
    /// input to each step's tape this way instead of copying it every step.
    pub fn into_value(mut self, v: Var) -> B::Buf {
        let owner = self.owner(v);
        self.nodes.swap_remove(owner).value.expect("`owner` finds a node that holds its value")
    }

    pub fn value(&self, v: Var) -> &B::Buf {
        self.nodes[self.owner(v)].value.as_ref().expect("`owner` finds a node that holds its value")
    }

    /// The node that holds v's value: v itself, or for a reshape its input's owner.
    fn owner(&self, v: Var) -> usize {
        let mut i = v.0;
        while let (None, Op::Reshape { x }) = (&self.nodes[i].value, &self.nodes[i].op) {
            i = x.0;
        }
        i
    }

    pub fn shape(&self, v: Var) -> &[usize] {
        &self.nodes[v.0].shape
    }

    /// op(a)·op(b) for 2-D values; `trans_b` lets a dense layer keep PyTorch's [out, in] weight.
    pub fn matmul(&mut self, a: Var, b: Var, trans_a: bool, trans_b: bool) -> Var {
        let (ar, ac) = rows_cols(self.shape(a));
        let (br, bc) = rows_cols(self.shape(b));
        let (m, k) = if trans_a { (ac, ar) } else { (ar, ac) };
        let (k2, n) = if trans_b { (bc, br) } else { (br, bc) };
        assert_eq!(k, k2, "matmul inner dimensions differ (checked by the graph)");
        let dims = MatMul { m, k, n, trans_a, trans_b };
        let value = self.backend.matmul(self.value(a), self.value(b), dims);
        self.push(value, vec![m, n], Op::MatMul { a, b, dims }, &[a, b])
    }

    pub fn add_row(&mut self, x: Var, row: Var) -> Var {
        let (_, cols) = rows_cols(self.shape(x));
        let value = self.backend.add_row(self.value(x), self.value(row), cols);
        let shape = self.shape(x).to_vec();
        self.push(value, shape, Op::AddRow { x, row }, &[x, row])
    }

    pub fn map(&mut self, f: Map, x: Var) -> Var {
        let value = self.backend.map(f, self.value(x));
        let shape = self.shape(x).to_vec();
        self.push(value, shape, Op::Map { x, f }, &[x])
    }

    pub fn zip(&mut self, f: Zip, a: Var, b: Var) -> Var {
        let value = self.backend.zip(f, self.value(a), self.value(b));
        let shape = self.shape(a).to_vec();
        self.push(value, shape, Op::Zip { a, b, f }, &[a, b])
    }

    pub fn softmax(&mut self, x: Var) -> Var {
        let (_, cols) = rows_cols(self.shape(x));
        let value = self.backend.softmax_rows(self.value(x), cols);
        let shape = self.shape(x).to_vec();
        self.push(value, shape, Op::Softmax { x }, &[x])
    }

    /// Joins values along their feature axis.
    pub fn concat(&mut self, parts: &[Var]) -> Var {
        let rows = rows_cols(self.shape(parts[0])).0;
        let blocks: Vec<(&B::Buf, usize)> =
            parts.iter().map(|p| (self.value(*p), rows_cols(self.shape(*p)).1)).collect();
        let width = blocks.iter().map(|b| b.1).sum();
        let value = self.backend.concat_cols(&blocks, rows);
        self.push(value, vec![rows, width], Op::Concat { parts: parts.to_vec() }, parts)
    }

    pub fn sum_all(&mut self, x: Var) -> Var {
        let value = self.backend.sum_all(self.value(x));
        self.push(value, vec![], Op::SumAll { x }, &[x])
    }

    pub fn mean_all(&mut self, x: Var) -> Var {
        let n = self.backend.len(self.value(x)) as f64;
        let sum = self.backend.sum_all(self.value(x));
        let value = self.backend.map(Map::MulScalar(1.0 / n), &sum);
        self.push(value, vec![], Op::MeanAll { x }, &[x])
    }

    /// A fused loss of `pred` against `target`, multiplied by `scale` (1/n for a mean).
    /// Returns the scalar loss node and its value.
    pub fn loss(&mut self, kind: LossKernel, pred: Var, target: &B::Buf, scale: f64) -> (Var, f64) {
        let (_, cols) = rows_cols(self.shape(pred));
        let (sum, grad) = self.backend.loss(kind, self.value(pred), target, cols);
        // ×1 (a summed loss) changes no bit: skip the pass and its copy.
        let grad = if scale == 1.0 { grad } else { self.backend.map(Map::MulScalar(scale), &grad) };
        let value = self.backend.filled(1, sum * scale);
        let var = self.push(value, vec![], Op::Loss { pred, grad }, &[pred]);
        (var, sum * scale)
    }

    /// A 2-D convolution of x [B, C, H, W] with w [C_out, C, kh, kw], plus an optional
    /// bias per output channel.
    pub fn conv2d(&mut self, x: Var, w: Var, bias: Option<Var>, stride: usize, pad: usize) -> Var {
        let (xs, ws) = (self.shape(x).to_vec(), self.shape(w).to_vec());
        let g =
            Conv2d { batch: xs[0], c_in: xs[1], h: xs[2], w: xs[3], c_out: ws[0], kh: ws[2], kw: ws[3], stride, pad };
        let b = bias.map(|b| self.value(b));
        let value = self.backend.conv2d(self.value(x), self.value(w), b, g);
        let inputs: Vec<Var> = [x, w].into_iter().chain(bias).collect();
        self.push(value, vec![g.batch, g.c_out, g.oh(), g.ow()], Op::Conv2d { x, w, bias, g }, &inputs)
    }

    fn pool_geometry(&self, x: Var, k: usize, stride: usize) -> Pool2d {
        let s = self.shape(x);
        Pool2d { batch: s[0], c: s[1], h: s[2], w: s[3], k, stride }
    }

    pub fn max_pool2d(&mut self, x: Var, k: usize, stride: usize) -> Var {
        let g = self.pool_geometry(x, k, stride);
        let value = self.backend.max_pool2d(self.value(x), g);
        self.push(value, vec![g.batch, g.c, g.oh(), g.ow()], Op::MaxPool2d { x, g, relu: false }, &[x])
    }

    /// relu(max_pool2d(x)) as one op: relu(pool(x)) = pool(relu(x)) for inputs without
    /// NaN, with fewer ReLUs (a quarter with 2×2 windows) and one pass over the values
    /// instead of two.
    pub fn max_pool2d_relu(&mut self, x: Var, k: usize, stride: usize) -> Var {
        let g = self.pool_geometry(x, k, stride);
        let value = self.backend.max_pool2d_relu(self.value(x), g);
        self.push(value, vec![g.batch, g.c, g.oh(), g.ow()], Op::MaxPool2d { x, g, relu: true }, &[x])
    }

    pub fn avg_pool2d(&mut self, x: Var, k: usize, stride: usize) -> Var {
        let g = self.pool_geometry(x, k, stride);
        let value = self.backend.avg_pool2d(self.value(x), g);
        self.push(value, vec![g.batch, g.c, g.oh(), g.ow()], Op::AvgPool2d { x, g }, &[x])
    }

    /// [batch, c, spatial] view of a value whose second axis is its channels.
    pub fn channels(&self, x: Var) -> Channels {
        let s = self.shape(x);
        Channels { batch: s[0], c: s.get(1).copied().unwrap_or(1), spatial: s.iter().skip(2).product() }
    }

    pub fn add_channels(&mut self, x: Var, v: Var) -> Var {
        let g = self.channels(x);
        let value = self.backend.add_channels(self.value(x), self.value(v), g);
        let shape = self.shape(x).to_vec();
        self.push(value, shape, Op::AddChannels { x, v, g }, &[x, v])
    }

    pub fn scale_channels(&mut self, x: Var, v: Var) -> Var {
        let g = self.channels(x);
        let value = self.backend.scale_channels(self.value(x), self.value(v), g);
        let shape = self.shape(x).to_vec();
        self.push(value, shape, Op::ScaleChannels { x, v, g }, &[x, v])
    }

    /// Batch normalisation with this batch's statistics, scaled by γ and shifted by β;
    /// returns the output and the batch mean and (biased) variance, for running statistics.
    pub fn batch_norm(&mut self, x: Var, gamma: Var, beta: Var, eps: f64) -> (Var, B::Buf, B::Buf) {
        let g = self.channels(x);
        let (y, mean, inv_std, var) =
            self.backend.batch_norm(self.value(x), self.value(gamma), self.value(beta), g, eps);
        let shape = self.shape(x).to_vec();
        let keep = self.backend.copy(&mean);
        let op = Op::BatchNorm { x, gamma, beta, mean: keep, inv_std, g };
        (self.push(y, shape, op, &[x, gamma, beta]), mean, var)
    }

    /// The same values with another shape (flatten).
    pub fn reshape(&mut self, x: Var, shape: Vec<usize>) -> Var {
        debug_assert_eq!(self.backend.len(self.value(x)), shape.iter().product::<usize>());
        let needs_grad = self.nodes[x.0].needs_grad;
        self.record(Node { value: None, shape, op: Op::Reshape { x }, needs_grad })
    }

    /// Gradients of the scalar `root` with respect to every value that needs one.
    pub fn backward(&self, root: Var) -> Grads<B::Buf> {
        let root_len = self.backend.len(self.value(root));
        self.backward_seeded(root, self.backend.filled(root_len, 1.0), ReluRule::Gradient)
    }

    /// Gradients of Σ seed·root (seed has root's length), passing through ReLUs by
    /// `relu`: a class score per sample is a one-hot seed on the logits.
    pub fn backward_seeded(&self, root: Var, seed: B::Buf, relu: ReluRule) -> Grads<B::Buf> {
        let be = self.backend;
        let mut grads: Vec<Option<B::Buf>> = (0..self.nodes.len()).map(|_| None).collect();
        assert_eq!(be.len(&seed), be.len(self.value(root)), "a seed has its root's length");
        grads[root.0] = Some(seed);
        for i in (0..=root.0).rev() {
            let node = &self.nodes[i];
            if !node.needs_grad {
                continue;
            }
            // Inputs always come earlier on the tape, so their slots lie below i; every
            // gradient stays readable afterwards, which is what hooks on inner nodes need.
            let (lower, upper) = grads.split_at_mut(i);
            let Some(dy) = upper[0].as_ref() else {
                continue;
            };
            if matches!(node.op, Op::Leaf) {
                continue;
            }
            let mut send = |v: Var, g: B::Buf| {
                if !self.nodes[v.0].needs_grad {
                    return;
                }
                match &mut lower[v.0] {
                    Some(acc) => be.add_assign(acc, &g),
                    slot => *slot = Some(g),
                }
            };
            match &node.op {
                Op::Leaf => {}
                Op::MatMul { a, b, dims: d } => {
                    let (va, vb) = (self.value(*a), self.value(*b));
                    // C = op(A)·op(B): d op(A) = dC·op(B)ᵀ, d op(B) = op(A)ᵀ·dC.
                    if self.nodes[a.0].needs_grad {
                        let da = if d.trans_a {
                            be.matmul(vb, dy, MatMul { m: d.k, k: d.n, n: d.m, trans_a: d.trans_b, trans_b: true })
                        } else {
                            be.matmul(dy, vb, MatMul { m: d.m, k: d.n, n: d.k, trans_a: false, trans_b: !d.trans_b })
                        };
                        send(*a, da);
                    }
                    if self.nodes[b.0].needs_grad {
                        let db = if d.trans_b {
                            be.matmul(dy, va, MatMul { m: d.n, k: d.m, n: d.k, trans_a: true, trans_b: d.trans_a })
                        } else {
                            be.matmul(va, dy, MatMul { m: d.k, k: d.m, n: d.n, trans_a: !d.trans_a, trans_b: false })
                        };
                        send(*b, db);
                    }
                }
                Op::AddRow { x, row } => {
                    let cols = be.len(self.value(*row));
                    send(*row, be.sum_rows(dy, cols));
                    send(*x, be.copy(dy));
                }
                Op::Map { x, f: Map::Relu } if relu != ReluRule::Gradient => {
                    let positive = be.map(Map::Relu, dy);
                    let dx = match relu {
                        ReluRule::Guided => be.map_grad(Map::Relu, self.value(*x), self.value(Var(i)), &positive),
                        _ => positive,
                    };
                    send(*x, dx);
                }
                Op::Map { x, f } => {
                    let dx = be.map_grad(*f, self.value(*x), self.value(Var(i)), dy);
                    send(*x, dx);
                }
                Op::Zip { a, b, f } => match f {
                    Zip::Add => {
                        send(*b, be.copy(dy));
                        send(*a, be.copy(dy));
                    }
                    Zip::Sub => {
                        send(*b, be.map(Map::MulScalar(-1.0), dy));
                        send(*a, be.copy(dy));
                    }
                    Zip::Mul => {
                        send(*a, be.zip(Zip::Mul, dy, self.value(*b)));
                        send(*b, be.zip(Zip::Mul, dy, self.value(*a)));
                    }
                },
                Op::Softmax { x } => {
                    let (_, cols) = rows_cols(&node.shape);
                    send(*x, be.softmax_rows_grad(self.value(Var(i)), dy, cols));
                }
                Op::Concat { parts } => {
                    let (_, total) = rows_cols(&node.shape);
                    let mut start = 0;
                    for p in parts {
                        let (_, w) = rows_cols(self.shape(*p));
                        send(*p, be.slice_cols(dy, total, start, w));
                        start += w;
                    }
                }
                Op::SumAll { x } | Op::MeanAll { x } => {
                    let n = be.len(self.value(*x));
                    let upstream = be.download(dy)[0].as_f64();
                    let per = if matches!(node.op, Op::MeanAll { .. }) { upstream / n as f64 } else { upstream };
                    send(*x, be.filled(n, per));
                }
                Op::Conv2d { x, w, bias, g } => {
                    if self.nodes[x.0].needs_grad {
                        send(*x, be.conv2d_grad_input(dy, self.value(*w), *g));
                    }
                    match (self.nodes[w.0].needs_grad, bias) {
                        (true, Some(b)) => {
                            let (dw, db) = be.conv2d_grad_weight_and_bias(self.value(*x), dy, *g);
                            send(*w, dw);
                            send(*b, db);
                        }
                        (true, None) => send(*w, be.conv2d_grad_weight(self.value(*x), dy, *g)),
                        (false, Some(b)) => {
                            let ch = Channels { batch: g.batch, c: g.c_out, spatial: g.oh() * g.ow() };
                            send(*b, be.sum_channels(dy, ch));
                        }
                        (false, None) => {}
                    }
                }
                Op::MaxPool2d { x, g, relu: false } => send(*x, be.max_pool2d_grad(self.value(*x), dy, *g)),
                // The ReLU's rule as for `Op::Map` above, then the pool's.
                Op::MaxPool2d { x, g, relu: true } => {
                    let dx = match relu {
                        ReluRule::Gradient => be.max_pool2d_relu_grad(self.value(*x), self.value(Var(i)), dy, *g),
                        ReluRule::Deconvnet => be.max_pool2d_grad(self.value(*x), &be.map(Map::Relu, dy), *g),
                        ReluRule::Guided => {
                            be.max_pool2d_relu_grad(self.value(*x), self.value(Var(i)), &be.map(Map::Relu, dy), *g)
                        }
                    };
                    send(*x, dx);
                }
                Op::AvgPool2d { x, g } => send(*x, be.avg_pool2d_grad(dy, *g)),
                Op::AddChannels { x, v, g } => {
                    if self.nodes[v.0].needs_grad {
                        send(*v, be.sum_channels(dy, *g));
                    }
                    send(*x, be.copy(dy));
                }
                Op::ScaleChannels { x, v, g } => {
                    if self.nodes[v.0].needs_grad {
                        let prod = be.zip(Zip::Mul, dy, self.value(*x));
                        send(*v, be.sum_channels(&prod, *g));
                    }
                    if self.nodes[x.0].needs_grad {
                        send(*x, be.scale_channels(dy, self.value(*v), *g));
                    }
                }
                Op::BatchNorm { x, gamma, beta, mean, inv_std, g } => {
                    let (dx, dgamma, dbeta) =
                        be.batch_norm_grad(self.value(*x), mean, inv_std, self.value(*gamma), dy, *g);
                    send(*gamma, dgamma);
                    send(*beta, dbeta);
                    send(*x, dx);
                }
                Op::Reshape { x } => send(*x, be.copy(dy)),
                Op::Loss { pred, grad } => {
                    let upstream = be.download(dy)[0].as_f64();
                    let g = if upstream == 1.0 { be.copy(grad) } else { be.map(Map::MulScalar(upstream), grad) };
                    send(*pred, g);
                }
            }
            profile::lap(|| format!("backward {} {:?}", node.op.name(), node.shape));
        }
        Grads { grads }
    }
}

/// The result of [`Tape::backward`]: a gradient for each value that needed one.
pub struct Grads<Buf> {
    grads: Vec<Option<Buf>>,
}

impl<Buf> Grads<Buf> {
    pub fn get(&self, v: Var) -> Option<&Buf> {
        self.grads.get(v.0).and_then(|g| g.as_ref())
    }
}
