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

/// A heat map of `m[true][predicted]`, each row shaded by its share, counts written in.
pub fn confusion_figure(title: &str, labels: &[String], m: &[Vec<usize>]) -> DrawResult<Vec<u8>> {
    register_font();
    let k = labels.len();
    let cell = (560 / k.max(1)).clamp(24, 90) as u32;
    let (left, top) = (110u32, 70u32);
    let side = u32::try_from(k).ok().and_then(|k| cell.checked_mul(k)).unwrap_or(u32::MAX);
    let (w, h) = (left.saturating_add(side).saturating_add(30), top.saturating_add(side).saturating_add(80));
    let mut buf = canvas(w, h)?;
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let style = |size: u32| (FONT, size).into_font();
        root.draw(&Text::new(title.to_string(), (20, 18), style(22).style(FontStyle::Bold))).map_err(err)?;
        root.draw(&Text::new(
            "predicted →",
            ((left + cell * k as u32 / 2 - 40) as i32, (top + cell * k as u32 + 40) as i32),
            style(16),
        ))
        .map_err(err)?;
        root.draw(&Text::new("true ↓", (14, (top - 24) as i32), style(16))).map_err(err)?;
        for (t, row) in m.iter().enumerate() {
            let total: usize = row.iter().sum::<usize>().max(1);
            for (p, count) in row.iter().enumerate() {
                let share = *count as f64 / total as f64;
                let shade = ViridisRGB::get_color(share);
                let (x0, y0) = ((left + p as u32 * cell) as i32, (top + t as u32 * cell) as i32);
                root.draw(&Rectangle::new([(x0, y0), (x0 + cell as i32, y0 + cell as i32)], shade.filled()))
                    .map_err(err)?;
                let ink = if share > 0.5 { BLACK } else { WHITE };
                let text = count.to_string();
                let size = (cell / 3).clamp(9, 20);
                let tx = x0 + cell as i32 / 2 - (text.len() as i32 * size as i32) / 4;
                root.draw(&Text::new(text, (tx, y0 + cell as i32 / 2 - size as i32 / 2), style(size).color(&ink)))
                    .map_err(err)?;
            }
        }
        for (i, label) in labels.iter().enumerate() {
            let mid = (i as u32 * cell + cell / 2) as i32;
            root.draw(&Text::new(label.clone(), (left as i32 + mid - 4, top as i32 - 20), style(14))).map_err(err)?;
            root.draw(&Text::new(label.clone(), (left as i32 - 30, top as i32 + mid - 7), style(14))).map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    encode_png(&buf, w, h)
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
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
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
