//! What the AVX2 + FMA kernels share: the vector width in f32 lanes and lane masks.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// f32 values in one 256-bit vector.
pub const LANES: usize = 8;

/// The mask (all bits set per selected lane, as `_mm256_maskload_ps` takes it) that
/// selects the first `count` lanes (all from 8 on).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub fn first_lanes(count: usize) -> __m256i {
    let count = count.min(LANES) as i32;
    _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}

/// Stores the first `count` lanes of `v` at `dst` (all 8 from 8 on) with plain stores
/// of 4, 2 and 1 lanes. Not `_mm256_maskstore_ps`: on a Zen 3 a masked store took about
/// 12 cycles (4.4 ns, against 0.7 ns for a plain one), and the short rows of the
/// pooling and the convolution store a tail on every row.
///
/// # Safety
/// The CPU has AVX2; `count.min(8)` values from `dst` are writable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub unsafe fn store_first(dst: *mut f32, count: usize, v: __m256) {
    // SAFETY: the caller's; the stores below cover lanes 0..count, no more.
    unsafe {
        if count >= LANES {
            return _mm256_storeu_ps(dst, v);
        }
        let (mut rest, mut at) = (_mm256_castps256_ps128(v), 0);
        if count >= 4 {
            _mm_storeu_ps(dst, rest);
            (rest, at) = (_mm256_extractf128_ps::<1>(v), 4);
        }
        if count & 2 != 0 {
            _mm_storel_epi64(dst.add(at).cast::<__m128i>(), _mm_castps_si128(rest));
            (rest, at) = (_mm_movehl_ps(rest, rest), at + 2);
        }
        if count & 1 != 0 {
            _mm_store_ss(dst.add(at), rest);
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Every count writes exactly its lanes: the values before, none after.
    #[test]
    #[cfg_attr(not(runner_avx2), ignore = "this CPU lacks AVX2+FMA: the avx2 path is skipped")]
    fn store_first_writes_the_first_lanes_and_nothing_else() {
        crate::backend::cpu::parity::required(crate::backend::cpu::path::CpuPath::Avx2);
        for count in 0..=10 {
            let mut out = [-1.0f32; 12];
            // SAFETY: `required` checked AVX2; out has 12 ≥ count.min(8) writable values.
            unsafe { store_first(out.as_mut_ptr(), count, _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0)) };
            let expected: Vec<f32> = (0..12).map(|i| if i < count.min(8) { i as f32 } else { -1.0 }).collect();
            assert_eq!(out.to_vec(), expected, "count {count}");
        }
    }
}
