//! `--set key.path=value` and `--seed`: edits applied to the document text with
//! toml_edit, so the spec is parsed once, from text, and errors keep their positions.
//! Inside an array of tables a segment is an index or the `name` of an entry, so
//! `model.layers.hidden.units=8` works.

use crate::error::{Error, Result, Source};
use toml_edit::{DocumentMut, Item, TableLike, Value};

pub fn apply(source: &Source, sets: &[String], seed: Option<u64>) -> Result<String> {
    if sets.is_empty() && seed.is_none() {
        return Ok(source.text.clone());
    }
    let mut doc: DocumentMut =
        source.text.parse().map_err(|e: toml_edit::TomlError| source.error(e.span(), e.message().to_string()))?;
    for assignment in sets {
        set_one(&mut doc, assignment).map_err(|m| Error::Usage(format!("--set {assignment}: {m}")))?;
    }
    if let Some(seed) = seed {
        doc["seed"] = toml_edit::value(seed as i64);
    }
    Ok(doc.to_string())
}

fn set_one(doc: &mut DocumentMut, assignment: &str) -> Result<(), String> {
    let (path, raw) = assignment.split_once('=').ok_or("expected key.path=value")?;
    let raw = raw.trim();
    // A TOML value where it parses as one (numbers, booleans, arrays); a bare string otherwise.
    let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw));
    let segments: Vec<&str> = path.trim().split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err("empty segment in the key path".into());
    }
    set_in(doc.as_table_mut(), &segments, value)
}

fn set_in(table: &mut dyn TableLike, segments: &[&str], value: Value) -> Result<(), String> {
    let (first, rest) = segments.split_first().ok_or("empty key path")?;
    if rest.is_empty() {
        table.insert(first, Item::Value(value));
        return Ok(());
    }
    if table.get(first).is_none() {
        table.insert(first, Item::Table(toml_edit::Table::new()));
    }
    let child = table.get_mut(first).ok_or("key vanished")?;
    descend(child, first, rest, value)
}

fn descend(item: &mut Item, key: &str, rest: &[&str], value: Value) -> Result<(), String> {
    match item {
        Item::Table(t) => set_in(t, rest, value),
        Item::Value(Value::InlineTable(t)) => set_in(t, rest, value),
        Item::ArrayOfTables(arr) => {
            let names: Vec<Option<String>> =
                arr.iter().map(|t| t.get("name").and_then(|n| n.as_str()).map(String::from)).collect();
            let index = find_entry(&names, rest[0], key)?;
            let table = arr.get_mut(index).ok_or("index out of range")?;
            if rest.len() == 1 {
                return Err(format!("`{key}.{}` is a whole table; set one of its keys", rest[0]));
            }
            set_in(table, &rest[1..], value)
        }
        Item::Value(Value::Array(arr)) => {
            let names: Vec<Option<String>> = arr
                .iter()
                .map(|v| v.as_inline_table().and_then(|t| t.get("name")).and_then(|n| n.as_str()).map(String::from))
                .collect();
            let index = find_entry(&names, rest[0], key)?;
            let element = arr.get_mut(index).ok_or("index out of range")?;
            if rest.len() == 1 {
                *element = value;
                return Ok(());
            }
            match element {
                Value::InlineTable(t) => set_in(t, &rest[1..], value),
                _ => Err(format!("`{key}.{}` is not a table", rest[0])),
            }
        }
        _ => Err(format!("`{key}` is a value, not a table")),
    }
}

fn find_entry(names: &[Option<String>], segment: &str, key: &str) -> Result<usize, String> {
    if let Ok(i) = segment.parse::<usize>() {
        return if i < names.len() { Ok(i) } else { Err(format!("`{key}` has {} entries, no index {i}", names.len())) };
    }
    if let Some(i) = names.iter().position(|n| n.as_deref() == Some(segment)) {
        return Ok(i);
    }
    let known: Vec<&str> = names.iter().flatten().map(String::as_str).collect();
    let hint =
        super::suggest(segment, known.iter().copied()).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
    Err(format!("`{key}` has no entry named `{segment}`{hint}"))
}
