//! A data set's input values, held compactly where the data allows: images arrive as
//! bytes, and their 8,000 × 784 pixels as f64 would be 50 MB where the bytes are 6 MB.
//! A byte's value is looked up in a 256-entry table built with the very arithmetic that
//! used to be applied to every value (`byte / 255`, then `(v − mean) / std`), so every
//! value read is bit-for-bit the f64 an eager conversion would have stored.

use std::borrow::Cow;
use std::ops::Range;

#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// One f64 per value (generated, inline and CSV data).
    Values(Vec<f64>),
    /// One byte per value, read as `table[byte]` (MNIST-format images).
    Bytes { bytes: Vec<u8>, table: Box<[f64; 256]> },
}

impl From<Vec<f64>> for Inputs {
    fn from(v: Vec<f64>) -> Self {
        Inputs::Values(v)
    }
}

/// `inputs[i]`: the value at flat index `i` (a byte's is its table entry).
impl std::ops::Index<usize> for Inputs {
    type Output = f64;
    fn index(&self, i: usize) -> &f64 {
        match self {
            Inputs::Values(v) => &v[i],
            Inputs::Bytes { bytes, table } => &table[bytes[i] as usize],
        }
    }
}

impl Default for Inputs {
    fn default() -> Self {
        Inputs::Values(Vec::new())
    }
}

impl Inputs {
    /// Bytes read as `byte / divisor` (pixels: divisor 255, giving [0, 1]).
    pub fn scaled_bytes(bytes: Vec<u8>, divisor: f64) -> Inputs {
        let mut table = Box::new([0.0; 256]);
        for (b, t) in table.iter_mut().enumerate() {
            *t = b as f64 / divisor;
        }
        Inputs::Bytes { bytes, table }
    }

    pub fn len(&self) -> usize {
        match self {
            Inputs::Values(v) => v.len(),
            Inputs::Bytes { bytes, .. } => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at flat index `i` (row-major: sample `i / features`), if there is one.
    pub fn get(&self, i: usize) -> Option<&f64> {
        match self {
            Inputs::Values(v) => v.get(i),
            Inputs::Bytes { bytes, table } => bytes.get(i).map(|b| &table[*b as usize]),
        }
    }

    /// Every value in order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = f64> + '_> {
        match self {
            Inputs::Values(v) => Box::new(v.iter().copied()),
            Inputs::Bytes { bytes, table } => Box::new(bytes.iter().map(|b| table[*b as usize])),
        }
    }

    /// The values in `range` as f64: borrowed when they are held so, else expanded.
    pub fn slice(&self, range: Range<usize>) -> Cow<'_, [f64]> {
        match self {
            Inputs::Values(v) => Cow::Borrowed(&v[range]),
            Inputs::Bytes { bytes, table } => Cow::Owned(bytes[range].iter().map(|b| table[*b as usize]).collect()),
        }
    }

    /// Every value as f64 (expanded for bytes: callers that need the whole split at once).
    pub fn values(&self) -> Cow<'_, [f64]> {
        self.slice(0..self.len())
    }

    /// Appends the values in `range` to `out`, converted by `f` (a batch's element type).
    pub fn extend_into<T>(&self, range: Range<usize>, out: &mut Vec<T>, f: impl Fn(f64) -> T) {
        match self {
            Inputs::Values(v) => out.extend(v[range].iter().map(|x| f(*x))),
            Inputs::Bytes { bytes, table } => out.extend(bytes[range].iter().map(|b| f(table[*b as usize]))),
        }
    }

    /// Appends the values in `range` to a container of the same kind (row selection).
    fn push_range(&mut self, from: &Inputs, range: Range<usize>) {
        match (self, from) {
            (Inputs::Values(out), Inputs::Values(v)) => out.extend_from_slice(&v[range]),
            (Inputs::Bytes { bytes: out, .. }, Inputs::Bytes { bytes, .. }) => out.extend_from_slice(&bytes[range]),
            (out, from) => {
                // Never reached: a selection starts from `empty_like` its source.
                let vals: Vec<f64> = from.slice(range).into_owned();
                let mut all = out.values().into_owned();
                all.extend(vals);
                *out = Inputs::Values(all);
            }
        }
    }

    /// An empty container of the same kind (and table), with room for `capacity` values.
    fn empty_like(&self, capacity: usize) -> Inputs {
        match self {
            Inputs::Values(_) => Inputs::Values(Vec::with_capacity(capacity)),
            Inputs::Bytes { table, .. } => Inputs::Bytes { bytes: Vec::with_capacity(capacity), table: table.clone() },
        }
    }

    /// The rows `idx` (each `width` values), in that order, held as these are.
    pub fn select_rows(&self, idx: &[usize], width: usize) -> Inputs {
        let mut out = self.empty_like(idx.len() * width);
        for &i in idx {
            out.push_range(self, i * width..(i + 1) * width);
        }
        out
    }

    /// Applies `f` to every value. For bytes, `f` runs once per table entry, so each
    /// value still gets exactly `f(old value)`.
    pub fn map_in_place(&mut self, f: impl Fn(f64) -> f64) {
        match self {
            Inputs::Values(v) => v.iter_mut().for_each(|x| *x = f(*x)),
            Inputs::Bytes { table, .. } => table.iter_mut().for_each(|x| *x = f(*x)),
        }
    }

    /// The values as a mutable f64 vector, expanding bytes first (generators and tests
    /// that edit values).
    pub fn make_values(&mut self) -> &mut Vec<f64> {
        if let Inputs::Bytes { .. } = self {
            *self = Inputs::Values(self.values().into_owned());
        }
        match self {
            Inputs::Values(v) => v,
            Inputs::Bytes { .. } => unreachable!("expanded above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_the_eagerly_converted_values_bit_for_bit() {
        let raw: Vec<u8> = (0..=255u8).chain([0, 17, 255, 128]).collect();
        let (mean, std) = (0.1307, 0.3081);
        let eager: Vec<f64> = raw.iter().map(|b| (f64::from(*b) / 255.0 - mean) / std).collect();
        let mut compact = Inputs::scaled_bytes(raw.clone(), 255.0);
        compact.map_in_place(|v| (v - mean) / std);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&compact.values()), bits(&eager));
        assert_eq!(compact[257].to_bits(), eager[257].to_bits());
        assert_eq!(compact.get(260), None);
        let mut batch = Vec::new();
        compact.extend_into(256..260, &mut batch, |v| v as f32);
        assert_eq!(batch, eager[256..260].iter().map(|v| *v as f32).collect::<Vec<_>>());
        // Selecting rows keeps bytes and gives the same values.
        let rows = compact.select_rows(&[2, 0], 4);
        assert!(matches!(rows, Inputs::Bytes { .. }));
        let mut expect = eager[8..12].to_vec();
        expect.extend(&eager[0..4]);
        assert_eq!(bits(&rows.values()), bits(&expect));
    }
}
