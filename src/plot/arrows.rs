//! A scatter with an arrow from each of some points: input gradients and attributions
//! of 2-D data, drawn where the samples lie.

use super::{bounds, color, draw_legend, encode_png, err, register_font, DrawResult, Marker, PointGroup, FONT};
use plotters::prelude::*;

/// An arrow from `from` to `to`, in data coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrow {
    pub from: (f64, f64),
    pub to: (f64, f64),
}

/// Point groups as [`super::scatter_figure`] draws them, with dark arrows on top; the
/// arrow heads are an eighth of the arrow's length. The axes cover points and tips.
pub fn arrow_figure(
    title: &str,
    x_label: &str,
    y_label: &str,
    groups: &[PointGroup],
    arrows: &[Arrow],
) -> DrawResult<Vec<u8>> {
    register_font();
    let (w, h) = (720u32, 640u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let tips: Vec<(f64, f64)> = arrows.iter().map(|a| a.to).collect();
        let (xr, yr) = bounds(groups.iter().flat_map(|g| g.points.iter()).chain(tips.iter()));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18).into_font().style(FontStyle::Bold))
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
        for g in groups {
            let c = color(g.color);
            let size = g.size as i32;
            match g.marker {
                Marker::Circle => {
                    chart
                        .draw_series(g.points.iter().map(|p| Circle::new(*p, size, c.filled())))
                        .map_err(err)?
                        .label(&g.name)
                        .legend(move |(x, y)| Circle::new((x + 8, y), 5, c.filled()));
                }
                Marker::Cross => {
                    chart
                        .draw_series(g.points.iter().map(|p| Cross::new(*p, size, c.stroke_width(2))))
                        .map_err(err)?
                        .label(&g.name)
                        .legend(move |(x, y)| Cross::new((x + 8, y), 5, c.stroke_width(2)));
                }
            }
        }
        let ink = RGBColor(40, 40, 40);
        let heads = arrows.iter().flat_map(|a| {
            let (dx, dy) = (a.to.0 - a.from.0, a.to.1 - a.from.1);
            // Two barbs at ±30° back from the tip.
            let barb = |angle: f64| {
                let (s, c) = angle.sin_cos();
                (a.to.0 - (dx * c - dy * s) / 8.0, a.to.1 - (dx * s + dy * c) / 8.0)
            };
            let turn = std::f64::consts::FRAC_PI_6;
            [vec![a.from, a.to], vec![barb(turn), a.to, barb(-turn)]]
        });
        chart.draw_series(heads.map(|p| PathElement::new(p, ink.stroke_width(1)))).map_err(err)?;
        if !groups.is_empty() {
            draw_legend(&mut chart)?;
        }
        root.present().map_err(err)?;
    }
    encode_png(&buf, w, h)
}
