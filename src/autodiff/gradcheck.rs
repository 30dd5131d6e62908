//! Every backward rule checked against central finite differences in f64, on any
//! backend: each check is a function of the backend, run here on the CPU and, where a
//! GPU works, on CUDA (`on_cuda_where_a_device_works`).

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
fn check<B: Backend<f64>>(be: &B, shapes: &[Vec<usize>], build: impl Fn(&mut Tape<f64, B>, &[Var]) -> Var) {
    let inputs: Vec<Vec<f64>> =
        shapes.iter().enumerate().map(|(i, s)| values(s.iter().product(), i as u64 + 1)).collect();
    let eval = |inputs: &[Vec<f64>]| -> f64 {
        let mut tape = Tape::new(be);
        let leaves: Vec<Var> =
            inputs.iter().zip(shapes).map(|(v, s)| tape.leaf(be.upload(v), s.clone(), true)).collect();
        let out = build(&mut tape, &leaves);
        be.download(tape.value(out))[0]
    };
    let mut tape = Tape::new(be);
    let leaves: Vec<Var> = inputs.iter().zip(shapes).map(|(v, s)| tape.leaf(be.upload(v), s.clone(), true)).collect();
    let out = build(&mut tape, &leaves);
    let grads = tape.backward(out);
    be.check().unwrap_or_else(|e| panic!("{}: {e}", be.name()));
    for (li, leaf) in leaves.iter().enumerate() {
        let analytic = be.download(grads.get(*leaf).expect("every leaf gets a gradient"));
        for j in 0..inputs[li].len() {
            let mut plus = inputs.clone();
            plus[li][j] += H;
            let mut minus = inputs.clone();
            minus[li][j] -= H;
            let numeric = (eval(&plus) - eval(&minus)) / (2.0 * H);
            let err = (numeric - analytic[j]).abs();
            assert!(
                err <= 1e-6 + 1e-5 * numeric.abs(),
                "{}: input {li}[{j}]: analytic {} vs numeric {numeric}",
                be.name(),
                analytic[j]
            );
        }
    }
}

/// Reduces any value to a scalar with uneven weights so every element matters differently.
fn weighted_sum<B: Backend<f64>>(t: &mut Tape<f64, B>, x: Var) -> Var {
    let n: usize = t.shape(x).iter().product();
    let w: Vec<f64> = (0..n).map(|i| 0.3 + 0.1 * i as f64).collect();
    let wv = t.leaf(t.backend().upload(&w), t.shape(x).to_vec(), false);
    let p = t.zip(Zip::Mul, x, wv);
    t.sum_all(p)
}

fn matmul_all_transposes<B: Backend<f64>>(be: &B) {
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let a = if ta { vec![3, 2] } else { vec![2, 3] };
        let b = if tb { vec![4, 3] } else { vec![3, 4] };
        check(be, &[a, b], |t, v| {
            let c = t.matmul(v[0], v[1], ta, tb);
            weighted_sum(t, c)
        });
    }
}

fn element_wise_maps<B: Backend<f64>>(be: &B) {
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
        check(be, &[vec![3, 4]], |t, v| {
            let y = t.map(f, v[0]);
            weighted_sum(t, y)
        });
    }
    check(be, &[vec![2, 3]], |t, v| {
        let e = t.map(Map::Exp, v[0]);
        let y = t.map(Map::Log, e);
        weighted_sum(t, y)
    });
}

fn zips_rows_softmax_concat_and_reductions<B: Backend<f64>>(be: &B) {
    for f in [Zip::Add, Zip::Sub, Zip::Mul] {
        check(be, &[vec![2, 3], vec![2, 3]], |t, v| {
            let y = t.zip(f, v[0], v[1]);
            weighted_sum(t, y)
        });
    }
    check(be, &[vec![3, 4], vec![4]], |t, v| {
        let y = t.add_row(v[0], v[1]);
        weighted_sum(t, y)
    });
    check(be, &[vec![3, 4]], |t, v| {
        let y = t.softmax(v[0]);
        weighted_sum(t, y)
    });
    check(be, &[vec![3, 2], vec![3, 1], vec![3, 2]], |t, v| {
        let y = t.concat(v);
        weighted_sum(t, y)
    });
    check(be, &[vec![2, 2]], |t, v| t.mean_all(v[0]));
    check(be, &[vec![2, 3]], |t, v| {
        let s = t.sum_all(v[0]);
        t.map(Map::Square, s)
    });
}

fn fused_losses<B: Backend<f64>>(be: &B) {
    let targets = [
        (LossKernel::SquaredError, vec![0.2, -1.0, 0.5, 1.0, 0.0, 0.3]),
        (LossKernel::SigmoidBce, vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0]),
        (LossKernel::SoftmaxCrossEntropy, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]),
    ];
    for (kind, target) in targets {
        check(be, &[vec![2, 3]], |t, v| {
            let tb = be.upload(&target);
            t.loss(kind, v[0], &tb, 0.5).0
        });
    }
    // BCE on probabilities: feed it σ(x) so the inputs stay inside (0, 1).
    check(be, &[vec![2, 3]], |t, v| {
        let p = t.map(Map::Sigmoid, v[0]);
        let tb = be.upload(&[1.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
        t.loss(LossKernel::Bce, p, &tb, 1.0).0
    });
}

fn a_value_used_twice_accumulates_both_paths<B: Backend<f64>>(be: &B) {
    check(be, &[vec![2, 2]], |t, v| {
        let a = t.map(Map::Sigmoid, v[0]);
        let b = t.zip(Zip::Mul, a, v[0]);
        let c = t.zip(Zip::Add, b, a);
        weighted_sum(t, c)
    });
}

fn convolution_with_stride_and_padding<B: Backend<f64>>(be: &B) {
    for (stride, pad) in [(1, 0), (1, 1), (2, 1), (2, 0)] {
        check(be, &[vec![2, 2, 5, 4], vec![3, 2, 3, 2], vec![3]], |t, v| {
            let y = t.conv2d(v[0], v[1], Some(v[2]), stride, pad);
            weighted_sum(t, y)
        });
    }
}

fn pooling<B: Backend<f64>>(be: &B) {
    check(be, &[vec![2, 2, 4, 6]], |t, v| {
        let y = t.max_pool2d(v[0], 2, 2);
        weighted_sum(t, y)
    });
    check(be, &[vec![1, 2, 5, 5]], |t, v| {
        let y = t.max_pool2d(v[0], 3, 1);
        weighted_sum(t, y)
    });
    check(be, &[vec![2, 1, 4, 4]], |t, v| {
        let y = t.avg_pool2d(v[0], 2, 2);
        weighted_sum(t, y)
    });
}

fn channel_ops_and_batch_norm<B: Backend<f64>>(be: &B) {
    check(be, &[vec![3, 2, 2, 2], vec![2]], |t, v| {
        let y = t.add_channels(v[0], v[1]);
        weighted_sum(t, y)
    });
    check(be, &[vec![3, 2, 2, 2], vec![2]], |t, v| {
        let y = t.scale_channels(v[0], v[1]);
        weighted_sum(t, y)
    });
    check(be, &[vec![3, 2, 2, 3], vec![2], vec![2]], |t, v| {
        let (y, _, _) = t.batch_norm(v[0], v[1], v[2], 1e-5);
        weighted_sum(t, y)
    });
    // Batch-norm on flat features (BatchNorm1d): channels are the features.
    check(be, &[vec![5, 3], vec![3], vec![3]], |t, v| {
        let (y, _, _) = t.batch_norm(v[0], v[1], v[2], 1e-5);
        let y = t.map(Map::Square, y);
        weighted_sum(t, y)
    });
    check(be, &[vec![2, 3, 2, 2]], |t, v| {
        let y = t.reshape(v[0], vec![2, 12]);
        weighted_sum(t, y)
    });
}

/// Every check above, on one backend.
fn every_check<B: Backend<f64>>(be: &B) {
    matmul_all_transposes(be);
    element_wise_maps(be);
    zips_rows_softmax_concat_and_reductions(be);
    fused_losses(be);
    a_value_used_twice_accumulates_both_paths(be);
    convolution_with_stride_and_padding(be);
    pooling(be);
    channel_ops_and_batch_norm(be);
}

/// The checks on the CPU, one test each.
mod cpu {
    use crate::backend::CpuBackend;

    macro_rules! on_cpu {
        ($($name:ident),*) => {$(
            #[test]
            fn $name() {
                super::$name(&CpuBackend::new());
            }
        )*};
    }
    on_cpu!(
        matmul_all_transposes,
        element_wise_maps,
        zips_rows_softmax_concat_and_reductions,
        fused_losses,
        a_value_used_twice_accumulates_both_paths,
        convolution_with_stride_and_padding,
        pooling,
        channel_ops_and_batch_norm
    );
}

/// The same checks on CUDA in f64 (skipped visibly without a device; a failure with
/// RUNNER_REQUIRE_CUDA=1).
#[test]
fn on_cuda_where_a_device_works() {
    if let Some(be) = crate::backend::cuda::device_or_skip("gradcheck::on_cuda_where_a_device_works") {
        every_check(&be);
    }
}

/// The list above is every check: a check added without it would run on the CPU only.
#[test]
fn every_check_runs_on_the_cpu_backend_too() {
    every_check(&CpuBackend::new());
}
