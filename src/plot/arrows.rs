//! A scatter with an arrow from each of some points: input gradients and attributions
//! of 2-D data, drawn where the samples lie.

use super::{DrawResult, PointGroup};

/// An arrow from `from` to `to`, in data coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrow {
    pub from: (f64, f64),
    pub to: (f64, f64),
}

/// Point groups as [`super::scatter_figure`] draws them (legend outside the plot),
/// with dark arrows on top; the axes cover points and tips.
pub fn arrow_figure(
    title: &str,
    x_label: &str,
    y_label: &str,
    groups: &[PointGroup],
    arrows: &[Arrow],
) -> DrawResult<Vec<u8>> {
    super::scatter::draw_scatter(title, x_label, y_label, groups, None, arrows).map(|(png, _)| png)
}

/// Each arrow as two paths: its shaft, and a head of two barbs at ±30° back from the
/// tip, an eighth of the arrow's length.
pub(crate) fn arrow_paths(arrows: &[Arrow]) -> impl Iterator<Item = Vec<(f64, f64)>> + '_ {
    arrows.iter().flat_map(|a| {
        let (dx, dy) = (a.to.0 - a.from.0, a.to.1 - a.from.1);
        let barb = |angle: f64| {
            let (s, c) = angle.sin_cos();
            (a.to.0 - (dx * c - dy * s) / 8.0, a.to.1 - (dx * s + dy * c) / 8.0)
        };
        let turn = std::f64::consts::FRAC_PI_6;
        [vec![a.from, a.to], vec![barb(turn), a.to, barb(-turn)]]
    })
}
