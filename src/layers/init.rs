//! Initial parameter values. Each parameter draws from its own stream
//! (`init/<layer>.<param>`), so adding a layer never changes another's weights.

use crate::graph::{ParamDef, ParamInit};
use crate::rng;
use crate::spec::InitKind;

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
            InitKind::Torch => {
                let a = 1.0 / (fan_in as f64).sqrt();
                (0..n).map(|_| rng::uniform(&mut r, -a, a)).collect()
            }
            InitKind::He => {
                let std = (2.0 / fan_in as f64).sqrt();
                (0..n).map(|_| std * rng::normal(&mut r)).collect()
            }
        },
    }
}
