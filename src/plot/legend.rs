//! Legends drawn in their own strip under a chart, never over the data: entries laid
//! out left to right, wrapping into rows.

use super::{err, DrawResult, FONT};
use plotters::prelude::*;

/// How an entry's sample is drawn: a line of this width (dashed or not), with a dot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swatch {
    pub color: RGBColor,
    pub width: u32,
    pub dashed: bool,
    pub dot: Option<u32>,
}

pub struct Entry {
    pub name: String,
    pub swatch: Swatch,
}

/// Height of one legend row in pixels.
pub const ROW: u32 = 24;
const SAMPLE: u32 = 30;
const GAP: u32 = 22;
const FONT_SIZE: u32 = 15;

/// Where each entry of these widths goes in a strip `width` wide: (row, x) each, an
/// entry wider than the strip alone in its row.
pub fn layout(widths: &[u32], width: u32) -> Vec<(u32, u32)> {
    let (mut row, mut x) = (0u32, 0u32);
    widths
        .iter()
        .map(|w| {
            if x > 0 && x + w > width {
                row += 1;
                x = 0;
            }
            let at = (row, x);
            x += w + GAP;
            at
        })
        .collect()
}

/// Each entry's width in pixels: the sample, a space and its name.
fn widths<DB: DrawingBackend>(area: &DrawingArea<DB, plotters::coord::Shift>, entries: &[Entry]) -> Vec<u32> {
    let font: TextStyle = (FONT, FONT_SIZE).into();
    entries.iter().map(|e| SAMPLE + 8 + area.estimate_text_size(&e.name, &font).map_or(0, |s| s.0)).collect()
}

/// The strip's height for these entries in `width` pixels (0 with no entries).
pub fn height<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[Entry],
    width: u32,
) -> u32 {
    match layout(&widths(area, entries), width.saturating_sub(2 * PAD)).last() {
        Some((rows, _)) => (rows + 1) * ROW + 8,
        None => 0,
    }
}

const PAD: u32 = 16;

/// Draws the entries into `area` (the strip).
pub fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, plotters::coord::Shift>, entries: &[Entry]) -> DrawResult<()> {
    let (w, _) = area.dim_in_pixel();
    let font = (FONT, FONT_SIZE).into_font().color(&BLACK);
    for (e, (row, x)) in entries.iter().zip(layout(&widths(area, entries), w.saturating_sub(2 * PAD))) {
        let (x, y) = ((PAD + x) as i32, (4 + row * ROW + ROW / 2) as i32);
        let s = e.swatch;
        let style = s.color.stroke_width(s.width.max(2));
        if s.dashed {
            for k in 0..3 {
                let x0 = x + k * 11;
                area.draw(&PathElement::new(vec![(x0, y), (x0 + 7, y)], style)).map_err(err)?;
            }
        } else {
            area.draw(&PathElement::new(vec![(x, y), (x + SAMPLE as i32, y)], style)).map_err(err)?;
        }
        if let Some(r) = s.dot {
            area.draw(&Circle::new((x + SAMPLE as i32 / 2, y), r, s.color.filled())).map_err(err)?;
        }
        area.draw(&Text::new(e.name.clone(), (x + SAMPLE as i32 + 8, y - 9), font.clone())).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_wrap_into_rows_when_the_strip_is_full() {
        assert_eq!(layout(&[100, 100, 100], 300), [(0, 0), (0, 122), (1, 0)]);
        assert_eq!(layout(&[500, 50], 400), [(0, 0), (1, 0)], "a too-wide entry sits alone");
        assert!(layout(&[], 400).is_empty());
    }
}
