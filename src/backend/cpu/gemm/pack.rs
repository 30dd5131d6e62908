//! Packing: op(A) into MR-row panels and op(B) into NR-column panels, each laid out
//! step by step (for each p, the panel's MR or NR values side by side) so the
//! microkernel reads both with unit stride. Rows or columns past the matrix's edge are
//! packed as zeros; the lanes they feed are computed and thrown away.

use crate::backend::{Element, MatMul};

/// Rows i0..i0+rows of op(A), columns p0..p0+kc, into ⌈rows/MR⌉ panels of kc·MR values.
pub(crate) fn pack_a<T: Element>(
    a: &[T],
    d: &MatMul,
    (i0, rows): (usize, usize),
    (p0, kc): (usize, usize),
    mr: usize,
    out: &mut [T],
) {
    for (panel, dst) in out.chunks_exact_mut(kc * mr).take(rows.div_ceil(mr)).enumerate() {
        let r0 = i0 + panel * mr;
        let live = mr.min(i0 + rows - r0);
        if d.trans_a {
            // A stored k×m: op(A)[i][p] = a[p·m + i], a panel's step is contiguous.
            for (p, step) in dst.chunks_exact_mut(mr).enumerate() {
                copy_padded(&a[(p0 + p) * d.m + r0..][..live], step);
            }
        } else {
            // A stored m×k: op(A)[i][p] = a[i·k + p], a row of the panel is contiguous.
            gather(a, (r0 * d.k + p0, d.k), live, kc, mr, dst);
        }
    }
}

/// One NR-column panel of op(B): columns j0..j0+NR (zeros past n), rows p0..p0+kc.
pub(crate) fn pack_b_panel<T: Element>(
    b: &[T],
    d: &MatMul,
    j0: usize,
    (p0, kc): (usize, usize),
    nr: usize,
    dst: &mut [T],
) {
    let live = nr.min(d.n - j0);
    if d.trans_b {
        // B stored n×k: op(B)[p][j] = b[j·k + p].
        gather(b, (j0 * d.k + p0, d.k), live, kc, nr, dst);
    } else {
        // B stored k×n: a panel's step is contiguous.
        for (p, step) in dst[..kc * nr].chunks_exact_mut(nr).enumerate() {
            copy_padded(&b[(p0 + p) * d.n + j0..][..live], step);
        }
    }
}

/// `src` then zeros into `dst`, by an element loop: for a panel's few values a memcpy
/// call costs more than the copy.
fn copy_padded<T: Element>(src: &[T], dst: &mut [T]) {
    let (head, tail) = dst.split_at_mut(src.len());
    for (d, s) in head.iter_mut().zip(src) {
        *d = *s;
    }
    for d in tail {
        *d = T::zero();
    }
}

/// A transposing pack: `live` source lines of `kc` values (line l starts at
/// start + l·stride) into kc steps of `width` values, lane l of step p = line l's p-th
/// value, lanes from `live` on zero. Eight steps at a time, so each line is read in
/// runs and each step written whole.
fn gather<T: Element>(src: &[T], (start, stride): (usize, usize), live: usize, kc: usize, width: usize, dst: &mut [T]) {
    const RUN: usize = 8;
    let lines: Vec<&[T]> = (0..live).map(|l| &src[start + l * stride..][..kc]).collect();
    let mut p = 0;
    while p + RUN <= kc {
        let steps = &mut dst[p * width..(p + RUN) * width];
        for (l, line) in lines.iter().enumerate() {
            let run: &[T; RUN] = line[p..p + RUN].try_into().expect("RUN values");
            for (q, v) in run.iter().enumerate() {
                steps[q * width + l] = *v;
            }
        }
        for step in steps.chunks_exact_mut(width) {
            step[live..].fill(T::zero());
        }
        p += RUN;
    }
    for p in p..kc {
        let step = &mut dst[p * width..(p + 1) * width];
        for (l, line) in lines.iter().enumerate() {
            step[l] = line[p];
        }
        step[live..].fill(T::zero());
    }
}
