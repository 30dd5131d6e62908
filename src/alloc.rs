//! The process's allocator: mimalloc for small blocks, glibc's malloc for large ones.
//!
//! mimalloc is fastest for the many small blocks of a small network's step (the
//! diamond's 500×4 activations: 3.7–4.1 µs per iteration against 4.2–4.7 µs with glibc
//! alone). For the large activation buffers of a CNN it keeps what it frees per thread
//! and never purges (`main` turns purging off: re-faulting pages cost ~9%), and mnist_cnn
//! peaked at 95–105 MiB resident where glibc peaked at 57 MiB. glibc's heap, told not to
//! use a fresh mmap per large block nor to hand memory back (`configure`), reuses freed
//! large blocks in place without re-faulting them, as fast as mimalloc for them.
//! The binary and the benchmarks declare it with `#[global_allocator]` and call
//! `configure` first.
//!
//! A block's side is decided by its layout alone, which `dealloc` and `realloc` are given
//! too, so every block is freed by the allocator that made it.
//!
//! mimalloc is called through its C API, not the `mimalloc` crate's allocator: that one
//! asks for every block with `mi_malloc_aligned`, and for a block over 1 KiB whose size
//! is not a power of two (the diamond's 500×4 f32 activations, 8000 bytes) mimalloc
//! then takes its over-allocating slow path. Plain `mi_malloc` already gives every block
//! the alignment the layouts here ask for (see `plain`), as `malloc` does.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// Blocks of at least this many bytes go to glibc (on Linux with glibc; elsewhere all
/// go to mimalloc). An MNIST batch's activations are 0.2–3.2 MB each.
pub const LARGE: usize = 256 * 1024;

/// glibc's malloc aligns every block to 16 bytes on x86-64 and AArch64; a layout asking
/// for more stays with mimalloc.
const LIBC_ALIGN: usize = 16;

/// The global allocator of the `runner` binary and its benchmarks.
pub struct Allocator;

fn large(layout: Layout) -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu")) && layout.size() >= LARGE && layout.align() <= LIBC_ALIGN
}

/// mimalloc aligns every block to 16 bytes (`MI_MAX_ALIGN_SIZE`, `max_align_t`), and a
/// smaller block to the largest power of two its size allows, as `malloc` must; the rule
/// is std's own for `System`. Other layouts take mimalloc's aligned calls.
fn plain(align: usize, size: usize) -> bool {
    align <= MI_MAX_ALIGN && align <= size
}

/// mimalloc's `MI_MAX_ALIGN_SIZE` (types.h).
const MI_MAX_ALIGN: usize = 16;

/// mimalloc's `mi_option_purge_delay` (its header's enum; the Rust bindings name no
/// constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the process's memory up; call first thing in `main`, before any large block
/// exists.
/// - mimalloc keeps freed pages instead of handing them back to the OS 10 ms later: a
///   training step frees and re-allocates the same buffers, and re-faulting them cost ~9%.
/// - glibc's malloc (the large blocks) neither mmaps a block of its own (a fresh mmap per
///   block is a round of page faults each time one is allocated) nor trims the heap's
///   top (which would hand back, and later re-fault, pages about to be reused).
/// - No transparent huge pages: with them a kept page is resident in 2 MiB pieces, and
///   mnist_cnn peaked at 118–125 MiB instead of 94–101 MiB (all mimalloc then), for no
///   measured speed. mimalloc reads its own `allow_thp` option before main, so the
///   process flag is set instead.
pub fn configure() {
    // SAFETY: setting an option is always allowed; this one only changes when memory is purged.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // glibc accepts at most 32 MiB (HEAP_MAX_SIZE / 2) as the mmap threshold; blocks
        // larger than that are still mmapped, and none of a run's is near it.
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        // SAFETY: mallopt takes plain integers and only tunes future allocations; it
        // returns 0 for a value it refuses, which leaves glibc's default (harmless).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
        }
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only changes how this
    // process's future page faults are served; a failure (an old kernel) is harmless.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

// SAFETY: each block is made and freed by one allocator, chosen by `large(layout)` with
// the layout the caller passes back unchanged; glibc's blocks meet every alignment
// `large` lets through (≤ 16); the rest is mimalloc's own GlobalAlloc.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if large(layout) {
            // SAFETY: malloc with a nonzero size (≥ LARGE); a null return is passed on.
            unsafe { libc::malloc(layout.size()).cast() }
        } else if plain(layout.align(), layout.size()) {
            // SAFETY: any size is allowed; `plain` checked that the block's alignment suffices.
            unsafe { mi::mi_malloc(layout.size()).cast() }
        } else {
            // SAFETY: a layout's alignment is a nonzero power of two, as mimalloc requires.
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if large(layout) {
            // SAFETY: as for `alloc`; calloc zeroes (or knows the pages are zero).
            unsafe { libc::calloc(1, layout.size()).cast() }
        } else if plain(layout.align(), layout.size()) {
            // SAFETY: as for `alloc`.
            unsafe { mi::mi_zalloc(layout.size()).cast() }
        } else {
            // SAFETY: as for `alloc`.
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if large(layout) {
            // SAFETY: `ptr` came from malloc/calloc/realloc above (same layout, same side).
            unsafe { libc::free(ptr.cast()) }
        } else {
            // SAFETY: mimalloc made this block (plain or aligned: mi_free takes both).
            unsafe { mi::mi_free(ptr.cast::<c_void>()) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees new_size > 0 and, rounded up to the alignment,
        // no overflow: the layout is valid.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (large(layout), large(new_layout)) {
            // SAFETY: glibc made `ptr` and keeps the block on its side.
            (true, true) => unsafe { libc::realloc(ptr.cast(), new_size).cast() },
            // SAFETY: mimalloc made `ptr`; the new block keeps the alignment as in `alloc`.
            (false, false) if plain(layout.align(), new_size) => unsafe {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            },
            // SAFETY: as above, with the alignment asked for explicitly.
            (false, false) => unsafe { mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast() },
            // Crossing sides: a new block from the other allocator, the bytes both hold
            // copied, the old block freed by its own allocator.
            _ => unsafe {
                // SAFETY: new_layout is valid (above); `ptr` holds layout.size() bytes
                // and the new block new_size, so min of the two is readable and writable
                // in both, and the blocks are distinct.
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks grown and shrunk across the boundary keep their bytes and free cleanly
    /// (the process would abort on a block freed by the wrong allocator).
    #[test]
    fn blocks_keep_their_bytes_across_the_boundary() {
        let a = Allocator;
        for align in [1, 8, 16, 64, 4096] {
            let layout = Layout::from_size_align(1000, align).unwrap();
            // SAFETY: valid layouts; each block is used within its size and freed once
            // with the layout it has at that moment.
            unsafe {
                let p = a.alloc(layout);
                assert!(!p.is_null());
                for i in 0..1000 {
                    p.add(i).write((i % 251) as u8);
                }
                let p = a.realloc(p, layout, 2 * LARGE);
                assert!(!p.is_null() && (p as usize).is_multiple_of(align));
                assert!((0..1000).all(|i| p.add(i).read() == (i % 251) as u8));
                let big = Layout::from_size_align(2 * LARGE, align).unwrap();
                let p = a.realloc(p, big, 3 * LARGE);
                assert!((0..1000).all(|i| p.add(i).read() == (i % 251) as u8));
                let bigger = Layout::from_size_align(3 * LARGE, align).unwrap();
                let p = a.realloc(p, bigger, 500);
                assert!((0..500).all(|i| p.add(i).read() == (i % 251) as u8));
                a.dealloc(p, Layout::from_size_align(500, align).unwrap());
                let z = a.alloc_zeroed(big);
                assert!((0..2 * LARGE).all(|i| z.add(i).read() == 0));
                a.dealloc(z, big);
            }
        }
    }
}
