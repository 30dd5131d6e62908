//! Pictures shared by the occlusion and adversarial probes: heat-map grids stacked one
//! above another (each grid has one colour scale, and these pictures need two: grey
//! images and a diverging change), and an accuracy curve on a fixed [0, 1] axis.

use crate::plot::{MapGrid, MapTile, Scale, FONT};
use plotters::prelude::*;

/// One grid of a stacked picture.
pub struct Part<'a> {
    pub title: String,
    pub tiles: Vec<MapTile>,
    pub scale: Scale,
    pub units: &'a str,
}

/// The grids drawn with `map_grid` (shared colour scale within each) and stacked top to
/// bottom into one PNG, left-aligned on white. Titles are drawn here, on a canvas wide
/// enough for them (a grid of one or two tiles is narrower than its title).
pub fn stacked(parts: &[Part], columns: usize) -> Result<Vec<u8>, String> {
    let mut images = Vec::with_capacity(parts.len());
    for p in parts {
        let png = crate::plot::map_grid(&MapGrid {
            title: "",
            tiles: &p.tiles,
            columns,
            scale: p.scale,
            units: p.units,
            shared: true,
            row_labels: &[],
        })?;
        images.push(decode(&png)?);
    }
    // About 12 pixels a character of the 20-pixel bold title font.
    let title_w = parts.iter().map(|p| 12 * p.title.chars().count() as u32 + 28).max().unwrap_or(0);
    let w = images.iter().map(|i| i.1).max().unwrap_or(1).max(title_w);
    let h: u32 = images.iter().map(|i| i.2).sum();
    if u64::from(w) * u64::from(h) > 8192 * 8192 {
        return Err(format!("the picture would be {w} × {h} pixels, more than 8192 × 8192"));
    }
    let mut out = vec![255u8; (w as usize) * (h as usize) * 3];
    let mut y0 = 0usize;
    let mut tops = Vec::with_capacity(images.len());
    for (rgb, iw, ih) in &images {
        let row = *iw as usize * 3;
        for y in 0..*ih as usize {
            let at = (y0 + y) * w as usize * 3;
            out[at..at + row].copy_from_slice(&rgb[y * row..(y + 1) * row]);
        }
        tops.push(y0 as i32);
        y0 += *ih as usize;
    }
    {
        crate::plot::register_font();
        let root = crate::plot::canvas(&mut out, (w, h));
        let font = (FONT, 20).into_font().style(FontStyle::Bold);
        for (p, top) in parts.iter().zip(tops) {
            root.draw(&Text::new(p.title.clone(), (14, top + 14), font.clone()))
                .map_err(|e| format!("drawing failed: {e}"))?;
        }
        root.present().map_err(|e| format!("drawing failed: {e}"))?;
    }
    crate::plot::encode_png(&out, w, h)
}

/// RGB bytes, width and height of a PNG that `map_grid` wrote (8-bit RGB).
fn decode(png_bytes: &[u8]) -> Result<(Vec<u8>, u32, u32), String> {
    let fail = |e: png::DecodingError| format!("stacking pictures: {e}");
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().map_err(fail)?;
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(fail)?;
    if info.color_type != png::ColorType::Rgb || info.bit_depth != png::BitDepth::Eight {
        return Err("stacking pictures: a part is not 8-bit RGB".into());
    }
    buf.truncate(info.buffer_size());
    Ok((buf, info.width, info.height))
}

/// Accuracy (y, fixed to [0, 1]) against epsilon, one line with markers per series.
pub fn accuracy_curve(title: &str, x_label: &str, series: &[(String, Vec<(f64, f64)>)]) -> Result<Vec<u8>, String> {
    crate::plot::register_font();
    let err = |e: &dyn std::fmt::Display| format!("drawing failed: {e}");
    let (w, h) = (720u32, 520u32);
    let xs = series.iter().flat_map(|s| s.1.iter().map(|p| p.0)).filter(|v| v.is_finite());
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, u), v| (l.min(v), u.max(v)));
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else if lo.is_finite() {
        (lo - 0.5, lo + 0.5)
    } else {
        (0.0, 1.0)
    };
    let pad = 0.04 * (hi - lo);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = crate::plot::canvas(&mut buf, (w, h));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20).into_font().style(FontStyle::Bold))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d((lo - pad)..(hi + pad), 0.0..1.0)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc("accuracy")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| err(&e))?;
        for (i, (name, points)) in series.iter().enumerate() {
            let c = crate::plot::color(i);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
            chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, c.filled()))).map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    crate::plot::encode_png(&buf, w, h)
}
