//! IDX files (MNIST's format), gzipped or raw: big-endian magic `00 00 08 ndim`, one
//! u32 per dimension, then the u8 values. Every size is checked against the header
//! before anything large is allocated, so a broken file is an error, never a panic or
//! a giant allocation.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The most values one file may declare (full MNIST's training images are 47 M).
const MAX_VALUES: usize = 1 << 30;

#[derive(Debug)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub values: Vec<u8>,
}

/// `dir/name`, or `dir/name.gz` when only the compressed file exists.
pub fn locate(dir: &Path, name: &str) -> Result<PathBuf> {
    let raw = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if raw.is_file() {
        Ok(raw)
    } else if gz.is_file() {
        Ok(gz)
    } else {
        Err(Error::Data(format!("{}: no {name} or {name}.gz (the standard MNIST layout)", dir.display())))
    }
}

pub fn read(path: &Path) -> Result<Idx> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let fail = |m: String| Error::Data(format!("{}: {m}", path.display()));
    if bytes.starts_with(&[0x1f, 0x8b]) {
        parse(flate2::read::GzDecoder::new(&bytes[..]), &fail)
    } else {
        parse(&bytes[..], &fail)
    }
}

fn parse(mut r: impl Read, fail: &dyn Fn(String) -> Error) -> Result<Idx> {
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic).map_err(|e| fail(format!("cannot read the IDX header: {e}")))?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(fail(format!(
            "not an IDX file (magic {:02x}{:02x}{:02x}{:02x})",
            magic[0], magic[1], magic[2], magic[3]
        )));
    }
    if magic[2] != 0x08 {
        return Err(fail(format!("IDX type 0x{:02x} is not unsigned bytes (0x08)", magic[2])));
    }
    let ndim = magic[3] as usize;
    if !(1..=4).contains(&ndim) {
        return Err(fail(format!("IDX header declares {ndim} dimensions")));
    }
    let mut dims = Vec::with_capacity(ndim);
    for _ in 0..ndim {
        let mut d = [0u8; 4];
        r.read_exact(&mut d).map_err(|_| fail("truncated in the IDX header".into()))?;
        dims.push(u32::from_be_bytes(d) as usize);
    }
    let total = dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d)).filter(|t| *t <= MAX_VALUES);
    let Some(total) = total else {
        return Err(fail(format!("IDX dimensions {dims:?} are implausibly large")));
    };
    let mut values = Vec::with_capacity(total);
    r.take(total as u64 + 1).read_to_end(&mut values).map_err(|e| fail(format!("cannot read the data: {e}")))?;
    let shape = dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×");
    if values.len() < total {
        return Err(fail(format!(
            "truncated: the header declares {shape} = {total} bytes, the file holds {}",
            values.len()
        )));
    }
    if values.len() > total {
        return Err(fail(format!("the file holds more than the {shape} = {total} bytes its header declares")));
    }
    Ok(Idx { dims, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], values: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            b.extend(d.to_be_bytes());
        }
        b.extend(values);
        b
    }

    fn parse_bytes(b: &[u8]) -> Result<Idx> {
        parse(b, &|m| Error::Data(m))
    }

    #[test]
    fn reads_a_good_file() {
        let i = parse_bytes(&idx(&[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(i.dims, [2, 3]);
        assert_eq!(i.values, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn rejects_broken_files_with_a_reason() {
        let err = |b: &[u8]| parse_bytes(b).unwrap_err().to_string();
        assert!(
            err(&idx(&[2, 3], &[1, 2, 3])).contains("truncated: the header declares 2×3 = 6 bytes, the file holds 3")
        );
        assert!(err(&idx(&[2], &[1, 2, 3])).contains("more than"));
        assert!(err(&[0x12, 0x34, 8, 1]).contains("not an IDX file"));
        assert!(err(&[0, 0, 0x0d, 1, 0, 0, 0, 1]).contains("not unsigned bytes"));
        assert!(err(&idx(&[60000, 60000, 60000], &[])).contains("implausibly large"));
        assert!(err(&[0, 0, 8]).contains("cannot read the IDX header"));
        assert!(err(&[0, 0, 8, 2, 0, 0]).contains("truncated in the IDX header"));
    }
}
