//! Packing: op(A) into MR-row panels and op(B) into NR-column panels, each laid out
//! step by step (for each p, the panel's MR or NR values side by side) so the
//! microkernel reads both with unit stride. Rows or columns past the matrix's edge are
//! packed as zeros; the lanes they feed are computed and thrown away.

use crate::backend::{Element, MatMul};

/// Rows i0..i0+rows of op(A), columns p0..p0+kc, into ⌈rows/MR⌉ panels of kc·MR values.
pub(crate) fn pack_a<T: Element>(a: &[T], d: &MatMul, (i0, rows): (usize, usize), (p0, kc): (usize, usize), mr: usize, out: &mut [T]) {
    for (panel, dst) in out.chunks_exact_mut(kc * mr).take(rows.div_ceil(mr)).enumerate() {
        let r0 = i0 + panel * mr;
        let live = mr.min(i0 + rows - r0);
        if d.trans_a {
            // A stored k×m: op(A)[i][p] = a[p·m + i], a panel's step is contiguous.
            for (p, step) in dst.chunks_exact_mut(mr).enumerate() {
                let src = &a[(p0 + p) * d.m + r0..][..live];
                step[..live].copy_from_slice(src);
                step[live..].fill(T::zero());
            }
        } else {
            // A stored m×k: op(A)[i][p] = a[i·k + p], a row of the panel is contiguous.
            for r in 0..mr {
                if r < live {
                    let src = &a[(r0 + r) * d.k + p0..][..kc];
                    for (p, v) in src.iter().enumerate() {
                        dst[p * mr + r] = *v;
                    }
                } else {
                    for p in 0..kc {
                        dst[p * mr + r] = T::zero();
                    }
                }
            }
        }
    }
}

/// One NR-column panel of op(B): columns j0..j0+NR (zeros past n), rows p0..p0+kc.
pub(crate) fn pack_b_panel<T: Element>(b: &[T], d: &MatMul, j0: usize, (p0, kc): (usize, usize), nr: usize, dst: &mut [T]) {
    let live = nr.min(d.n - j0);
    if d.trans_b {
        // B stored n×k: op(B)[p][j] = b[j·k + p].
        for c in 0..nr {
            if c < live {
                let src = &b[(j0 + c) * d.k + p0..][..kc];
                for (p, v) in src.iter().enumerate() {
                    dst[p * nr + c] = *v;
                }
            } else {
                for p in 0..kc {
                    dst[p * nr + c] = T::zero();
                }
            }
        }
    } else {
        // B stored k×n: a panel's step is contiguous.
        for (p, step) in dst[..kc * nr].chunks_exact_mut(nr).enumerate() {
            step[..live].copy_from_slice(&b[(p0 + p) * d.n + j0..][..live]);
            step[live..].fill(T::zero());
        }
    }
}
