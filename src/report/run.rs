//! The page of one run folder, made from its files only (manifest.json, spec.toml and
//! the files beside them): the same folder always gives the same bytes.

use super::captions;
use super::html::{details_pre, esc, facts_table, href, page, png_size, size, status_badge};
use serde_json::Value;
use std::fmt::Write;
use std::path::Path;

/// A file of the folder: name and size in bytes.
struct Entry {
    name: String,
    bytes: u64,
}

/// The files to show: the manifest's list in its order (the order they were written:
/// pictures in probe order), then any others in the folder by name. Hidden files,
/// the owner file and the page itself are left out.
fn entries(folder: &Path, manifest: Option<&Value>) -> Vec<Entry> {
    let listed: Vec<String> = manifest
        .and_then(|m| m.get("files"))
        .and_then(|f| f.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let mut present: Vec<String> = std::fs::read_dir(folder)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    present.sort();
    let shown = |n: &String| !n.starts_with('.') && n != crate::results::OWNER_FILE && n != super::PAGE;
    let mut names: Vec<String> = listed.into_iter().filter(|n| present.contains(n)).collect();
    names.dedup();
    let unlisted: Vec<String> = present.into_iter().filter(|n| !names.contains(n)).collect();
    names.extend(unlisted);
    names
        .into_iter()
        .filter(shown)
        .map(|name| {
            let bytes = std::fs::metadata(folder.join(&name)).map(|m| m.len()).unwrap_or(0);
            Entry { name, bytes }
        })
        .collect()
}

fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The run's page.
pub fn render(folder: &Path) -> String {
    let manifest_text = crate::results::read_manifest_text(&folder.join("manifest.json")).ok();
    let manifest: Option<Value> = manifest_text.as_deref().and_then(|t| serde_json::from_str(t).ok());
    let m = manifest.as_ref();
    let spec_text = std::fs::read_to_string(folder.join("spec.toml")).ok();
    let spec: Option<toml::Table> = spec_text.as_deref().and_then(|t| t.parse().ok());
    let spec_str = |key: &str| spec.as_ref().and_then(|s| s.get(key)).and_then(|v| v.as_str()).map(String::from);
    let get = |key: &str| m.and_then(|m| m.get(key));

    let name = text_of(get("name")).or_else(|| spec_str("name")).unwrap_or_else(|| "run".into());
    let status = text_of(get("status")).unwrap_or_else(|| "unknown".into());
    let files = entries(folder, m);

    let mut body = String::new();
    let _ = writeln!(body, "<header>\n<p class=\"muted\">runner run report</p>\n<h1 id=\"name\">{}</h1>", esc(&name));
    if let Some(d) = spec_str("description").filter(|d| !d.trim().is_empty()) {
        let _ = writeln!(body, "<p id=\"description\">{}</p>", esc(&d));
    }
    let mut line = vec![status_badge(&status)];
    if let Some(steps) = text_of(get("steps")) {
        line.push(format!("{} steps", esc(&steps)));
    }
    if let Some(seed) = text_of(get("seed")) {
        line.push(format!("seed {}", esc(&seed)));
    }
    if let Some(w) = get("wall_seconds").and_then(Value::as_f64) {
        line.push(format!("{w:.2} s"));
    }
    let _ = writeln!(body, "<p>{}</p>", line.join(" · "));
    body += &status_note(&status, text_of(get("error")).as_deref());
    body += "</header>\n";
    body += "<nav class=\"muted\"><a href=\"#metrics\">Final metrics</a> · <a href=\"#facts\">Run facts</a> · \
             <a href=\"#pictures\">Pictures</a> · <a href=\"#files\">Files</a> · <a href=\"#spec\">Spec</a> · \
             <a href=\"#manifest\">Manifest</a></nav>\n";

    body += "<h2 id=\"metrics\">Final metrics</h2>\n";
    body += &metrics_table(get("final_metrics"));

    body += "<h2 id=\"facts\">Run facts</h2>\n";
    body += &facts_table(&facts(m));

    body += "<h2 id=\"pictures\">Pictures</h2>\n";
    let pictures: Vec<&Entry> = files.iter().filter(|e| e.name.ends_with(".png")).collect();
    if pictures.is_empty() {
        body += "<p class=\"muted\">This run drew no pictures.</p>\n";
    }
    for e in pictures {
        body += &figure(folder, &e.name);
    }

    body += "<h2 id=\"files\">Files</h2>\n<ul class=\"files\">\n";
    for e in &files {
        let what = captions::file(&e.name);
        let what = if what.is_empty() { String::new() } else { format!(" — {}", esc(what)) };
        let _ = writeln!(
            body,
            "<li><a href=\"{}\">{}</a> <span class=\"muted\">{}{what}</span></li>",
            href(&e.name),
            esc(&e.name),
            size(e.bytes)
        );
    }
    body += "</ul>\n";

    body += "<h2 id=\"spec\">Spec</h2>\n";
    match &spec_text {
        Some(t) => body += &details_pre("spec.toml", t, true, "spec-text"),
        None => body += "<p class=\"muted\">The folder has no spec.toml.</p>\n",
    }
    body += "<h2 id=\"manifest\">Manifest</h2>\n";
    match &manifest_text {
        Some(t) => body += &details_pre("manifest.json (everything it records)", t, false, "manifest-text"),
        None => body += "<p class=\"muted\">The folder has no readable manifest.json.</p>\n",
    }
    page(&format!("{name} — {status} — runner"), &body)
}

/// What the status means for the reader, and the error of a failed run.
fn status_note(status: &str, error: Option<&str>) -> String {
    let note = match status {
        "failed" => "The run stopped with an error; the files below are those it wrote before.",
        "diverged" => "The loss became infinite or NaN, so training stopped; the results show the run up to there.",
        "interrupted" => "Training was stopped before its last step; the results are those of the last step reached.",
        _ => "",
    };
    let mut out = String::new();
    if status != "complete" && (!note.is_empty() || error.is_some()) {
        let _ = write!(out, "<div class=\"error\" id=\"error\"><p>{}</p>", esc(note));
        if let Some(e) = error {
            let _ = write!(out, "<pre id=\"error-text\">{}</pre>", esc(e));
        }
        out += "</div>\n";
    }
    out
}

/// `split.metric` values as a table: a row per split, a column per metric. Each cell
/// shows the manifest's number as written there, and names its key (`data-metric`).
fn metrics_table(finals: Option<&Value>) -> String {
    let Some(map) = finals.and_then(Value::as_object).filter(|o| !o.is_empty()) else {
        return "<p class=\"muted\">No final metrics were recorded.</p>\n".into();
    };
    let mut splits: Vec<&str> = Vec::new();
    let mut metrics: Vec<&str> = Vec::new();
    for key in map.keys() {
        let (split, metric) = key.split_once('.').unwrap_or(("", key));
        if !splits.contains(&split) {
            splits.push(split);
        }
        if !metrics.contains(&metric) {
            metrics.push(metric);
        }
    }
    let order = |s: &&str| ["train", "validation", "test"].iter().position(|x| x == s).unwrap_or(3);
    splits.sort_by_key(order);
    let mut out = String::from("<div class=\"scroll\"><table id=\"final-metrics\">\n<tr><th>split</th>");
    for metric in &metrics {
        let _ = write!(out, "<th>{}</th>", esc(metric));
    }
    out += "</tr>\n";
    for split in &splits {
        let _ = write!(out, "<tr><th>{}</th>", esc(split));
        for metric in &metrics {
            let key = if split.is_empty() { metric.to_string() } else { format!("{split}.{metric}") };
            match map.get(&key) {
                Some(v) => {
                    let _ = write!(out, "<td class=\"num\" data-metric=\"{}\">{}</td>", esc(&key), esc(&v.to_string()));
                }
                None => out += "<td></td>",
            }
        }
        out += "</tr>\n";
    }
    out += "</table></div>\n";
    out
}

/// The manifest's key facts, as (label, HTML).
fn facts(m: Option<&Value>) -> Vec<(String, String)> {
    let Some(m) = m else { return vec![] };
    let plain = |key: &str| text_of(m.get(key)).filter(|t| !t.is_empty()).map(|t| esc(&t));
    let mut rows = Vec::new();
    let mut push = |label: &str, value: Option<String>| {
        if let Some(v) = value {
            rows.push((label.to_string(), v));
        }
    };
    push("status", plain("status"));
    push("steps", plain("steps"));
    push("parameters", plain("parameters"));
    push("seed", plain("seed"));
    push("dtype", plain("dtype"));
    push("backend", plain("backend"));
    push("backend chosen because", plain("backend_choice"));
    push("GPU", m.get("cuda").and_then(|c| c.get("device")).and_then(Value::as_str).map(esc));
    push("CPU path", m.get("cpu").and_then(|c| c.get("path")).and_then(Value::as_str).map(esc));
    push("threads", plain("threads"));
    push("started (UTC)", plain("started"));
    push("finished (UTC)", plain("finished"));
    // A resumed run's is the compute time of its attempts, not the time between them.
    push("compute time", m.get("wall_seconds").and_then(Value::as_f64).map(|w| format!("{w:.3} s")));
    let rate = |key: &str| m.get(key).and_then(Value::as_f64).map(|r| format!("{r:.0} samples/s"));
    push("training speed", rate("train_samples_per_second"));
    push("inference speed", rate("inference_samples_per_second"));
    push("spec file", plain("spec_file").map(|s| format!("<code>{s}</code>")));
    push("spec hash", plain("spec_hash").map(|s| format!("<code>{s}</code>")));
    push("git commit", plain("git_commit").map(|s| format!("<code>{s}</code>")));
    push("runner version", plain("version"));
    let resumed = m.get("resumed").and_then(Value::as_array).map_or(0, Vec::len);
    push("resumed", (resumed > 0).then(|| format!("{resumed} time{}", if resumed == 1 { "" } else { "s" })));
    let data = m.get("data_files").and_then(Value::as_object);
    push(
        "data files",
        data.filter(|d| !d.is_empty())
            .map(|d| d.keys().map(|k| format!("<code>{}</code>", esc(k))).collect::<Vec<_>>().join("<br>")),
    );
    rows
}

/// A picture with its caption: what it shows, then the probe and the file name.
fn figure(folder: &Path, name: &str) -> String {
    let c = captions::picture(name);
    let dims = read_head(&folder.join(name))
        .and_then(|h| png_size(&h))
        .map(|(w, h)| format!(" width=\"{w}\" height=\"{h}\""))
        .unwrap_or_default();
    let source = if c.source.is_empty() { String::new() } else { format!("{} · ", esc(&c.source)) };
    format!(
        "<figure><a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\"{dims}></a>\n<figcaption>{1} <span class=\"muted\">{source}<code>{2}</code></span></figcaption></figure>\n",
        href(name),
        esc(&c.shows),
        esc(name)
    )
}

/// The first bytes of a file (a PNG's header).
pub(super) fn read_head(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut head = vec![0u8; 24];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    head.truncate(n);
    Some(head)
}
