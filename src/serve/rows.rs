//! A run's metrics.csv as the page reads it: the rows after a byte offset the page
//! already has, so a poll sends only what is new. Only whole lines are read (the writer
//! appends whole lines; a line still on its way is read at the next poll).

use super::folders::open_plain;
use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// At most this many bytes of rows per answer; the page asks again for the rest.
const CHUNK: u64 = 4 << 20;

/// The rows of `dir/metrics.csv` from byte `from` on (0: from the first row), as
/// `{"columns", "rows", "next", "file", "more"}`. `file` names the file (its inode): a
/// page that sees it change (a sweep's run done again) starts over. When the file is
/// shorter than `from` (a resumed run cut it back) the rows start again from the top,
/// and `restart` says so.
pub fn rows_after(dir: Option<&Path>, from: u64) -> Value {
    let empty = json!({"columns": [], "rows": [], "next": 0, "file": "", "more": false, "restart": from > 0});
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
    if (&mut file).take(64 << 10).read_to_end(&mut head).is_err() {
        return empty;
    }
    let Some(header_len) = head.iter().position(|&b| b == b'\n').map(|i| i as u64 + 1) else { return empty };
    let columns: Vec<&str> = std::str::from_utf8(&head[..header_len as usize - 1]).unwrap_or("").split(',').collect();
    let restart = from > meta.len();
    let start = if restart { header_len } else { from.max(header_len) };
    let mut chunk = Vec::new();
    let read = file.seek(SeekFrom::Start(start)).and_then(|_| (&mut file).take(CHUNK).read_to_end(&mut chunk));
    if read.is_err() {
        return empty;
    }
    let whole = chunk.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let rows: Vec<Value> =
        String::from_utf8_lossy(&chunk[..whole]).lines().filter(|l| !l.is_empty()).map(row).collect();
    json!({
        "columns": columns,
        "rows": rows,
        "next": start + whole as u64,
        "file": id,
        "more": start + (whole as u64) < meta.len() && chunk.len() as u64 == CHUNK,
        "restart": restart,
    })
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
