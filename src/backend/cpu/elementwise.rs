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

/// Below this |x|, tanh is its Taylor series to x¹⁵ (`tanh_series`): the next term is
/// under 10⁻¹⁸ of the value there, and the series has no cancellation.
const SMALL_TANH: f64 = 0.125;

/// tanh(x) = x − x³/3 + 2x⁵/15 − 17x⁷/315 + … to x¹⁵, by Horner's rule in x² with plain
/// multiplies and adds (the same bits on every CPU path).
#[inline(always)]
fn tanh_series<T: Element>(x: T) -> T {
    const C: [f64; 7] = [
        -1.0 / 3.0,
        2.0 / 15.0,
        -17.0 / 315.0,
        62.0 / 2835.0,
        -1382.0 / 155925.0,
        21844.0 / 6081075.0,
        -929569.0 / 638512875.0,
    ];
    if x == T::zero() {
        return x; // ±0 keeps its sign, as tanh(±0) = ±0
    }
    let z = x * x;
    let inner = C.iter().rev().fold(T::zero(), |acc, c| acc * z + T::from_f64(*c));
    x + x * (z * inner)
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
            // tanh(x) = 2σ(2x) − 1, and below SMALL_TANH the series, where that form
            // cancels (its f32 value was 19% off at 1e−7 and 0 at 1e−8).
            let two = T::from_f64(2.0);
            let mut small = [T::zero(); 256];
            for c in c.chunks_mut(small.len()) {
                let small = &mut small[..c.len()];
                small.copy_from_slice(c);
                c.iter_mut().for_each(|v| *v = -two * *v);
                T::exp_in_place(c);
                c.iter_mut().for_each(|v| *v = two / (one + *v) - one);
                for (v, x) in c.iter_mut().zip(small.iter()) {
                    if x.abs() < T::from_f64(SMALL_TANH) {
                        *v = tanh_series(*x);
                    }
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// tanh to a few units in the last place of its dtype near 0 and around the switch
    /// to the exponential form, against f64's own tanh; ±0 keep their sign.
    #[test]
    fn tanh_keeps_its_precision_near_zero() {
        let xs = [1e-30, 1e-8, 1e-7, 1e-5, 1e-3, 0.01, 0.1, 0.1249, 0.1251, 0.5, 3.0];
        let xs: Vec<f64> = xs.iter().flat_map(|x| [*x, -x]).collect();
        let single: Vec<f32> = xs.iter().map(|x| *x as f32).collect();
        for (y, x) in map(Map::Tanh, &single).iter().zip(&single) {
            let want = (*x as f64).tanh();
            assert!(((*y as f64) - want).abs() <= 1e-6 * want.abs(), "f32 tanh({x}) = {y}, want {want}");
        }
        for (y, x) in map(Map::Tanh, &xs).iter().zip(&xs) {
            assert!((y - x.tanh()).abs() <= 4e-15 * x.tanh().abs(), "f64 tanh({x}) = {y}, want {}", x.tanh());
        }
        let zeros = map(Map::Tanh, &[0.0f32, -0.0]);
        assert_eq!((zeros[0].to_bits(), zeros[1].to_bits()), (0.0f32.to_bits(), (-0.0f32).to_bits()));
    }
}
