//! Pictures that are grids rather than charts: a confusion-matrix heat map and a grid
//! of small greyscale images with captions.

use super::{encode_png, err, register_font, DrawResult, FONT};
use plotters::prelude::*;

/// The most pixels a picture may have (a 8192 × 8192 canvas, 192 MiB of RGB): a
/// confusion matrix of thousands of classes or a grid of huge images is refused, not an
/// allocation of gigabytes (or a size that wraps around u32 and panics in plotters).
const MAX_PIXELS: u64 = 8192 * 8192;

fn canvas(w: u32, h: u32) -> DrawResult<Vec<u8>> {
    let pixels = u64::from(w) * u64::from(h);
    if pixels > MAX_PIXELS {
        return Err(format!("the picture would be {w} × {h} pixels, more than {MAX_PIXELS}"));
    }
    Ok(vec![0u8; pixels as usize * 3])
}

/// Where a count lies on the confusion picture's colour scale, 0 to 1: log(1 + count) /
/// log(1 + max), so 1 and 5 errors look different even beside a diagonal of thousands.
pub fn count_position(count: usize, max: usize) -> f64 {
    if max == 0 {
        return 0.0;
    }
    ((count as f64).ln_1p() / (max as f64).ln_1p()).clamp(0.0, 1.0)
}

/// A cell's colour: white for no samples (so every error stands out), else viridis at
/// its [`count_position`].
pub fn count_shade(count: usize, max: usize) -> RGBColor {
    if count == 0 {
        return WHITE;
    }
    ViridisRGB::get_color(count_position(count, max))
}

/// Black on light cells, white on dark ones (by relative luminance).
pub fn ink_on(c: RGBColor) -> RGBColor {
    let lum = 0.2126 * f64::from(c.0) + 0.7152 * f64::from(c.1) + 0.0722 * f64::from(c.2);
    if lum > 140.0 {
        BLACK
    } else {
        WHITE
    }
}

/// The counts the colour bar names: 0, 1, then powers of ten, and the largest count.
fn bar_ticks(max: usize) -> Vec<usize> {
    let mut ticks = vec![0];
    let mut t = 1usize;
    while t < max {
        ticks.push(t);
        t = t.saturating_mul(10);
    }
    if max > 0 {
        ticks.push(max);
    }
    ticks
}

/// Width of the colour bar and its labels, right of the matrix.
const BAR_W: u32 = 150;

/// A heat map of `m[true][predicted]` shaded by count on a log scale (white for none),
/// counts written in, with a colour bar saying what the shade means.
pub fn confusion_figure(title: &str, labels: &[String], m: &[Vec<usize>]) -> DrawResult<Vec<u8>> {
    register_font();
    let k = labels.len();
    let cell = (560 / k.max(1)).clamp(24, 90) as u32;
    let (left, top) = (110u32, 70u32);
    let side = u32::try_from(k).ok().and_then(|k| cell.checked_mul(k)).unwrap_or(u32::MAX);
    let w = left.saturating_add(side).saturating_add(30 + BAR_W);
    let h = top.saturating_add(side.max(240)).saturating_add(80);
    let max = m.iter().flatten().copied().max().unwrap_or(0);
    let mut buf = canvas(w, h)?;
    {
        let root = super::canvas(&mut buf, (w, h));
        root.fill(&WHITE).map_err(err)?;
        let style = |size: u32| (FONT, size).into_font();
        root.draw(&Text::new(title.to_string(), (20, 18), style(22).style(FontStyle::Bold))).map_err(err)?;
        root.draw(&Text::new(
            "predicted →",
            ((left + cell * k as u32 / 2).saturating_sub(40) as i32, (top + cell * k as u32 + 40) as i32),
            style(16),
        ))
        .map_err(err)?;
        root.draw(&Text::new("true ↓", (14, (top - 24) as i32), style(16))).map_err(err)?;
        for (t, row) in m.iter().enumerate() {
            for (p, count) in row.iter().enumerate() {
                let shade = count_shade(*count, max);
                let (x0, y0) = ((left + p as u32 * cell) as i32, (top + t as u32 * cell) as i32);
                root.draw(&Rectangle::new([(x0, y0), (x0 + cell as i32, y0 + cell as i32)], shade.filled()))
                    .map_err(err)?;
                let ink = if *count == 0 { RGBColor(170, 170, 170) } else { ink_on(shade) };
                let text = count.to_string();
                let size = (cell / 3).clamp(9, 20);
                let tx = x0 + cell as i32 / 2 - (text.len() as i32 * size as i32) / 4;
                root.draw(&Text::new(text, (tx, y0 + cell as i32 / 2 - size as i32 / 2), style(size).color(&ink)))
                    .map_err(err)?;
            }
        }
        // Thin grid lines, so white (empty) cells still read as cells.
        let grey = RGBColor(200, 200, 200);
        for i in 0..=k as u32 {
            let at = (i * cell) as i32;
            let (l, t, s) = (left as i32, top as i32, side as i32);
            root.draw(&PathElement::new(vec![(l + at, t), (l + at, t + s)], grey)).map_err(err)?;
            root.draw(&PathElement::new(vec![(l, t + at), (l + s, t + at)], grey)).map_err(err)?;
        }
        for (i, label) in labels.iter().enumerate() {
            let mid = (i as u32 * cell + cell / 2) as i32;
            root.draw(&Text::new(label.clone(), (left as i32 + mid - 4, top as i32 - 20), style(14))).map_err(err)?;
            root.draw(&Text::new(label.clone(), (left as i32 - 30, top as i32 + mid - 7), style(14))).map_err(err)?;
        }
        draw_count_bar(&root, (left + side + 30) as i32, top as i32, max)?;
        root.present().map_err(err)?;
    }
    encode_png(&buf, w, h)
}

/// The colour bar: the shade for each count from 0 (white) to `max`, labelled on a log
/// scale, titled with what is counted.
fn draw_count_bar(
    root: &DrawingArea<super::Canvas<'_>, plotters::coord::Shift>,
    x: i32,
    y: i32,
    max: usize,
) -> DrawResult<()> {
    let (bw, bh) = (18i32, 200i32);
    let style = |size: u32| (FONT, size).into_font();
    root.draw(&Text::new("samples", (x - 4, y - 22), style(14))).map_err(err)?;
    root.draw(&Text::new("(log scale)", (x - 4, y + bh + 10), style(12))).map_err(err)?;
    for row in 0..bh {
        // Top is the largest count; the bottom pixel row is 0 (white).
        let pos = 1.0 - f64::from(row) / f64::from(bh - 1);
        let c = if row == bh - 1 || max == 0 { WHITE } else { ViridisRGB::get_color(pos) };
        root.draw(&Rectangle::new([(x, y + row), (x + bw, y + row + 1)], c.filled())).map_err(err)?;
    }
    root.draw(&Rectangle::new([(x, y), (x + bw, y + bh)], BLACK.stroke_width(1))).map_err(err)?;
    let at = |t: usize| y + bh - 1 - (count_position(t, max) * f64::from(bh - 1)).round() as i32;
    // Labels closer than a line of text to the one below (or to the largest) are left out.
    let mut kept: Vec<usize> = Vec::new();
    for t in bar_ticks(max) {
        let clear_of_max = t == max || at(t) - at(max) >= 14;
        if clear_of_max && kept.last().is_none_or(|&prev| at(prev) - at(t) >= 14) {
            kept.push(t);
        }
    }
    for t in kept {
        let ty = at(t);
        root.draw(&PathElement::new(vec![(x + bw, ty), (x + bw + 5, ty)], BLACK)).map_err(err)?;
        root.draw(&Text::new(t.to_string(), (x + bw + 8, ty - 7), style(13))).map_err(err)?;
    }
    Ok(())
}

/// One small image: row-major greyscale values (any range) and its caption.
pub struct Tile {
    pub pixels: Vec<f64>,
    pub height: usize,
    pub width: usize,
    pub caption: String,
}

/// Tiles in rows of up to `columns`, each scaled up and shaded from its own min to max.
pub fn image_grid(title: &str, tiles: &[Tile], columns: usize) -> DrawResult<Vec<u8>> {
    register_font();
    let columns = columns.clamp(1, tiles.len().max(1));
    let rows = tiles.len().div_ceil(columns).max(1);
    let scale = 3u32;
    let (tw, th) = tiles.first().map(|t| (t.width as u32 * scale, t.height as u32 * scale)).unwrap_or((84, 84));
    let (cw, ch) = (tw.max(110) + 12, th + 34);
    let (w, h) = (cw.saturating_mul(columns as u32) + 20, ch.saturating_mul(rows as u32).saturating_add(60));
    let mut buf = canvas(w, h)?;
    {
        let root = super::canvas(&mut buf, (w, h));
        root.fill(&WHITE).map_err(err)?;
        root.draw(&Text::new(title.to_string(), (16, 14), (FONT, 22).into_font().style(FontStyle::Bold)))
            .map_err(err)?;
        for (i, tile) in tiles.iter().enumerate() {
            let (x0, y0) = (10 + (i % columns) as u32 * cw, 50 + (i / columns) as u32 * ch);
            let lo = tile.pixels.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = tile.pixels.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let span = if hi > lo { hi - lo } else { 1.0 };
            for (k, v) in tile.pixels.iter().enumerate() {
                // Dark ink on white, as digits are usually shown.
                let g = 255 - ((v - lo) / span * 255.0).round().clamp(0.0, 255.0) as u8;
                let (px, py) =
                    ((x0 + (k % tile.width) as u32 * scale) as i32, (y0 + (k / tile.width) as u32 * scale) as i32);
                root.draw(&Rectangle::new(
                    [(px, py), (px + scale as i32, py + scale as i32)],
                    RGBColor(g, g, g).filled(),
                ))
                .map_err(err)?;
            }
            root.draw(&Rectangle::new(
                [(x0 as i32, y0 as i32), ((x0 + tw) as i32, (y0 + th) as i32)],
                BLACK.stroke_width(1),
            ))
            .map_err(err)?;
            root.draw(&Text::new(tile.caption.clone(), (x0 as i32, (y0 + th + 6) as i32), (FONT, 14))).map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    encode_png(&buf, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_five_errors_get_different_shades_beside_a_large_diagonal() {
        let max = 980;
        let (one, five) = (count_shade(1, max), count_shade(5, max));
        assert_ne!(one, five);
        // Far apart on the scale, not one step: log(2)/log(981) ≈ 0.10, log(6)/log(981) ≈ 0.26.
        assert!((count_position(1, max) - 0.1007).abs() < 1e-3, "{}", count_position(1, max));
        assert!((count_position(5, max) - 0.2603).abs() < 1e-3, "{}", count_position(5, max));
        assert_eq!(count_position(max, max), 1.0);
        assert_eq!(count_shade(0, max), WHITE);
        assert_ne!(count_shade(max, max), one);
    }

    #[test]
    fn counts_are_written_in_ink_that_contrasts_their_cell() {
        // Viridis is dark purple at the low end and yellow at the top.
        assert_eq!(ink_on(count_shade(1, 1000)), WHITE);
        assert_eq!(ink_on(count_shade(1000, 1000)), BLACK);
        assert_eq!(ink_on(WHITE), BLACK);
    }

    #[test]
    fn the_colour_bar_names_zero_one_powers_of_ten_and_the_largest_count() {
        assert_eq!(bar_ticks(980), vec![0, 1, 10, 100, 980]);
        assert_eq!(bar_ticks(0), vec![0]);
    }

    #[test]
    fn the_confusion_picture_is_wider_by_its_colour_bar_and_stays_the_same_bytes() {
        let labels: Vec<String> = (0..3).map(|c| c.to_string()).collect();
        let m = vec![vec![50, 1, 5], vec![0, 40, 2], vec![3, 0, 60]];
        let a = confusion_figure("t", &labels, &m).unwrap();
        assert_eq!(a, confusion_figure("t", &labels, &m).unwrap());
        let mut reader = png::Decoder::new(std::io::Cursor::new(&a)).read_info().unwrap();
        let mut rgb = vec![0u8; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).unwrap();
        let cell = 90; // 560 / 3 cells, at most 90 pixels
        assert_eq!(info.width, 110 + 3 * cell + 30 + BAR_W);
        // A pixel near the top-left corner of cell (true t, predicted p), clear of its text.
        let at = |t: u32, p: u32| {
            let (x, y) = (110 + p * cell + 6, 70 + t * cell + 6);
            let i = ((y * info.width + x) * 3) as usize;
            RGBColor(rgb[i], rgb[i + 1], rgb[i + 2])
        };
        assert_eq!(at(0, 1), count_shade(1, 60));
        assert_eq!(at(0, 2), count_shade(5, 60));
        assert_ne!(at(0, 1), at(0, 2), "1 and 5 errors are drawn in different colours");
        assert_eq!(at(1, 0), WHITE, "an empty cell is white");
    }
}
