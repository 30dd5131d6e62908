use super::overrides::{self, Edit};
use super::{validate, Spec};
use crate::error::{Error, Result, Source};
use serde::Deserialize;
use std::path::Path;

/// The largest spec file read: far above any real spec (the shipped ones are a few KB,
/// inline data of 10^5 rows is a few MB). Parsing keeps every value with its span, about
/// 35 bytes of memory per byte of inline data, so this bounds it near a gigabyte.
pub const MAX_SPEC_BYTES: u64 = 32 << 20;

/// How the command line marks an `--unset KEY.PATH` among the `--set` arguments it
/// passes down (a `--set` always has `=`; this prefix cannot begin a key path).
pub const UNSET_PREFIX: &str = "\u{1}unset ";

/// A parsed, validated spec with the text it came from and the command-line edits
/// applied to it, so later stages can report errors at a line and column or an argument.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub spec: Spec,
    pub source: Source,
}

pub fn load(path: &Path, sets: &[String], seed: Option<u64>) -> Result<LoadedSpec> {
    load_str(&path.display().to_string(), read_spec_text(path)?, sets, seed)
}

/// A spec or sweep file's text, read through the size limit, not by the size the file
/// claims (/dev/zero or a pipe has none).
pub fn read_spec_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut text = String::new();
    file.take(MAX_SPEC_BYTES + 1).read_to_string(&mut text).map_err(|e| Error::io(path, e))?;
    if text.len() as u64 > MAX_SPEC_BYTES {
        return Err(Error::Usage(format!(
            "{}: the spec is over {MAX_SPEC_BYTES} bytes (32 MiB), the most runner reads; put large data in a CSV or IDX file",
            path.display()
        )));
    }
    Ok(text)
}

/// The edits a command line asked for: `sets` holds `--set` arguments and, marked with
/// [`UNSET_PREFIX`], `--unset` ones.
fn command_line_edits(sets: &[String], seed: Option<u64>) -> Vec<Edit> {
    let unsets: Vec<String> = sets.iter().filter_map(|s| s.strip_prefix(UNSET_PREFIX)).map(String::from).collect();
    let sets: Vec<String> = sets.iter().filter(|s| !s.starts_with(UNSET_PREFIX)).cloned().collect();
    overrides::edits(&unsets, &sets, seed)
}

pub fn load_str(file: &str, text: impl Into<String>, sets: &[String], seed: Option<u64>) -> Result<LoadedSpec> {
    let edits = command_line_edits(sets, seed);
    let source =
        Source { file: file.to_string(), text: text.into(), overrides: edits.iter().map(Edit::shown).collect() };
    if source.text.len() as u64 > MAX_SPEC_BYTES {
        return Err(Error::Usage(format!("{file}: the spec is larger than {MAX_SPEC_BYTES} bytes (32 MiB)")));
    }
    let parts = overrides::raw_parts(&edits);
    let doc = overrides::parse_with_edits(&source, &edits, &parts)?;
    // Settings with defaults cannot tell "given" from "defaulted" once parsed; which
    // optimizer settings were written is read here, to refuse ones the optimizer ignores.
    let train_keys: Vec<String> = match doc.get_ref().get("train").map(|t| t.get_ref()) {
        Some(toml::de::DeValue::Table(t)) => t.keys().map(|k| k.get_ref().to_string()).collect(),
        _ => vec![],
    };
    // A sweep file (`base = "spec.toml"` plus `[sweep]`) is no spec: its `base` would
    // be refused as an unknown key, which does not say what to do with the file.
    let sweep_file = doc.get_ref().iter().find(|(k, _)| k.get_ref() == "base").map(|(k, _)| k.span());
    let spec = Spec::deserialize(toml::de::Deserializer::from(doc)).map_err(|e| {
        if let Some(span) = sweep_file {
            let message =
                format!("this is a sweep file (it has `base`), not a spec; run it with `runner sweep {file}`");
            return source.error(Some(span), message);
        }
        let span = unset_that_removed(&edits, &source, e.message()).or(e.span());
        let message = super::messages::plain(e.message(), &e.to_string(), span.as_ref(), &source)
            .unwrap_or_else(|| with_suggestion(e.message()));
        source.error(span, message)
    })?;
    drop(parts);
    let mut spec = spec;
    default_adamw_decay(&mut spec, &train_keys);
    validate::validate(&spec, &source, &train_keys)?;
    Ok(LoadedSpec { spec, source })
}

/// AdamW's `weight_decay` is 0.01 where the spec does not give one, as PyTorch's
/// `AdamW` (the other optimizers' is 0). Written into the spec, so the resolved spec
/// (spec.toml, the manifest's hash) says what ran.
fn default_adamw_decay(spec: &mut Spec, train_keys: &[String]) {
    if let Some(t) = spec.train.as_mut() {
        let t = t.get_mut();
        if t.optimizer == super::OptimizerKind::AdamW && !train_keys.iter().any(|k| k == "weight_decay") {
            t.weight_decay = super::train::ADAMW_WEIGHT_DECAY;
        }
    }
}

/// A required key reported missing (serde's "missing field `x`", which has no place)
/// because an `--unset` removed it: that argument's span, so the error names it.
fn unset_that_removed(edits: &[Edit], source: &Source, message: &str) -> Option<std::ops::Range<usize>> {
    let field = message.strip_prefix("missing field `")?.split('`').next()?;
    edits
        .iter()
        .position(|e| matches!(e, Edit::Unset(path) if path.trim().rsplit('.').next() == Some(field)))
        .map(|i| source.override_span(i))
}

/// The span of the key at a dotted path (`train.lr`, `model.layers.3.units`, entries by
/// index or name), or of the deepest part of it that exists; `None` when not even its
/// table is in the spec. Parses the text again: it is only called to report an error.
pub fn key_span(source: &Source, path: &str) -> Option<std::ops::Range<usize>> {
    with_edited_doc(source, |doc| overrides::locate(doc, &path.split('.').collect::<Vec<_>>()))?
}

/// The span of `[data]`'s `key` (of its row `row` when given) as the spec and its
/// `--set`s left it, so a value a `--set` gave is blamed on that argument; `None` when
/// neither wrote the key. Falls back to the file's text when the edited spec does not
/// parse (the parse error is reported elsewhere). For error paths only: it parses again.
pub fn data_span(source: &Source, key: &str, row: Option<usize>) -> Option<std::ops::Range<usize>> {
    let path = match row {
        Some(r) => format!("data.{key}.{r}"),
        None => format!("data.{key}"),
    };
    let segments: Vec<&str> = path.split('.').collect();
    match with_edited_doc(source, |doc| overrides::locate_exact(doc, &segments)) {
        Some(found) => found,
        None => super::data_key_span(&source.text, key, row),
    }
}

/// Runs `f` on the spec as its overrides left it; `None` when that does not parse.
fn with_edited_doc<T>(source: &Source, f: impl FnOnce(&toml::Spanned<toml::de::DeTable<'_>>) -> T) -> Option<T> {
    let edits: Vec<Edit> = source
        .overrides
        .iter()
        .map(|shown| {
            if let Some(p) = shown.strip_prefix("--unset ") {
                Edit::Unset(p.to_string())
            } else if let Some(a) = shown.strip_prefix("--set ") {
                Edit::Set(a.to_string())
            } else {
                Edit::Seed(shown.trim_start_matches("--seed ").parse().unwrap_or(0))
            }
        })
        .collect();
    let parts = overrides::raw_parts(&edits);
    let doc = overrides::parse_with_edits(source, &edits, &parts).ok()?;
    Some(f(&doc))
}

/// An error at the key `path` (see [`key_span`]). A key of the file judged under a
/// kind, op, optimizer or split that a `--set` chose (`--set probes.4.kind=dataset`
/// against the file's `layers`) is blamed on that `--set`, as every other error a
/// `--set` causes is, and the message says where the file's key is.
pub fn error_at(source: &Source, path: &str, message: impl Into<String>) -> Error {
    let message = message.into();
    let span = key_span(source, path);
    let in_file = span.as_ref().is_none_or(|s| s.start < source.override_base());
    if in_file && !source.overrides.is_empty() {
        if let Some(chooser) = chosen_by_a_set(source, path) {
            let key = path.rsplit('.').find(|s| s.parse::<usize>().is_err()).unwrap_or(path);
            let segments: Vec<&str> = path.split('.').collect();
            // Only a key the file has is pointed at: a missing one falls back to its table.
            let exact = with_edited_doc(source, |doc| overrides::locate_exact(doc, &segments)).flatten();
            let place = match exact {
                Some(s) => {
                    let at = source.error(Some(s), "");
                    format!(" (`{key}` is at {}:{}:{})", at.file, at.line, at.col)
                }
                None => String::new(),
            };
            return source.error(Some(chooser), format!("{message}{place}")).into();
        }
    }
    source.error(span, message).into()
}

/// The keys that decide what the other keys of their table mean.
const CHOOSERS: [&str; 5] = ["kind", "op", "optimizer", "solver", "split"];

/// The span of a `--set` that wrote a chooser ([`CHOOSERS`]) of the nearest table
/// holding `path` that has one (a layer's `init` table before the layer); `None` when
/// that table's choosers are the file's.
fn chosen_by_a_set(source: &Source, path: &str) -> Option<std::ops::Range<usize>> {
    let segments: Vec<&str> = path.split('.').collect();
    with_edited_doc(source, |doc| {
        for len in (1..segments.len()).rev() {
            let found: Vec<std::ops::Range<usize>> = CHOOSERS
                .iter()
                .filter_map(|chooser| {
                    let mut at = segments[..len].to_vec();
                    at.push(chooser);
                    // The chooser itself is no table of the key (`probes.4.kind` is the key).
                    (at != segments).then(|| overrides::locate_exact(doc, &at)).flatten()
                })
                .collect();
            if let Some(set) = found.iter().find(|s| s.start >= source.override_base()) {
                return Some(set.clone());
            }
            if !found.is_empty() {
                return None;
            }
        }
        None
    })
    .flatten()
}

/// serde names the bad key or value and the expected ones in backticks; add the
/// closest expected one as a "did you mean".
fn with_suggestion(message: &str) -> String {
    let message = message.trim_end();
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let is_unknown = message.starts_with("unknown field") || message.starts_with("unknown variant");
    match quoted.split_first() {
        Some((bad, expected)) if is_unknown => match suggest(bad, expected.iter().copied()) {
            Some(best) => format!("{message}; did you mean `{best}`?"),
            None => message.to_string(),
        },
        _ => message.to_string(),
    }
}

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // A long word is no typo of a short name, and comparing it would cost its length squared.
    if word.len() > 64 {
        return None;
    }
    candidates
        .into_iter()
        .filter(|c| c.len() <= 64)
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1) + usize::from(c.len() > 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "name = \"t\"\nseed = 1\n[data]\nkind = \"xor\"\n[[model.layers]]\nname = \"out\"\nop = \"dense\"\nunits = 1\n[train]\nloss = \"mse\"\nlr = 0.1\niterations = 2\n";

    fn decay(sets: &[&str]) -> f64 {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        load_str("t.toml", SPEC, &sets, None).unwrap().spec.train.unwrap().get_ref().weight_decay
    }

    /// AdamW decays by 0.01 unless told otherwise, as PyTorch's; the other optimizers
    /// by 0; a written value, 0 included, is kept.
    #[test]
    fn adamw_decays_by_default_as_pytorchs() {
        assert_eq!(decay(&["train.optimizer=\"adamw\""]), 0.01);
        assert_eq!(decay(&["train.optimizer=\"adamw\"", "train.weight_decay=0.0"]), 0.0);
        assert_eq!(decay(&["train.optimizer=\"adamw\"", "train.weight_decay=0.1"]), 0.1);
        assert_eq!(decay(&["train.optimizer=\"adam\""]), 0.0);
        assert_eq!(decay(&[]), 0.0);
    }
}
