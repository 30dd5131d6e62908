//! layers.png: the `[[hooks]]` statistics over training, one panel per statistic and
//! one line per node, drawn from layers.csv as written (so a resumed run draws the
//! very picture an uninterrupted one does). Norms that span orders of magnitude (a
//! deep sigmoid net's gradients) are drawn on a log axis.

use super::{encode_png, err, format_tick, register_font, DrawResult, FONT};
use plotters::prelude::*;

/// The palette, then the palette darkened for nodes 10 to 19, and so on: a deep net
/// has more nodes than ten colours.
fn node_color(k: usize) -> RGBColor {
    let RGBColor(r, g, b) = super::color(k);
    let dark = |c: u8| (c as usize * 3 / (3 + 2 * ((k / 10) % 3))) as u8;
    RGBColor(dark(r), dark(g), dark(b))
}

/// How each statistic is titled and labelled, and whether it is a norm (positive,
/// drawn on a log axis when it spans two decades or more).
fn describe(stat: &str) -> (&'static str, &'static str, bool) {
    match stat {
        "mean" => ("Activation mean", "mean of the node's values", false),
        "std" => ("Activation spread", "standard deviation of the values", false),
        "dead" => ("Dead ReLUs", "share of units zero for the whole batch", false),
        "grad_norm" => ("Gradient at the node", "‖∂loss/∂value‖ (L2)", true),
        "weight_norm" => ("Weights", "‖θ‖ (L2, trained parameters)", true),
        "weight_grad_norm" => ("Weight gradient", "‖∂loss/∂θ‖ (L2)", true),
        "update_ratio" => ("Update size", "‖Δθ‖ / ‖θ‖ per step", true),
        _ => ("", "", false),
    }
}

/// One statistic's lines: per node, (step, value) in file order.
struct Panel {
    stat: String,
    lines: Vec<(usize, Vec<(f64, f64)>)>,
}

/// Panels per statistic column of `csv` (layers.csv), and the node names in the order
/// they first appear (their colours).
fn read(csv: &str) -> Result<(Vec<Panel>, Vec<String>), String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().ok_or("layers.csv is empty")?.split(',').collect();
    if header.len() < 4 || header[..3] != ["step", "node", "op"] {
        return Err("layers.csv does not start with `step,node,op`".into());
    }
    let mut panels: Vec<Panel> = header[3..].iter().map(|s| Panel { stat: s.to_string(), lines: vec![] }).collect();
    let mut nodes: Vec<String> = Vec::new();
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let bad = || format!("layers.csv row {}: `{line}` does not parse", n + 2);
        if cells.len() != header.len() {
            return Err(bad());
        }
        let step: f64 = cells[0].parse().map_err(|_| bad())?;
        let node = match nodes.iter().position(|x| x == cells[1]) {
            Some(k) => k,
            None => {
                nodes.push(cells[1].to_string());
                nodes.len() - 1
            }
        };
        for (panel, cell) in panels.iter_mut().zip(&cells[3..]) {
            if cell.is_empty() {
                continue;
            }
            let v: f64 = cell.parse().map_err(|_| bad())?;
            match panel.lines.iter_mut().find(|(k, _)| *k == node) {
                Some((_, points)) => points.push((step, v)),
                None => panel.lines.push((node, vec![(step, v)])),
            }
        }
    }
    panels.retain(|p| !p.lines.is_empty());
    Ok((panels, nodes))
}

/// Whether a norm panel reads better on a log axis: every value positive, spanning at
/// least a factor of 100.
fn wants_log(p: &Panel) -> bool {
    let values = || p.lines.iter().flat_map(|(_, pts)| pts.iter().map(|q| q.1)).filter(|v| v.is_finite());
    let lo = values().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    let hi = values().fold(f64::NEG_INFINITY, f64::max);
    describe(&p.stat).2 && lo.is_finite() && hi / lo >= 100.0
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - 0.05 * span, hi + 0.05 * span)
}

/// 10^v for a log axis's tick: `1e-3` at whole powers, the value otherwise.
fn power_tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("1e{}", v.round() as i64)
    } else {
        format_tick(10f64.powf(v))
    }
}

/// layers.png from layers.csv's text; `run` names the run in the title. None when no
/// statistic has a value (the only one asked is the gradient at a final sigmoid the
/// loss reads past, say): there is no picture to draw, and the run is not failed for it.
pub fn layers_figure(run: &str, csv: &str) -> DrawResult<Option<Vec<u8>>> {
    let (panels, nodes) = read(csv)?;
    if panels.is_empty() {
        return Ok(None);
    }
    register_font();
    let columns = panels.len().min(4) as u32;
    let rows = panels.len().div_ceil(4) as u32;
    let legend_w = 220u32;
    let (pw, ph) = (520u32, 420u32);
    let (w, h) = (pw * columns + legend_w, ph * rows + 50);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = super::canvas(&mut buf, (w, h));
        root.fill(&WHITE).map_err(err)?;
        let title = format!("{run}: per-layer statistics of the training batch");
        let root = root.titled(&title, (FONT, 26).into_font().style(FontStyle::Bold)).map_err(err)?;
        let (charts, legend) = root.split_horizontally(pw * columns);
        let areas = charts.split_evenly((rows as usize, columns as usize));
        for (panel, area) in panels.iter().zip(areas) {
            let (name, y_label, _) = describe(&panel.stat);
            let log = wants_log(panel);
            let shown = |v: f64| if log { v.log10() } else { v };
            let points = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
                pts.iter().filter(|q| !log || q.1 > 0.0).map(|&(x, y)| (x, shown(y))).collect()
            };
            let all: Vec<(f64, f64)> = panel.lines.iter().flat_map(|(_, p)| points(p)).collect();
            let xr = range(all.iter().map(|p| p.0));
            let yr = range(all.iter().map(|p| p.1));
            let caption = if log { format!("{name} (log scale)") } else { name.to_string() };
            let mut chart = ChartBuilder::on(&area)
                .caption(&caption, (FONT, 20))
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(78)
                .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
                .map_err(err)?;
            let y_format = |v: &f64| if log { power_tick(*v) } else { format_tick(*v) };
            chart
                .configure_mesh()
                .x_desc("step")
                .y_desc(y_label)
                .x_labels(6)
                .y_labels(8)
                .x_label_formatter(&|v| format_tick(*v))
                .y_label_formatter(&y_format)
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 15))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(err)?;
            for (node, pts) in &panel.lines {
                let c = node_color(*node);
                let pts = points(pts);
                chart.draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2))).map_err(err)?;
                if pts.len() == 1 {
                    chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled()))).map_err(err)?;
                }
            }
        }
        legend
            .draw_text("node", &(FONT, 18).into_font().style(FontStyle::Bold).color(&BLACK), (16, 24))
            .map_err(err)?;
        for (k, node) in nodes.iter().enumerate() {
            let y = 56 + 24 * k as i32;
            let c = node_color(k);
            legend.draw(&PathElement::new(vec![(16, y), (40, y)], c.stroke_width(3))).map_err(err)?;
            legend.draw_text(node, &(FONT, 15).into_font().color(&BLACK), (48, y - 8)).map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    encode_png(&buf, w, h).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "step,node,op,mean,grad_norm\n\
        0,fc1,dense,0.5,1e-6\n0,fc2,dense,,1e-2\n10,fc1,dense,0.25,2e-6\n10,fc2,dense,,3e-2\n";

    #[test]
    fn the_csv_becomes_one_panel_per_statistic_with_a_line_per_node() {
        let (panels, nodes) = read(CSV).unwrap();
        assert_eq!(nodes, ["fc1", "fc2"]);
        assert_eq!(panels.len(), 2);
        assert_eq!(panels[0].lines, [(0, vec![(0.0, 0.5), (10.0, 0.25)])], "empty cells draw nothing");
        assert_eq!(panels[1].lines.len(), 2);
        assert!(wants_log(&panels[1]), "gradient norms spanning 4 decades go on a log axis");
        assert!(!wants_log(&panels[0]), "means stay linear");
        assert_eq!(power_tick(-3.0), "1e-3");
        let png = layers_figure("t", CSV).unwrap().unwrap();
        assert_eq!(png, layers_figure("t", CSV).unwrap().unwrap(), "the same bytes every time");
        assert!(read("step,node\n").is_err() && read("step,node,op,mean\n1,a,relu\n").is_err());
    }

    #[test]
    fn non_finite_and_exponent_cells_as_the_run_writes_them_are_read() {
        let csv = "step,node,op,mean\n0,a,relu,nan\n1,a,relu,inf\n2,a,relu,-inf\n3,a,relu,1.5e-7\n4,a,relu,-2e300\n";
        let (panels, _) = read(csv).unwrap();
        let values: Vec<f64> = panels[0].lines[0].1.iter().map(|p| p.1).collect();
        assert!(values[0].is_nan());
        assert_eq!(values[1..], [f64::INFINITY, f64::NEG_INFINITY, 1.5e-7, -2e300]);
        assert!(layers_figure("t", csv).is_ok(), "a diverged layer still draws");
    }
}
