//! Element-wise maps and their gradients. Large buffers are split into fixed-size
//! chunks across threads; each element depends only on its own inputs, so the split
//! never changes a result.

use super::CHUNK;
use crate::backend::{Element, Map, Zip};
use rayon::prelude::*;

fn for_chunks<T: Element>(out: &mut [T], f: impl Fn(usize, &mut [T]) + Sync) {
    if out.len() > CHUNK && rayon::current_num_threads() > 1 {
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| f(i * CHUNK, c));
    } else {
        f(0, out);
    }
}

pub fn map<T: Element>(f: Map, x: &[T]) -> Vec<T> {
    let mut out = x.to_vec();
    for_chunks(&mut out, |_, c| map_in_place(f, c));
    out
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
        Map::Relu => c.iter_mut().for_each(|v| *v = v.max(T::zero())),
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

pub fn map_grad<T: Element>(f: Map, x: &[T], y: &[T], dy: &[T]) -> Vec<T> {
    assert!(x.len() == dy.len() && y.len() == dy.len());
    let mut out = dy.to_vec();
    for_chunks(&mut out, |off, c| {
        let x = &x[off..off + c.len()];
        let y = &y[off..off + c.len()];
        let one = T::one();
        match f {
            Map::Identity | Map::AddScalar(_) => {}
            Map::Sigmoid => c.iter_mut().zip(y).for_each(|(d, y)| *d = *d * *y * (one - *y)),
            Map::Tanh => c.iter_mut().zip(y).for_each(|(d, y)| *d = *d * (one - *y * *y)),
            // Selects rather than branches, so these vectorise.
            Map::Relu => c.iter_mut().zip(x).for_each(|(d, x)| *d = if *x > T::zero() { *d } else { T::zero() }),
            Map::LeakyRelu(a) => {
                let a = T::from_f64(a);
                c.iter_mut().zip(x).for_each(|(d, x)| *d = if *x > T::zero() { *d } else { *d * a })
            }
            Map::Exp => c.iter_mut().zip(y).for_each(|(d, y)| *d = *d * *y),
            Map::Log => c.iter_mut().zip(x).for_each(|(d, x)| *d = *d / *x),
            Map::Square => {
                let two = T::from_f64(2.0);
                c.iter_mut().zip(x).for_each(|(d, x)| *d = *d * two * *x)
            }
            Map::MulScalar(s) => {
                let s = T::from_f64(s);
                c.iter_mut().for_each(|d| *d = *d * s)
            }
        }
    });
    out
}

pub fn zip<T: Element>(f: Zip, a: &[T], b: &[T]) -> Vec<T> {
    assert_eq!(a.len(), b.len(), "zip: lengths differ");
    let op = |x: T, y: T| match f {
        Zip::Add => x + y,
        Zip::Sub => x - y,
        Zip::Mul => x * y,
    };
    let mut out = a.to_vec();
    for_chunks(&mut out, |off, c| {
        let b = &b[off..off + c.len()];
        c.iter_mut().zip(b).for_each(|(x, y)| *x = op(*x, *y))
    });
    out
}
