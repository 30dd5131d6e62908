use super::{overrides, validate, Spec};
use crate::error::{Error, Result, Source};
use std::path::Path;

/// A parsed, validated spec with the text it came from (after overrides), so later
/// stages can report errors at a line and column.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub spec: Spec,
    pub source: Source,
}

pub fn load(path: &Path, sets: &[String], seed: Option<u64>) -> Result<LoadedSpec> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    load_str(&path.display().to_string(), &text, sets, seed)
}

pub fn load_str(file: &str, text: &str, sets: &[String], seed: Option<u64>) -> Result<LoadedSpec> {
    let original = Source { file: file.to_string(), text: text.to_string() };
    let text = overrides::apply(&original, sets, seed)?;
    let source = Source { file: file.to_string(), text };
    let spec: Spec = toml::from_str(&source.text).map_err(|e| {
        let message = with_suggestion(e.message());
        source.error(e.span(), message)
    })?;
    validate::validate(&spec, &source)?;
    Ok(LoadedSpec { spec, source })
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
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1) + usize::from(c.len() > 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
