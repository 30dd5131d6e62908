//! What the AVX-512 kernels share: the vector width in f32 lanes and lane masks.

/// f32 values in one 512-bit vector.
pub const LANES: usize = 16;

/// The mask that selects the first `count` lanes (all of them from 16 on).
pub fn first_lanes(count: usize) -> u16 {
    if count >= LANES {
        u16::MAX
    } else {
        (1u16 << count) - 1
    }
}
