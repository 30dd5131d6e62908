//! Two run folders, compared: first whether they can be (the same resolved spec, steps
//! and files), then every result file value by value.

use super::load::{sha256_hex, RunFolder};
use super::report::{Item, Report, Status};
use super::table::{self, number};
use super::tolerance::{Tol, Tolerances};
use super::{images, names, spec_keys, tensors, Options};
use std::collections::BTreeMap;
use std::path::Path;

pub fn compare_runs(pair: &str, a_dir: &Path, b_dir: &Path, opts: &Options) -> Report {
    let (a_name, b_name) = (a_dir.display().to_string(), b_dir.display().to_string());
    let (a, b) = match (RunFolder::load(a_dir), RunFolder::load(b_dir)) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            let reasons = [a.err(), b.err()].into_iter().flatten().map(|e| e.to_string()).collect();
            return Report::incomparable(pair, &a_name, &b_name, reasons);
        }
    };
    // The reference's tolerances (the second run's, e.g. a golden's), else the first's.
    let spec_tol = b.tolerances.as_ref().or(a.tolerances.as_ref());
    let spec_file = (if b.tolerances.is_some() { &b.dir } else { &a.dir }).join("spec.toml");
    let tolerances = Tolerances::resolve(spec_tol, opts.atol, opts.rtol, &opts.names);
    let mut report = Report::incomparable(pair, &a_name, &b_name, vec![]);
    report.engine_a = a.manifest.engine();
    report.engine_b = b.manifest.engine();
    report.engine_note = engine_note(&a, &b);
    report.tolerance = describe(&tolerances);
    report.settings_note = spec_keys::differences(&a, &b).1;
    report.reasons = why_incomparable(&a, &b);
    if report.reasons.is_empty() {
        report.items = compare_files(&a, &b, &tolerances, opts, pair, &mut report.reasons);
        report.unknown_names = names::unknown(&tolerances, opts, Some(spec_file.as_path()), &a.dir);
    }
    report.settle();
    report
}

fn describe(t: &Tolerances) -> String {
    if t.is_exact() {
        return "exact".into();
    }
    let mut out = format!("atol {} + rtol {}·|b|", t.atol, t.rtol);
    for (name, tol) in &t.names {
        out += &format!(", {name} ±{tol}");
    }
    out
}

/// Set where the runs ran different backends, CPU paths or kernels: float rounding
/// then differs, which explains last-digit differences.
fn engine_note(a: &RunFolder, b: &RunFolder) -> Option<String> {
    let (ma, mb) = (&a.manifest, &b.manifest);
    if ma.backend != mb.backend {
        return Some(format!("different backends: A ran {}, B ran {}", ma.backend, mb.backend));
    }
    let (ca, cb) = (ma.cpu.clone().unwrap_or_default(), mb.cpu.clone().unwrap_or_default());
    if ca.path != cb.path {
        return Some(format!(
            "different CPU paths: A ran {}, B ran {}; float rounding differs between them (README: CPU paths)",
            ca.path, cb.path
        ));
    }
    let changed: Vec<String> = ca
        .ops
        .iter()
        .filter(|(op, ka)| cb.ops.get(*op) != Some(*ka))
        .map(|(op, ka)| {
            format!("{op}: {} vs {}", ka.join("+"), cb.ops.get(op).map(|k| k.join("+")).unwrap_or_default())
        })
        .collect();
    (!changed.is_empty()).then(|| format!("different CPU kernels: {}", changed.join("; ")))
}

fn why_incomparable(a: &RunFolder, b: &RunFolder) -> Vec<String> {
    let mut reasons: Vec<String> = spec_keys::differences(a, b).0.into_iter().collect();
    let (ma, mb) = (&a.manifest, &b.manifest);
    if ma.status != mb.status {
        reasons.push(format!("different status: A is {}, B is {}", ma.status, mb.status));
    }
    if ma.steps != mb.steps {
        reasons.push(format!("different steps: A ran {} steps, B ran {}", ma.steps, mb.steps));
    }
    let (fa, fb) = (a.result_files(), b.result_files());
    let only = |x: &[String], y: &[String]| -> Vec<String> { x.iter().filter(|f| !y.contains(f)).cloned().collect() };
    for (files, side) in [(only(&fa, &fb), "A"), (only(&fb, &fa), "B")] {
        if !files.is_empty() {
            reasons.push(format!("files only in {side}: {}", files.join(", ")));
        }
    }
    for (run, side) in [(a, "A"), (b, "B")] {
        for f in run.result_files() {
            if !run.dir.join(&f).is_file() && !run.hashes.contains_key(&f) {
                reasons.push(format!("{side}: {} is listed in its manifest but missing", run.dir.join(&f).display()));
            }
        }
    }
    reasons
}

/// Values first, then pictures and hashed files, whose verdict depends on the values.
fn compare_files(
    a: &RunFolder,
    b: &RunFolder,
    tol: &Tolerances,
    opts: &Options,
    pair: &str,
    reasons: &mut Vec<String>,
) -> Vec<Item> {
    let mut items = Vec::new();
    let mut later = Vec::new();
    for file in a.result_files() {
        let (pa, pb) = (a.dir.join(&file), b.dir.join(&file));
        let both_present = pa.is_file() && pb.is_file();
        let result = if !both_present {
            later.push(file);
            continue;
        } else if file == "metrics.csv" {
            compare_metrics(&pa, &pb, tol)
        } else if file.ends_with(".csv") {
            compare_csv(&file, &pa, &pb, tol)
        } else if file.ends_with(".safetensors") {
            tensors::compare(&file, &pa, &pb, tol)
        } else {
            later.push(file);
            continue;
        };
        match result {
            Ok(item) => items.push(item),
            Err(reason) => reasons.push(reason),
        }
    }
    if reasons.is_empty() {
        items.push(compare_finals(a, b, tol));
    }
    let values_identical = items.iter().all(|i| i.status == Status::Identical);
    for file in later {
        let result = if a.dir.join(&file).is_file() && b.dir.join(&file).is_file() && file.ends_with(".png") {
            images::compare(&file, &a.dir.join(&file), &b.dir.join(&file), opts.out.as_deref(), pair)
        } else {
            compare_hashes(&file, a, b)
        };
        match result {
            Ok(mut item) => {
                // A picture (or a file kept by hash) is drawn from the values: it must
                // be identical when they all are; when they moved within tolerance, its
                // change follows theirs and is only noted.
                if item.status == Status::Different && !values_identical {
                    item.status = Status::Noted;
                }
                items.push(item)
            }
            Err(reason) => reasons.push(reason),
        }
    }
    items
}

fn compare_hashes(file: &str, a: &RunFolder, b: &RunFolder) -> Result<Item, String> {
    let hash = |run: &RunFolder| -> Result<String, String> {
        let path = run.dir.join(file);
        if path.is_file() {
            std::fs::read(&path).map(|bytes| sha256_hex(&bytes)).map_err(|e| format!("{}: {e}", path.display()))
        } else {
            run.hashes.get(file).cloned().ok_or_else(|| format!("{}: missing", path.display()))
        }
    };
    let (ha, hb) = (hash(a)?, hash(b)?);
    let kept_by_hash = !a.dir.join(file).is_file() || !b.dir.join(file).is_file();
    let mut item = Item::new(file, if kept_by_hash { "hash" } else { "bytes" });
    item.text(&ha, &hb, || ("sha256".into(), String::new()));
    let mut item = item.finish();
    if ha != hb {
        item.detail = Some(format!("sha256 {}… vs {}…", &ha[..12.min(ha.len())], &hb[..12.min(hb.len())]));
    }
    Ok(item)
}

/// metrics.csv: rows matched by (step, split); the two runs must have the same rows.
fn compare_metrics(pa: &Path, pb: &Path, tol: &Tolerances) -> Result<Item, String> {
    let (ta, tb) = (table::read_csv(pa).map_err(|e| e.to_string())?, table::read_csv(pb).map_err(|e| e.to_string())?);
    if ta.header != tb.header {
        return Err(format!("metrics.csv: different columns: A {}, B {}", ta.header.join(","), tb.header.join(",")));
    }
    let (Some(step), Some(split)) =
        (ta.header.iter().position(|h| h == "step"), ta.header.iter().position(|h| h == "split"))
    else {
        return Err(format!("{}: no `step` and `split` columns", pa.display()));
    };
    let keyed = |t: &table::Table| -> BTreeMap<(u64, String, usize), usize> {
        let mut seen: BTreeMap<(u64, String), usize> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for (i, row) in t.rows.iter().enumerate() {
            let key = (number(&row[step]).unwrap_or(f64::NAN) as u64, row[split].clone());
            let k = seen.entry(key.clone()).or_default();
            out.insert((key.0, key.1, *k), i);
            *k += 1;
        }
        out
    };
    let (ka, kb) = (keyed(&ta), keyed(&tb));
    if ka.len() != kb.len() || ka.keys().zip(kb.keys()).any(|(x, y)| x != y) {
        let first = |x: &BTreeMap<_, usize>, y: &BTreeMap<_, usize>| {
            x.keys().find(|k| !y.contains_key(*k)).map(|(s, sp, _): &(u64, String, usize)| format!("step {s} {sp}"))
        };
        let example = first(&ka, &kb)
            .map(|k| format!("; {k} only in A"))
            .or_else(|| first(&kb, &ka).map(|k| format!("; {k} only in B")))
            .unwrap_or_default();
        return Err(format!(
            "metrics.csv: different steps or splits: A has {} rows, B has {}{example}",
            ka.len(),
            kb.len()
        ));
    }
    let mut item = Item::new("metrics.csv", "metrics");
    for (key, &ia) in &ka {
        let (ra, rb) = (&ta.rows[ia], &tb.rows[kb[key]]);
        for (c, name) in ta.header.iter().enumerate() {
            if c == step || c == split {
                continue;
            }
            let qualified = format!("{}.{name}", key.1);
            let t = tol.for_keys(&[&qualified, name, "metrics.csv"]);
            let place = || (format!("step {} {}", key.0, key.1), name.clone());
            cell(&mut item, &ra[c], &rb[c], t, place);
        }
    }
    Ok(item.finish())
}

fn cell(item: &mut Item, a: &str, b: &str, tol: Tol, place: impl FnOnce() -> (String, String)) {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => item.value(x, y, tol, place),
        _ => item.text(a, b, place),
    }
}

/// Any other CSV: the same header and number of rows, compared cell by cell.
fn compare_csv(file: &str, pa: &Path, pb: &Path, tol: &Tolerances) -> Result<Item, String> {
    let (ta, tb) = (table::read_csv(pa).map_err(|e| e.to_string())?, table::read_csv(pb).map_err(|e| e.to_string())?);
    if ta.header != tb.header {
        return Err(format!("{file}: different columns: A {}, B {}", ta.header.join(","), tb.header.join(",")));
    }
    if ta.rows.len() != tb.rows.len() {
        return Err(format!("{file}: different rows: A has {}, B has {}", ta.rows.len(), tb.rows.len()));
    }
    let mut item = Item::new(file, "csv");
    for (r, (ra, rb)) in ta.rows.iter().zip(&tb.rows).enumerate() {
        for (c, name) in ta.header.iter().enumerate() {
            let t = tol.for_keys(&[name, file]);
            // Line r + 2: the header is line 1.
            cell(&mut item, &ra[c], &rb[c], t, || (format!("line {}", r + 2), name.clone()));
        }
    }
    Ok(item.finish())
}

/// The manifest's final metrics (`split.metric`).
fn compare_finals(a: &RunFolder, b: &RunFolder, tol: &Tolerances) -> Item {
    let mut item = Item::new("final metrics", "final_metrics");
    let names: std::collections::BTreeSet<&String> =
        a.manifest.final_metrics.keys().chain(b.manifest.final_metrics.keys()).collect();
    for name in names {
        let metric = name.split_once('.').map(|(_, m)| m).unwrap_or(name);
        let t = tol.for_keys(&[name, metric]);
        match (a.manifest.final_value(name), b.manifest.final_value(name)) {
            (Some(x), Some(y)) => item.value(x, y, t, || (name.clone(), String::new())),
            (x, y) => {
                let show = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_else(|| "absent".into());
                item.text(&show(x), &show(y), || (name.clone(), String::new()))
            }
        }
    }
    item.finish()
}
