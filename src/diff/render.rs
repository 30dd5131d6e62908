//! The outcome as a readable table, a Markdown pull-request comment, or JSON.

use super::report::{Item, Outcome, Report, Status, Verdict};
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Md,
    Json,
}

pub fn render(outcome: &Outcome, format: Format) -> String {
    match format {
        Format::Table => table(outcome),
        Format::Md => markdown(outcome),
        Format::Json => {
            serde_json::to_string_pretty(outcome).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n"
        }
    }
}

fn headline<'a>(v: Verdict, mut items: impl Iterator<Item = &'a Item>) -> &'static str {
    match v {
        Verdict::Same if items.all(|i| i.status == Status::Identical) => "identical",
        Verdict::Same => "same within tolerance",
        Verdict::Different => "DIFFERENT",
        Verdict::Incomparable => "cannot compare",
    }
}

fn short(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.is_infinite() {
        "-".into()
    } else {
        format!("{x:.3e}")
    }
}

/// The worst value, or an image's detail.
fn worst(item: &Item) -> String {
    if let Some(d) = &item.detail {
        return d.clone();
    }
    match &item.worst {
        Some(w) if w.column.is_empty() => format!("{}: {} vs {} (allowed {})", w.at, w.a, w.b, short(w.allowed)),
        Some(w) => format!("{} {}: {} vs {} (allowed {})", w.at, w.column, w.a, w.b, short(w.allowed)),
        None => String::new(),
    }
}

fn table(o: &Outcome) -> String {
    let mut out = format!(
        "runner diff: {} (exit {})\n",
        headline(o.verdict, o.pairs.iter().flat_map(|p| &p.items)),
        o.verdict.exit_code()
    );
    if o.pairs.len() != 1 || !o.reasons.is_empty() {
        let _ = writeln!(out, "A  {}\nB  {}", o.a, o.b);
    }
    for r in &o.reasons {
        let _ = writeln!(out, "cannot compare: {r}");
    }
    for p in &o.pairs {
        table_pair(&mut out, p);
    }
    out
}

fn table_pair(out: &mut String, p: &Report) {
    if !p.pair.is_empty() {
        let _ = writeln!(out, "\n== {}: {}", p.pair, headline(p.verdict, p.items.iter()));
    }
    let _ = writeln!(out, "A  {}  {}\nB  {}  {}", p.a, p.engine_a, p.b, p.engine_b);
    for r in &p.reasons {
        let _ = writeln!(out, "cannot compare: {r}");
    }
    if p.items.is_empty() {
        return;
    }
    let _ = writeln!(out, "tolerance: {}", p.tolerance);
    if let Some(note) = &p.settings_note {
        let _ = writeln!(out, "note: {note}");
    }
    let changed = p.items.iter().any(|i| i.status != Status::Identical);
    if let (Some(note), true) = (&p.engine_note, changed) {
        let _ = writeln!(out, "note: {note}");
    }
    let width = p.items.iter().map(|i| i.file.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "{:<24} {:<width$} {:>9} {:>7} {:>7} {:>10}  worst",
        "status", "file", "compared", "within", "beyond", "max |Δ|"
    );
    for i in &p.items {
        let mark = if i.status != Status::Identical && p.engine_note.is_some() { " †" } else { "" };
        let _ = writeln!(
            out,
            "{:<24} {:<width$} {:>9} {:>7} {:>7} {:>10}  {}{mark}",
            i.status.word(),
            i.file,
            i.compared,
            i.within,
            i.beyond,
            short(i.max_abs_diff),
            worst(i)
        );
    }
    if changed && p.engine_note.is_some() {
        let _ = writeln!(out, "† the runs ran different CPU paths or kernels (see the note)");
    }
}

fn markdown(o: &Outcome) -> String {
    let icon = match o.verdict {
        Verdict::Same => "✅",
        Verdict::Different => "❌",
        Verdict::Incomparable => "⚠️",
    };
    let mut out = format!("### {icon} runner diff: {}\n\n", headline(o.verdict, o.pairs.iter().flat_map(|p| &p.items)));
    for r in &o.reasons {
        let _ = writeln!(out, "- cannot compare: {}", escape(r));
    }
    if !o.reasons.is_empty() {
        out.push('\n');
    }
    for p in &o.pairs {
        if !p.pair.is_empty() {
            let _ = writeln!(out, "#### {}: {}\n", escape(&p.pair), headline(p.verdict, p.items.iter()));
        }
        let _ = writeln!(out, "| | run | engine |\n|---|---|---|");
        let _ = writeln!(out, "| A | `{}` | {} |\n| B | `{}` | {} |\n", p.a, p.engine_a, p.b, p.engine_b);
        for r in &p.reasons {
            let _ = writeln!(out, "- cannot compare: {}", escape(r));
        }
        if p.items.is_empty() {
            out.push('\n');
            continue;
        }
        let _ = writeln!(out, "Tolerance: {}\n", escape(&p.tolerance));
        if let Some(note) = &p.settings_note {
            let _ = writeln!(out, "> **Note:** {}\n", escape(note));
        }
        if let (Some(note), true) = (&p.engine_note, p.items.iter().any(|i| i.status != Status::Identical)) {
            let _ = writeln!(out, "> **Note:** {}\n", escape(note));
        }
        let _ = writeln!(out, "| file | status | compared | within | beyond | max \\|Δ\\| | worst |");
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---|");
        for i in &p.items {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {} |",
                i.file,
                i.status.word(),
                i.compared,
                i.within,
                i.beyond,
                short(i.max_abs_diff),
                escape(&worst(i))
            );
        }
        out.push('\n');
    }
    out
}

/// Keeps a cell inside its Markdown table column.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
