//! Cutting lines to a panel's plotting box: plotters draws wherever it is told, so a
//! value beyond the axis would otherwise be drawn over the axes and the titles.

/// An axis-aligned box: x from `x.0` to `x.1`, y from `y.0` to `y.1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl Rect {
    pub fn contains(&self, p: (f64, f64)) -> bool {
        p.0 >= self.x.0 && p.0 <= self.x.1 && p.1 >= self.y.0 && p.1 <= self.y.1
    }
}

/// The edge that cut a segment's end: (0 for x or 1 for y, the edge's value).
type Cut = Option<(usize, f64)>;

/// Liang–Barsky: the part of the segment p→q inside `r`, if any.
pub fn clip_segment(p: (f64, f64), q: (f64, f64), r: Rect) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    if !(dx.is_finite() && dy.is_finite()) {
        return None;
    }
    // Each end remembers the edge that cut it, and takes that edge's coordinate
    // exactly: p + t·(q − p) alone loses it when the segment is huge next to the box.
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    let (mut at0, mut at1): (Cut, Cut) = (None, None);
    let edges = [
        (-dx, p.0 - r.x.0, 0, r.x.0),
        (dx, r.x.1 - p.0, 0, r.x.1),
        (-dy, p.1 - r.y.0, 1, r.y.0),
        (dy, r.y.1 - p.1, 1, r.y.1),
    ];
    for (den, num, axis, edge) in edges {
        if den == 0.0 {
            if num < 0.0 {
                return None;
            }
        } else if den < 0.0 {
            if num / den > t0 {
                (t0, at0) = (num / den, Some((axis, edge)));
            }
        } else if num / den < t1 {
            (t1, at1) = (num / den, Some((axis, edge)));
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64, cut: Cut| {
        let mut point = match cut {
            None if t == 0.0 => return p,
            None => return q,
            Some(_) => (p.0 + t * dx, p.1 + t * dy),
        };
        if let Some((axis, edge)) = cut {
            if axis == 0 {
                point.0 = edge;
            } else {
                point.1 = edge;
            }
        }
        (point.0.clamp(r.x.0, r.x.1), point.1.clamp(r.y.0, r.y.1))
    };
    Some((at(t0, at0), at(t1, at1)))
}

/// The pieces of a polyline inside `r`, each a run of connected points. A missing
/// point (a value that cannot be drawn: NaN, infinite, ≤ 0 on a log axis) ends a run,
/// and so does leaving the box; a lone point inside the box is a run of one.
pub fn clipped_runs(points: &[Option<(f64, f64)>], r: Rect) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let mut flush = |current: &mut Vec<(f64, f64)>| {
        if !current.is_empty() {
            runs.push(std::mem::take(current));
        }
    };
    for (i, p) in points.iter().enumerate() {
        let Some(p) = *p else {
            flush(&mut current);
            continue;
        };
        let prev = if i > 0 { points[i - 1] } else { None };
        match prev.and_then(|q| clip_segment(q, p, r)) {
            Some((a, b)) => {
                if current.last() != Some(&a) {
                    flush(&mut current);
                    current.push(a);
                }
                if b != a {
                    current.push(b);
                }
                if b != p {
                    flush(&mut current);
                }
            }
            None => {
                flush(&mut current);
                if r.contains(p) {
                    current.push(p);
                }
            }
        }
    }
    flush(&mut current);
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOX: Rect = Rect { x: (0.0, 10.0), y: (0.0, 1.0) };

    #[test]
    fn a_segment_leaving_the_box_stops_at_its_edge() {
        assert_eq!(clip_segment((0.0, 0.5), (2.0, 1.5), BOX), Some(((0.0, 0.5), (1.0, 1.0))));
        assert_eq!(clip_segment((1.0, 2.0), (3.0, 5.0), BOX), None, "wholly above");
        assert_eq!(clip_segment((5.0, -1e300), (6.0, 1e300), BOX), Some(((5.5, 0.0), (5.5, 1.0))), "exact edges");
        assert_eq!(clip_segment((1.0, 0.2), (2.0, 0.3), BOX), Some(((1.0, 0.2), (2.0, 0.3))), "inside: untouched");
    }

    #[test]
    fn gaps_and_excursions_split_a_line_into_runs_inside_the_box() {
        let pts = [Some((0.0, 0.5)), Some((1.0, 0.5)), Some((2.0, 3.0)), Some((3.0, 0.5)), None, Some((4.0, 0.5))];
        let runs = clipped_runs(&pts, BOX);
        assert_eq!(runs.len(), 3);
        let near = |run: &[(f64, f64)], want: &[(f64, f64)]| {
            run.len() == want.len() && run.iter().zip(want).all(|(a, b)| (a.0 - b.0).abs() + (a.1 - b.1).abs() < 1e-12)
        };
        assert!(near(&runs[0], &[(0.0, 0.5), (1.0, 0.5), (1.2, 1.0)]), "{:?}", runs[0]);
        assert!(near(&runs[1], &[(2.8, 1.0), (3.0, 0.5)]), "{:?}", runs[1]);
        assert_eq!(runs[2], [(4.0, 0.5)], "a lone point after a gap is kept");
        for run in &runs {
            assert!(run.iter().all(|p| BOX.contains(*p)));
        }
    }
}
