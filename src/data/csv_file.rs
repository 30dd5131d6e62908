//! A CSV file with a header row; features and targets are picked by column name.
//! Cells are trimmed and may be quoted; a UTF-8 byte-order mark and CRLF line endings
//! are accepted. Every picked cell must be a finite number (and a class id below
//! `classes` for a target when classes are given); an error names the file, the line
//! and the column.

use super::Dataset;
use crate::error::{Error, Result};
use crate::spec::DataSpec;
use std::io::Read;
use std::path::{Path, PathBuf};

const BOM: &str = "\u{feff}";

pub fn path_of(d: &DataSpec, base_dir: &Path) -> PathBuf {
    base_dir.join(d.path.as_deref().unwrap_or_default())
}

/// Data lines in the file (lines after the first, not counting a blank last one),
/// counted without holding the file, for the memory estimate before reading it.
pub fn count_rows(path: &Path) -> Result<u64> {
    let mut file = open_regular(path)?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let got = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if got == 0 {
            break;
        }
        lines += buf[..got].iter().filter(|b| **b == b'\n').count() as u64;
        last = buf[got - 1];
    }
    // A last line without its newline is a line too; the header is not a data row.
    Ok((lines + u64::from(last != b'\n')).saturating_sub(1))
}

/// Opens a data file that is a regular file: /dev/zero would be read forever and a FIFO
/// would block the open until a writer comes, so devices, pipes and sockets are refused
/// before the open.
pub fn open_regular(path: &Path) -> Result<std::fs::File> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        let what = if meta.is_dir() { "a folder" } else { "a device, pipe or socket" };
        return Err(Error::Data(format!("{}: is {what}, not a data file", path.display())));
    }
    std::fs::File::open(path).map_err(|e| Error::io(path, e))
}

pub fn read(d: &DataSpec, base_dir: &Path) -> Result<Dataset> {
    let path = path_of(d, base_dir);
    let shown = path.display();
    let file = open_regular(&path)?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(file);
    let mut header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::Data(format!("{shown}: cannot read the header row: {}", csv_reason(&e))))?
        .iter()
        .map(String::from)
        .collect();
    if let Some(first) = header.first_mut() {
        if let Some(rest) = first.strip_prefix(BOM) {
            *first = rest.trim().to_string();
        }
    }
    if header.iter().all(String::is_empty) {
        return Err(Error::Data(format!(
            "{shown}: the file is empty; a CSV file starts with a header row naming its columns"
        )));
    }
    let column = |name: &String| -> Result<usize> {
        let mut at = header.iter().enumerate().filter(|(_, h)| *h == name).map(|(i, _)| i);
        match (at.next(), at.next()) {
            (Some(i), None) => Ok(i),
            (Some(i), Some(j)) => Err(Error::Data(format!(
                "{shown}: the header names `{name}` twice (columns {} and {}); which one is meant is unclear",
                i + 1,
                j + 1
            ))),
            (None, _) => {
                let hint = crate::spec::suggest(name, header.iter().map(String::as_str))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .or_else(|| other_separator(&header))
                    .unwrap_or_default();
                let listed: String = header.join(", ").chars().take(300).collect();
                Err(Error::Data(format!("{shown}: no column `{name}` (columns: {listed}){hint}")))
            }
        }
    };
    let targets = d.target_columns.clone().unwrap_or_default();
    // A nameless column (a trailing comma, or pandas' index written without a name)
    // would become an input nobody named, and its errors would say "column ``".
    if let Some(i) = header.iter().position(String::is_empty).filter(|_| d.feature_columns.is_none()) {
        return Err(Error::Data(format!(
            "{shown}: column {} of the header has no name (a trailing comma, or an unnamed index column?), and \
             without `feature_columns` every column but the targets is an input; name it, or list the inputs in \
             `feature_columns`",
            i + 1
        )));
    }
    // Without `feature_columns`, every column that is not a target is an input.
    let features =
        d.feature_columns.clone().unwrap_or_else(|| header.iter().filter(|h| !targets.contains(h)).cloned().collect());
    if features.is_empty() {
        let why = if d.feature_columns.is_some() { "`feature_columns` is empty" } else { "every column is a target" };
        return Err(Error::Data(format!("{shown}: {why}; name at least one input column")));
    }
    let fcols: Vec<usize> = features.iter().map(column).collect::<Result<_>>()?;
    let tcols: Vec<usize> = targets.iter().map(column).collect::<Result<_>>()?;
    if d.classes.is_some() && tcols.len() != 1 {
        return Err(Error::Data(format!(
            "{shown}: with `classes`, the target is one column of class ids; `target_columns` names {}",
            tcols.len()
        )));
    }
    let mut data = Dataset {
        inputs: Vec::new().into(),
        features: fcols.len(),
        feature_names: features.clone(),
        targets: Vec::new(),
        target_cols: tcols.len(),
        target_names: targets.clone(),
        classes: d.classes,
        shape: Vec::new(),
    };
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = line_at(&path, e.position());
                return Err(Error::Data(format!("{shown}:{line}: {}", csv_reason(&e))));
            }
        }
        let line = || line_at(&path, record.position());
        let value = |c: usize, name: &str| -> Result<f64> {
            let cell = record.get(c).unwrap_or("");
            let fail = |why: &str| Error::Data(format!("{shown}:{}: column `{name}` {why}", line()));
            if cell.is_empty() {
                return Err(fail("is empty"));
            }
            let shown_cell: String = cell.chars().take(40).collect();
            match cell.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                Ok(_) => Err(fail(&format!("holds `{shown_cell}`; data values must be finite numbers"))),
                Err(_) => Err(fail(&format!("holds `{shown_cell}`, not a number"))),
            }
        };
        for (c, name) in fcols.iter().zip(&features) {
            data.inputs.make_values().push(value(*c, name)?);
        }
        for (c, name) in tcols.iter().zip(&targets) {
            let v = value(*c, name)?;
            if let Some(k) = d.classes.filter(|k| super::bad_label(&[v], *k).is_some()) {
                return Err(Error::Data(format!(
                    "{shown}:{}: column `{name}` holds {v}; with {k} classes a label is a whole number from 0 to {}",
                    line(),
                    k - 1
                )));
            }
            data.targets.push(v);
        }
    }
    if data.is_empty() {
        return Err(Error::Data(format!("{shown}: the header has no data rows after it")));
    }
    Ok(data)
}

/// A header read as one column that holds `;` or tabs: the file is separated by
/// something other than commas, which is why no named column is found.
fn other_separator(header: &[String]) -> Option<String> {
    let [only] = header else { return None };
    let sep = [(';', "`;`"), ('\t', "tabs")].into_iter().find(|(c, _)| only.contains(*c))?.1;
    Some(format!(
        "; the header reads as one column: the file seems separated by {sep}, and columns are separated by commas"
    ))
}

/// The line a record starts on, counted from its byte offset: the csv crate's own
/// line count is one short after CRLF line endings. Reads the file again, so it is
/// for error messages only.
fn line_at(path: &Path, at: Option<&csv::Position>) -> u64 {
    let Some(at) = at else { return 0 };
    let Ok(bytes) = std::fs::read(path) else { return at.line() };
    let mut start = (at.byte() as usize).min(bytes.len());
    // A record's offset may point at the line break that ended the previous one.
    while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
        start += 1;
    }
    1 + bytes[..start].iter().filter(|b| **b == b'\n').count() as u64
}

/// The csv crate's message without its own position (the caller names the line).
fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("this row has {len} {}; the header has {expected_len}", if *len == 1 { "field" } else { "fields" })
        }
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8 text".into(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &[u8], classes: Option<usize>) -> Result<Dataset> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("d.csv"), text).unwrap();
        let d = DataSpec {
            path: Some("d.csv".into()),
            feature_columns: Some(vec!["a".into(), "b".into()]),
            target_columns: Some(vec!["y".into()]),
            classes,
            ..Default::default()
        };
        read(&d, dir.path())
    }

    #[test]
    fn a_bom_crlf_quotes_and_no_final_newline_are_read() {
        let d = read_text(b"\xef\xbb\xbfa,b,y\r\n\"0.5\",\" 1 \",0\r\n2,3,1", Some(2)).unwrap();
        assert_eq!(*d.inputs.values(), [0.5, 1.0, 2.0, 3.0]);
        assert_eq!(d.targets, [0.0, 1.0]);
        assert!(count_rows(&std::path::PathBuf::from("/nonexistent")).is_err());
    }

    #[test]
    fn without_feature_columns_every_column_but_the_targets_is_an_input() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("d.csv"), "c,y,a\n1,0,2\n3,1,4\n").unwrap();
        let d = DataSpec { path: Some("d.csv".into()), target_columns: Some(vec!["y".into()]), ..Default::default() };
        let d = read(&d, dir.path()).unwrap();
        assert_eq!(d.feature_names, ["c", "a"]);
        assert_eq!(*d.inputs.values(), [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(d.targets, [0.0, 1.0]);
    }

    #[test]
    fn a_nameless_column_is_refused_only_when_it_would_be_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let read_all = |text: &str| {
            std::fs::write(dir.path().join("d.csv"), text).unwrap();
            let d =
                DataSpec { path: Some("d.csv".into()), target_columns: Some(vec!["y".into()]), ..Default::default() };
            read(&d, dir.path()).map_err(|e| e.to_string())
        };
        // A trailing comma on every line, and pandas' unnamed index column.
        let err = read_all("a,y,\n1,0,\n2,1,\n").unwrap_err();
        assert!(err.contains("d.csv: column 3 of the header has no name (a trailing comma"), "{err}");
        let err = read_all(",a,y\n0,1,0\n1,2,1\n").unwrap_err();
        assert!(err.contains("column 1 of the header has no name"), "{err}");
        // Named inputs leave the nameless column unread.
        let d = read_text(
            b"a,b,y,
1,2,0,
3,4,1,
",
            None,
        )
        .unwrap();
        assert_eq!(*d.inputs.values(), [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(d.targets, [0.0, 1.0]);
    }

    #[test]
    fn a_header_split_by_semicolons_says_so() {
        let err = read_text(
            b"a;b;y
1;2;3
",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.ends_with("no column `a` (columns: a;b;y); the header reads as one column: the file seems separated by `;`, and columns are separated by commas"), "{err}");
        let err = read_text(b"a\tb\ty\n1\t2\t3\n", None).unwrap_err().to_string();
        assert!(err.contains("seems separated by tabs"), "{err}");
    }

    #[test]
    fn rows_are_counted_with_or_without_a_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        for (text, rows) in [("a\n1\n2\n", 2), ("a\n1\n2", 2), ("a", 0), ("", 0), ("a\r\n1\r\n", 1)] {
            std::fs::write(&p, text).unwrap();
            assert_eq!(count_rows(&p).unwrap(), rows, "{text:?}");
        }
    }

    #[test]
    fn errors_name_the_line_after_crlf_too() {
        let err = read_text(b"a,b,y\r\n0,1,0\r\n1,inf,1\r\n", None).unwrap_err().to_string();
        assert!(err.ends_with("d.csv:3: column `b` holds `inf`; data values must be finite numbers"), "{err}");
        let err = read_text(b"a,b,y\n0,1,0\n1,1,4\n", Some(3)).unwrap_err().to_string();
        assert!(
            err.ends_with("d.csv:3: column `y` holds 4; with 3 classes a label is a whole number from 0 to 2"),
            "{err}"
        );
    }
}
