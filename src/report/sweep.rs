//! The page of a sweep folder, made from its files: sweep.csv (a row per run, each
//! linked to its run's page), summary.csv and the charts.

use super::html::{esc, href, page, png_size, size, status_badge};
use super::run::read_head;
use std::fmt::Write;
use std::path::Path;

/// A CSV file as header and rows; None when absent or unreadable.
fn read_csv(path: &Path) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path).ok()?;
    let header = reader.headers().ok()?.iter().map(String::from).collect();
    let rows = reader.records().flatten().map(|r| r.iter().map(String::from).collect()).collect();
    Some((header, rows))
}

fn is_number(cell: &str) -> bool {
    !cell.is_empty() && cell.parse::<f64>().is_ok()
}

/// sweep.csv as a table: the run id links to the run's page, the status is a badge.
fn runs_table(folder: &Path, header: &[String], rows: &[Vec<String>]) -> String {
    let col = |name: &str| header.iter().position(|h| h == name);
    let (run_col, status_col, folder_col) = (col("run"), col("status"), col("folder"));
    let mut out = String::from("<div class=\"scroll\"><table id=\"runs\">\n<tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out += "</tr>\n";
    for row in rows {
        out += "<tr>";
        let run_folder = folder_col.and_then(|i| row.get(i)).filter(|f| !f.is_empty());
        let page = run_folder.map(|f| format!("{f}/{}", super::PAGE)).filter(|p| folder.join(p).is_file());
        for (i, cell) in row.iter().enumerate() {
            let class = if is_number(cell) { " class=\"num\"" } else { "" };
            let html = match &page {
                Some(p) if Some(i) == run_col => format!("<a class=\"run\" href=\"{}\">{}</a>", href(p), esc(cell)),
                _ if Some(i) == status_col => status_badge(cell).replace(" id=\"status\"", ""),
                _ => esc(cell),
            };
            let _ = write!(out, "<td{class}>{html}</td>");
        }
        out += "</tr>\n";
    }
    out += "</table></div>\n";
    out
}

fn plain_table(id: &str, header: &[String], rows: &[Vec<String>]) -> String {
    let mut out = format!("<div class=\"scroll\"><table id=\"{id}\">\n<tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out += "</tr>\n";
    for row in rows {
        out += "<tr>";
        for cell in row {
            let class = if is_number(cell) { " class=\"num\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", esc(cell));
        }
        out += "</tr>\n";
    }
    out += "</table></div>\n";
    out
}

/// A chart's caption, from its name (`<metric>-vs-<key>.png`, `curves.png`).
fn chart_caption(name: &str) -> String {
    let stem = name.strip_suffix(".png").unwrap_or(name);
    if stem == "curves" {
        return "Training curves of every run, coloured by setting.".into();
    }
    match stem.split_once("-vs-") {
        Some((metric, key)) => {
            format!("Final {metric} against {key}: each setting's mean over seeds, with the spread.")
        }
        None => "A chart of the sweep.".into(),
    }
}

/// The sweep's page.
pub fn render(folder: &Path) -> String {
    let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "sweep".into());
    let mut body = String::new();
    let _ = writeln!(body, "<header>\n<p class=\"muted\">runner sweep report</p>\n<h1 id=\"name\">{}</h1>", esc(&name));
    let runs = read_csv(&folder.join("sweep.csv"));
    if let Some((header, rows)) = &runs {
        let status = header.iter().position(|h| h == "status");
        let count = |s: &str| rows.iter().filter(|r| status.and_then(|i| r.get(i)).is_some_and(|c| c == s)).count();
        let complete = count("complete");
        let mut line = format!("{} runs: {complete} complete", rows.len());
        for other in ["interrupted", "diverged", "failed", "killed", "not run"] {
            let n = count(other);
            if n > 0 {
                let _ = write!(line, ", {n} {other}");
            }
        }
        let _ = writeln!(body, "<p id=\"tally\">{}</p>", esc(&line));
    }
    body += "</header>\n";
    body += "<nav class=\"muted\"><a href=\"#runs-h\">Runs</a> · <a href=\"#summary-h\">Summary</a> · \
             <a href=\"#charts\">Charts</a> · <a href=\"#files\">Files</a></nav>\n";
    body += "<h2 id=\"runs-h\">Runs</h2>\n<p class=\"muted\">Each run's id opens its own report.</p>\n";
    match &runs {
        Some((header, rows)) => body += &runs_table(folder, header, rows),
        None => body += "<p class=\"muted\">No sweep.csv yet.</p>\n",
    }
    body += "<h2 id=\"summary-h\">Summary</h2>\n\
             <p class=\"muted\">Per setting: mean, standard deviation and count over seeds of each final metric \
             (complete runs only).</p>\n";
    match read_csv(&folder.join("summary.csv")) {
        Some((header, rows)) => body += &plain_table("summary", &header, &rows),
        None => body += "<p class=\"muted\">No summary.csv yet.</p>\n",
    }

    let mut names: Vec<(String, u64)> = std::fs::read_dir(folder)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().map(|m| m.len()).unwrap_or(0)))
                .filter(|(n, _)| !n.starts_with('.') && n != super::PAGE)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    body += "<h2 id=\"charts\">Charts</h2>\n";
    for (n, _) in names.iter().filter(|(n, _)| n.ends_with(".png")) {
        let dims = read_head(&folder.join(n))
            .and_then(|h| png_size(&h))
            .map(|(w, h)| format!(" width=\"{w}\" height=\"{h}\""))
            .unwrap_or_default();
        let caption = chart_caption(n);
        let _ = writeln!(
            body,
            "<figure><a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\"{dims}></a>\n<figcaption>{1} <span class=\"muted\"><code>{2}</code></span></figcaption></figure>",
            href(n),
            esc(&caption),
            esc(n)
        );
    }
    body += "<h2 id=\"files\">Files</h2>\n<ul class=\"files\">\n";
    for (n, bytes) in &names {
        let what = super::captions::file(n);
        let what = if what.is_empty() { String::new() } else { format!(" — {}", esc(what)) };
        let _ = writeln!(
            body,
            "<li><a href=\"{}\">{}</a> <span class=\"muted\">{}{what}</span></li>",
            href(n),
            esc(n),
            size(*bytes)
        );
    }
    for (dir, what) in [("specs", "the resolved spec of each run"), ("runs", "the run folders")] {
        if folder.join(dir).is_dir() {
            let _ = writeln!(body, "<li><a href=\"{dir}/\">{dir}/</a> <span class=\"muted\">— {what}</span></li>");
        }
    }
    body += "</ul>\n";
    page(&format!("{name} — sweep — runner"), &body)
}
