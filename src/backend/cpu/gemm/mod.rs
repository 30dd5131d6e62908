//! The one summation order of every matrix product on the CPU, whatever the CPU path.
//!
//! C[i][j] is one chain of fused multiply-adds over the shared dimension, in order:
//!
//! ```text
//! acc = if accumulate { C[i][j] } else { +0.0 }
//! for p in 0..k { acc = fma(op(A)[i][p], op(B)[p][j], acc) }   // one rounding per step
//! C[i][j] = acc
//! ```
//!
//! Nothing else is allowed to change a bit: a kernel may tile C any way it likes, put
//! any number of (i, j) in a vector's lanes, split rows between threads and block the
//! shared dimension (continuing each chain from the partial value it left in C), because
//! every (i, j) still sees the same operations in the same order. So the AVX-512, the
//! AVX2 + FMA and the portable kernels (which use `mul_add`, a correctly rounded fused
//! multiply-add everywhere) give the same bytes, and so do the convolutions built on
//! this contract (the direct kernels chain over the same (c_in, ky, kx) order that
//! im2col's rows have).
//!
//! One exception, chosen by shape alone and the same on every path: Aᵀ·B with m, n ≤ 4
//! (the weight gradients of tiny dense layers) sums each output as 8 chains (p mod 8)
//! in a fixed tree (small_gemm.rs, `outer_products`), because one 500-step chain is
//! bound by the multiply-add's latency and made the diamond 4× slower on that op.
//!
//! This folder holds the contract (`reference`), the BLIS-style driver below (op(B)
//! packed into NR-column panels and op(A) into MR-row panels, pack.rs, or a row-major
//! op(A) read in place where a task takes few B panels; the shared dimension blocked
//! by KC with each block continuing the chains in C) and the
//! register-blocked microkernels (micro.rs): AVX-512F, AVX2 + FMA and portable
//! `mul_add` ones, chosen by `CpuKernels::micro` from the CPU path. All give the
//! reference's bits.

mod micro;
mod pack;

#[cfg(target_arch = "x86_64")]
pub(crate) use micro::x86;
pub(crate) use micro::{portable, portable_rows};
pub(crate) use micro::{Micro, MicroFn, MicroRowsFn};

use super::path::CpuPath;
use super::CpuKernels;
use crate::backend::{Element, MatMul};
use rayon::prelude::*;
use std::cell::RefCell;

/// C = op(A)·op(B) (or C += op(A)·op(B) continuing each chain, with `accumulate`) in the
/// contract's order, on the calling thread. `path` only chooses how fast, never what.
/// Panics if a buffer is shorter than `d` says.
pub(crate) fn gemm<T: CpuKernels>(a: &[T], b: &[T], c: &mut [T], d: MatMul, accumulate: bool, path: CpuPath) {
    blocked(a, b, c, d, accumulate, T::micro(path), 1);
}

/// `gemm` with the tiles of C shared among rayon's threads (each tile is computed whole
/// by one thread, so the bits do not depend on the thread count).
pub(crate) fn gemm_parallel<T: CpuKernels>(a: &[T], b: &[T], c: &mut [T], d: MatMul, accumulate: bool, path: CpuPath) {
    blocked(a, b, c, d, accumulate, T::micro(path), rayon::current_num_threads());
}

/// C's base pointer, shared by tasks that write disjoint tiles.
struct Shared<T>(*mut T);
// SAFETY: the tasks that share it write disjoint tiles of C (see `blocked`).
unsafe impl<T: Send> Send for Shared<T> {}
unsafe impl<T: Send> Sync for Shared<T> {}
impl<T> Shared<T> {
    fn at(&self, offset: usize) -> *mut T {
        self.0.wrapping_add(offset)
    }
}

thread_local! {
    /// Packing buffers kept per thread between calls: fresh ones cost page faults and
    /// zeroing (a tenth of a CNN-sized product's time). Stored as f64 so f32 and f64 can
    /// both be laid over them.
    static A_SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
    static B_SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a buffer of `len` values of T from `scratch`, or from a fresh allocation
/// if this thread is already using it (a product nested in another's task).
fn with_scratch<T: Element, R>(
    scratch: &'static std::thread::LocalKey<RefCell<Vec<f64>>>,
    len: usize,
    f: impl FnOnce(&mut [T]) -> R,
) -> R {
    assert!(std::mem::align_of::<T>() <= 8 && 8 % std::mem::size_of::<T>() == 0, "gemm: f32 or f64");
    let words = (len * std::mem::size_of::<T>()).div_ceil(8);
    scratch.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < words {
                buf.resize(words, 0.0);
            }
            // SAFETY: the buffer holds at least len·size_of::<T>() bytes, aligned for T
            // (asserted above), and every bit pattern is a valid f32 or f64; the borrow
            // lasts as long as the slice.
            let view = unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<T>(), len) };
            f(view)
        }
        Err(_) => f(&mut vec![T::zero(); len]),
    })
}

/// The packed-panel product with microkernel `mk`, on `threads` threads (1: the caller's).
fn blocked<T: Element>(a: &[T], b: &[T], c: &mut [T], d: MatMul, accumulate: bool, mk: Micro<T>, threads: usize) {
    let MatMul { m, k, n, .. } = d;
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "gemm: short buffer");
    let c = &mut c[..m * n];
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(T::zero());
        }
        return;
    }
    // Blocks of equal depth, up to a quarter over KC rather than a short last block:
    // each block reloads and stores every tile of C.
    let kc = k.div_ceil(k.div_ceil(mk.kc + mk.kc / 4));
    let mk = Micro { kc, ..mk };
    let nr = mk.nr;
    with_scratch(&B_SCRATCH, kc * mk.nc.min(n).div_ceil(nr) * nr, |b_pack| {
        blocks(a, b, c, d, accumulate, mk, threads, b_pack)
    });
}

/// The most B panels a task may take for a row-major op(A) to be read in place rather
/// than packed. Packing transposes A into panels (scattered stores), which one or a few
/// panels' reads do not repay: measured on a Zen 3 (AVX2, NR 16, one thread), in place
/// took 64×1568·1568×10 (1 panel) from 12–13 to 24–33 GFLOP/s, 256×1024·1024×32 (2) from
/// 32–36 to 65–73, and 64×3136·3136×128 and 256×1024·1024×128 (8 panels, k a power of
/// two included) from 39–53 to 43–80.
const IN_PLACE_PANELS: usize = 8;

/// `blocked`'s loops over blocks of B and A, with `b_pack` to pack B's blocks into.
#[allow(clippy::too_many_arguments)]
fn blocks<T: Element>(
    a: &[T],
    b: &[T],
    c: &mut [T],
    d: MatMul,
    accumulate: bool,
    mk: Micro<T>,
    threads: usize,
    b_pack: &mut [T],
) {
    let MatMul { m, k, n, .. } = d;
    let Micro { mr, nr, kc, mc, nc, run, run_rows, .. } = mk;
    let c_at = Shared(c.as_mut_ptr());
    for j0 in (0..n).step_by(nc) {
        let panels = nc.min(n - j0).div_ceil(nr);
        for p0 in (0..k).step_by(kc) {
            let kb = kc.min(k - p0);
            // The first block starts the chains at +0.0 unless C holds their start.
            let load = accumulate || p0 > 0;
            let b_block = &mut b_pack[..panels * kb * nr];
            let pack_b = |(q, dst): (usize, &mut [T])| pack::pack_b_panel(b, &d, j0 + q * nr, (p0, kb), nr, dst);
            if threads > 1 {
                b_block.par_chunks_mut(kb * nr).enumerate().for_each(pack_b);
            } else {
                b_block.chunks_mut(kb * nr).enumerate().for_each(pack_b);
            }
            let b_block = &*b_block;
            // Tasks: blocks of MC rows × groups of B panels, enough for every thread.
            let m_blocks = m.div_ceil(mc);
            let splits = if threads > 1 { (2 * threads).div_ceil(m_blocks).min(panels) } else { 1 };
            let task = |t: usize| {
                let (i0, s) = ((t / splits) * mc, t % splits);
                let rows = mc.min(m - i0);
                let task_panels = panels * s / splits..panels * (s + 1) / splits;
                // A row-major op(A) that few B panels use is read in place, whole MR-row
                // panels of it; only the last, partial panel is packed (its missing rows
                // must read as zeros).
                let in_place = !d.trans_a && task_panels.len() <= IN_PLACE_PANELS;
                let packed_rows = if in_place { rows % mr } else { rows };
                let packed_from = i0 + rows - packed_rows;
                with_scratch(&A_SCRATCH, packed_rows.div_ceil(mr) * mr * kb, |a_block: &mut [T]| {
                    pack::pack_a(a, &d, (packed_from, packed_rows), (p0, kb), mr, a_block);
                    let a_block = &*a_block;
                    // Tile (i, b_panel) into `tile` (rows `ldc` apart), from A packed or in place.
                    // SAFETY (for callers): `tile` holds MR rows of NR values `ldc` apart that
                    // this task alone writes; `b_panel` holds kb steps.
                    let tile_kernel = |i: usize, b_panel: &[T], tile: *mut T, ldc: usize| unsafe {
                        if i >= packed_from {
                            let a_panel = &a_block[(i - packed_from) / mr * kb * mr..][..kb * mr];
                            run(kb, a_panel.as_ptr(), b_panel.as_ptr(), tile, ldc, load);
                        } else {
                            // Rows i..i+MR of A (m×k), kb values each from column p0.
                            let a_rows = &a[i * k + p0..(i + mr - 1) * k + p0 + kb];
                            run_rows(kb, a_rows.as_ptr(), k, b_panel.as_ptr(), tile, ldc, load);
                        }
                    };
                    let mut edge = vec![T::zero(); mr * nr];
                    for q in task_panels {
                        let j = j0 + q * nr;
                        let cols = nr.min(n - j);
                        let b_panel = &b_block[q * kb * nr..][..kb * nr];
                        for i in (i0..i0 + rows).step_by(mr) {
                            let live = mr.min(m - i);
                            let tile = c_at.at(i * n + j);
                            if live == mr && cols == nr {
                                // The tile's MR rows of NR values lie inside C (m×n), this
                                // task's alone.
                                tile_kernel(i, b_panel, tile, n);
                                continue;
                            }
                            // An edge tile: through a full MR×NR buffer, same chains.
                            for r in (0..live).filter(|_| load) {
                                // SAFETY: row r of the tile, `cols` values inside C, this task's.
                                let row = unsafe { std::slice::from_raw_parts(tile.add(r * n), cols) };
                                edge[r * nr..r * nr + cols].copy_from_slice(row);
                            }
                            tile_kernel(i, b_panel, edge.as_mut_ptr(), nr);
                            for r in 0..live {
                                // SAFETY: as above.
                                let row = unsafe { std::slice::from_raw_parts_mut(tile.add(r * n), cols) };
                                row.copy_from_slice(&edge[r * nr..r * nr + cols]);
                            }
                        }
                    }
                });
            };
            if threads > 1 {
                (0..m_blocks * splits).into_par_iter().for_each(task);
            } else {
                (0..m_blocks * splits).for_each(task);
            }
        }
    }
}

/// The contract itself, one (i, j) at a time: what every kernel is tested against.
#[cfg(test)]
pub(crate) fn reference<T: Element>(a: &[T], b: &[T], c0: Option<&[T]>, d: MatMul) -> Vec<T> {
    let mut c = c0.map(<[T]>::to_vec).unwrap_or_else(|| vec![T::zero(); d.m * d.n]);
    for i in 0..d.m {
        for j in 0..d.n {
            let mut acc = c[i * d.n + j];
            for p in 0..d.k {
                let av = if d.trans_a { a[p * d.m + i] } else { a[i * d.k + p] };
                let bv = if d.trans_b { b[j * d.k + p] } else { b[p * d.n + j] };
                acc = av.mul_add(bv, acc);
            }
            c[i * d.n + j] = acc;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::parity::required;

    fn values<T: Element>(len: usize, seed: u64) -> Vec<T> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                // Some exact zeros, so −0.0 products meet the chains' +0.0 start.
                if s.is_multiple_of(29) {
                    T::zero()
                } else {
                    T::from_f64(((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0)
                }
            })
            .collect()
    }

    fn bits<T: Element>(v: &[T]) -> Vec<u64> {
        v.iter().map(|x| x.as_f64().to_bits()).collect()
    }

    /// Odd sizes around the tiles (MR 6, 8, 14; NR 8, 16, 32), the blocks (KC 128 or
    /// 256, taken whole up to 160 or 320; MC ~144; NC 2048) and past them; A read in
    /// place (up to `IN_PLACE_PANELS` B panels a task) and packed (more, such as
    /// 64×196 on one thread with NR 16, or 20×600 with NR 32).
    const SHAPES: [(usize, usize, usize); 14] = [
        (1, 1, 1),
        (7, 13, 31),
        (13, 7, 33),
        (31, 33, 7),
        (33, 257, 13),
        (100, 300, 33),
        (257, 31, 100),
        (14, 256, 32),
        (28, 300, 64),
        (300, 257, 100),
        (29, 700, 45),
        (3, 5, 2100),
        (64, 288, 196),
        (20, 40, 600),
    ];

    /// Every shape, transpose and start on `path`, on 1 and 2 threads, for T.
    fn every_product_is_the_contract<T: CpuKernels>(path: CpuPath) {
        let mk = T::micro(path);
        assert!(mk.name.contains(path.name()), "{path} runs {}", mk.name);
        let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a 2-thread pool");
        for (s, &(m, k, n)) in SHAPES.iter().enumerate() {
            for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
                let d = MatMul { m, k, n, trans_a, trans_b };
                let (a, b, c0) = (values::<T>(m * k, 1 + s as u64), values::<T>(k * n, 2), values::<T>(m * n, 3));
                let want = bits(&reference(&a, &b, None, d));
                let want_acc = bits(&reference(&a, &b, Some(&c0), d));
                let mut c = vec![T::nan(); m * n];
                gemm(&a, &b, &mut c, d, false, path);
                assert_eq!(bits(&c), want, "{} {d:?}", mk.name);
                let mut c = c0.clone();
                gemm(&a, &b, &mut c, d, true, path);
                assert_eq!(bits(&c), want_acc, "{} {d:?} accumulating", mk.name);
                let mut c = vec![T::nan(); m * n];
                two.install(|| gemm_parallel(&a, &b, &mut c, d, false, path));
                assert_eq!(bits(&c), want, "{} {d:?} on 2 threads", mk.name);
                let mut c = c0.clone();
                two.install(|| gemm_parallel(&a, &b, &mut c, d, true, path));
                assert_eq!(bits(&c), want_acc, "{} {d:?} accumulating on 2 threads", mk.name);
            }
        }
        // k = 0: C is zeros, or left as it was.
        let d = MatMul { m: 3, k: 0, n: 5, trans_a: false, trans_b: false };
        let mut c = vec![T::one(); 15];
        gemm(&[], &[], &mut c, d, true, path);
        assert!(c.iter().all(|v| *v == T::one()));
        gemm(&[], &[], &mut c, d, false, path);
        assert!(c.iter().all(|v| *v == T::zero()));
    }

    fn every_kernel_is_the_contract(path: CpuPath) {
        every_product_is_the_contract::<f32>(path);
        every_product_is_the_contract::<f64>(path);
    }

    #[test]
    fn portable() {
        every_kernel_is_the_contract(CpuPath::Portable);
    }

    #[test]
    #[cfg_attr(not(runner_avx2), ignore = "this CPU lacks AVX2+FMA: the avx2 path is skipped")]
    fn avx2() {
        every_kernel_is_the_contract(required(CpuPath::Avx2));
    }

    #[test]
    #[cfg_attr(not(runner_avx512), ignore = "this CPU lacks AVX-512F: the avx512 path is skipped")]
    fn avx512() {
        every_kernel_is_the_contract(required(CpuPath::Avx512));
    }
}
