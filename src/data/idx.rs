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

/// What an IDX file's header declares, read without reading the values: the memory
/// estimate sizes a data set from this before anything is loaded.
#[derive(Debug)]
pub struct Header {
    pub dims: Vec<usize>,
    /// Values the header declares (checked: at most [`MAX_VALUES`]).
    pub total: usize,
}

fn is_gzip(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 2];
    let mut f = super::csv_file::open_regular(path)?;
    let got = f.read(&mut magic).map_err(|e| Error::io(path, e))?;
    Ok(got == 2 && magic == [0x1f, 0x8b])
}

/// The file as a byte stream, decompressed when it is gzipped.
fn open(path: &Path) -> Result<(Box<dyn Read>, bool)> {
    let gz = is_gzip(path)?;
    let file = std::io::BufReader::new(super::csv_file::open_regular(path)?);
    Ok(if gz { (Box::new(flate2::read::GzDecoder::new(file)), true) } else { (Box::new(file), false) })
}

fn failer(path: &Path) -> impl Fn(String) -> Error + '_ {
    move |m| Error::Data(format!("{}: {m}", path.display()))
}

pub fn header(path: &Path) -> Result<Header> {
    let (mut r, gz) = open(path)?;
    parse_header(&mut r, gz, &failer(path))
}

pub fn read(path: &Path) -> Result<Idx> {
    let fail = failer(path);
    let (mut r, gz) = open(path)?;
    let head = parse_header(&mut r, gz, &fail)?;
    if !gz {
        // A raw file's length is known: compare it with the header's claim before
        // allocating anything from that claim.
        let len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
        let body = len.saturating_sub(4 + 4 * head.dims.len() as u64);
        check_length(&head, body, &fail)?;
    }
    // Capacity grows with the bytes that really arrive (at most 64 MiB ahead), so a
    // gzipped file whose header lies cannot make us allocate what it only claims.
    let mut values = Vec::with_capacity(head.total.min(64 << 20));
    r.take(head.total as u64 + 1).read_to_end(&mut values).map_err(|e| {
        if gz {
            fail(format!("cannot decompress the values: {e} (a truncated or corrupt .gz file)"))
        } else {
            fail(format!("cannot read the values: {e}"))
        }
    })?;
    check_length(&head, values.len() as u64, &fail)?;
    Ok(Idx { dims: head.dims, values })
}

fn check_length(head: &Header, held: u64, fail: &dyn Fn(String) -> Error) -> Result<()> {
    let shape = head.dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×");
    let total = head.total;
    if held < total as u64 {
        return Err(fail(format!("truncated: the header declares {shape} = {total} bytes, the file holds {held}")));
    }
    if held > total as u64 {
        return Err(fail(format!("the file holds more than the {shape} = {total} bytes its header declares")));
    }
    Ok(())
}

fn parse_header(r: &mut dyn Read, gz: bool, fail: &dyn Fn(String) -> Error) -> Result<Header> {
    let what = if gz { " (a truncated or corrupt .gz file)" } else { "" };
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => fail(format!("the file ends before its 4-byte IDX magic number{what}")),
        _ => fail(format!("cannot read the IDX header: {e}{what}")),
    })?;
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
        r.read_exact(&mut d).map_err(|_| fail(format!("truncated in the IDX header{what}")))?;
        dims.push(u32::from_be_bytes(d) as usize);
    }
    let total = dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d)).filter(|t| *t <= MAX_VALUES);
    let Some(total) = total else {
        return Err(fail(format!("IDX dimensions {dims:?} are implausibly large (more than {MAX_VALUES} values)")));
    };
    Ok(Header { dims, total })
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-idx3-ubyte");
        std::fs::write(&path, b).unwrap();
        read(&path)
    }

    #[test]
    fn a_gzipped_file_reads_the_same_and_a_cut_one_fails() {
        use std::io::Write;
        // Values that do not compress much, so a cut lands inside them.
        let values: Vec<u8> = (0..4000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let raw = idx(&[40, 100], &values);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&raw).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(parse_bytes(&gz).unwrap().values, values);
        for cut in [gz.len() / 2, 12] {
            let err = parse_bytes(&gz[..cut]).unwrap_err().to_string();
            assert!(err.contains("truncated or corrupt .gz"), "{err}");
        }
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
        assert!(err(&[0, 0, 8]).contains("the file ends before its 4-byte IDX magic number"));
        assert!(err(&[0, 0, 8, 2, 0, 0]).contains("truncated in the IDX header"));
    }
}
