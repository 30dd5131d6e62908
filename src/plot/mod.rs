//! PNG drawing with plotters into a memory buffer, encoded with `png`. Text uses the
//! embedded DejaVu Sans, so pictures look the same on every machine and need no
//! fontconfig. Nothing here computes what a probe should: it draws what it is given.

mod arrows;
pub mod axis;
mod canvas;
mod clip;
mod grids;
mod layers;
mod legend;
mod lines;
mod maps;
mod scatter;
pub mod sweep;

pub use arrows::{arrow_figure, Arrow};
pub use axis::YScale;
pub use canvas::{canvas, Canvas};
pub use grids::{confusion_figure, image_grid, Tile};
pub use layers::layers_figure;
pub use lines::{line_figure, line_figure_sized, moving_average, LinePanel, Series, Size, Style};
pub use maps::{map_grid, map_grid_rows, shade, MapGrid, MapTile, Scale};
pub use scatter::scatter_figure;

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
