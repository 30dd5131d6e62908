//! Per-name tolerances that name nothing: `--metric lss=0.1` (or `[diff] metrics =
//! { lss = 0.1 }`) would leave every `loss` value held exactly and say nothing, so a
//! name that no compared value goes by is an error naming it, with a "did you mean".

use super::report::Outcome;
use super::table;
use super::tolerance::Tolerances;
use super::Options;
use std::path::Path;

/// A per-name tolerance that matched no value of a pair of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownName {
    pub name: String,
    /// Where it was given: `--metric lss=0.1`, or `<run>/spec.toml: [diff] metrics`.
    pub given: String,
    pub suggestion: Option<String>,
    /// metrics.csv's metric columns, the names most tolerances are for.
    pub metrics: Vec<String>,
}

/// After a comparison: the names of `tol` no value was looked up by. `spec` is the
/// spec.toml whose `[diff]` table the tolerances came from; `a_dir` the first run.
pub fn unknown(tol: &Tolerances, opts: &Options, spec: Option<&Path>, a_dir: &Path) -> Vec<UnknownName> {
    let unmet = tol.unmet();
    if unmet.is_empty() {
        return vec![];
    }
    let met = tol.met();
    let metrics = metric_columns(&a_dir.join("metrics.csv"));
    unmet
        .into_iter()
        .map(|name| {
            // A flag wins over the spec for the same name, so it is the one to blame.
            let given = match opts.names.iter().rev().find(|(n, _)| *n == name) {
                Some((_, tol)) => format!("--metric {name}={tol}"),
                None => match spec {
                    Some(p) => format!("{}: [diff] metrics", p.display()),
                    None => "[diff] metrics".into(),
                },
            };
            let suggestion = crate::spec::suggest(&name, met.iter().map(String::as_str)).map(String::from);
            UnknownName { name, given, suggestion, metrics: metrics.clone() }
        })
        .collect()
}

/// metrics.csv's columns less `step` and `split`; empty when it cannot be read.
fn metric_columns(path: &Path) -> Vec<String> {
    table::read_csv(path)
        .map(|t| t.header.into_iter().filter(|h| h != "step" && h != "split").collect())
        .unwrap_or_default()
}

/// The names unknown in every pair that was compared (a sweep's runs may differ in
/// their files, so a name that some pair has is not a typo), each once.
pub fn unknown_everywhere(outcome: &Outcome) -> Vec<&UnknownName> {
    let compared: Vec<_> = outcome.pairs.iter().filter(|p| p.reasons.is_empty()).collect();
    let Some(&first) = compared.first() else { return vec![] };
    first
        .unknown_names
        .iter()
        .filter(|u| compared.iter().all(|p| p.unknown_names.iter().any(|v| v.name == u.name)))
        .collect()
}

/// The error's text: a line per name.
pub fn message(unknown: &[&UnknownName]) -> String {
    let lines: Vec<String> = unknown
        .iter()
        .map(|u| {
            let hint = u.suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
            let metrics =
                if u.metrics.is_empty() { String::new() } else { format!("metrics: {}; ", u.metrics.join(", ")) };
            format!(
                "{}: no value of these runs is named `{}`{hint} ({metrics}a name may also be `split.metric`, a CSV \
                 column, a tensor or a file)",
                u.given, u.name
            )
        })
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unmet_name_is_blamed_on_its_flag_with_a_suggestion() {
        let opts = Options { names: vec![("lss".into(), 0.5)], ..Options::default() };
        let spec = crate::spec::DiffSpec { metrics: [("nonexistent".to_string(), 0.1)].into(), ..Default::default() };
        let tol = Tolerances::resolve(Some(&spec), None, None, &opts.names);
        tol.for_keys(&["train.loss", "loss", "metrics.csv"]);
        let found = unknown(&tol, &opts, Some(Path::new("b/spec.toml")), Path::new("/nonexistent-run"));
        let shown: Vec<(&str, &str, Option<&str>)> =
            found.iter().map(|u| (u.name.as_str(), u.given.as_str(), u.suggestion.as_deref())).collect();
        assert_eq!(
            shown,
            [("lss", "--metric lss=0.5", Some("loss")), ("nonexistent", "b/spec.toml: [diff] metrics", None)]
        );
        let text = message(&found.iter().collect::<Vec<_>>());
        assert!(text.starts_with("--metric lss=0.5: no value of these runs is named `lss`; did you mean `loss`?"));
        assert_eq!(text.lines().count(), 2, "{text}");
    }
}
