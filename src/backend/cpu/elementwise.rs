//! Element-wise maps and their gradients. Large buffers are split into fixed-size
//! chunks across threads; each element depends only on its own inputs, so the split
//! never changes a result.

use super::CHUNK;
use crate::backend::{Element, Map, Zip};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// A new buffer holding `src`, then changed in place by `f(offset, chunk)`, in
/// fixed-size chunks across threads. Each chunk is copied by the thread that then
/// changes it, while it is in that core's cache: a single-threaded copy of the whole
/// buffer first was 4% of an MNIST training step.
fn copied_then<T: Element>(src: &[T], f: impl Fn(usize, &mut [T]) + Sync) -> Vec<T> {
    let n = src.len();
    let mut out: Vec<T> = Vec::with_capacity(n);
    let run = |off: usize, chunk: &mut [MaybeUninit<T>]| {
        let from = &src[off..off + chunk.len()];
        // SAFETY: `out` is a fresh allocation, so `chunk` and `from` (the same length)
        // do not overlap; once every slot of `chunk` is written it holds initialised
        // values, and MaybeUninit<T> has T's layout.
        let chunk = unsafe {
            std::ptr::copy_nonoverlapping(from.as_ptr(), chunk.as_mut_ptr().cast::<T>(), from.len());
            &mut *(chunk as *mut [MaybeUninit<T>] as *mut [T])
        };
        f(off, chunk);
    };
    let spare = &mut out.spare_capacity_mut()[..n];
    if n > CHUNK && rayon::current_num_threads() > 1 {
        spare.par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| run(i * CHUNK, c));
    } else {
        run(0, spare);
    }
    // SAFETY: every one of the n slots was written by `run` above (the chunks cover
    // them all); had `f` panicked, this line would not be reached.
    unsafe { out.set_len(n) };
    out
}

/// ReLU's value, the one rule of every path and of a max-pool with its ReLU (conv.rs): v where
/// v > 0, else +0.0 (a NaN and −0.0 included, which `max(v, 0)` leaves to the compiler).
#[inline(always)]
pub(crate) fn relu<T: Element>(v: T) -> T {
    if v > T::zero() {
        v
    } else {
        T::zero()
    }
}

pub fn map<T: Element>(f: Map, x: &[T]) -> Vec<T> {
    copied_then(x, |_, c| map_in_place(f, c))
}

fn map_in_place<T: Element>(f: Map, c: &mut [T]) {
    let one = T::one();
    match f {
        Map::Identity => {}
        Map::Sigmoid => T::sigmoid_in_place(c),
        Map::Tanh => {
            // tanh(x) = 2σ(2x) − 1
            let two = T::from_f64(2.0);
            c.iter_mut().for_each(|v| *v = -two * *v);
            T::exp_in_place(c);
            c.iter_mut().for_each(|v| *v = two / (one + *v) - one);
        }
        Map::Relu => c.iter_mut().for_each(|v| *v = relu(*v)),
        Map::LeakyRelu(a) => {
            let a = T::from_f64(a);
            c.iter_mut().for_each(|v| *v = if *v > T::zero() { *v } else { a * *v });
        }
        Map::Exp => T::exp_in_place(c),
        Map::Log => c.iter_mut().for_each(|v| *v = v.ln()),
        Map::Square => c.iter_mut().for_each(|v| *v = *v * *v),
        Map::AddScalar(s) => {
            let s = T::from_f64(s);
            c.iter_mut().for_each(|v| *v = *v + s);
        }
        Map::MulScalar(s) => {
            let s = T::from_f64(s);
            c.iter_mut().for_each(|v| *v = *v * s);
        }
    }
}

/// out[i] = f(a[i], b[i]), written straight into a new buffer (no copy of an input
/// first, no zero fill), across threads for large buffers. Each element is computed on
/// its own, so how rayon splits the work never changes a value.
fn zip_with<T: Element>(a: &[T], b: &[T], f: impl Fn(T, T) -> T + Sync + Send) -> Vec<T> {
    assert_eq!(a.len(), b.len(), "element-wise: lengths differ");
    if a.len() > CHUNK && rayon::current_num_threads() > 1 {
        let mut out = Vec::new();
        a.par_iter().zip(b).map(|(x, y)| f(*x, *y)).collect_into_vec(&mut out);
        out
    } else {
        a.iter().zip(b).map(|(x, y)| f(*x, *y)).collect()
    }
}

/// dx for dy through the map f, from its input x and output y. Each expression keeps
/// the operation order it has always had, so no gradient changes a bit.
pub fn map_grad<T: Element>(f: Map, x: &[T], y: &[T], dy: &[T]) -> Vec<T> {
    assert!(x.len() == dy.len() && y.len() == dy.len());
    let (zero, one) = (T::zero(), T::one());
    match f {
        Map::Identity | Map::AddScalar(_) => dy.to_vec(),
        Map::Sigmoid => zip_with(dy, y, |d, y| d * y * (one - y)),
        Map::Tanh => zip_with(dy, y, |d, y| d * (one - y * y)),
        // Selects rather than branches, so these vectorise.
        Map::Relu => zip_with(dy, x, |d, x| if x > zero { d } else { zero }),
        Map::LeakyRelu(a) => {
            let a = T::from_f64(a);
            zip_with(dy, x, |d, x| if x > zero { d } else { d * a })
        }
        Map::Exp => zip_with(dy, y, |d, y| d * y),
        Map::Log => zip_with(dy, x, |d, x| d / x),
        Map::Square => {
            let two = T::from_f64(2.0);
            zip_with(dy, x, |d, x| d * two * x)
        }
        Map::MulScalar(s) => {
            let s = T::from_f64(s);
            zip_with(dy, dy, |d, _| d * s)
        }
    }
}

pub fn zip<T: Element>(f: Zip, a: &[T], b: &[T]) -> Vec<T> {
    match f {
        Zip::Add => zip_with(a, b, |x, y| x + y),
        Zip::Sub => zip_with(a, b, |x, y| x - y),
        Zip::Mul => zip_with(a, b, |x, y| x * y),
    }
}
