//! The bitmap every picture is drawn on: plotters' `BitMapBackend`, with text drawn
//! here. plotters 0.3.7 places each glyph of its ab_glyph text at the pen position
//! without the glyph's left side bearing, and its baseline by a truncated offset, so a
//! glyph with a wide bearing lands too far left and small captions read "16. 5" or
//! "p=1 .00". Here each glyph is outlined at its exact (sub-pixel) pen position, as a
//! text renderer does, in the face the style asks for (`ours`); the text's box follows
//! plotters' rule, and its anchor and rotation are plotters' own. Everything else is
//! passed to the bitmap unchanged.

use super::FONT;
use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::prelude::{BitMapBackend, DrawingArea, IntoDrawingArea};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind, FontFamily, FontStyle,
};
use std::sync::OnceLock;

/// A drawing area over an RGB buffer of `size` pixels.
pub fn canvas(buf: &mut [u8], size: (u32, u32)) -> DrawingArea<Canvas<'_>, plotters::coord::Shift> {
    super::register_font();
    Canvas { bitmap: BitMapBackend::with_buffer(buf, size) }.into_drawing_area()
}

pub struct Canvas<'a> {
    bitmap: BitMapBackend<'a>,
}

/// DejaVu Sans, regular and bold: the faces `register_font` gives plotters for its
/// layout, parsed once for drawing.
fn face(style: FontStyle) -> &'static FontRef<'static> {
    static FACES: OnceLock<[FontRef<'static>; 2]> = OnceLock::new();
    let faces = FACES.get_or_init(|| {
        // The bytes are a known-good TTF compiled into the binary.
        let parse = |bytes| FontRef::try_from_slice(bytes).expect("the embedded DejaVu Sans parses");
        [parse(dejavu::sans::regular()), parse(dejavu::sans::bold())]
    });
    &faces[matches!(style, FontStyle::Bold) as usize]
}

type Result<E> = std::result::Result<(), DrawingErrorKind<E>>;

impl DrawingBackend for Canvas<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.bitmap.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<Self::ErrorType> {
        self.bitmap.ensure_prepared()
    }
    fn present(&mut self) -> Result<Self::ErrorType> {
        self.bitmap.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<Self::ErrorType> {
        self.bitmap.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<Self::ErrorType> {
        self.bitmap.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<Self::ErrorType> {
        self.bitmap.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<Self::ErrorType> {
        self.bitmap.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<Self::ErrorType> {
        self.bitmap.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<Self::ErrorType> {
        self.bitmap.fill_polygon(vert, style)
    }
    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Result<Self::ErrorType> {
        self.bitmap.blit_bitmap(pos, size, src)
    }

    /// plotters' own `draw_text` (box, anchor, rotation, clipping), with the glyphs
    /// placed by `glyph_pixels`.
    fn draw_text<S: BackendTextStyle>(&mut self, text: &str, style: &S, pos: BackendCoord) -> Result<Self::ErrorType> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let Some(font) = ours(style) else {
            return self.bitmap.draw_text(text, style, pos);
        };
        let (width, height) = text_box(text, font, style.size() as f32);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let (w, h) = self.get_size();
        let mut result = Ok(());
        glyph_pixels(text, font, style.size() as f32, |x, y, coverage| {
            let (x, y) = transform.transform(x + dx, y + dy);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if result.is_ok() && coverage > 0.0 && x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                let mixed = BackendColor { alpha: color.alpha * coverage as f64, rgb: color.rgb };
                result = self.bitmap.draw_pixel((x, y), mixed);
            }
        });
        result
    }

    /// The box `draw_text` fills, for plotters' layout of labels and legends.
    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        match ours(style) {
            Some(font) => {
                let (width, height) = text_box(text, font, style.size() as f32);
                Ok((width as u32, height as u32))
            }
            None => self.bitmap.estimate_text_size(text, style),
        }
    }
}

/// The face `style` asks for where it is the embedded DejaVu Sans (`FONT`). plotters
/// itself would lay out and draw `FontDesc::style(Bold)` text in the regular face (the
/// method keeps the face it was made with), so the pictures' bold titles were regular.
fn ours<S: BackendTextStyle>(style: &S) -> Option<&'static FontRef<'static>> {
    matches!(style.family(), FontFamily::Name(FONT) | FontFamily::SansSerif).then(|| face(style.style()))
}

/// The width and height of `text`'s box at `size` pixels, by plotters' rule (the pen's
/// advance with kerning; size / 1.24 high), in the face that draws it.
fn text_box(text: &str, font: &FontRef<'_>, size: f32) -> (i32, i32) {
    let font = font.as_scaled(PxScale::from(size));
    let mut width = 0.0f32;
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        width += font.h_advance(id) + previous.map_or(0.0, |before| font.kern(before, id));
        previous = Some(id);
    }
    (width as i32, (size / 1.24) as i32)
}

/// Calls `pixel(x, y, coverage)` for each pixel of `text` set in `font` at `size`
/// pixels, the baseline at y = size / 2 and the pen starting at x = 0 (plotters'
/// convention, which its layout box assumes): each glyph outlined at its exact pen
/// position, kerning included.
fn glyph_pixels(text: &str, font: &FontRef<'_>, size: f32, mut pixel: impl FnMut(i32, i32, f32)) {
    let font = font.as_scaled(PxScale::from(size));
    let mut pen = 0.0f32;
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(before) = previous {
            pen += font.kern(before, id);
        }
        previous = Some(id);
        let glyph = id.with_scale_and_position(font.scale(), ab_glyph::point(pen, size / 2.0));
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            let (left, top) = (bounds.min.x as i32, bounds.min.y as i32);
            outline.draw(|x, y, coverage| pixel(left + x as i32, top + y as i32, coverage));
        }
        pen += font.h_advance(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The columns a glyph's ink covers, at `size` pixels.
    fn ink_columns(text: &str, size: f32) -> Vec<i32> {
        let mut columns = std::collections::BTreeSet::new();
        glyph_pixels(text, face(FontStyle::Normal), size, |x, _, c| {
            if c > 0.3 {
                columns.insert(x);
            }
        });
        columns.into_iter().collect()
    }

    /// A decimal point sits between its digits with the font's spacing: in "16.5" at 11
    /// px the gap left of the dot and the gap right of it differ by at most a pixel.
    #[test]
    fn a_decimal_point_is_spaced_as_the_font_says() {
        let size = 11.0;
        let one_six = ink_columns("16", size);
        let one_six_dot = ink_columns("16.", size);
        let all = ink_columns("16.5", size);
        let dot: Vec<i32> = one_six_dot.iter().filter(|x| !one_six.contains(x)).copied().collect();
        let five: Vec<i32> = all.iter().filter(|x| !one_six_dot.contains(x)).copied().collect();
        assert!(!dot.is_empty() && !five.is_empty(), "dot {dot:?}, five {five:?}");
        let gap_before = dot[0] - one_six.last().unwrap() - 1;
        let gap_after = five[0] - dot.last().unwrap() - 1;
        assert!((gap_before - gap_after).abs() <= 1, "gaps {gap_before} and {gap_after}: {all:?}");
    }

    /// The ink of a line of digits sits on one baseline: the digits' lowest inked rows
    /// are within a pixel of each other (round ones overshoot it a little).
    #[test]
    fn digits_share_a_baseline() {
        let mut lowest = std::collections::BTreeMap::new();
        for (i, digit) in "0123456789".chars().enumerate() {
            glyph_pixels(&digit.to_string(), face(FontStyle::Normal), 11.0, |_, y, c| {
                if c > 0.1 {
                    let low = lowest.entry(i).or_insert(y);
                    *low = (*low).max(y);
                }
            });
        }
        let (low, high) = (lowest.values().min().unwrap(), lowest.values().max().unwrap());
        assert!(high - low <= 1, "lowest rows per digit: {lowest:?}");
    }
}
