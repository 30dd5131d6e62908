//! Every CPU path this machine has against the portable one, op family by op family,
//! through the backend (so the dispatch is tested too). A path the CPU lacks is
//! compiled as an ignored test whose reason names it (see build.rs), so `cargo test`
//! lists it as skipped, never as a pass.
//!
//! Tolerances come from the arithmetic, not from a run. A sum of n rounded terms
//! evaluated in f32 in any order, with or without fused multiply-adds, is within
//! γₙ·Σ|terms| of the exact sum, γₙ = n·u / (1 − n·u), u = 2⁻²⁴ (Higham, *Accuracy and
//! Stability of Numerical Algorithms*, (3.4)–(3.5)); two such evaluations are within
//! twice that of each other. Σ|terms| is computed per output by the same op in f64 on
//! the absolute values of the inputs. Max-pooling and the element-wise functions do
//! the same correctly rounded operations on every path, so there the bound is 0: the
//! same bits.

use super::path::CpuPath;
use super::{conv, CpuBackend};
use crate::backend::{Backend, Conv2d, MatMul, Pool2d};

/// u: half the gap between 1 and the next f32.
const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;

/// γₙ·Σ|terms|: how far one f32 evaluation of an n-term sum can be from the exact sum.
pub(crate) fn one_order_bound(n: usize, abs_sum: f64) -> f64 {
    let nu = n as f64 * UNIT_ROUNDOFF;
    assert!(nu < 0.5, "{n} terms: the first-order bound no longer holds");
    nu / (1.0 - nu) * abs_sum
}

/// How far two f32 evaluations of the same n-term sum, in different orders, can be apart.
pub(crate) fn two_orders_bound(n: usize, abs_sum: f64) -> f64 {
    2.0 * one_order_bound(n, abs_sum)
}

/// Asserts |got − want| ≤ bound element by element; returns the worst |got − want| and
/// the worst ratio to its bound, for the report.
pub(crate) fn assert_within(what: &str, got: &[f32], want: &[f32], bounds: &[f64]) -> (f64, f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    assert_eq!(got.len(), bounds.len(), "{what}: lengths");
    let (mut worst, mut ratio) = (0.0f64, 0.0f64);
    for (i, ((g, w), b)) in got.iter().zip(want).zip(bounds).enumerate() {
        let diff = (*g as f64 - *w as f64).abs();
        assert!(diff <= *b, "{what}: element {i}: {g} vs {w}, difference {diff:e} exceeds the bound {b:e}");
        worst = worst.max(diff);
        if *b > 0.0 {
            ratio = ratio.max(diff / b);
        }
    }
    eprintln!("{what}: worst difference {worst:.3e}, {:.1}% of its bound", 100.0 * ratio);
    (worst, ratio)
}

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

fn abs64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|v| v.abs() as f64).collect()
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

/// The CNN's two convolutions, odd sizes, and a stride-2 geometry no fast kernel takes.
const CONVS: [Conv2d; 5] = [
    Conv2d { batch: 4, c_in: 1, h: 28, w: 28, c_out: 16, kh: 5, kw: 5, stride: 1, pad: 2 },
    Conv2d { batch: 3, c_in: 16, h: 14, w: 14, c_out: 32, kh: 5, kw: 5, stride: 1, pad: 2 },
    Conv2d { batch: 3, c_in: 2, h: 9, w: 21, c_out: 8, kh: 5, kw: 5, stride: 1, pad: 2 },
    Conv2d { batch: 2, c_in: 3, h: 7, w: 6, c_out: 48, kh: 3, kw: 2, stride: 1, pad: 0 },
    Conv2d { batch: 2, c_in: 3, h: 9, w: 9, c_out: 16, kh: 3, kw: 3, stride: 2, pad: 1 },
];

fn conv_forward(path: CpuPath) {
    let (on, portable) = backends(path);
    for (i, g) in CONVS.into_iter().enumerate() {
        let x = values(g.batch * g.c_in * g.h * g.w, 1 + i as u64);
        let w = values(g.c_out * g.patch(), 11 + i as u64);
        let b = values(g.c_out, 21 + i as u64);
        let got = on.conv2d(&x, &w, Some(&b), g);
        let want = portable.conv2d(&x, &w, Some(&b), g);
        let sizes = conv::conv2d::<f64>(&abs64(&x), &abs64(&w), Some(&abs64(&b)), g);
        // patch products and the bias per output.
        let bounds: Vec<f64> = sizes.iter().map(|s| two_orders_bound(g.patch() + 1, *s)).collect();
        assert_within(&format!("conv {g:?} on {path}"), &got, &want, &bounds);
    }
    // The avx512 path really ran its own kernel where the geometry allows.
    let direct = super::direct_conv::supported(&CONVS[1], path);
    assert_eq!(direct, path == CpuPath::Avx512, "the direct kernel on {path}");
}

fn conv_input_gradient(path: CpuPath) {
    let (on, portable) = backends(path);
    for (i, g) in CONVS.into_iter().enumerate() {
        let dy = values(g.batch * g.c_out * g.oh() * g.ow(), 31 + i as u64);
        let w = values(g.c_out * g.patch(), 41 + i as u64);
        let got = on.conv2d_grad_input(&dy, &w, g);
        let want = portable.conv2d_grad_input(&dy, &w, g);
        let sizes = conv::conv2d_grad_input::<f64>(&abs64(&dy), &abs64(&w), g);
        // Each dx value sums at most c_out·kh·kw products.
        let bounds: Vec<f64> = sizes.iter().map(|s| two_orders_bound(g.c_out * g.kh * g.kw, *s)).collect();
        assert_within(&format!("conv input gradient {g:?} on {path}"), &got, &want, &bounds);
    }
}

fn conv_weight_gradient(path: CpuPath) {
    let (on, portable) = backends(path);
    for (i, g) in CONVS.into_iter().enumerate() {
        let x = values(g.batch * g.c_in * g.h * g.w, 51 + i as u64);
        let dy = values(g.batch * g.c_out * g.oh() * g.ow(), 61 + i as u64);
        let got = on.conv2d_grad_weight(&x, &dy, g);
        let want = portable.conv2d_grad_weight(&x, &dy, g);
        let sizes = conv::conv2d_grad_weight::<f64>(&abs64(&x), &abs64(&dy), g);
        // Each weight's gradient sums one product per image and output pixel.
        let n = g.batch * g.oh() * g.ow();
        let bounds: Vec<f64> = sizes.iter().map(|s| two_orders_bound(n, *s)).collect();
        assert_within(&format!("conv weight gradient {g:?} on {path}"), &got, &want, &bounds);
    }
    let lanes = super::weight_grad::supported(&CONVS[1], path);
    assert_eq!(lanes, path == CpuPath::Avx512, "the channel-lane kernel on {path}");
}

fn max_pool_2x2(path: CpuPath) {
    let (on, portable) = backends(path);
    let pools = [
        Pool2d { batch: 3, c: 5, h: 28, w: 28, k: 2, stride: 2 },
        Pool2d { batch: 2, c: 3, h: 6, w: 40, k: 2, stride: 2 },
        Pool2d { batch: 1, c: 2, h: 7, w: 9, k: 2, stride: 2 },
    ];
    for (i, g) in pools.into_iter().enumerate() {
        // Few distinct values, so windows hold ties and the first-maximum rule matters.
        let x: Vec<f32> = values(g.batch * g.c * g.h * g.w, 71 + i as u64).iter().map(|v| (v * 3.0).round()).collect();
        let dy = values(g.batch * g.c * g.oh() * g.ow(), 81 + i as u64);
        assert_eq!(on.max_pool2d(&x, g), portable.max_pool2d(&x, g), "{g:?} on {path}");
        assert_eq!(on.max_pool2d_grad(&x, &dy, g), portable.max_pool2d_grad(&x, &dy, g), "{g:?} on {path}");
    }
    assert_eq!(super::pool2x2::supported(&pools[0], path), path == CpuPath::Avx512, "the 2×2 kernel on {path}");
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
    // fit on avx512, and none elsewhere.
    let expected = if path == CpuPath::Avx512 { 10 } else { 0 };
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
