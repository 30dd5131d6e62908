//! A scatter of labelled point groups (the data set, a decision boundary, truth vs
//! prediction), its legend in a column of its own right of the plot so it covers no point.

use super::arrows::{arrow_paths, Arrow};
use super::{bounds, color, encode_png, err, light, register_font, Background, DrawResult, Marker, PointGroup, FONT};
use plotters::prelude::*;

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
    draw_scatter(title, x_label, y_label, groups, background, &[]).map(|(png, _)| png)
}

/// The scatter, with dark `arrows` on top (the axes then cover their tips too).
pub(crate) fn draw_scatter(
    title: &str,
    x_label: &str,
    y_label: &str,
    groups: &[PointGroup],
    background: Option<&Background>,
    arrows: &[Arrow],
) -> DrawResult<(Vec<u8>, ScatterLayout)> {
    register_font();
    let plot_w = 720u32;
    let (w, h) = (plot_w + SCATTER_LEGEND_W, 640u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    let layout;
    {
        let root = super::canvas(&mut buf, (w, h));
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_horizontally(plot_w);
        let (xr, yr) = match background {
            Some(b) => (b.x, b.y),
            None => {
                let tips: Vec<(f64, f64)> = arrows.iter().map(|a| a.to).collect();
                bounds(groups.iter().flat_map(|g| g.points.iter()).chain(tips.iter()))
            }
        };
        // A long title (an attribution's) in a smaller size, so it fits the plot's width.
        let title_size = if title.chars().count() > 50 { 18 } else { 24 };
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(title, (FONT, title_size).into_font().style(FontStyle::Bold))
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
        if !arrows.is_empty() {
            let ink = RGBColor(40, 40, 40);
            chart.draw_series(arrow_paths(arrows).map(|p| PathElement::new(p, ink.stroke_width(1)))).map_err(err)?;
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
    area: &DrawingArea<super::Canvas<'_>, plotters::coord::Shift>,
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
        let (png, l) = draw_scatter("xor", "x1", "x2", &groups, None, &[]).unwrap();
        let ((pl, pt), (pr, pb)) = l.plot;
        let ((ll, lt), (lr, lb)) = l.legend;
        assert!(pl < pr && pt < pb && ll < lr && lt < lb, "{l:?}");
        assert!(ll > pr, "the legend starts right of the plot: {l:?}");
        assert!(lr < 720 + SCATTER_LEGEND_W as i32, "and ends inside the picture: {l:?}");
        assert_eq!(lb - lt, 10 + 24 * 2, "one line per group");
        assert_eq!(png, scatter_figure("xor", "x1", "x2", &groups, None).unwrap());
    }
}
