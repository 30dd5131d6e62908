//! The tape's rules by hand: ReLU's gradient rules (alone and fused into a max-pool)
//! and reshapes that share their input's value. Finite-difference checks of every op
//! are in gradcheck.rs.

mod relu_rules {
    use crate::autodiff::{ReluRule, Tape};
    use crate::backend::{Backend, CpuBackend, Map};

    /// y = relu(x) at x = (1, −2, 3, −4) with the upstream signal (2, 3, −5, −7).
    #[test]
    fn each_relu_rule_passes_back_its_hand_value() {
        let be = CpuBackend::new();
        let grad = |rule: ReluRule| {
            let mut tape = Tape::<f64, CpuBackend>::new(&be);
            let x = tape.leaf(be.upload(&[1.0, -2.0, 3.0, -4.0]), vec![1, 4], true);
            let y = tape.map(Map::Relu, x);
            let grads = tape.backward_seeded(y, be.upload(&[2.0, 3.0, -5.0, -7.0]), rule);
            be.download(grads.get(x).expect("a gradient"))
        };
        // dy where x > 0.
        assert_eq!(grad(ReluRule::Gradient), [2.0, 0.0, -5.0, 0.0]);
        // relu(dy), wherever x was.
        assert_eq!(grad(ReluRule::Deconvnet), [2.0, 3.0, 0.0, 0.0]);
        // relu(dy) where x > 0.
        assert_eq!(grad(ReluRule::Guided), [2.0, 0.0, 0.0, 0.0]);
    }

    /// The fused max-pool + ReLU is the pool, then the ReLU, in value and under every
    /// rule: on the CPU's fused kernels and on the trait's composition (which the
    /// failing test backend keeps, as CUDA does), with ties, zeros and negative windows.
    #[test]
    fn the_fused_pool_and_relu_are_the_pool_then_the_relu_under_every_rule() {
        fn run<B: Backend<f32>>(be: &B, fused: bool, rule: ReluRule) -> (Vec<f32>, Vec<f32>) {
            let x: Vec<f32> = (0..48).map(|i| ((i * 7) % 11) as f32 - 6.0).collect();
            let dy: Vec<f32> = (0..12).map(|i| ((i * 5) % 7) as f32 - 3.0).collect();
            let mut tape = Tape::<f32, B>::new(be);
            let xv = tape.leaf(be.upload(&x), vec![1, 2, 4, 6], true);
            let y = if fused {
                tape.max_pool2d_relu(xv, 2, 2)
            } else {
                let pooled = tape.max_pool2d(xv, 2, 2);
                tape.map(Map::Relu, pooled)
            };
            let value = be.download(tape.value(y));
            let grads = tape.backward_seeded(y, be.upload(&dy), rule);
            (value, be.download(grads.get(xv).expect("a gradient")))
        }
        let cpu = CpuBackend::new();
        let composed = crate::backend::failing::FailingBackend::after(usize::MAX);
        for rule in [ReluRule::Gradient, ReluRule::Deconvnet, ReluRule::Guided] {
            let (value, grad) = run(&cpu, false, rule);
            assert!(value.contains(&0.0) && value.iter().any(|v| *v > 0.0), "windows of both signs");
            assert!(grad.iter().any(|g| *g != 0.0), "{rule:?}: some gradient passes");
            assert_eq!(run(&cpu, true, rule), (value.clone(), grad.clone()), "{rule:?}: the CPU's fused op");
            assert_eq!(run(&composed, true, rule), (value, grad), "{rule:?}: the trait's composition");
        }
    }

    /// Other maps keep their true gradient under every rule: tanh' = 1 − tanh².
    #[test]
    fn rules_change_only_relus() {
        let be = CpuBackend::new();
        for rule in [ReluRule::Gradient, ReluRule::Deconvnet, ReluRule::Guided] {
            let mut tape = Tape::<f64, CpuBackend>::new(&be);
            let x = tape.leaf(be.upload(&[0.5, -1.0]), vec![1, 2], true);
            let y = tape.map(Map::Tanh, x);
            let grads = tape.backward_seeded(y, be.upload(&[1.0, -2.0]), rule);
            let got = be.download(grads.get(x).expect("a gradient"));
            let want = [1.0 - 0.5f64.tanh().powi(2), -2.0 * (1.0 - 1.0f64.tanh().powi(2))];
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-15, "{rule:?}: {g} vs {w}");
            }
        }
    }
}

mod reshape {
    use crate::autodiff::Tape;
    use crate::backend::{CpuBackend, Map};

    /// A reshape reads its input's buffer (no copy), through a chain of reshapes too,
    /// and passes the gradient back unchanged.
    #[test]
    fn a_reshape_shares_its_inputs_value_and_passes_the_gradient_back() {
        let be = CpuBackend::new();
        let mut tape = Tape::<f64, CpuBackend>::new(&be);
        let x = tape.leaf(vec![1.0, -2.0, 3.0, 0.5, 4.0, -1.0], vec![2, 3], true);
        let sq = tape.map(Map::Square, x);
        let flat = tape.reshape(sq, vec![6]);
        let back = tape.reshape(flat, vec![3, 2]);
        assert!(std::ptr::eq(tape.value(back), tape.value(sq)), "the reshapes hold no copy");
        assert_eq!(tape.shape(back), &[3, 2]);
        assert_eq!(tape.value(back), &vec![1.0, 4.0, 9.0, 0.25, 16.0, 1.0]);
        let total = tape.sum_all(back);
        let grads = tape.backward(total);
        assert_eq!(grads.get(x), Some(&vec![2.0, -4.0, 6.0, 1.0, 8.0, -2.0]));
        assert_eq!(tape.into_value(back), vec![1.0, 4.0, 9.0, 0.25, 16.0, 1.0]);
    }
}
