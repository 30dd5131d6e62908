//! What the AVX2 + FMA kernels share: the vector width in f32 lanes and lane masks.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// f32 values in one 256-bit vector.
pub const LANES: usize = 8;

/// The mask (all bits set per selected lane, as `_mm256_maskload_ps` and
/// `_mm256_maskstore_ps` take it) that selects the first `count` lanes (all from 8 on).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub fn first_lanes(count: usize) -> __m256i {
    let count = count.min(LANES) as i32;
    _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}
