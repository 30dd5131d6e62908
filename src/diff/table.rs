//! A run's CSV files read as text cells, checked for the damage a killed or copied
//! run can leave: an empty file, a last line cut short, rows of the wrong length.

use crate::error::{Error, Result};
use std::path::Path;

pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

pub fn read_csv(path: &Path) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_csv(path, &bytes)
}

pub fn parse_csv(path: &Path, bytes: &[u8]) -> Result<Table> {
    let fail = |m: String| Error::Data(format!("{}: {m}", path.display()));
    if bytes.is_empty() {
        return Err(fail("empty file (no header)".into()));
    }
    // runner ends every line with a newline: a file that does not was cut off while
    // written, and its last number may be cut short too.
    if !bytes.ends_with(b"\n") {
        let line = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(fail(format!("line {line}: truncated (the last line has no newline)")));
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(bytes);
    let header: Vec<String> =
        reader.headers().map_err(|e| fail(format!("line 1: {e}")))?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            let what = match e.kind() {
                csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                    format!("{len} cells where the header has {expected_len}")
                }
                _ => e.to_string(),
            };
            fail(format!("line {line}: {what}"))
        })?;
        rows.push(record.iter().map(str::to_string).collect());
    }
    Ok(Table { header, rows })
}

/// The number a cell holds, where it holds one (`NaN`, `inf` included).
pub fn number(cell: &str) -> Option<f64> {
    cell.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_files_are_errors_naming_the_file_and_line() {
        let p = Path::new("m.csv");
        let err = |b: &[u8]| parse_csv(p, b).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(err(b""), "m.csv: empty file (no header)");
        assert_eq!(err(b"a,b\n1,2\n3,"), "m.csv: line 3: truncated (the last line has no newline)");
        assert_eq!(err(b"a,b\n1,2\n3\n"), "m.csv: line 3: 1 cells where the header has 2");
        let t = parse_csv(p, b"a,b\n1,x\n").unwrap();
        assert_eq!((t.header.len(), t.rows[0][1].as_str()), (2, "x"));
        assert_eq!(number("NaN").map(f64::is_nan), Some(true));
        // As run folders write them (results::format_value).
        assert_eq!(number("nan").map(f64::is_nan), Some(true));
        assert_eq!(number("inf"), Some(f64::INFINITY));
        assert_eq!(number("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(number("1.7976931348623157e308"), Some(f64::MAX));
        assert_eq!(number("5e-324"), Some(f64::from_bits(1)));
    }
}
