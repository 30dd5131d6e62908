//! `--set key.path=value`, `--unset key.path` and `--seed`: edits applied to the parsed
//! document (toml's `DeTable`, which keeps every span), so the file is parsed once and
//! its errors keep their lines. An edited value gets a span past the end of the text
//! ([`Source::override_span`]), so an error in it names the argument, not a line.
//! Inside an array of tables a segment is an index or the `name` of an entry, so
//! `model.layers.hidden.units=8` works.

use crate::error::{Error, Result, Source};
use toml::de::{DeArray, DeTable, DeValue};
use toml::Spanned;

const MAX_PATH_SEGMENTS: usize = 16;

/// One command-line edit, in the order they are applied: unsets, sets, then the seed.
#[derive(Debug, Clone)]
pub enum Edit {
    Unset(String),
    Set(String),
    Seed(u64),
}

impl Edit {
    /// How the edit reads on the command line; errors in it are reported under this name.
    pub fn shown(&self) -> String {
        match self {
            Edit::Unset(path) => format!("--unset {path}"),
            Edit::Set(assignment) => format!("--set {assignment}"),
            Edit::Seed(seed) => format!("--seed {seed}"),
        }
    }
}

/// The edits of a command line, in the order they apply.
pub fn edits(unsets: &[String], sets: &[String], seed: Option<u64>) -> Vec<Edit> {
    let mut all: Vec<Edit> = unsets.iter().cloned().map(Edit::Unset).collect();
    all.extend(sets.iter().cloned().map(Edit::Set));
    all.extend(seed.map(Edit::Seed));
    all
}

/// The raw `key.path` and value text of each edit (the seed's number as text), kept
/// alive as long as the document that borrows from them.
pub fn raw_parts(edits: &[Edit]) -> Vec<(String, Option<String>)> {
    edits
        .iter()
        .map(|e| match e {
            Edit::Unset(path) => (path.trim().to_string(), None),
            Edit::Set(a) => match a.split_once('=') {
                Some((path, raw)) => (path.trim().to_string(), Some(raw.trim().to_string())),
                None => (a.trim().to_string(), None),
            },
            Edit::Seed(seed) => ("seed".to_string(), Some(seed.to_string())),
        })
        .collect()
}

/// Parses `source.text` and applies the edits whose raw parts are `parts`.
pub fn parse_with_edits<'a>(
    source: &'a Source,
    edits: &[Edit],
    parts: &'a [(String, Option<String>)],
) -> Result<Spanned<DeTable<'a>>> {
    let mut doc = DeTable::parse(&source.text).map_err(|e| source.error(e.span(), e.message().trim_end()))?;
    for (i, (edit, (path, raw))) in edits.iter().zip(parts).enumerate() {
        let usage = |m: String| Error::Usage(format!("{}: {m}", crate::error::clip(&edit.shown(), 120)));
        let segments: Vec<&str> = path.split('.').map(str::trim).collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(usage("empty segment in the key path (write key.path=value)".into()));
        }
        // No spec key is deeper than a handful of segments; a deeper path would only
        // build nested tables deep enough to overflow the stack.
        if segments.len() > MAX_PATH_SEGMENTS {
            return Err(usage(format!("the key path has {} segments; at most {MAX_PATH_SEGMENTS}", segments.len())));
        }
        let span = source.override_span(i);
        match (edit, raw) {
            (Edit::Unset(_), _) => unset_in(doc.get_mut(), &segments).map_err(usage)?,
            (_, Some(raw)) => {
                // A TOML value where it parses as one (numbers, booleans, arrays); a bare string otherwise.
                let value = match DeValue::parse(raw) {
                    Ok(v) => respan(v, &span),
                    Err(_) => Spanned::new(span.clone(), DeValue::String(raw.as_str().into())),
                };
                set_in(doc.get_mut(), &segments, value, &span).map_err(usage)?;
            }
            (_, None) => return Err(usage("expected key.path=value".into())),
        }
    }
    Ok(doc)
}

/// Gives a parsed value, and everything inside it, the span of its override.
fn respan<'a>(value: Spanned<DeValue<'a>>, span: &std::ops::Range<usize>) -> Spanned<DeValue<'a>> {
    let inner = match value.into_inner() {
        DeValue::Array(items) => {
            let mut out = DeArray::new();
            for item in items.iter().cloned() {
                out.push(respan(item, span));
            }
            DeValue::Array(out)
        }
        DeValue::Table(t) => {
            let mut out = DeTable::new();
            for (k, v) in t {
                out.insert(Spanned::new(span.clone(), k.into_inner()), respan(v, span));
            }
            DeValue::Table(out)
        }
        other => other,
    };
    Spanned::new(span.clone(), inner)
}

fn set_in<'a>(
    table: &mut DeTable<'a>,
    segments: &[&str],
    value: Spanned<DeValue<'a>>,
    span: &std::ops::Range<usize>,
) -> Result<(), String> {
    let (first, rest) = segments.split_first().ok_or("empty key path")?;
    if rest.is_empty() {
        // Removed first: `insert` would keep the file's key, and with it the file's place.
        table.remove(*first);
        let key = Spanned::new(span.clone(), std::borrow::Cow::Owned(first.to_string()));
        table.insert(key, value);
        return Ok(());
    }
    if table.get(*first).is_none() {
        let key = Spanned::new(span.clone(), std::borrow::Cow::Owned(first.to_string()));
        table.insert(key, Spanned::new(span.clone(), DeValue::Table(DeTable::new())));
    }
    let child = table.get_mut(*first).ok_or("key vanished")?;
    match child.get_mut() {
        DeValue::Table(t) => set_in(t, rest, value, span),
        DeValue::Array(arr) => {
            let index = find_entry(arr, rest[0], first)?;
            let element = arr.get_mut(index).ok_or("index out of range")?;
            if rest.len() == 1 {
                if element.get_ref().is_table() && !value.get_ref().is_table() {
                    return Err(format!("`{first}.{}` is a whole table; set one of its keys", rest[0]));
                }
                *element = value;
                return Ok(());
            }
            match element.get_mut() {
                DeValue::Table(t) => set_in(t, &rest[1..], value, span),
                _ => Err(format!("`{first}.{}` is not a table", rest[0])),
            }
        }
        _ => Err(format!("`{first}` is a value, not a table")),
    }
}

fn unset_in(table: &mut DeTable<'_>, segments: &[&str]) -> Result<(), String> {
    let (first, rest) = segments.split_first().ok_or("empty key path")?;
    let missing = |table: &DeTable<'_>| {
        let known: Vec<&str> = table.keys().map(|k| k.get_ref().as_ref()).collect();
        let hint =
            super::suggest(first, known.iter().copied()).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
        format!("there is no key `{first}` to remove{hint}")
    };
    if rest.is_empty() {
        return table.remove(*first).map(|_| ()).ok_or_else(|| missing(table));
    }
    let Some(child) = table.get_mut(*first) else { return Err(missing(table)) };
    match child.get_mut() {
        DeValue::Table(t) => unset_in(t, rest),
        DeValue::Array(arr) => {
            let index = find_entry(arr, rest[0], first)?;
            match arr.get_mut(index).map(Spanned::get_mut) {
                Some(DeValue::Table(t)) if rest.len() > 1 => unset_in(t, &rest[1..]),
                _ => Err(format!("`{first}.{}` is an entry; remove one of its keys", rest[0])),
            }
        }
        _ => Err(format!("`{first}` is a value, not a table")),
    }
}

/// The entry of an array that a segment names: its index, or its `name`.
fn find_entry(arr: &DeArray<'_>, segment: &str, key: &str) -> Result<usize, String> {
    if let Ok(i) = segment.parse::<usize>() {
        return if i < arr.len() { Ok(i) } else { Err(format!("`{key}` has {} entries, no index {i}", arr.len())) };
    }
    let name_of =
        |v: &Spanned<DeValue<'_>>| v.get_ref().get("name").and_then(|n| n.get_ref().as_str()).map(String::from);
    let names: Vec<Option<String>> = arr.iter().map(name_of).collect();
    if let Some(i) = names.iter().position(|n| n.as_deref() == Some(segment)) {
        return Ok(i);
    }
    let known: Vec<&str> = names.iter().flatten().map(String::as_str).collect();
    let hint =
        super::suggest(segment, known.iter().copied()).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
    Err(format!("`{key}` has no entry named `{segment}`{hint}"))
}

/// The span of the key at `path` (segments as in `--set`: names, or entry names and
/// indexes inside arrays), or of the deepest part of it that exists.
pub fn locate(doc: &Spanned<DeTable<'_>>, path: &[&str]) -> Option<std::ops::Range<usize>> {
    walk(doc, path).0
}

/// The span of the key at `path` only when all of it exists: whether the spec or its
/// `--set`s wrote that key at all, which `locate`'s fallback cannot tell.
pub fn locate_exact(doc: &Spanned<DeTable<'_>>, path: &[&str]) -> Option<std::ops::Range<usize>> {
    match walk(doc, path) {
        (span, true) => span,
        (_, false) => None,
    }
}

/// The span of the deepest part of `path` that exists, and whether that is all of it.
fn walk(doc: &Spanned<DeTable<'_>>, path: &[&str]) -> (Option<std::ops::Range<usize>>, bool) {
    let mut best = None;
    let mut table = Some(doc.get_ref());
    let mut array: Option<&DeArray<'_>> = None;
    for (i, segment) in path.iter().enumerate() {
        let value = if let Some(t) = table {
            let Some((key, value)) = t.get_key_value(*segment) else { return (best, false) };
            best = Some(key.span());
            value
        } else if let Some(arr) = array {
            let Ok(index) = find_entry(arr, segment, path[i.saturating_sub(1)]) else { return (best, false) };
            best = Some(arr[index].span());
            &arr[index]
        } else {
            return (best, false);
        };
        (table, array) = match value.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(a)),
            _ => (None, None),
        };
    }
    (best, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "seed = 1\n[train]\nlr = 0.1\niterations = 5\n[[model.layers]]\nname = \"h\"\nunits = 3\n";

    fn apply(edits: &[Edit]) -> (Source, Result<()>) {
        let source = Source { overrides: edits.iter().map(Edit::shown).collect(), ..Source::new("s.toml", TEXT) };
        let parts = raw_parts(edits);
        let result = parse_with_edits(&source, edits, &parts).map(|_| ());
        (source, result)
    }

    fn span_of(edits: &[Edit], path: &[&str]) -> Option<std::ops::Range<usize>> {
        let source = Source { overrides: edits.iter().map(Edit::shown).collect(), ..Source::new("s.toml", TEXT) };
        let parts = raw_parts(edits);
        let doc = parse_with_edits(&source, edits, &parts).unwrap();
        locate(&doc, path)
    }

    #[test]
    fn keys_of_the_file_keep_their_place_and_set_keys_move_past_the_text() {
        let lr = TEXT.find("lr").unwrap();
        assert_eq!(span_of(&[], &["train", "lr"]).map(|s| s.start), Some(lr));
        let units = TEXT.find("units").unwrap();
        assert_eq!(span_of(&[], &["model", "layers", "h", "units"]).map(|s| s.start), Some(units));
        assert_eq!(span_of(&[], &["model", "layers", "0", "units"]).map(|s| s.start), Some(units));
        // A missing key is reported at the deepest part that exists.
        assert_eq!(span_of(&[], &["train", "momentum"]).map(|s| s.start), Some(TEXT.find("train").unwrap()));
        let edits = [Edit::Unset("train.iterations".into()), Edit::Set("train.lr=0.5".into()), Edit::Seed(u64::MAX)];
        let source = Source::new("s.toml", TEXT);
        let set_lr = span_of(&edits, &["train", "lr"]).unwrap();
        assert!(set_lr.start >= source.override_span(1).start && set_lr.start < source.override_span(2).start);
        assert!(span_of(&edits, &["seed"]).unwrap().start >= source.override_span(2).start);
        assert_eq!(span_of(&edits, &["train", "iterations"]).map(|s| s.start), Some(TEXT.find("train").unwrap()));
    }

    #[test]
    fn bad_edits_name_their_argument() {
        let (_, r) = apply(&[Edit::Unset("train.iteration".into())]);
        let m = r.unwrap_err().to_string();
        assert_eq!(m, "--unset train.iteration: there is no key `iteration` to remove; did you mean `iterations`?");
        let (_, r) = apply(&[Edit::Set("model.layers.zzz.units=2".into())]);
        assert_eq!(r.unwrap_err().to_string(), "--set model.layers.zzz.units=2: `layers` has no entry named `zzz`");
        let (_, r) = apply(&[Edit::Set("train..lr=2".into())]);
        assert!(r.unwrap_err().to_string().contains("empty segment"));
        let (source, r) = apply(&[Edit::Set("train.lr=abc".into())]);
        assert!(r.is_ok(), "a bare word is a string; serde rejects it later");
        let e = source.error(Some(source.override_span(0)), "invalid type");
        assert_eq!(e.to_string(), "--set train.lr=abc: invalid type");
    }
}
