//! Grids of heat maps with a colour bar: saliency, occlusion, perturbations, feature
//! maps. Cells are painted straight into the RGB buffer (a map is thousands of them);
//! text goes through plotters with the embedded font.

use super::{encode_png, err, format_tick, register_font, DrawResult, FONT};
use plotters::prelude::*;

/// How values become colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Low to high as viridis (dark blue → yellow): magnitudes, probabilities.
    Sequential,
    /// Blue below zero, white at zero, red above, symmetric: signed quantities such as
    /// gradients and perturbations.
    Diverging,
    /// White to black, as digits are usually shown: images.
    Grey,
}

/// One map: row-major values and a caption under it.
pub struct MapTile {
    pub values: Vec<f64>,
    pub height: usize,
    pub width: usize,
    pub caption: String,
}

/// A figure of tiles in rows of `columns`.
pub struct MapGrid<'a> {
    pub title: &'a str,
    pub tiles: &'a [MapTile],
    pub columns: usize,
    pub scale: Scale,
    /// What the colours measure, with units: the colour bar's label.
    pub units: &'a str,
    /// One value range for every tile (comparable colours, one colour bar with values);
    /// false scales each tile to its own range and says so on the bar.
    pub shared: bool,
    /// Optional labels written left of each row (e.g. "original", "perturbation").
    pub row_labels: &'a [String],
}

/// The largest canvas drawn (as the other grids): refuse, never allocate gigabytes.
const MAX_PIXELS: u64 = 8192 * 8192;

/// (low, high) over finite values; a flat or empty range becomes a usable one.
fn range(values: impl Iterator<Item = f64>, scale: Scale) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if scale == Scale::Diverging {
        let m = lo.abs().max(hi.abs());
        return if m > 0.0 { (-m, m) } else { (-1.0, 1.0) };
    }
    if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    }
}

/// The colour of `v` within (lo, hi); non-finite values are drawn magenta.
pub fn shade(v: f64, (lo, hi): (f64, f64), scale: Scale) -> (u8, u8, u8) {
    if !v.is_finite() {
        return (255, 0, 255);
    }
    let t = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
    match scale {
        Scale::Sequential => {
            let c = ViridisRGB::get_color(t);
            (c.0, c.1, c.2)
        }
        Scale::Grey => {
            let g = 255 - (t * 255.0).round() as u8;
            (g, g, g)
        }
        Scale::Diverging => {
            // t = 0.5 is white; towards 0 blue (33, 102, 172), towards 1 red (178, 24, 43).
            let (end, k) =
                if t < 0.5 { ((33.0, 102.0, 172.0), 1.0 - 2.0 * t) } else { ((178.0, 24.0, 43.0), 2.0 * t - 1.0) };
            let mix = |e: f64| (255.0 + (e - 255.0) * k).round() as u8;
            (mix(end.0), mix(end.1), mix(end.2))
        }
    }
}

fn fill(buf: &mut [u8], w: u32, (x0, y0, x1, y1): (u32, u32, u32, u32), rgb: (u8, u8, u8)) {
    for y in y0..y1 {
        for x in x0..x1 {
            let at = ((y * w + x) * 3) as usize;
            buf[at..at + 3].copy_from_slice(&[rgb.0, rgb.1, rgb.2]);
        }
    }
}

pub fn map_grid(g: &MapGrid) -> DrawResult<Vec<u8>> {
    map_grid_rows(g, &[])
}

/// As [`map_grid`], with tile row `r` drawn in `row_scales[r]` where one is given: a
/// row of grey input images above a row of heat maps. Tiles in another scale than
/// `g.scale` keep their own range; the colour bar and the shared range belong to the
/// tiles in `g.scale`.
pub fn map_grid_rows(g: &MapGrid, row_scales: &[Scale]) -> DrawResult<Vec<u8>> {
    register_font();
    let tiles = g.tiles;
    let columns = g.columns.clamp(1, tiles.len().max(1));
    let rows = tiles.len().div_ceil(columns).max(1);
    let (th, tw) = tiles.first().map(|t| (t.height.max(1), t.width.max(1))).unwrap_or((1, 1));
    // Small maps are scaled up to about 84 pixels; large ones are drawn 1:1.
    let zoom = (84 / th.max(tw)).clamp(1, 12) as u32;
    let (cell_w, cell_h) = (tw as u32 * zoom, th as u32 * zoom);
    let label_w = if g.row_labels.is_empty() { 0 } else { 110 };
    let (col_w, row_h) = (cell_w.max(96) + 12, cell_h + 30);
    let (left, top) = (10 + label_w, 52u32);
    let bar_w = 120u32;
    let w = left + col_w.saturating_mul(columns as u32) + bar_w;
    // The colour bar spans the tile rows (80 to 160 pixels), its label wrapped under it,
    // so a single row of tiles is not drawn above a tall empty band.
    let tiles_h = row_h.saturating_mul(rows as u32);
    let (by, bh) = (top + 20, tiles_h.saturating_sub(40).clamp(80, 160));
    let units = wrap_words(g.units, 16);
    let label_end = by + bh + 10 + 15 * units.len() as u32;
    let h = (top + tiles_h + 16).max(label_end + 8);
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(format!("the picture would be {w} × {h} pixels, more than {MAX_PIXELS}"));
    }
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let scale_of = |i: usize| row_scales.get(i / columns).copied().unwrap_or(g.scale);
    let in_bar = tiles.iter().enumerate().filter(|(i, _)| scale_of(*i) == g.scale);
    let shared = range(in_bar.flat_map(|(_, t)| t.values.iter().copied()), g.scale);
    for (i, tile) in tiles.iter().enumerate() {
        let scale = scale_of(i);
        let r = if g.shared && scale == g.scale { shared } else { range(tile.values.iter().copied(), scale) };
        let (x0, y0) = (left + (i % columns) as u32 * col_w, top + (i / columns) as u32 * row_h);
        for (k, v) in tile.values.iter().enumerate().take(tile.height * tile.width) {
            let (px, py) = (x0 + (k % tile.width) as u32 * zoom, y0 + (k / tile.width) as u32 * zoom);
            fill(&mut buf, w, (px, py, px + zoom, py + zoom), shade(*v, r, scale));
        }
    }
    // The colour bar, high at the top.
    let bx = w - bar_w + 16;
    let bar = if g.shared { shared } else { (0.0, 1.0) };
    for y in 0..bh {
        let v = bar.1 - (bar.1 - bar.0) * f64::from(y) / f64::from(bh - 1);
        fill(&mut buf, w, (bx, by + y, bx + 18, by + y + 1), shade(v, bar, g.scale));
    }
    {
        let root = super::canvas(&mut buf, (w, h));
        let style = |size: u32| (FONT, size).into_font();
        root.draw(&Text::new(g.title.to_string(), (14, 14), style(20).style(FontStyle::Bold))).map_err(err)?;
        for (i, tile) in tiles.iter().enumerate() {
            let (x0, y0) = (left + (i % columns) as u32 * col_w, top + (i / columns) as u32 * row_h);
            root.draw(&Rectangle::new(
                [(x0 as i32 - 1, y0 as i32 - 1), ((x0 + cell_w) as i32, (y0 + cell_h) as i32)],
                BLACK.stroke_width(1),
            ))
            .map_err(err)?;
            root.draw(&Text::new(tile.caption.clone(), (x0 as i32, (y0 + cell_h + 5) as i32), style(13)))
                .map_err(err)?;
        }
        for (r, label) in g.row_labels.iter().enumerate().take(rows) {
            let y = (top + r as u32 * row_h + cell_h / 2) as i32 - 7;
            root.draw(&Text::new(label.clone(), (10, y), style(14))).map_err(err)?;
        }
        root.draw(&Rectangle::new(
            [(bx as i32 - 1, by as i32 - 1), ((bx + 18) as i32, (by + bh) as i32)],
            BLACK.stroke_width(1),
        ))
        .map_err(err)?;
        let (hi_text, lo_text) = if g.shared {
            (format_tick(bar.1), format_tick(bar.0))
        } else {
            ("tile max".to_string(), "tile min".to_string())
        };
        root.draw(&Text::new(hi_text, (bx as i32 + 22, by as i32 - 6), style(12))).map_err(err)?;
        root.draw(&Text::new(lo_text, (bx as i32 + 22, (by + bh) as i32 - 8), style(12))).map_err(err)?;
        if g.shared && g.scale == Scale::Diverging {
            root.draw(&Text::new("0", (bx as i32 + 22, (by + bh / 2) as i32 - 7), style(12))).map_err(err)?;
        }
        // The label under the bar, wrapped to the bar's column.
        for (i, line) in units.into_iter().enumerate() {
            let y = (by + bh + 10) as i32 + 15 * i as i32;
            root.draw(&Text::new(line, (bx as i32 - 8, y), style(12))).map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    encode_png(&buf, w, h)
}

/// `text` in lines of about `width` characters, broken at spaces (a longer word is a
/// line of its own).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().expect("never empty");
        if line.is_empty() {
            line.push_str(word);
        } else if line.chars().count() + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            line.push(' ');
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverging_is_white_at_zero_and_saturates_at_the_ends() {
        let r = (-2.0, 2.0);
        assert_eq!(shade(0.0, r, Scale::Diverging), (255, 255, 255));
        assert_eq!(shade(-2.0, r, Scale::Diverging), (33, 102, 172));
        assert_eq!(shade(5.0, r, Scale::Diverging), (178, 24, 43));
        assert_eq!(shade(f64::NAN, r, Scale::Grey), (255, 0, 255));
        assert_eq!(range([-1.0, 3.0].into_iter(), Scale::Diverging), (-3.0, 3.0));
    }

    #[test]
    fn a_grid_is_a_png_of_the_expected_size() {
        let tiles: Vec<MapTile> = (0..3)
            .map(|i| MapTile {
                values: (0..28 * 28).map(|k| (k * i) as f64).collect(),
                height: 28,
                width: 28,
                caption: format!("t{i}"),
            })
            .collect();
        let g = MapGrid {
            title: "t",
            tiles: &tiles,
            columns: 2,
            scale: Scale::Sequential,
            units: "units",
            shared: true,
            row_labels: &[],
        };
        let png = map_grid(&g).expect("drawn");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().expect("a PNG");
        let info = reader.info();
        // 28 px at zoom 3 = 84; columns of max(84, 96) + 12 = 108.
        assert_eq!((info.width, info.height), (10 + 2 * 108 + 120, 52 + 2 * 114 + 16));
    }

    #[test]
    fn one_row_of_tiles_gets_a_bar_as_tall_as_the_row_not_a_tall_empty_band() {
        let tiles: Vec<MapTile> = (0..10)
            .map(|i| MapTile { values: vec![i as f64; 28 * 28], height: 28, width: 28, caption: String::new() })
            .collect();
        let g = MapGrid {
            title: "t",
            tiles: &tiles,
            columns: 10,
            scale: Scale::Grey,
            units: "drop in p(true class)",
            shared: true,
            row_labels: &[],
        };
        let reader = png::Decoder::new(std::io::Cursor::new(map_grid(&g).expect("drawn"))).read_info().expect("a PNG");
        // A row of 84 + 30 pixels: a bar of 80 from 72, its label's two lines under it.
        assert_eq!(reader.info().height, 72 + 80 + 10 + 2 * 15 + 8);
    }

    #[test]
    fn units_wrap_at_spaces_to_the_bars_column() {
        assert_eq!(wrap_words("drop in p(true class)", 16), ["drop in p(true", "class)"]);
        assert_eq!(wrap_words("pixel value", 16), ["pixel value"]);
        assert_eq!(wrap_words("a_very_long_unit_name x", 16), ["a_very_long_unit_name", "x"]);
    }

    /// A grey row of inputs over a diverging row: each tile in its row's scale, and the
    /// grey tile in its own range, not the shared one.
    #[test]
    fn each_row_is_drawn_in_its_own_scale() {
        let tile = |values: Vec<f64>| MapTile { values, height: 1, width: 2, caption: String::new() };
        let tiles = [tile(vec![0.0, 1.0]), tile(vec![-2.0, 2.0])];
        let g = MapGrid {
            title: "t",
            tiles: &tiles,
            columns: 1,
            scale: Scale::Diverging,
            units: "u",
            shared: true,
            row_labels: &[],
        };
        let pixel = |png: Vec<u8>, x: usize, y: usize| {
            let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().expect("a PNG");
            let mut buf = vec![0; reader.output_buffer_size()];
            let info = reader.next_frame(&mut buf).expect("a frame");
            let at = (y * info.width as usize + x) * 3;
            (buf[at], buf[at + 1], buf[at + 2])
        };
        // Cells of 12 pixels from (10, 52); the second row starts 12 + 30 lower.
        let mixed = map_grid_rows(&g, &[Scale::Grey, Scale::Diverging]).expect("drawn");
        assert_eq!(pixel(mixed.clone(), 16 + 12, 58), (0, 0, 0), "1 is black in the grey tile's range [0, 1]");
        assert_eq!(pixel(mixed, 16, 100), (33, 102, 172), "−2 is the blue end of the shared [−2, 2]");
        let plain = map_grid(&g).expect("drawn");
        assert_eq!(pixel(plain, 16 + 12, 58), shade(1.0, (-2.0, 2.0), Scale::Diverging));
    }
}
