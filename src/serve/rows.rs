//! A run's metrics.csv as the page reads it: the rows after a byte offset the page
//! already has, so a poll sends only what is new. Only whole lines are read (the writer
//! appends whole lines; a line still on its way is read at the next poll).

use super::folders::open_plain;
use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// At most this many bytes of rows per answer; the page asks again for the rest.
const CHUNK: u64 = 4 << 20;

/// The longest line the page waits for. A row is a step, a split and one number per
/// metric: a few hundred bytes. A longer line is no row runner wrote (a damaged or
/// foreign file): it is passed over and reported, so the page never waits on it.
const MAX_ROW_BYTES: u64 = 1 << 20;

/// The longest header read: the column names, each a metric's name.
const MAX_HEADER_BYTES: u64 = 64 << 10;

/// The rows of `dir/metrics.csv` from byte `from` on (0: from the first row), as
/// `{"columns", "rows", "next", "file", "more", "restart", "damaged"}`. `file` names the
/// file (its inode): a page that sees it change (a sweep's run done again) starts over.
/// When the file is shorter than `from` (a resumed run cut it back) the rows start again
/// from the top, and `restart` says so. A `from` inside a row starts at the next row, so
/// no answer holds part of one. `damaged` (null when the file is sound) says why lines
/// were passed over.
pub fn rows_after(dir: Option<&Path>, from: u64) -> Value {
    let empty =
        json!({"columns": [], "rows": [], "next": 0, "file": "", "more": false, "restart": from > 0, "damaged": null});
    let Some(dir) = dir else { return empty };
    let Ok(mut file) = open_plain(&dir.join("metrics.csv")) else { return empty };
    let Ok(meta) = file.metadata() else { return empty };
    if !meta.is_file() {
        return empty;
    }
    let id = {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}", meta.dev(), meta.ino())
    };
    let mut head = Vec::new();
    if (&mut file).take(MAX_HEADER_BYTES).read_to_end(&mut head).is_err() {
        return empty;
    }
    let Some(header_len) = head.iter().position(|&b| b == b'\n').map(|i| i as u64 + 1) else {
        if head.len() as u64 == MAX_HEADER_BYTES {
            let why = format!(
                "metrics.csv: its first line (the header) is over {MAX_HEADER_BYTES} bytes; the file is damaged"
            );
            return json!({"columns": [], "rows": [], "next": 0, "file": id, "more": false, "restart": false, "damaged": why});
        }
        return empty;
    };
    let columns: Vec<&str> = std::str::from_utf8(&head[..header_len as usize - 1]).unwrap_or("").split(',').collect();
    let restart = from > meta.len();
    let start = if restart { header_len } else { from.max(header_len) };
    // One byte before `start` as well: whether it ends a line says whether `start` is
    // at a row's beginning.
    let before = u64::from(start > header_len);
    let mut chunk = Vec::new();
    let read = file.seek(SeekFrom::Start(start - before)).and_then(|_| (&mut file).take(CHUNK).read_to_end(&mut chunk));
    if read.is_err() {
        return empty;
    }
    let mid_row = before == 1 && chunk.first() != Some(&b'\n');
    let chunk = &chunk[(before as usize).min(chunk.len())..];
    let mut damaged = None;
    // A `from` inside a row: the rest of that row is passed over (it is no row).
    let skip = if mid_row {
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            // Its end is not written yet: wait for it, unless no row is that long.
            None if (chunk.len() as u64) < MAX_ROW_BYTES => 0,
            None => {
                damaged = Some(too_long(start));
                chunk.len()
            }
        }
    } else {
        0
    };
    let waiting = mid_row && skip == 0;
    let body = if waiting { &chunk[..0] } else { &chunk[skip..] };
    let mut whole = skip + body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if !waiting && chunk.len() - whole >= MAX_ROW_BYTES as usize {
        // A line with no end in sight, longer than any row: pass over what there is.
        damaged.get_or_insert_with(|| too_long(start + whole as u64));
        whole = chunk.len();
    }
    let mut rows = Vec::new();
    let mut at = start + skip as u64;
    for line in chunk[skip.min(whole)..whole].split_inclusive(|&b| b == b'\n') {
        if line.len() as u64 > MAX_ROW_BYTES {
            damaged.get_or_insert_with(|| too_long(at));
        } else if line.ends_with(b"\n") {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end_matches(['\n', '\r']);
            if !text.is_empty() {
                rows.push(row(text));
            }
        }
        at += line.len() as u64;
    }
    let next = start + whole as u64;
    json!({
        "columns": columns,
        "rows": rows,
        "next": next,
        "file": id,
        "more": next < meta.len() && chunk.len() as u64 == CHUNK,
        "restart": restart,
        "damaged": damaged,
    })
}

/// Why a line at byte `at` was passed over.
fn too_long(at: u64) -> String {
    format!("metrics.csv: the line at byte {at} is over {MAX_ROW_BYTES} bytes, longer than any row; the file is damaged, and the line is passed over")
}

/// `step,epoch,split,<values>` as `[step, epoch, "split", values…]`. JSON has no NaN
/// or infinity: a diverged value stays the text the CSV has (`nan`, `inf`, `-inf`), and
/// an empty cell is null.
fn row(line: &str) -> Value {
    let cells = line.split(',').enumerate().map(|(i, cell)| {
        if i == 2 {
            return Value::from(cell);
        }
        if let Ok(n) = cell.parse::<u64>() {
            return Value::from(n);
        }
        match cell.parse::<f64>() {
            Ok(v) if v.is_finite() => Value::from(v),
            _ if cell.is_empty() => Value::Null,
            // nan, inf, -inf (a diverged run) or anything else: the page draws a gap.
            _ => Value::from(cell),
        }
    });
    Value::Array(cells.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_after_the_offset_and_only_whole_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let header = "step,epoch,split,loss,accuracy\n";
        let first = "0,0,train,0.5,0.25\n";
        std::fs::write(tmp.path().join("metrics.csv"), format!("{header}{first}1,0,test,nan,inf\n2,0,tr")).unwrap();
        let all = rows_after(Some(tmp.path()), 0);
        assert_eq!(all["columns"], json!(["step", "epoch", "split", "loss", "accuracy"]));
        assert_eq!(all["rows"], json!([[0, 0, "train", 0.5, 0.25], [1, 0, "test", "nan", "inf"]]));
        let next = all["next"].as_u64().unwrap();
        assert_eq!(next as usize, header.len() + first.len() + "1,0,test,nan,inf\n".len());
        assert_eq!(rows_after(Some(tmp.path()), next)["rows"], json!([]), "half a line waits");
        let mut f = std::fs::OpenOptions::new().append(true).open(tmp.path().join("metrics.csv")).unwrap();
        std::io::Write::write_all(&mut f, b"ain,0.25,\n").unwrap();
        let later = rows_after(Some(tmp.path()), next);
        assert_eq!(later["rows"], json!([[2, 0, "train", 0.25, null]]));
        assert_eq!(later["file"], all["file"]);
        assert_eq!(later["restart"], json!(false));
        let beyond = rows_after(Some(tmp.path()), 10_000);
        assert_eq!(beyond["restart"], json!(true));
        assert_eq!(beyond["rows"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn a_from_inside_a_row_starts_at_the_next_row() {
        let tmp = tempfile::tempdir().unwrap();
        let (header, first, second) = ("step,epoch,split,loss\n", "0,0,train,0.5\n", "1,0,test,0.25\n");
        std::fs::write(tmp.path().join("metrics.csv"), format!("{header}{first}{second}2,0,tr")).unwrap();
        let end_of_second = (header.len() + first.len() + second.len()) as u64;
        for from in [header.len() + 1, header.len() + 5, header.len() + first.len() - 1] {
            let m = rows_after(Some(tmp.path()), from as u64);
            assert_eq!(m["rows"], json!([[1, 0, "test", 0.25]]), "from {from}");
            assert_eq!(m["next"], json!(end_of_second), "from {from}");
            assert_eq!(m["damaged"], json!(null));
        }
        // Inside the row still being written: nothing yet, and the same offset next time.
        let inside = end_of_second + 3;
        let m = rows_after(Some(tmp.path()), inside);
        assert_eq!((m["rows"].clone(), m["next"].clone()), (json!([]), json!(inside)));
        let mut f = std::fs::OpenOptions::new().append(true).open(tmp.path().join("metrics.csv")).unwrap();
        std::io::Write::write_all(&mut f, b"ain,0.125\n3,0,train,0.0625\n").unwrap();
        assert_eq!(rows_after(Some(tmp.path()), inside)["rows"], json!([[3, 0, "train", 0.0625]]));
    }

    /// Reads every answer from `from` on, as the page does, until the server has no more.
    fn read_all(dir: &Path, mut from: u64) -> (Vec<Value>, Vec<String>, u64) {
        let (mut rows, mut damaged) = (vec![], vec![]);
        for _ in 0..64 {
            let m = rows_after(Some(dir), from);
            rows.extend(m["rows"].as_array().unwrap().iter().cloned());
            damaged.extend(m["damaged"].as_str().map(String::from));
            from = m["next"].as_u64().unwrap();
            if m["more"] == json!(false) {
                break;
            }
        }
        (rows, damaged, from)
    }

    #[test]
    fn a_line_longer_than_any_row_is_passed_over_and_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.csv");
        let (header, first) = ("step,epoch,split,loss\n", "0,0,train,0.5\n");
        // 6 MiB with no line break: longer than one answer's chunk, as a 50 MB line is.
        let junk = "9".repeat(6 << 20);
        std::fs::write(&path, format!("{header}{first}{junk}")).unwrap();
        let (rows, damaged, next) = read_all(tmp.path(), 0);
        assert_eq!(rows, vec![json!([0, 0, "train", 0.5])]);
        let at = header.len() + first.len();
        assert_eq!(damaged[0], too_long(at as u64));
        assert!(damaged[0].contains(&format!("the line at byte {at} is over 1048576 bytes")), "{}", damaged[0]);
        assert_eq!(next, std::fs::metadata(&path).unwrap().len(), "the page is not left waiting on the line");
        // The line ends and rows follow: they are read, the line's end is not a row.
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut f, b"99\n1,0,train,0.25\n").unwrap();
        let (rows, _, _) = read_all(tmp.path(), next);
        assert_eq!(rows, vec![json!([1, 0, "train", 0.25])]);
        // A long line with its end inside one answer is passed over too, and the rows
        // around it are kept.
        let long = "7".repeat(2 << 20);
        std::fs::write(&path, format!("{header}{first}{long}\n1,0,test,0.75\n")).unwrap();
        let (rows, damaged, _) = read_all(tmp.path(), 0);
        assert_eq!(rows, vec![json!([0, 0, "train", 0.5]), json!([1, 0, "test", 0.75])]);
        assert_eq!(damaged, vec![too_long(at as u64)]);
        // A header with no end within 64 KiB: damaged, not "no file yet".
        std::fs::write(&path, "s".repeat(100 << 10)).unwrap();
        let m = rows_after(Some(tmp.path()), 0);
        assert!(m["damaged"].as_str().unwrap().contains("header"), "{m}");
        assert_ne!(m["file"], json!(""));
    }

    #[test]
    fn no_folder_no_file_or_a_linked_file_give_no_rows() {
        assert_eq!(rows_after(None, 0)["rows"], json!([]));
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(rows_after(Some(tmp.path()), 0)["rows"], json!([]));
        let outside = tmp.path().join("outside.csv");
        std::fs::write(&outside, "step,epoch,split,loss\n7,0,train,1\n").unwrap();
        let run = tmp.path().join("run");
        std::fs::create_dir(&run).unwrap();
        std::os::unix::fs::symlink(&outside, run.join("metrics.csv")).unwrap();
        assert_eq!(rows_after(Some(&run), 0)["rows"], json!([]), "a symbolic link is not followed");
    }
}
