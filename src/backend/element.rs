//! The floating-point types a backend computes in. f32 is the default; f64 exists for
//! exact comparison with numpy references and for finite-difference gradient checks.

use super::cpu::path::{self, note, CpuPath, Family, Kernel};
use std::fmt::{Debug, Display};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    #[default]
    F32,
    F64,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }
}

pub trait Element: num_traits::Float + Send + Sync + Default + Debug + Display + 'static {
    const DTYPE: DType;

    fn from_f64(v: f64) -> Self;
    fn as_f64(self) -> f64;
    /// e^x for a whole slice, written so the compiler can vectorise it.
    fn exp_in_place(xs: &mut [Self]);
    /// σ(x) = 1 / (1 + e^−x) for a whole slice, in one vectorisable pass.
    fn sigmoid_in_place(xs: &mut [Self]) {
        xs.iter_mut().for_each(|v| *v = -*v);
        Self::exp_in_place(xs);
        xs.iter_mut().for_each(|v| *v = Self::one() / (Self::one() + *v));
    }
    /// ln(x) for a slice of positive, finite, normal values, vectorisable like `exp_in_place`.
    fn ln_positive_in_place(xs: &mut [Self]);
    fn le_bytes(xs: &[Self]) -> Vec<u8>;
}

/// Applies an element-wise function to a slice with the vectors `path` allows: the
/// same loop compiled for AVX-512 or AVX2 + FMA where the path (and so the CPU, checked
/// once in `cpu::path`) has them, the build's baseline otherwise. Only the vector width
/// changes, never the arithmetic (the functions use `mul_add`, which is a correctly
/// rounded fused multiply-add on every path: one instruction with FMA, libm's `fmaf`
/// without), so the results are the same bits on every path; a test checks it.
macro_rules! with_vectors {
    ($path:expr, $xs:expr, $f:expr) => {{
        #[inline(always)]
        fn portable(xs: &mut [f32]) {
            xs.iter_mut().for_each($f);
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn avx2(xs: &mut [f32]) {
            portable(xs)
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        fn avx512(xs: &mut [f32]) {
            portable(xs)
        }
        let (path, xs): (CpuPath, &mut [f32]) = ($path, $xs);
        match path {
            #[cfg(target_arch = "x86_64")]
            CpuPath::Avx512 if path.available() => {
                note(Family::Elementwise, Kernel::Avx512);
                // SAFETY: `available` checked that this CPU has AVX-512F, the only
                // feature `avx512` is compiled for.
                unsafe { avx512(xs) }
            }
            #[cfg(target_arch = "x86_64")]
            CpuPath::Avx2 if path.available() => {
                note(Family::Elementwise, Kernel::Avx2);
                // SAFETY: `available` checked that this CPU has AVX2 and FMA.
                unsafe { avx2(xs) }
            }
            _ => {
                note(Family::Elementwise, Kernel::Portable);
                portable(xs)
            }
        }
    }};
}

/// e^x over a slice of f32 on the given CPU path (see `exp_f32`).
pub fn exp_slice(path: CpuPath, xs: &mut [f32]) {
    with_vectors!(path, xs, |x: &mut f32| *x = exp_f32(*x))
}

/// ln(x) over a slice of positive, finite, normal f32 on the given CPU path.
pub fn ln_slice(path: CpuPath, xs: &mut [f32]) {
    with_vectors!(path, xs, |x: &mut f32| *x = ln_f32(*x))
}

/// σ(x) = 1 / (1 + e^−x) over a slice of f32 on the given CPU path.
pub fn sigmoid_slice(path: CpuPath, xs: &mut [f32]) {
    with_vectors!(path, xs, |x: &mut f32| *x = 1.0 / (1.0 + exp_f32(-*x)))
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    fn exp_in_place(xs: &mut [Self]) {
        exp_slice(path::current(), xs)
    }
    fn ln_positive_in_place(xs: &mut [Self]) {
        ln_slice(path::current(), xs)
    }
    fn sigmoid_in_place(xs: &mut [Self]) {
        sigmoid_slice(path::current(), xs)
    }
    fn le_bytes(xs: &[Self]) -> Vec<u8> {
        xs.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

impl Element for f64 {
    const DTYPE: DType = DType::F64;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn as_f64(self) -> f64 {
        self
    }
    fn exp_in_place(xs: &mut [Self]) {
        note(Family::Elementwise, Kernel::Portable);
        for x in xs {
            *x = x.exp();
        }
    }
    fn ln_positive_in_place(xs: &mut [Self]) {
        note(Family::Elementwise, Kernel::Portable);
        for x in xs {
            *x = x.ln();
        }
    }
    fn le_bytes(xs: &[Self]) -> Vec<u8> {
        xs.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

/// Branch-free e^x for f32 (Cephes range reduction + degree-6 polynomial), about
/// 1 ulp from `f32::exp` and auto-vectorisable, unlike the libm call. Written with
/// fused multiply-adds: one instruction each where the CPU has FMA (every AVX2 and
/// AVX-512 build), and the same correctly rounded values from libm's `fmaf` where not.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer without a call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x.mul_add(LOG2E, ROUND);
    let k = shifted - ROUND;
    // k's integer value sits in the low mantissa bits of `shifted`; reading it there
    // avoids a saturating float→int cast, which would not vectorise.
    let k_int = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = (-k).mul_add(LN2_LO, (-k).mul_add(LN2_HI, x));
    let p = 1.987_569_1e-4_f32;
    let p = p.mul_add(r, 1.398_199_9e-3);
    let p = p.mul_add(r, 8.333_452e-3);
    let p = p.mul_add(r, 4.166_579_6e-2);
    let p = p.mul_add(r, 1.666_666_5e-1);
    let p = p.mul_add(r, 0.5);
    let e = (p * r).mul_add(r, r + 1.0);
    let scale = f32::from_bits(((k_int + 127) as u32) << 23);
    e * scale
}

/// Branch-free ln(x) for positive normal f32 (Cephes logf): split x = m·2^e with m in
/// [√½, √2), then a degree-9 polynomial in m − 1 (fused multiply-adds, as in `exp_f32`).
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    let m = f32::from_bits((bits & 0x807f_ffff) | 0x3f00_0000); // in [0.5, 1)
    let small = m < SQRT_HALF;
    e -= i32::from(small);
    let m = if small { m + m - 1.0 } else { m - 1.0 };
    let e = e as f32;
    let z = m * m;
    let mut p = 7.037_683_6e-2_f32;
    p = p.mul_add(m, -1.151_461_1e-1);
    p = p.mul_add(m, 1.167_699_9e-1);
    p = p.mul_add(m, -1.242_014_1e-1);
    p = p.mul_add(m, 1.424_932_3e-1);
    p = p.mul_add(m, -1.666_805_8e-1);
    p = p.mul_add(m, 2.000_071_4e-1);
    p = p.mul_add(m, -2.499_999_4e-1);
    p = p.mul_add(m, 3.333_333e-1);
    let y = m * z * p - 2.121_944_4e-4 * e - 0.5 * z;
    m + y + 0.693_359_4 * e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_matches_libm_to_a_few_ulp() {
        let mut worst = 0.0f64;
        let mut x = -80.0f32;
        while x < 80.0 {
            let rel = ((exp_f32(x) as f64) - (x as f64).exp()).abs() / (x as f64).exp();
            worst = worst.max(rel);
            x += 0.013;
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
    }

    #[test]
    fn fast_ln_matches_libm_to_a_few_ulp() {
        let mut worst = 0.0f64;
        let mut x = 1e-30f32;
        while x < 1e30 {
            let want = (x as f64).ln();
            let err = ((ln_f32(x) as f64) - want).abs() / want.abs().max(1.0);
            worst = worst.max(err);
            x *= 1.0137;
        }
        assert!(worst < 3e-7, "worst error {worst}");
    }
}
