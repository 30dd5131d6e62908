//! One RNG family (ChaCha8) with named streams derived from the run's seed, so what
//! one part draws never shifts another: adding a probe or a layer leaves the data,
//! the shuffle order and every other layer's initial weights unchanged.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub type StreamRng = ChaCha8Rng;

/// The streams a run draws from, recorded in the manifest.
pub const STREAMS: [&str; 9] =
    ["data", "split", "validation", "init", "shuffle", "augment", "dropout", "probe", "attack"];

/// A generator for the stream `name` of `seed`: SplitMix64 of the seed mixed with the
/// FNV-1a hash of the name.
pub fn stream(seed: u64, name: &str) -> StreamRng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(splitmix64(seed ^ h))
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Uniform in [low, high).
pub fn uniform(rng: &mut StreamRng, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.random::<f64>()
}

/// Standard normal by Box–Muller, written here so the numbers never change with a
/// dependency's version.
pub fn normal(rng: &mut StreamRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]: ln never sees 0
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A seeded Fisher–Yates permutation of 0..n.
pub fn permutation(rng: &mut StreamRng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        p.swap(i, j);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: Vec<f64> = (0..4).map(|_| uniform(&mut stream(7, "init"), 0.0, 1.0)).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]), "a fresh stream starts at the same value");
        let mut s1 = stream(7, "init");
        let mut s2 = stream(7, "shuffle");
        let mut s3 = stream(8, "init");
        let x1 = uniform(&mut s1, 0.0, 1.0);
        assert_ne!(x1, uniform(&mut s2, 0.0, 1.0));
        assert_ne!(x1, uniform(&mut s3, 0.0, 1.0));
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut r = stream(1, "data");
        let xs: Vec<f64> = (0..20000).map(|_| normal(&mut r)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean} var {var}");
    }
}
