//! The sweep folder's tables: `sweep.csv` (one row per run) and `summary.csv` (per
//! setting: mean, std and count over seeds of each final metric), its charts, and its
//! report page (index.html).

use super::plan::RunList;
use crate::error::{Error, Result};
use crate::results::HIDDEN_PREFIX;
use std::collections::BTreeMap;
use std::path::Path;

/// A run as its folder records it.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub status: String,
    pub final_metrics: BTreeMap<String, f64>,
    pub wall_seconds: Option<f64>,
    pub error: Option<String>,
}

impl Outcome {
    /// A run that left no manifest (it failed before its folder existed, or was killed).
    pub fn missing(message: &str) -> Outcome {
        Outcome { status: "failed".into(), error: Some(message.to_string()), ..Outcome::default() }
    }

    /// The metric a one-line report shows: the last loss-like one, or the first.
    pub fn headline(&self) -> Option<(&String, f64)> {
        let loss = self.final_metrics.iter().rfind(|(k, _)| k.contains("loss"));
        loss.or_else(|| self.final_metrics.iter().next()).map(|(k, v)| (k, *v))
    }
}

/// Reads `folder/manifest.json`; `None` when there is none.
pub fn read_outcome(folder: &Path) -> Option<Outcome> {
    // Through the reader that refuses a FIFO or a huge file, which would hang the sweep.
    let text = crate::results::read_manifest_text(&folder.join("manifest.json")).ok()?;
    let m: serde_json::Value = serde_json::from_str(&text).ok()?;
    let final_metrics = m
        .get("final_metrics")
        .and_then(|f| f.as_object())
        .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_f64()?))).collect())
        .unwrap_or_default();
    Some(Outcome {
        status: m.get("status")?.as_str()?.to_string(),
        final_metrics,
        wall_seconds: m.get("wall_seconds").and_then(|w| w.as_f64()),
        error: m.get("error").and_then(|e| e.as_str()).map(String::from),
    })
}

fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The outcome of each entry now, from its folder (a killed run's hidden folder counts).
pub fn outcomes(list: &RunList, messages: &[(usize, String)]) -> Vec<(Outcome, String)> {
    let runs = list.runs_dir();
    list.entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let folder = format!("runs/{}", e.id);
            let message = messages.iter().find(|(j, _)| *j == i).map_or("", |(_, m)| m.as_str());
            if let Some(mut o) = read_outcome(&runs.join(&e.id)) {
                // A scheduler's word on a run that did not complete goes after its own error.
                if o.status != "complete" && message.starts_with(super::slurm::NOTE_PREFIX) {
                    o.error = Some(o.error.map_or(message.to_string(), |e| format!("{e} ({message})")));
                }
                return (o, folder);
            }
            if runs.join(format!("{HIDDEN_PREFIX}{}", e.id)).is_dir() {
                let o = Outcome { status: "killed".into(), error: Some(message.into()), ..Outcome::default() };
                (o, format!("runs/{HIDDEN_PREFIX}{}", e.id))
            } else if messages.iter().any(|(j, _)| *j == i) {
                (Outcome::missing(message), String::new())
            } else {
                // Never started: the sweep was stopped first.
                (Outcome { status: "not run".into(), ..Outcome::default() }, String::new())
            }
        })
        .collect()
}

/// Writes sweep.csv, summary.csv, the charts and index.html into the sweep folder.
pub fn write_reports(list: &RunList, messages: &[(usize, String)]) -> Result<()> {
    let outcomes = outcomes(list, messages);
    let mut metrics: Vec<String> = outcomes.iter().flat_map(|(o, _)| o.final_metrics.keys().cloned()).collect();
    metrics.sort();
    metrics.dedup();
    let write = |name: &str, text: String| {
        let path = list.folder.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
    };
    // A `seed` axis (a grid may sweep it when there is no `seeds`) is the seed column
    // already: written twice, sweep.csv had two columns of one name.
    let axis = |k: &str| !super::plan::is_seed_axis(k);
    let mut csv: Vec<String> = vec!["run".into()];
    csv.extend(list.keys.iter().filter(|k| axis(k)).map(|k| cell(k)));
    csv.extend(["seed".to_string(), "status".into()]);
    csv.extend(metrics.iter().map(|m| cell(m)));
    csv.extend(["wall_seconds".to_string(), "folder".into(), "error".into()]);
    let mut text = csv.join(",") + "\n";
    for (entry, (o, folder)) in list.entries.iter().zip(&outcomes) {
        let mut row: Vec<String> = vec![entry.id.clone()];
        row.extend(entry.values.iter().filter(|(k, _)| axis(k)).map(|(_, v)| cell(v)));
        row.extend([entry.seed.to_string(), o.status.clone()]);
        row.extend(metrics.iter().map(|m| {
            o.final_metrics
                .get(m)
                .map(|&v| crate::results::format_value(v, crate::backend::DType::F64))
                .unwrap_or_default()
        }));
        row.push(o.wall_seconds.map(|w| format!("{w:.3}")).unwrap_or_default());
        row.push(cell(folder));
        row.push(cell(o.error.as_deref().unwrap_or("")));
        text += &(row.join(",") + "\n");
    }
    write("sweep.csv", text)?;
    let settings = summarize(list, &outcomes, &metrics);
    write("summary.csv", summary_csv(list, &metrics, &settings))?;
    crate::plot::sweep::write_charts(list, &metrics, &settings)?;
    // Last: the page shows the tables and charts above.
    crate::report::write_sweep_page(&list.folder)
}

/// Mean, sample std (0 for one run) and count of a metric over one setting's seeds.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
    pub count: usize,
}

/// One setting (swept values without the seed), its completed runs' statistics by
/// metric, and the indices of its entries.
pub struct SettingSummary {
    pub values: Vec<String>,
    pub stats: BTreeMap<String, Stat>,
    pub entries: Vec<usize>,
}

pub fn summarize(list: &RunList, outcomes: &[(Outcome, String)], metrics: &[String]) -> Vec<SettingSummary> {
    let mut settings: Vec<SettingSummary> = Vec::new();
    for (i, entry) in list.entries.iter().enumerate() {
        let values: Vec<String> = entry.values.iter().map(|(_, v)| v.clone()).collect();
        match settings.iter_mut().find(|s| s.values == values) {
            Some(s) => s.entries.push(i),
            None => settings.push(SettingSummary { values, stats: BTreeMap::new(), entries: vec![i] }),
        }
    }
    for s in &mut settings {
        for m in metrics {
            let xs: Vec<f64> = s
                .entries
                .iter()
                .filter(|&&i| outcomes[i].0.status == "complete")
                .filter_map(|&i| outcomes[i].0.final_metrics.get(m).copied())
                .filter(|v| v.is_finite())
                .collect();
            if xs.is_empty() {
                continue;
            }
            let n = xs.len() as f64;
            let mean = xs.iter().sum::<f64>() / n;
            let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
            s.stats.insert(m.clone(), Stat { mean, std: var.sqrt(), count: xs.len() });
        }
    }
    settings
}

fn summary_csv(list: &RunList, metrics: &[String], settings: &[SettingSummary]) -> String {
    let mut head: Vec<String> = list.keys.iter().map(|k| cell(k)).collect();
    for m in metrics {
        head.extend([format!("{m}_mean"), format!("{m}_std"), format!("{m}_count")].iter().map(|h| cell(h)));
    }
    let mut text = head.join(",") + "\n";
    for s in settings {
        let mut row: Vec<String> = s.values.iter().map(|v| cell(v)).collect();
        for m in metrics {
            match s.stats.get(m) {
                Some(st) => row.extend([st.mean.to_string(), st.std.to_string(), st.count.to_string()]),
                None => row.extend([String::new(), String::new(), "0".into()]),
            }
        }
        text += &(row.join(",") + "\n");
    }
    text
}
