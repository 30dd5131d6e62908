//! PNG drawing with plotters into a memory buffer, encoded with `png`. Text uses the
//! embedded DejaVu Sans, so pictures look the same on every machine and need no
//! fontconfig. Nothing here computes what a probe should: it draws what it is given.

mod arrows;
mod grids;
mod layers;
mod maps;
pub mod sweep;

pub use arrows::{arrow_figure, Arrow};
pub use grids::{confusion_figure, image_grid, Tile};
pub use layers::layers_figure;
pub use maps::{map_grid, map_grid_rows, shade, MapGrid, MapTile, Scale};

use plotters::prelude::*;
use std::sync::Once;

pub const FONT: &str = "sans-serif";

/// Tableau 10: distinguishable, and readable by most colour-blind viewers.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

pub fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

fn light(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    let mix = |c: u8| (c as u16 + 3 * 255) as f64 / 4.0;
    RGBColor(mix(r) as u8, mix(g) as u8, mix(b) as u8)
}

pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a known-good TTF compiled into the binary; failure is impossible.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

pub struct LinePanel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Cross,
}

pub struct PointGroup {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: usize,
    pub marker: Marker,
    pub size: u32,
}

/// A grid of class indices drawn as light cells behind a scatter (a decision boundary).
pub struct Background {
    pub x: (f64, f64),
    pub y: (f64, f64),
    pub nx: usize,
    pub ny: usize,
    /// Row-major from the bottom-left cell.
    pub classes: Vec<usize>,
}

pub(crate) type DrawResult<T> = Result<T, String>;

pub(crate) fn err<E: std::fmt::Display>(e: E) -> String {
    format!("drawing failed: {e}")
}

/// Whole numbers without a decimal point; others with as few digits as read well.
pub(crate) fn format_tick(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{v:.0}")
    } else if v.abs() >= 1000.0 || (v != 0.0 && v.abs() < 1e-3) {
        format!("{v:.2e}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - 0.05 * span, hi + 0.05 * span)
}

fn bounds<'a>(points: impl Iterator<Item = &'a (f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let mut b = ((f64::INFINITY, f64::NEG_INFINITY), (f64::INFINITY, f64::NEG_INFINITY));
    for (x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        b.0 = (b.0 .0.min(*x), b.0 .1.max(*x));
        b.1 = (b.1 .0.min(*y), b.1 .1.max(*y));
    }
    (padded(b.0 .0, b.0 .1), padded(b.1 .0, b.1 .1))
}

pub(crate) fn encode_png(rgb: &[u8], w: u32, h: u32) -> DrawResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The series' legend, boxed, in the upper right corner.
fn draw_legend<'a>(chart: &mut Chart<'a, 'a>) -> DrawResult<()> {
    chart
        .configure_series_labels()
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)
}

/// Panels of line charts side by side under one title.
pub fn line_figure(title: &str, panels: &[LinePanel]) -> DrawResult<Vec<u8>> {
    register_font();
    let (w, h) = (640 * panels.len().max(1) as u32, 520u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled(title, (FONT, 26).into_font().style(FontStyle::Bold)).map_err(err)?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for (panel, area) in panels.iter().zip(areas) {
            let (xr, yr) = bounds(panel.series.iter().flat_map(|s| s.points.iter()));
            let mut chart = ChartBuilder::on(&area)
                .caption(&panel.title, (FONT, 20))
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(72)
                .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc(&panel.x_label)
                .y_desc(&panel.y_label)
                .x_labels(6)
                .x_label_formatter(&|v| format_tick(*v))
                .y_label_formatter(&|v| format_tick(*v))
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 16))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(err)?;
            for (i, s) in panel.series.iter().enumerate() {
                let c = color(i);
                chart
                    .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
                    .map_err(err)?
                    .label(&s.name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
            }
            draw_legend(&mut chart)?;
        }
        root.present().map_err(err)?;
    }
    encode_png(&buf, w, h)
}

/// Width of the legend column right of a scatter's plot: the legend never covers a point.
const SCATTER_LEGEND_W: u32 = 190;

/// Where a scatter picture put its plot area and its legend box, in pixels
/// (`(left, top), (right, bottom)`), so tests can check the two never overlap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ScatterLayout {
    pub plot: ((i32, i32), (i32, i32)),
    pub legend: ((i32, i32), (i32, i32)),
}

/// A scatter of labelled point groups, optionally over a class background, its legend
/// in a column right of the plot.
pub fn scatter_figure(
    title: &str,
    x_label: &str,
    y_label: &str,
    groups: &[PointGroup],
    background: Option<&Background>,
) -> DrawResult<Vec<u8>> {
    draw_scatter(title, x_label, y_label, groups, background).map(|(png, _)| png)
}

pub(crate) fn draw_scatter(
    title: &str,
    x_label: &str,
    y_label: &str,
    groups: &[PointGroup],
    background: Option<&Background>,
) -> DrawResult<(Vec<u8>, ScatterLayout)> {
    register_font();
    let plot_w = 720u32;
    let (w, h) = (plot_w + SCATTER_LEGEND_W, 640u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    let layout;
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_horizontally(plot_w);
        let (xr, yr) = match background {
            Some(b) => (b.x, b.y),
            None => bounds(groups.iter().flat_map(|g| g.points.iter())),
        };
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(title, (FONT, 24).into_font().style(FontStyle::Bold))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .disable_mesh()
            .draw()
            .map_err(err)?;
        if let Some(b) = background {
            let dx = (b.x.1 - b.x.0) / b.nx as f64;
            let dy = (b.y.1 - b.y.0) / b.ny as f64;
            chart
                .draw_series(b.classes.iter().enumerate().map(|(k, c)| {
                    let (i, j) = (k % b.nx, k / b.nx);
                    let x0 = b.x.0 + i as f64 * dx;
                    let y0 = b.y.0 + j as f64 * dy;
                    Rectangle::new([(x0, y0), (x0 + dx, y0 + dy)], light(*c).filled())
                }))
                .map_err(err)?;
        }
        for g in groups {
            let c = color(g.color);
            let size = g.size as i32;
            match g.marker {
                Marker::Circle => {
                    chart.draw_series(g.points.iter().map(|p| Circle::new(*p, size, c.filled()))).map_err(err)?;
                }
                Marker::Cross => {
                    chart.draw_series(g.points.iter().map(|p| Cross::new(*p, size, c.stroke_width(2)))).map_err(err)?;
                }
            }
        }
        let (px, py) = chart.plotting_area().get_pixel_range();
        // The legend is level with the plot's top, in its own column.
        let legend = scatter_legend(&legend_area, py.start, groups)?;
        let shift = |(x, y): (i32, i32)| (x + plot_w as i32, y);
        layout = ScatterLayout {
            plot: ((px.start, py.start), (px.end, py.end)),
            legend: (shift(legend.0), shift(legend.1)),
        };
        root.present().map_err(err)?;
    }
    Ok((encode_png(&buf, w, h)?, layout))
}

/// The groups' names with their markers, boxed, from `top` down in the legend column
/// (coordinates relative to it); returns the box drawn.
fn scatter_legend(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    top: i32,
    groups: &[PointGroup],
) -> DrawResult<((i32, i32), (i32, i32))> {
    let (left, right) = (8, SCATTER_LEGEND_W as i32 - 8);
    let line = 24;
    let bottom = top + 10 + line * groups.len() as i32;
    area.draw(&Rectangle::new([(left, top), (right, bottom)], BLACK.stroke_width(1))).map_err(err)?;
    for (i, g) in groups.iter().enumerate() {
        let c = color(g.color);
        let y = top + 5 + line * i as i32 + line / 2;
        // The marker as drawn, capped so a large one stays inside its line.
        let size = (g.size as i32).min(9);
        let at = (left + 18, y);
        match g.marker {
            Marker::Circle => area.draw(&Circle::new(at, size, c.filled())).map_err(err)?,
            Marker::Cross => area.draw(&Cross::new(at, size, c.stroke_width(2))).map_err(err)?,
        }
        area.draw(&Text::new(g.name.clone(), (left + 34, y - 8), (FONT, 14))).map_err(err)?;
    }
    Ok(((left, top), (right, bottom)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scatter_legend_lies_outside_the_plot_area() {
        // The xor data: a legend in the upper right corner would cover (1, 1).
        let groups: Vec<PointGroup> = (0..2)
            .map(|c| PointGroup {
                name: format!("class {c}"),
                points: if c == 0 { vec![(0.0, 0.0), (1.0, 1.0)] } else { vec![(0.0, 1.0), (1.0, 0.0)] },
                color: c,
                marker: if c == 0 { Marker::Cross } else { Marker::Circle },
                size: 4,
            })
            .collect();
        let (png, l) = draw_scatter("xor", "x1", "x2", &groups, None).unwrap();
        let ((pl, pt), (pr, pb)) = l.plot;
        let ((ll, lt), (lr, lb)) = l.legend;
        assert!(pl < pr && pt < pb && ll < lr && lt < lb, "{l:?}");
        assert!(ll > pr, "the legend starts right of the plot: {l:?}");
        assert!(lr < 720 + SCATTER_LEGEND_W as i32, "and ends inside the picture: {l:?}");
        assert_eq!(lb - lt, 10 + 24 * 2, "one line per group");
        assert_eq!(png, scatter_figure("xor", "x1", "x2", &groups, None).unwrap());
    }
}
