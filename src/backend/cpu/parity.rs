//! Every CPU path this machine has against the portable one, op family by op family,
//! through the backend (so the dispatch is tested too). A path the CPU lacks is
//! compiled as an ignored test whose reason names it (see build.rs), so `cargo test`
//! lists it as skipped, never as a pass.
//!
//! No tolerances: every path computes each op's one definition in one order, so every
//! comparison here is bit for bit.

use super::path::CpuPath;
use super::{channels, conv, elementwise, CpuBackend};
use crate::backend::{Backend, Channels, Conv2d, Map, MatMul, Pool2d};

/// The path a test of it needs, checked: a build whose cfg says this CPU has the path,
/// running on one that lacks it (a target folder copied between machines), fails here
/// rather than skipping or executing instructions the CPU does not have.
pub(crate) fn required(path: CpuPath) -> CpuPath {
    assert!(path.available(), "built on a CPU with the {path} path, running on one without: rebuild");
    path
}

/// Values in [−1, 1) from a fixed integer sequence (no RNG, no dependence on the machine).
fn values(len: usize, salt: u64) -> Vec<f32> {
    let mut s = salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn backends(path: CpuPath) -> (CpuBackend, CpuBackend) {
    let on = CpuBackend::on(path).expect("the path was checked by `required`");
    let portable = CpuBackend::on(CpuPath::Portable).expect("portable runs anywhere");
    (on, portable)
}

/// One test per path that has kernels of its own; the portable path is the reference.
macro_rules! on_each_path {
    ($check:ident) => {
        mod $check {
            use super::*;
            #[test]
            #[cfg_attr(not(runner_avx2), ignore = "this CPU lacks AVX2+FMA: the avx2 path is skipped")]
            fn avx2() {
                super::$check(required(CpuPath::Avx2));
            }
            #[test]
            #[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
            fn avx512() {
                super::$check(required(CpuPath::Avx512));
            }
        }
    };
}

on_each_path!(conv_forward);
on_each_path!(conv_input_gradient);
on_each_path!(conv_weight_gradient);
on_each_path!(max_pool_2x2);
on_each_path!(dense_small_gemm);
on_each_path!(exp_ln_sigmoid);

// Convolutions and pooling: the same bits on every path, not a tolerance. Each is
// defined once (conv.rs: one fused multiply-add chain per output in a fixed order, one
// first-maximum rule), every kernel computes exactly that, and the kernel a shape takes
// depends on the shape alone. So each path is checked byte for byte against the
// portable backend and against conv.rs's definition, on 1 and on 2 threads.

/// The CNN's two convolutions and odd ones: channels that are not multiples of 8 or 16
/// (the direct kernels' blocks), odd image sides, padding 0, 1 and 2, stride 1 and 2,
/// batches that leave a short group of `GRAD_GROUP`, a 1×1 and a non-square kernel
/// (whose input gradient takes col2im).
const CONVS: [Conv2d; 9] = [
    Conv2d { batch: 4, c_in: 1, h: 28, w: 28, c_out: 16, kh: 5, kw: 5, stride: 1, pad: 2 },
    Conv2d { batch: 3, c_in: 16, h: 14, w: 14, c_out: 32, kh: 5, kw: 5, stride: 1, pad: 2 },
    Conv2d { batch: 3, c_in: 2, h: 9, w: 21, c_out: 8, kh: 5, kw: 5, stride: 1, pad: 2 },
    Conv2d { batch: 2, c_in: 3, h: 7, w: 6, c_out: 48, kh: 3, kw: 2, stride: 1, pad: 0 },
    Conv2d { batch: 2, c_in: 3, h: 9, w: 9, c_out: 16, kh: 3, kw: 3, stride: 2, pad: 1 },
    Conv2d { batch: 9, c_in: 5, h: 11, w: 13, c_out: 24, kh: 3, kw: 3, stride: 1, pad: 1 },
    Conv2d { batch: 10, c_in: 8, h: 5, w: 7, c_out: 16, kh: 3, kw: 3, stride: 1, pad: 0 },
    Conv2d { batch: 3, c_in: 7, h: 8, w: 11, c_out: 12, kh: 2, kw: 2, stride: 2, pad: 0 },
    Conv2d { batch: 2, c_in: 16, h: 6, w: 5, c_out: 32, kh: 1, kw: 1, stride: 1, pad: 0 },
];

/// `values` with every fifth value an exact +0.0 or −0.0 (a ReLU's output has many), so
/// signed zeros meet the chains' fused multiply-adds.
fn with_zeros(len: usize, salt: u64) -> Vec<f32> {
    let mut v = values(len, salt);
    for (i, x) in v.iter_mut().enumerate().filter(|(i, _)| i % 5 == 0) {
        *x = if i % 10 == 0 { 0.0 } else { -0.0 };
    }
    v
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `op` on `path` with 1 and with 2 threads, and on the portable backend: all the same
/// bytes as `want`.
fn same_bits(what: &str, path: CpuPath, want: &[f32], op: impl Fn(&CpuBackend) -> Vec<f32> + Sync) {
    let (on, portable) = backends(path);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
        for (name, be) in [(path.name(), &on), ("portable", &portable)] {
            let got = pool.install(|| op(be));
            assert_eq!(bits(&got), bits(want), "{what} on {name}, {threads} thread(s): not the definition's bits");
        }
    }
}

fn conv_forward(path: CpuPath) {
    for (i, g) in CONVS.into_iter().enumerate() {
        let x = with_zeros(g.batch * g.c_in * g.h * g.w, 1 + i as u64);
        let w = values(g.c_out * g.patch(), 11 + i as u64);
        let b = values(g.c_out, 21 + i as u64);
        for bias in [Some(&b), None] {
            let want = conv::conv2d(&x, &w, bias.map(|b| b.as_slice()), g);
            same_bits(&format!("conv {g:?}, bias {}", bias.is_some()), path, &want, |be| be.conv2d(&x, &w, bias, g));
        }
    }
    // The path's own lanes ran where the shape allows.
    let lanes = super::lanes::Isa::of(path);
    assert_eq!(lanes == super::lanes::Isa::Portable, path == CpuPath::Portable, "the direct kernel's lanes on {path}");
}

fn conv_input_gradient(path: CpuPath) {
    for (i, g) in CONVS.into_iter().enumerate() {
        let dy = with_zeros(g.batch * g.c_out * g.oh() * g.ow(), 31 + i as u64);
        let w = values(g.c_out * g.patch(), 41 + i as u64);
        let want = conv::conv2d_grad_input(&dy, &w, g);
        same_bits(&format!("conv input gradient {g:?}"), path, &want, |be| be.conv2d_grad_input(&dy, &w, g));
    }
}

fn conv_weight_gradient(path: CpuPath) {
    for (i, g) in CONVS.into_iter().enumerate() {
        let x = with_zeros(g.batch * g.c_in * g.h * g.w, 51 + i as u64);
        let dy = with_zeros(g.batch * g.c_out * g.oh() * g.ow(), 61 + i as u64);
        let want = conv::conv2d_grad_weight(&x, &dy, g);
        same_bits(&format!("conv weight gradient {g:?}"), path, &want, |be| be.conv2d_grad_weight(&x, &dy, g));
        // With the bias: both halves against the separate calls' definitions.
        let ch = Channels { batch: g.batch, c: g.c_out, spatial: g.oh() * g.ow() };
        let sums = channels::sum_channels(&dy, ch);
        same_bits(&format!("conv weight gradient (with bias) {g:?}"), path, &want, |be| {
            be.conv2d_grad_weight_and_bias(&x, &dy, g).0
        });
        same_bits(&format!("conv bias gradient {g:?}"), path, &sums, |be| be.conv2d_grad_weight_and_bias(&x, &dy, g).1);
    }
}

fn max_pool_2x2(path: CpuPath) {
    let pools = [
        Pool2d { batch: 3, c: 5, h: 28, w: 28, k: 2, stride: 2 },
        Pool2d { batch: 2, c: 3, h: 6, w: 40, k: 2, stride: 2 },
        Pool2d { batch: 1, c: 2, h: 7, w: 9, k: 2, stride: 2 },
        Pool2d { batch: 9, c: 3, h: 14, w: 34, k: 2, stride: 2 },
        // Short rows of 7 and 3 windows (MNIST's pool2; a tail in one vector).
        Pool2d { batch: 2, c: 4, h: 14, w: 14, k: 2, stride: 2 },
        Pool2d { batch: 1, c: 2, h: 4, w: 6, k: 2, stride: 2 },
        Pool2d { batch: 2, c: 3, h: 9, w: 11, k: 3, stride: 2 },
        Pool2d { batch: 2, c: 2, h: 9, w: 9, k: 3, stride: 3 },
    ];
    for (i, g) in pools.into_iter().enumerate() {
        // Few distinct values, so windows hold ties and the first-maximum rule matters;
        // ±0 ties, NaN and −∞ too.
        let mut x: Vec<f32> =
            values(g.batch * g.c * g.h * g.w, 71 + i as u64).iter().map(|v| (v * 3.0).round()).collect();
        for (j, v) in x.iter_mut().enumerate() {
            match j % 23 {
                0 => *v = f32::NAN,
                7 => *v = f32::NEG_INFINITY,
                11 | 12 => *v = -0.0,
                _ => {}
            }
        }
        let dy = with_zeros(g.batch * g.c * g.oh() * g.ow(), 81 + i as u64);
        let pooled = conv::max_pool2d(&x, g, false);
        same_bits(&format!("max-pool {g:?}"), path, &pooled, |be| be.max_pool2d(&x, g));
        let want = conv::max_pool2d_grad(&x, &dy, g, false);
        same_bits(&format!("max-pool gradient {g:?}"), path, &want, |be| be.max_pool2d_grad(&x, &dy, g));
        // The fused ReLU is the ReLU map after the pool, and its gradient the map's
        // gradient then the pool's.
        let relu = elementwise::map(Map::Relu, &pooled);
        same_bits(&format!("max-pool + ReLU {g:?}"), path, &relu, |be| be.max_pool2d_relu(&x, g));
        let through_relu = elementwise::map_grad(Map::Relu, &pooled, &relu, &dy);
        let want = conv::max_pool2d_grad(&x, &through_relu, g, false);
        same_bits(&format!("max-pool + ReLU gradient {g:?}"), path, &want, |be| {
            be.max_pool2d_relu_grad(&x, &relu, &dy, g)
        });
        let want = conv::avg_pool2d(&x, g);
        same_bits(&format!("avg-pool {g:?}"), path, &want, |be| be.avg_pool2d(&x, g));
        let want = conv::avg_pool2d_grad(&dy, g);
        same_bits(&format!("avg-pool gradient {g:?}"), path, &want, |be| be.avg_pool2d_grad(&dy, g));
    }
    assert_eq!(super::pool2x2::supported(&pools[0], path), path != CpuPath::Portable, "the 2×2 kernel on {path}");
}

fn dense_small_gemm(path: CpuPath) {
    // Every matrix product follows the GEMM contract (gemm/mod.rs), or for the tiny
    // weight gradients the fixed 8-chain order of small_gemm's `outer_products`, so
    // here the bound is 0: the same bits as the portable path and as that order's loop.
    let (on, portable) = backends(path);
    let mut packed = 0;
    for (i, (m, k, n)) in [(500, 3, 4), (500, 4, 1), (500, 1, 4), (4, 500, 3), (1, 500, 4), (33, 5, 8), (7, 17, 2)]
        .into_iter()
        .enumerate()
    {
        for (trans_a, trans_b) in [(false, false), (false, true), (true, false)] {
            let d = MatMul { m, k, n, trans_a, trans_b };
            let a = values(m * k, 91 + i as u64);
            let b = values(k * n, 101 + i as u64);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let got = bits(&on.matmul(&a, &b, d));
            assert_eq!(got, bits(&portable.matmul(&a, &b, d)), "matmul {d:?} on {path}: not the portable bits");
            let want = if trans_a && m <= 4 && n <= 4 {
                super::small_gemm::outer_reference(&a, &b, d)
            } else {
                super::gemm::reference(&a, &b, None, d)
            };
            assert_eq!(got, bits(&want), "matmul {d:?} on {path}");
            let mut c = vec![0.0; m * n];
            packed += usize::from(super::narrow_gemm::try_matmul(&a, &b, d, &mut c, path));
        }
    }
    // The packed kernels took the 8 row-major shapes and the 2 tiny weight gradients they
    // fit on avx512 and on avx2, and none on the portable path.
    let expected = if path == CpuPath::Portable { 0 } else { 10 };
    assert_eq!(packed, expected, "shapes packed on {path}");
}

fn exp_ln_sigmoid(path: CpuPath) {
    use crate::backend::element::{exp_slice, ln_slice, sigmoid_slice};
    // Every exponent of f32 that exp and ln meet, odd lengths so vector tails run too.
    let wide: Vec<f32> = (0..20_001).map(|i| -100.0 + i as f32 * 0.01).collect();
    let positive: Vec<f32> = (0..20_001).map(|i| 1.0137f32.powi(i - 10_000)).filter(|v| v.is_normal()).collect();
    type OnPath = fn(CpuPath, &mut [f32]);
    let functions: [(&str, OnPath, &[f32]); 3] =
        [("exp", exp_slice, &wide), ("ln", ln_slice, &positive), ("sigmoid", sigmoid_slice, &wide)];
    for (name, f, input) in functions {
        let (mut got, mut want) = (input.to_vec(), input.to_vec());
        f(path, &mut got);
        f(CpuPath::Portable, &mut want);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "{name} on {path}: not the portable bits");
        assert!(got.iter().all(|v| v.is_finite()), "{name} on {path}");
    }
}
