//! Line charts: panels side by side under one title, each with its legend in a strip
//! under it. Lines are cut to the plotting box (a diverged value never draws over the
//! titles), a value that cannot be drawn breaks the line, a loss spanning decades gets
//! a log axis, and series that lie on each other stay visible: earlier ones are drawn
//! wider underneath, with bigger dots where there are few points.
//!
//! Each segment is drawn on its own: plotters joins a wide polyline with mitres, which
//! on a zig-zag of thousands of points shoot spikes far outside the panel.

use super::axis::{self, Axis, YScale};
use super::clip::{clipped_runs, Rect};
use super::legend::{self, Entry, Swatch};
use super::{color, encode_png, err, register_font, DrawResult, FONT};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// A line (widths nested with the panel's other `Line`s), dots when few points.
    #[default]
    Line,
    /// Thin and pale, under the rest, without a legend entry: raw values that a
    /// `Plain` series of the same colour summarises (per-batch losses).
    Faint,
    /// A plain 2-pixel line (a moving average over a `Faint` one).
    Plain,
    /// Dashed: a known value to compare with (the true coefficient).
    Reference,
}

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Index into the palette.
    pub color: usize,
    pub style: Style,
}

impl Series {
    pub fn line(name: impl Into<String>, color: usize, points: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), points, color, style: Style::Line }
    }
}

pub struct LinePanel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub y_scale: YScale,
}

/// At most this many points get dots (more would be a smear).
const DOTS_UP_TO: usize = 60;

/// Pixel sizes of a figure: each panel's chart and the title band.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub panel_w: u32,
    pub chart_h: u32,
}

impl Default for Size {
    fn default() -> Self {
        Size { panel_w: 640, chart_h: 470 }
    }
}

/// Panels of line charts side by side under one title, 640 pixels each.
pub fn line_figure(title: &str, panels: &[LinePanel]) -> DrawResult<Vec<u8>> {
    draw_figure(title, panels, Size::default()).map(|(png, _)| png)
}

/// [`line_figure`] at a chosen size.
pub fn line_figure_sized(title: &str, panels: &[LinePanel], size: Size) -> DrawResult<Vec<u8>> {
    draw_figure(title, panels, size).map(|(png, _)| png)
}

/// Line width and dot radius of each series: `Line`s nested so the earlier is wider
/// (train under test: the train line shows as a border around the test one).
fn widths(series: &[Series]) -> Vec<(u32, Option<u32>)> {
    let lines = series.iter().filter(|s| s.style == Style::Line).count();
    let mut k = 0;
    series
        .iter()
        .map(|s| match s.style {
            Style::Line => {
                let above = (lines - 1 - k) as u32;
                k += 1;
                let dot = (s.points.len() <= DOTS_UP_TO).then_some(3 + 2 * above);
                (2 + 2 * above.min(2), dot)
            }
            Style::Faint => (1, None),
            Style::Plain | Style::Reference => (2, None),
        })
        .collect()
}

fn entries(series: &[Series]) -> Vec<Entry> {
    series
        .iter()
        .zip(widths(series))
        .filter(|(s, _)| s.style != Style::Faint && !s.name.is_empty())
        .map(|(s, (width, dot))| Entry {
            name: s.name.clone(),
            swatch: Swatch { color: color(s.color), width, dashed: s.style == Style::Reference, dot },
        })
        .collect()
}

/// A plotting box in pixels: (x0, y0, x1, y1).
pub(crate) type PixelBox = (i32, i32, i32, i32);

/// The figure, and each panel's plotting box in pixels (x0, y0, x1, y1), for tests.
pub(crate) fn draw_figure(title: &str, panels: &[LinePanel], size: Size) -> DrawResult<(Vec<u8>, Vec<PixelBox>)> {
    register_font();
    let n = panels.len().max(1) as u32;
    let w = size.panel_w * n;
    // Measure the legends on a scratch area (text sizes need a backend).
    let legend_h = {
        let mut scratch = vec![0u8; 3];
        let area = super::canvas(&mut scratch, (1, 1));
        panels.iter().map(|p| legend::height(&area, &entries(&p.series), size.panel_w)).max().unwrap_or(0)
    };
    let title_h = 50;
    let h = title_h + size.chart_h + legend_h;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    let mut boxes = Vec::new();
    {
        let root = super::canvas(&mut buf, (w, h));
        root.fill(&WHITE).map_err(err)?;
        let (band, body) = root.split_vertically(title_h);
        let font = (FONT, 26).into_font().style(FontStyle::Bold).color(&BLACK);
        let tw = band.estimate_text_size(title, &font).map_or(0, |s| s.0) as i32;
        band.draw(&Text::new(title.to_string(), ((w as i32 - tw).max(0) / 2, 12), font)).map_err(err)?;
        for (panel, area) in panels.iter().zip(body.split_evenly((1, n as usize))) {
            let (chart, strip) = area.split_vertically(size.chart_h);
            boxes.push(draw_panel(&chart, panel)?);
            legend::draw(&strip, &entries(&panel.series))?;
        }
        root.present().map_err(err)?;
    }
    Ok((encode_png(&buf, w, h)?, boxes))
}

/// An axis for plotters whose grid lines and labels are our ticks (plotters' own
/// ticks cannot be told to fall on powers of ten or to label alike).
struct Ticked {
    axis: Axis,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(axis: Axis, ticks: &[(f64, String)]) -> Self {
        Ticked { axis, ticks: ticks.iter().map(|t| t.0).collect() }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = self.axis.fraction(*v);
        (limit.0 as f64 + f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.axis.lo..self.axis.hi
    }
}

/// The label of the tick nearest `v` (the key points are the ticks themselves).
fn label_of(ticks: &[(f64, String)], v: f64) -> String {
    ticks.iter().min_by(|a, b| (a.0 - v).abs().total_cmp(&(b.0 - v).abs())).map(|t| t.1.clone()).unwrap_or_default()
}

/// One panel: mesh, ticks and the clipped series; returns its plotting box.
fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &LinePanel) -> DrawResult<PixelBox> {
    // Pale raw values do not stretch the axes (their average does): outside it they are cut.
    let fitted = |s: &&Series| s.style != Style::Faint || panel.series.iter().all(|s| s.style == Style::Faint);
    let all = || panel.series.iter().filter(fitted).flat_map(|s| s.points.iter());
    let xa = axis::choose(all().map(|p| p.0), YScale::Linear);
    let ya = axis::choose(all().map(|p| p.1), panel.y_scale);
    let (xt, yt) = (xa.ticks(), ya.ticks());
    let y_desc = match ya.scale {
        axis::Scale::Log => format!("{} (log scale)", panel.y_label),
        axis::Scale::Linear => panel.y_label.clone(),
    };
    let widest = yt.iter().map(|t| t.1.chars().count()).max().unwrap_or(1) as u32;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(34 + 9 * widest)
        .build_cartesian_2d(Ticked::new(xa, &xt), Ticked::new(ya, &yt))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(&panel.x_label)
        .y_desc(&y_desc)
        .x_label_formatter(&|v| label_of(&xt, *v))
        .y_label_formatter(&|v| label_of(&yt, *v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(err)?;
    let plot = chart.plotting_area();
    let (xs, ys) = plot.get_pixel_range();
    let canvas = plot.strip_coord_spec();
    let (pw, ph) = canvas.dim_in_pixel();
    let to_pixel = |(fx, fy): (f64, f64)| -> (f64, f64) { (fx * (pw - 1) as f64, (1.0 - fy) * (ph - 1) as f64) };
    let place = |(x, y): (f64, f64)| Some((xa.fraction(xa.place(x)?), ya.fraction(ya.place(y)?)));
    let unit = Rect { x: (0.0, 1.0), y: (0.0, 1.0) };
    // Faint series first, under everything; then the rest in order.
    let order = panel
        .series
        .iter()
        .zip(widths(&panel.series))
        .filter(|(s, _)| s.style == Style::Faint)
        .chain(panel.series.iter().zip(widths(&panel.series)).filter(|(s, _)| s.style != Style::Faint));
    for (s, (width, dot)) in order {
        let ink = if s.style == Style::Faint { pale(s.color) } else { color(s.color) };
        let placed: Vec<Option<(f64, f64)>> = s.points.iter().map(|p| place(*p)).collect();
        for run in clipped_runs(&placed, unit) {
            let run: Vec<(f64, f64)> = run.into_iter().map(to_pixel).collect();
            stroke(&canvas, &run, ink, width, s.style == Style::Reference)?;
        }
        if let Some(r) = dot {
            for p in placed.iter().flatten().filter(|p| unit.contains(**p)) {
                let (x, y) = to_pixel(*p);
                canvas.draw(&Circle::new((x.round() as i32, y.round() as i32), r, ink.filled())).map_err(err)?;
            }
        }
    }
    Ok((xs.start, ys.start, xs.end, ys.end))
}

/// A palette colour halfway to white: visible, but under the lines that matter.
fn pale(i: usize) -> RGBColor {
    let RGBColor(r, g, b) = color(i);
    let mix = |c: u8| ((c as u16 + 255) / 2) as u8;
    RGBColor(mix(r), mix(g), mix(b))
}

/// Draws a run of pixel points segment by segment (dashed: 9 on, 6 off along it).
fn stroke<DB: DrawingBackend>(
    canvas: &DrawingArea<DB, Shift>,
    run: &[(f64, f64)],
    ink: RGBColor,
    width: u32,
    dashed: bool,
) -> DrawResult<()> {
    let px = |p: (f64, f64)| (p.0.round() as i32, p.1.round() as i32);
    let style = ink.stroke_width(width);
    if run.len() == 1 {
        return canvas.draw(&Circle::new(px(run[0]), width, ink.filled())).map_err(err);
    }
    if !dashed {
        for pair in run.windows(2) {
            let (a, b) = (px(pair[0]), px(pair[1]));
            if a != b || width == 1 {
                canvas.draw(&PathElement::new(vec![a, b], style)).map_err(err)?;
            }
        }
        return Ok(());
    }
    const ON: f64 = 9.0;
    const PERIOD: f64 = 15.0;
    let mut walked = 0.0f64;
    for pair in run.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let mut t = 0.0;
        while t < len {
            let phase = (walked + t) % PERIOD;
            let step = if phase < ON { (ON - phase).min(len - t) } else { (PERIOD - phase).min(len - t) };
            if phase < ON {
                let at = |u: f64| (a.0 + (b.0 - a.0) * u / len, a.1 + (b.1 - a.1) * u / len);
                canvas.draw(&PathElement::new(vec![px(at(t)), px(at(t + step))], style)).map_err(err)?;
            }
            t += step.max(1e-9);
        }
        walked += len;
    }
    Ok(())
}

/// A centred moving average over `2·half + 1` points (fewer near the ends), skipping
/// values that are not finite: the trend of noisy per-batch values.
pub fn moving_average(points: &[(f64, f64)], half: usize) -> Vec<(f64, f64)> {
    (0..points.len())
        .map(|i| {
            // Symmetric even at the ends (narrower there), so the average does not lag.
            let k = half.min(i).min(points.len() - 1 - i);
            let window = &points[i - k..=i + k];
            let finite: Vec<f64> = window.iter().map(|p| p.1).filter(|v| v.is_finite()).collect();
            let mean = if finite.is_empty() { f64::NAN } else { finite.iter().sum::<f64>() / finite.len() as f64 };
            (points[i].0, mean)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixels(png: &[u8]) -> (Vec<u8>, u32) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0u8; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        (buf, info.width)
    }

    /// A diverging zig-zag as diamond with lr = 1 gives: thousands of sharp turns.
    fn zigzag() -> Vec<(f64, f64)> {
        (0..5000)
            .map(|i| (i as f64, if i % 2 == 0 { 0.46 } else { 0.52 } + if i % 997 == 0 { 3.0 } else { 0.0 }))
            .collect()
    }

    #[test]
    fn no_line_is_drawn_outside_its_plotting_box() {
        let mut spiky = zigzag();
        spiky[100].1 = f64::INFINITY;
        spiky[200].1 = f64::NAN;
        let panels = [LinePanel {
            title: "accuracy".into(),
            x_label: "step".into(),
            y_label: "accuracy".into(),
            series: vec![Series::line("train", 0, spiky)],
            y_scale: YScale::Linear,
        }];
        let (png, boxes) = draw_figure("t", &panels, Size::default()).unwrap();
        let (rgb, w) = pixels(&png);
        let (x0, y0, x1, y1) = boxes[0];
        let ink = super::super::PALETTE[0];
        let is_ink = |i: usize| (rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]) == ink;
        let above = (0..(y0 as usize - 1) * w as usize).filter(|&i| is_ink(i)).count();
        assert_eq!(above, 0, "series pixels above the plotting box (title and caption bands)");
        // Rows of the chart only: the legend strip under it has a sample of the line.
        let left = (0..y1 as usize * w as usize).filter(|&i| is_ink(i) && ((i % w as usize) as i32) < x0 - 1).count();
        assert_eq!(left, 0, "series pixels over the y axis");
        let inside = (0..rgb.len() / 3).filter(|&i| is_ink(i) && ((i % w as usize) as i32) < x1).count();
        assert!(inside > 5_000, "the line is drawn ({inside} pixels)");
    }

    #[test]
    fn the_same_panels_give_the_same_bytes_and_overlapping_lines_nest() {
        let panel = || LinePanel {
            title: "loss".into(),
            x_label: "step".into(),
            y_label: "loss".into(),
            series: vec![
                Series::line("train", 1, vec![(0.0, 1.0), (1.0, 0.5)]),
                Series::line("test", 2, vec![(0.0, 1.0), (1.0, 0.5)]),
            ],
            y_scale: YScale::Auto,
        };
        assert_eq!(line_figure("t", &[panel()]).unwrap(), line_figure("t", &[panel()]).unwrap());
        assert_eq!(widths(&panel().series), [(4, Some(5)), (2, Some(3))], "train wider under test");
    }

    #[test]
    fn a_moving_average_smooths_and_skips_gaps() {
        let pts = [(0.0, 1.0), (1.0, 3.0), (2.0, f64::NAN), (3.0, 5.0)];
        let m: Vec<f64> = moving_average(&pts, 1).into_iter().map(|p| p.1).collect();
        assert_eq!(m, [1.0, 2.0, 4.0, 5.0]);
    }
}
