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

/// `dir/name`, or `dir/name.gz` when only the compressed file exists (the raw file
/// wins when both do, as the README says).
pub fn locate(dir: &Path, name: &str) -> Result<PathBuf> {
    let raw = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if raw.is_file() {
        Ok(raw)
    } else if gz.is_file() {
        Ok(gz)
    } else if let Some(path) = [&raw, &gz].into_iter().find(|p| p.exists()) {
        // Something by that name is there, so "no such file" would send the user
        // looking for a missing file; say what is in the way instead.
        let what = if path.is_dir() { "a folder" } else { "not a regular file" };
        Err(Error::Data(format!("{}: is {what}, not the IDX file {name}[.gz]", path.display())))
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

/// The header of a file that must hold `ndim` dimensions (MNIST: 3 for images, 1 for
/// labels).
pub fn header(path: &Path, ndim: usize) -> Result<Header> {
    let (mut r, gz) = open(path)?;
    parse_header(&mut r, gz, ndim, &failer(path))
}

/// A file that must hold `ndim` dimensions.
pub fn read(path: &Path, ndim: usize) -> Result<Idx> {
    let fail = failer(path);
    let (mut r, gz) = open(path)?;
    let head = parse_header(&mut r, gz, ndim, &fail)?;
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

fn parse_header(r: &mut dyn Read, gz: bool, expected: usize, fail: &dyn Fn(String) -> Error) -> Result<Header> {
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
    // Checked before the dimensions are read: a file with one too many would
    // otherwise fail later as a length mismatch that names no cause.
    let ndim = magic[3] as usize;
    if ndim != expected {
        let s = if expected == 1 { "" } else { "s" };
        return Err(fail(format!(
            "expected {expected} dimension{s} (magic 0x000008{expected:02x}), found {ndim} (magic 0x000008{ndim:02x})"
        )));
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

    /// `b` read as a file that must hold as many dimensions as its header declares.
    fn parse_bytes(b: &[u8]) -> Result<Idx> {
        parse_expecting(b, b.get(3).map_or(1, |n| *n as usize))
    }

    fn parse_expecting(b: &[u8], ndim: usize) -> Result<Idx> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-idx3-ubyte");
        std::fs::write(&path, b).unwrap();
        read(&path, ndim)
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
        assert_eq!(parse_expecting(&gz, 2).unwrap().values, values);
        for cut in [gz.len() / 2, 12] {
            let err = parse_expecting(&gz[..cut], 2).unwrap_err().to_string();
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

    #[test]
    fn a_dimension_count_that_is_not_the_expected_one_is_named() {
        // 4 dimensions where images have 3: the header, not the length, is wrong.
        let err = parse_expecting(&idx(&[64, 28, 28, 0], &[]), 3).unwrap_err().to_string();
        assert!(err.ends_with("expected 3 dimensions (magic 0x00000803), found 4 (magic 0x00000804)"), "{err}");
        assert!(err.contains("x-idx3-ubyte: "), "{err}");
        let err = parse_expecting(&idx(&[2, 3], &[0; 6]), 1).unwrap_err().to_string();
        assert!(err.ends_with("expected 1 dimension (magic 0x00000801), found 2 (magic 0x00000802)"), "{err}");
        let err = parse_expecting(&[0, 0, 8, 0], 3).unwrap_err().to_string();
        assert!(err.ends_with("expected 3 dimensions (magic 0x00000803), found 0 (magic 0x00000800)"), "{err}");
        // The header alone (the memory estimate's read) says the same.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h");
        std::fs::write(&path, idx(&[5], &[0; 5])).unwrap();
        let err = header(&path, 3).unwrap_err().to_string();
        assert!(err.ends_with("expected 3 dimensions (magic 0x00000803), found 1 (magic 0x00000801)"), "{err}");
        assert_eq!(header(&path, 1).unwrap().dims, [5]);
    }

    #[test]
    fn locate_prefers_the_raw_file_and_names_a_folder_in_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let name = "train-images-idx3-ubyte";
        let missing = locate(dir.path(), name).unwrap_err().to_string();
        assert!(missing.contains("no train-images-idx3-ubyte or train-images-idx3-ubyte.gz"), "{missing}");
        std::fs::create_dir(dir.path().join(name)).unwrap();
        let err = locate(dir.path(), name).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{}: is a folder, not the IDX file train-images-idx3-ubyte[.gz]", dir.path().join(name).display())
        );
        std::fs::write(dir.path().join(format!("{name}.gz")), b"").unwrap();
        assert_eq!(locate(dir.path(), name).unwrap(), dir.path().join(format!("{name}.gz")));
        std::fs::remove_dir(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name), b"").unwrap();
        assert_eq!(locate(dir.path(), name).unwrap(), dir.path().join(name));
    }
}
