//! A vector of f32 lanes, so one kernel source serves every CPU path: 16 lanes of
//! AVX-512F, 8 of AVX2 + FMA, and an 8-value array with `mul_add` on the portable path.
//! The convolution kernels put independent outputs in the lanes (pixels, output
//! channels), never parts of one sum, so the lane count changes how fast they run and
//! never a bit: every lane is its own chain of fused multiply-adds, in the same order
//! on every path (`f32::mul_add` is the same correctly rounded operation as the FMA
//! instructions).

use super::path::{CpuPath, Kernel};

/// The instruction set a kernel runs with on a path: AVX-512F or AVX2 + FMA only where
/// the path is that one and the CPU has it, the arrays otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    Avx512,
    Avx2,
    Portable,
}

impl Isa {
    pub fn of(path: CpuPath) -> Isa {
        if cfg!(target_arch = "x86_64") && path.avx512() {
            Isa::Avx512
        } else if cfg!(target_arch = "x86_64") && path == CpuPath::Avx2 && path.available() {
            Isa::Avx2
        } else {
            Isa::Portable
        }
    }

    /// The kernel name the manifest records for a lane kernel run with this set.
    pub fn kernel(self) -> Kernel {
        match self {
            Isa::Avx512 => Kernel::Avx512,
            Isa::Avx2 => Kernel::Avx2,
            Isa::Portable => Kernel::Portable,
        }
    }
}

/// f32 lanes. Every method is unsafe for one reason in common: the CPU must have the
/// type's instructions (`Isa::of` chose it); the loads and stores also need their
/// `N` (or `count`) values at `p` to be readable or writable.
pub(crate) trait Lanes: Copy {
    const N: usize;
    unsafe fn splat(v: f32) -> Self;
    /// `splat(*p.add(O))` as its own load each call, addressed from p with a constant
    /// offset: the compiler may not merge it with an equal broadcast nearby and keep the
    /// vector for later, which in the convolution kernels (a value broadcast again one
    /// tap later) cost more registers than AVX2 has, and spills in the innermost loop;
    /// and the offset needs no address computed per broadcast.
    unsafe fn broadcast_at<const O: usize>(p: *const f32) -> Self;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    /// Stores the first `count` (< N) lanes only.
    unsafe fn store_first(self, p: *mut f32, count: usize);
    /// self·b + c with one rounding.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
}

/// Eight values, one `mul_add` each: the portable path.
#[derive(Clone, Copy)]
pub(crate) struct Portable([f32; 8]);

impl Lanes for Portable {
    const N: usize = 8;
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Portable([v; 8])
    }
    #[inline(always)]
    unsafe fn broadcast_at<const O: usize>(p: *const f32) -> Self {
        // SAFETY: the caller's: the value at p + O is readable.
        Portable([unsafe { *p.add(O) }; 8])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller's: 8 values from p are readable.
        Portable(unsafe { p.cast::<[f32; 8]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller's: 8 values from p are writable.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(self.0) }
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, count: usize) {
        for (i, v) in self.0.iter().enumerate().take(count) {
            // SAFETY: the caller's: `count` values from p are writable.
            unsafe { p.add(i).write(*v) }
        }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Portable(std::array::from_fn(|i| self.0[i].mul_add(b.0[i], c.0[i])))
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Lanes;
    use std::arch::x86_64::*;

    /// 16 lanes of AVX-512F.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512(__m512);

    impl Lanes for Avx512 {
        const N: usize = 16;
        #[inline(always)]
        unsafe fn splat(v: f32) -> Self {
            // SAFETY (every method here): the caller's, AVX-512F and the values at p.
            Avx512(unsafe { _mm512_set1_ps(v) })
        }
        #[inline(always)]
        unsafe fn broadcast_at<const O: usize>(p: *const f32) -> Self {
            // 32 registers leave no reason to spill a merged broadcast here.
            Avx512(unsafe { _mm512_set1_ps(*p.add(O)) })
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx512(unsafe { _mm512_loadu_ps(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            unsafe { _mm512_storeu_ps(p, self.0) }
        }
        #[inline(always)]
        unsafe fn store_first(self, p: *mut f32, count: usize) {
            unsafe { _mm512_mask_storeu_ps(p, super::super::avx512::first_lanes(count), self.0) }
        }
        #[inline(always)]
        unsafe fn mul_add(self, b: Self, c: Self) -> Self {
            Avx512(unsafe { _mm512_fmadd_ps(self.0, b.0, c.0) })
        }
    }

    /// `vbroadcastss` from p + O as an `asm!` block that is not `pure`, so the compiler
    /// neither merges nor hoists it (see `Lanes::broadcast_at`).
    ///
    /// # Safety
    /// The CPU has AVX2 and the value at p + O is readable.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn broadcast_avx2<const O: usize>(p: *const f32) -> __m256 {
        let v: __m256;
        // SAFETY: the caller's.
        unsafe {
            std::arch::asm!("vbroadcastss {v}, dword ptr [{p} + {o}]", v = lateout(ymm_reg) v, p = in(reg) p,
                o = const O * 4, options(readonly, nostack, preserves_flags))
        };
        v
    }

    /// 8 lanes of AVX2 + FMA.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2(__m256);

    impl Lanes for Avx2 {
        const N: usize = 8;
        #[inline(always)]
        unsafe fn splat(v: f32) -> Self {
            // SAFETY (every method here): the caller's, AVX2 + FMA and the values at p.
            Avx2(unsafe { _mm256_set1_ps(v) })
        }
        #[inline(always)]
        unsafe fn broadcast_at<const O: usize>(p: *const f32) -> Self {
            Avx2(unsafe { broadcast_avx2::<O>(p) })
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx2(unsafe { _mm256_loadu_ps(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            unsafe { _mm256_storeu_ps(p, self.0) }
        }
        #[inline(always)]
        unsafe fn store_first(self, p: *mut f32, count: usize) {
            unsafe { super::super::avx2::store_first(p, count, self.0) }
        }
        #[inline(always)]
        unsafe fn mul_add(self, b: Self, c: Self) -> Self {
            Avx2(unsafe { _mm256_fmadd_ps(self.0, b.0, c.0) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each lane type's fused multiply-add and partial store against `mul_add` per value.
    fn check<V: Lanes>() {
        let (a, b, c): (Vec<f32>, Vec<f32>, Vec<f32>) = (0..V::N)
            .map(|i| (1.0 + i as f32 * 1e-3, 1.0 / 3.0 + i as f32, -(i as f32) * 0.7 - 1e-8))
            .fold((vec![], vec![], vec![]), |(mut a, mut b, mut c), (x, y, z)| {
                a.push(x);
                b.push(y);
                c.push(z);
                (a, b, c)
            });
        let want: Vec<f32> = (0..V::N).map(|i| a[i].mul_add(b[i], c[i])).collect();
        for count in [V::N, V::N - 1, 1, 0] {
            let mut got = vec![-5.0f32; V::N];
            // SAFETY: callers pass a type this CPU runs; every buffer holds N values.
            unsafe {
                let r = V::load(a.as_ptr()).mul_add(V::load(b.as_ptr()), V::load(c.as_ptr()));
                if count == V::N {
                    r.store(got.as_mut_ptr())
                } else {
                    r.store_first(got.as_mut_ptr(), count)
                }
            }
            assert_eq!(&got[..count], &want[..count], "{} lanes, {count} stored", V::N);
            assert!(got[count..].iter().all(|v| *v == -5.0), "lanes past {count} untouched");
        }
        // broadcast_at reads p + O, the same value in every lane.
        let mut got = vec![0.0f32; V::N];
        // SAFETY: as above; b holds N ≥ 8 values, so b[5] is readable.
        unsafe { V::broadcast_at::<5>(b.as_ptr()).store(got.as_mut_ptr()) };
        assert!(got.iter().all(|v| v.to_bits() == b[5].to_bits()), "{} lanes: {got:?}", V::N);
    }

    #[test]
    fn every_lane_type_this_cpu_runs_is_mul_add_per_lane() {
        check::<Portable>();
        #[cfg(target_arch = "x86_64")]
        {
            if Isa::of(CpuPath::Avx2) == Isa::Avx2 {
                check::<Avx2>();
            }
            if Isa::of(CpuPath::Avx512) == Isa::Avx512 {
                check::<Avx512>();
            }
        }
    }
}
