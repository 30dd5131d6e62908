//! Every backward rule checked against central finite differences in f64.

use super::{Tape, Var};
use crate::backend::{Backend, CpuBackend, LossKernel, Map, Zip};

const H: f64 = 1e-6;

fn values(n: usize, seed: u64) -> Vec<f64> {
    // A small deterministic spread of values in (-1.5, 1.5), away from ReLU's kink at 0.
    (0..n)
        .map(|i| {
            let x = ((i as u64 * 2654435761 + seed * 97) % 1000) as f64 / 1000.0;
            let v = 3.0 * x - 1.5;
            if v.abs() < 0.05 {
                v + 0.1
            } else {
                v
            }
        })
        .collect()
}

/// Builds a scalar from leaves of the given shapes and checks every leaf's gradient.
fn check(shapes: &[Vec<usize>], build: impl Fn(&mut Tape<f64, CpuBackend>, &[Var]) -> Var) {
    let be = CpuBackend::new();
    let inputs: Vec<Vec<f64>> =
        shapes.iter().enumerate().map(|(i, s)| values(s.iter().product(), i as u64 + 1)).collect();
    let eval = |inputs: &[Vec<f64>]| -> f64 {
        let mut tape = Tape::new(&be);
        let leaves: Vec<Var> =
            inputs.iter().zip(shapes).map(|(v, s)| tape.leaf(be.upload(v), s.clone(), true)).collect();
        let out = build(&mut tape, &leaves);
        be.download(tape.value(out))[0]
    };
    let mut tape = Tape::new(&be);
    let leaves: Vec<Var> = inputs.iter().zip(shapes).map(|(v, s)| tape.leaf(be.upload(v), s.clone(), true)).collect();
    let out = build(&mut tape, &leaves);
    let grads = tape.backward(out);
    for (li, leaf) in leaves.iter().enumerate() {
        let analytic = grads.get(*leaf).expect("every leaf gets a gradient");
        for j in 0..inputs[li].len() {
            let mut plus = inputs.clone();
            plus[li][j] += H;
            let mut minus = inputs.clone();
            minus[li][j] -= H;
            let numeric = (eval(&plus) - eval(&minus)) / (2.0 * H);
            let err = (numeric - analytic[j]).abs();
            assert!(
                err <= 1e-6 + 1e-5 * numeric.abs(),
                "input {li}[{j}]: analytic {} vs numeric {numeric}",
                analytic[j]
            );
        }
    }
}

/// Reduces any value to a scalar with uneven weights so every element matters differently.
fn weighted_sum(t: &mut Tape<f64, CpuBackend>, x: Var) -> Var {
    let n: usize = t.shape(x).iter().product();
    let w: Vec<f64> = (0..n).map(|i| 0.3 + 0.1 * i as f64).collect();
    let wv = t.leaf(w, t.shape(x).to_vec(), false);
    let p = t.zip(Zip::Mul, x, wv);
    t.sum_all(p)
}

#[test]
fn matmul_all_transposes() {
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let a = if ta { vec![3, 2] } else { vec![2, 3] };
        let b = if tb { vec![4, 3] } else { vec![3, 4] };
        check(&[a, b], |t, v| {
            let c = t.matmul(v[0], v[1], ta, tb);
            weighted_sum(t, c)
        });
    }
}

#[test]
fn element_wise_maps() {
    for f in [
        Map::Identity,
        Map::Sigmoid,
        Map::Tanh,
        Map::Relu,
        Map::LeakyRelu(0.1),
        Map::Exp,
        Map::Square,
        Map::AddScalar(1.0),
        Map::MulScalar(-2.5),
    ] {
        check(&[vec![3, 4]], |t, v| {
            let y = t.map(f, v[0]);
            weighted_sum(t, y)
        });
    }
    check(&[vec![2, 3]], |t, v| {
        let e = t.map(Map::Exp, v[0]);
        let y = t.map(Map::Log, e);
        weighted_sum(t, y)
    });
}

#[test]
fn zips_rows_softmax_concat_and_reductions() {
    for f in [Zip::Add, Zip::Sub, Zip::Mul] {
        check(&[vec![2, 3], vec![2, 3]], |t, v| {
            let y = t.zip(f, v[0], v[1]);
            weighted_sum(t, y)
        });
    }
    check(&[vec![3, 4], vec![4]], |t, v| {
        let y = t.add_row(v[0], v[1]);
        weighted_sum(t, y)
    });
    check(&[vec![3, 4]], |t, v| {
        let y = t.softmax(v[0]);
        weighted_sum(t, y)
    });
    check(&[vec![3, 2], vec![3, 1], vec![3, 2]], |t, v| {
        let y = t.concat(v);
        weighted_sum(t, y)
    });
    check(&[vec![2, 2]], |t, v| t.mean_all(v[0]));
    check(&[vec![2, 3]], |t, v| {
        let s = t.sum_all(v[0]);
        t.map(Map::Square, s)
    });
}

#[test]
fn fused_losses() {
    let be = CpuBackend::new();
    let targets = [
        (LossKernel::SquaredError, vec![0.2, -1.0, 0.5, 1.0, 0.0, 0.3]),
        (LossKernel::SigmoidBce, vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0]),
        (LossKernel::SoftmaxCrossEntropy, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]),
    ];
    for (kind, target) in targets {
        check(&[vec![2, 3]], |t, v| {
            let tb = be.upload(&target);
            t.loss(kind, v[0], &tb, 0.5).0
        });
    }
    // BCE on probabilities: feed it σ(x) so the inputs stay inside (0, 1).
    check(&[vec![2, 3]], |t, v| {
        let p = t.map(Map::Sigmoid, v[0]);
        let tb = be.upload(&[1.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
        t.loss(LossKernel::Bce, p, &tb, 1.0).0
    });
}

#[test]
fn a_value_used_twice_accumulates_both_paths() {
    check(&[vec![2, 2]], |t, v| {
        let a = t.map(Map::Sigmoid, v[0]);
        let b = t.zip(Zip::Mul, a, v[0]);
        let c = t.zip(Zip::Add, b, a);
        weighted_sum(t, c)
    });
}

#[test]
fn convolution_with_stride_and_padding() {
    for (stride, pad) in [(1, 0), (1, 1), (2, 1), (2, 0)] {
        check(&[vec![2, 2, 5, 4], vec![3, 2, 3, 2], vec![3]], |t, v| {
            let y = t.conv2d(v[0], v[1], Some(v[2]), stride, pad);
            weighted_sum(t, y)
        });
    }
}

#[test]
fn pooling() {
    check(&[vec![2, 2, 4, 6]], |t, v| {
        let y = t.max_pool2d(v[0], 2, 2);
        weighted_sum(t, y)
    });
    check(&[vec![1, 2, 5, 5]], |t, v| {
        let y = t.max_pool2d(v[0], 3, 1);
        weighted_sum(t, y)
    });
    check(&[vec![2, 1, 4, 4]], |t, v| {
        let y = t.avg_pool2d(v[0], 2, 2);
        weighted_sum(t, y)
    });
}

#[test]
fn channel_ops_and_batch_norm() {
    check(&[vec![3, 2, 2, 2], vec![2]], |t, v| {
        let y = t.add_channels(v[0], v[1]);
        weighted_sum(t, y)
    });
    check(&[vec![3, 2, 2, 2], vec![2]], |t, v| {
        let y = t.scale_channels(v[0], v[1]);
        weighted_sum(t, y)
    });
    check(&[vec![3, 2, 2, 3], vec![2], vec![2]], |t, v| {
        let (y, _, _) = t.batch_norm(v[0], v[1], v[2], 1e-5);
        weighted_sum(t, y)
    });
    // Batch-norm on flat features (BatchNorm1d): channels are the features.
    check(&[vec![5, 3], vec![3], vec![3]], |t, v| {
        let (y, _, _) = t.batch_norm(v[0], v[1], v[2], 1e-5);
        let y = t.map(Map::Square, y);
        weighted_sum(t, y)
    });
    check(&[vec![2, 3, 2, 2]], |t, v| {
        let y = t.reshape(v[0], vec![2, 12]);
        weighted_sum(t, y)
    });
}
