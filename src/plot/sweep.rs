//! A sweep's charts: each final metric against each swept value (mean over seeds with
//! a ±std band, one line per setting of the other swept keys), and every run's training
//! loss overlaid, coloured by setting.

use super::legend::{self, Entry, Swatch};
use super::{bounds, color, err, format_tick, light, register_font, DrawResult, FONT};
use super::{line_figure_sized, LinePanel, Series, Size, Style, YScale};
use crate::error::{Error, Result};
use crate::sweep::report::SettingSummary;
use crate::sweep::RunList;
use plotters::prelude::*;

/// One line of a metric chart: (x, mean, std) points, in x order.
struct Band {
    name: String,
    points: Vec<(f64, f64, f64)>,
}

/// How a swept key's values sit on the x axis: numbers (log10 when they span a
/// decade or more and are positive), or categories in the sweep's order.
enum Axis {
    Linear,
    Log,
    Categories(Vec<String>),
}

impl Axis {
    fn of(values: &[String]) -> Axis {
        let numbers: Option<Vec<f64>> = values.iter().map(|v| v.parse::<f64>().ok()).collect();
        match numbers {
            Some(xs) if xs.iter().all(|x| *x > 0.0) => {
                let (lo, hi) = xs.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
                if hi / lo >= 10.0 {
                    Axis::Log
                } else {
                    Axis::Linear
                }
            }
            Some(_) => Axis::Linear,
            None => {
                let mut seen: Vec<String> = Vec::new();
                for v in values {
                    if !seen.contains(v) {
                        seen.push(v.clone());
                    }
                }
                Axis::Categories(seen)
            }
        }
    }

    fn position(&self, value: &str) -> f64 {
        match self {
            Axis::Linear => value.parse().unwrap_or(f64::NAN),
            Axis::Log => value.parse::<f64>().map_or(f64::NAN, f64::log10),
            Axis::Categories(c) => c.iter().position(|v| v == value).map_or(f64::NAN, |i| i as f64),
        }
    }

    fn tick(&self, v: f64) -> String {
        match self {
            Axis::Linear => format_tick(v),
            Axis::Log => format_tick(10f64.powf(v)),
            Axis::Categories(c) if (v - v.round()).abs() < 1e-6 && v > -0.5 => {
                c.get(v.round() as usize).cloned().unwrap_or_default()
            }
            Axis::Categories(_) => String::new(),
        }
    }
}

fn file_name(text: &str) -> String {
    text.chars().map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

/// Writes `<metric>-vs-<key>.png` for every final metric and swept key, and `curves.png`.
pub fn write_charts(list: &RunList, metrics: &[String], settings: &[SettingSummary]) -> Result<()> {
    let save = |name: String, png: DrawResult<Vec<u8>>| -> Result<()> {
        let path = list.folder.join(name);
        let bytes = png.map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
    };
    // Each grid key is an axis; the paired group is one axis (its values move
    // together), its points named by all of them.
    let grid = list.keys.len() - list.paired;
    let mut axes: Vec<(String, Vec<usize>)> = (0..grid).map(|k| (list.keys[k].clone(), vec![k])).collect();
    if list.paired > 0 {
        axes.push((list.keys[grid..].join(" / "), (grid..list.keys.len()).collect()));
    }
    for (key, on_axis) in &axes {
        let labels = if on_axis.len() > 1 { Some(paired_labels(list, settings, on_axis)) } else { None };
        let value = |s: &SettingSummary| match &labels {
            Some(l) => settings.iter().position(|t| t.values == s.values).map(|i| l[i].clone()).unwrap_or_default(),
            None => s.values[on_axis[0]].clone(),
        };
        let values: Vec<String> = settings.iter().map(value).collect();
        let axis = Axis::of(&values);
        for metric in metrics {
            let mut bands: Vec<Band> = Vec::new();
            for s in settings {
                let Some(stat) = s.stats.get(metric) else { continue };
                let others: Vec<String> = list
                    .keys
                    .iter()
                    .zip(&s.values)
                    .enumerate()
                    .filter(|(j, _)| !on_axis.contains(j))
                    .map(|(_, (key, v))| format!("{key}={v}"))
                    .collect();
                let name = if others.is_empty() { metric.clone() } else { others.join(" ") };
                let point = (axis.position(&value(s)), stat.mean, stat.std);
                match bands.iter_mut().find(|b| b.name == name) {
                    Some(b) => b.points.push(point),
                    None => bands.push(Band { name, points: vec![point] }),
                }
            }
            if bands.is_empty() {
                continue;
            }
            for b in &mut bands {
                b.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            let title = match &labels {
                Some(_) => format!("{metric} for each paired setting (mean ± std over seeds)"),
                None => format!("{metric} against {key} (mean ± std over seeds)"),
            };
            let png = metric_figure(&title, key, metric, &axis, &bands);
            let first = &list.keys[on_axis[0]];
            save(format!("{}-vs-{}.png", file_name(metric), file_name(first)), png)?;
        }
    }
    save("curves.png".into(), curves_figure(list, settings))
}

/// Short names for the paired group's settings: its string values, then the other keys
/// (by their last segment) where they differ from their most common value:
/// `sgd lr=0.01 momentum=0.9 nesterov`, `adam`.
fn paired_labels(list: &RunList, settings: &[SettingSummary], on_axis: &[usize]) -> Vec<String> {
    let mode = |k: usize| {
        let all: Vec<&String> = settings.iter().map(|s| &s.values[k]).collect();
        all.iter().max_by_key(|v| all.iter().filter(|w| w == v).count()).map(|v| v.to_string()).unwrap_or_default()
    };
    let modes: Vec<String> = on_axis.iter().map(|&k| mode(k)).collect();
    settings
        .iter()
        .map(|s| {
            let mut words: Vec<String> = Vec::new();
            let mut rest: Vec<String> = Vec::new();
            for (&k, common) in on_axis.iter().zip(&modes) {
                let v = &s.values[k];
                let short = list.keys[k].rsplit('.').next().unwrap_or(&list.keys[k]);
                match v.as_str() {
                    _ if v.parse::<f64>().is_err() && v != "true" && v != "false" => words.push(v.clone()),
                    _ if v == common => {}
                    "true" => rest.push(short.to_string()),
                    "false" => rest.push(format!("no {short}")),
                    _ => rest.push(format!("{short}={v}")),
                }
            }
            words.extend(rest);
            words.join(" ")
        })
        .collect()
}

fn metric_figure(title: &str, key: &str, metric: &str, axis: &Axis, bands: &[Band]) -> DrawResult<Vec<u8>> {
    register_font();
    // Categories get room for their names.
    let w = match axis {
        Axis::Categories(c) => (260 * c.len() as u32).clamp(900, 2400),
        _ => 900,
    };
    // The legend (one entry per line, when lines need telling apart) gets its own
    // strip under the chart, so it never covers a band.
    let entries: Vec<Entry> = if bands.len() > 1 || bands[0].name != metric {
        let swatch = |i: usize| Swatch { color: color(i), width: 2, dashed: false, dot: Some(4) };
        bands.iter().enumerate().map(|(i, b)| Entry { name: b.name.clone(), swatch: swatch(i) }).collect()
    } else {
        Vec::new()
    };
    let legend_h = {
        let mut scratch = vec![0u8; 3];
        let area = super::canvas(&mut scratch, (1, 1));
        legend::height(&area, &entries, w)
    };
    let h = 600u32 + legend_h;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = super::canvas(&mut buf, (w, h));
        root.fill(&WHITE).map_err(err)?;
        let (root, strip) = root.split_vertically(600);
        let edges: Vec<(f64, f64)> =
            bands.iter().flat_map(|b| b.points.iter().flat_map(|&(x, m, s)| [(x, m - s), (x, m + s)])).collect();
        let (xr, yr) = bounds(edges.iter());
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(err)?;
        let categories = matches!(axis, Axis::Categories(c) if c.len() < 20);
        let x_labels = match axis {
            Axis::Categories(c) if categories => c.len() * 8,
            _ => 8,
        };
        chart
            .configure_mesh()
            .x_desc(key)
            .y_desc(metric)
            .x_labels(x_labels)
            .x_label_formatter(&|v| axis.tick(*v))
            .y_label_formatter(&|v| format_tick(*v))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        for (i, b) in bands.iter().enumerate() {
            let mut outline: Vec<(f64, f64)> = b.points.iter().map(|&(x, m, s)| (x, m + s)).collect();
            outline.extend(b.points.iter().rev().map(|&(x, m, s)| (x, m - s)));
            chart.draw_series(std::iter::once(Polygon::new(outline, light(i).mix(0.6).filled()))).map_err(err)?;
        }
        for (i, b) in bands.iter().enumerate() {
            let c = color(i);
            let line: Vec<(f64, f64)> = b.points.iter().map(|&(x, m, _)| (x, m)).collect();
            chart.draw_series(LineSeries::new(line.iter().copied(), c.stroke_width(2))).map_err(err)?;
            chart.draw_series(line.iter().map(|&p| Circle::new(p, 4, c.filled()))).map_err(err)?;
        }
        legend::draw(&strip, &entries)?;
        root.present().map_err(err)?;
    }
    super::encode_png(&buf, w, h)
}

/// The training loss (or the first recorded metric) against the step, from a run's
/// metrics.csv: train split rows, or batch rows where the train split has one.
fn training_curve(folder: &std::path::Path) -> Option<(String, Vec<(f64, f64)>)> {
    let text = std::fs::read_to_string(folder.join("metrics.csv")).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let split = header.iter().position(|h| *h == "split")?;
    // The loss where recorded, else a squared error (the diamond's log_sse), else the
    // first metric.
    let first = if header.len() > split + 1 { Some(split + 1) } else { None };
    let column =
        header.iter().position(|h| *h == "loss").or(header.iter().position(|h| h.ends_with("sse"))).or(first)?;
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let of_split = |name: &str| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|r| r.get(split) == Some(&name))
            .filter_map(|r| Some((r.first()?.parse().ok()?, r.get(column)?.parse().ok()?)))
            .filter(|(_, y): &(f64, f64)| y.is_finite())
            .collect()
    };
    // Epoch-based runs record the train split once per epoch; their curve is the
    // per-batch record (`batch_every`).
    let mut points = of_split("train");
    if points.len() < 2 {
        let batch = of_split("batch");
        if batch.len() > points.len() {
            points = batch;
        }
    }
    Some((header[column].to_string(), points))
}

fn curves_figure(list: &RunList, settings: &[SettingSummary]) -> DrawResult<Vec<u8>> {
    let runs = list.runs_dir();
    let mut series: Vec<Series> = Vec::new();
    let mut metric = String::from("loss");
    let named = !list.keys.is_empty();
    for (s, setting) in settings.iter().enumerate() {
        let mut first = true;
        for &i in &setting.entries {
            if let Some((name, points)) = training_curve(&runs.join(&list.entries[i].id)) {
                metric = name;
                // One legend entry per setting (up to the palette's ten colours).
                let label =
                    if first && named && s < 10 { list.entries[setting.entries[0]].setting() } else { String::new() };
                first = false;
                series.push(Series { name: label, points, color: s, style: Style::Plain });
            }
        }
    }
    let panel = LinePanel {
        title: "every run, coloured by setting".into(),
        x_label: "step".into(),
        y_label: metric.clone(),
        series,
        y_scale: YScale::Auto,
    };
    line_figure_sized(&format!("training {metric} of every run"), &[panel], Size { panel_w: 900, chart_h: 550 })
}
