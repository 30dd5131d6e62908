//! Axis ranges and ticks for line charts, as pure functions: which scale a panel's y
//! axis gets, where its ticks go and how they read. A diverged run (values up to
//! f64::MAX, infinities, NaN) must still give a sane axis: only finite values count,
//! and arithmetic on the ends is done on halves so that a span never overflows.

/// How values map onto an axis. `Log` axes hold log10 of the values: the range, the
/// ticks and the points drawn are all in decades.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    Linear,
    Log,
}

/// One axis: its scale and its (already transformed) range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    pub scale: Scale,
    pub lo: f64,
    pub hi: f64,
}

/// Whether a panel may take a log axis (loss-like values) or must stay linear
/// (accuracies, parameters: their zero and sign matter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YScale {
    #[default]
    Auto,
    Linear,
}

/// The smallest ratio hi/lo of positive values drawn on a log axis: two decades.
pub const LOG_RATIO: f64 = 100.0;

fn finite_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |r, v| match r {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// `lo..hi` widened by 5% of the span on each side (a flat series by half its size,
/// or by 1 around 0), without overflowing.
pub fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let half_span = hi / 2.0 - lo / 2.0;
    let half_span = if half_span > 0.0 { half_span } else { (lo.abs() / 2.0).max(0.5) };
    let pad = 0.1 * half_span;
    ((lo - pad).max(f64::MIN), (hi + pad).min(f64::MAX))
}

/// The axis for these values. `Auto` takes a log axis when every finite value is
/// positive and they span at least [`LOG_RATIO`]; a panel with no finite value gets 0..1.
pub fn choose(values: impl Iterator<Item = f64> + Clone, want: YScale) -> Axis {
    let Some((lo, hi)) = finite_range(values) else {
        return Axis { scale: Scale::Linear, lo: 0.0, hi: 1.0 };
    };
    if want == YScale::Auto && lo > 0.0 && hi / lo >= LOG_RATIO {
        let (a, b) = padded(lo.log10(), hi.log10());
        return Axis { scale: Scale::Log, lo: a, hi: b };
    }
    let (a, b) = padded(lo, hi);
    Axis { scale: Scale::Linear, lo: a, hi: b }
}

impl Axis {
    /// A value as drawn: log10 on a log axis; None where it cannot be drawn (not
    /// finite, or not positive on a log axis), which breaks the line there.
    pub fn place(&self, v: f64) -> Option<f64> {
        match self.scale {
            _ if !v.is_finite() => None,
            Scale::Linear => Some(v),
            Scale::Log if v > 0.0 => Some(v.log10()),
            Scale::Log => None,
        }
    }

    /// Where a placed value sits between the ends: 0 at `lo`, 1 at `hi` (halves, so
    /// that ±f64::MAX ends do not overflow).
    pub fn fraction(&self, placed: f64) -> f64 {
        (placed / 2.0 - self.lo / 2.0) / (self.hi / 2.0 - self.lo / 2.0)
    }

    /// Tick positions (placed values) and their labels.
    pub fn ticks(&self) -> Vec<(f64, String)> {
        match self.scale {
            Scale::Linear => linear_ticks(self.lo, self.hi),
            Scale::Log => decade_ticks(self.lo, self.hi),
        }
    }
}

/// A 1, 2 or 5 times a power of ten giving about `target` steps over the span.
fn nice_step(half_span: f64, target: f64) -> f64 {
    let raw = 2.0 * (half_span / target);
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw * 0.999).unwrap_or(10.0 * mag)
}

/// Round-numbered ticks inside lo..hi, labelled alike (same decimals, or the same
/// scientific form for huge and tiny values).
pub fn linear_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let step = nice_step(hi / 2.0 - lo / 2.0, 6.0);
    let first = (lo / step).ceil();
    let last = (hi / step).floor();
    if !(first.is_finite() && last.is_finite()) || last - first > 20.0 {
        return Vec::new();
    }
    let ticks: Vec<f64> = (0..=(last - first) as i64).map(|k| (first + k as f64) * step).collect();
    let biggest = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let scientific = biggest >= 1e6 || (biggest > 0.0 && biggest < 1e-3);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    ticks
        .into_iter()
        .map(|t| {
            let t = if t.abs() < step * 1e-9 { 0.0 } else { t };
            let label = if scientific { scientific_label(t, step) } else { format!("{t:.decimals$}") };
            (t, label)
        })
        .collect()
}

/// `2.5e152`, `-1e-7`, `0`: the mantissa with as many digits as the step needs.
fn scientific_label(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    let digits = (exp - step.log10().floor() as i32).clamp(0, 6) as usize;
    let mantissa = v / 10f64.powi(exp);
    let m = format!("{mantissa:.digits$}");
    let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.').to_string() } else { m };
    format!("{m}e{exp}")
}

/// Whole decades inside lo..hi (every 1, 2, 5, 10, … decades, at most 8 ticks),
/// labelled as powers of ten: `10⁻³`, `1`, `10`, `10⁵⁰`. Under three decades the 2s
/// and 5s between are ticks too, so an axis never has only one or two.
pub fn decade_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let span = hi - lo;
    if span < 3.0 {
        let mut ticks = Vec::new();
        for d in (lo.floor() as i64)..=(hi.ceil() as i64) {
            for m in [1.0f64, 2.0, 5.0] {
                let at = d as f64 + m.log10();
                if at >= lo && at <= hi {
                    ticks.push((at, times_power_of_ten(m, d)));
                }
            }
        }
        return ticks;
    }
    let stride = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0].into_iter().find(|s| span / s <= 8.0).unwrap_or(500.0);
    let first = (lo / stride).ceil() as i64;
    let last = (hi / stride).floor() as i64;
    let decades: Vec<i64> = (first..=last).map(|k| (k as f64 * stride).round() as i64).collect();
    // One form per axis: plain digits when every tick has them, else 10ᵏ throughout.
    let plain = decades.iter().all(|d| (-2..=3).contains(d));
    let label = |d: i64| if plain { power_of_ten(d) } else { superscript_power(d) };
    decades.into_iter().map(|d| (d as f64, label(d))).collect()
}

/// m·10^d (m = 1, 2 or 5): plain digits near 1 (`0.02`, `500`), `2·10⁵` otherwise.
fn times_power_of_ten(m: f64, d: i64) -> String {
    if m == 1.0 {
        return power_of_ten(d);
    }
    if (-3..=3).contains(&d) {
        let v = m * 10f64.powi(d as i32);
        let decimals = (-d).max(0) as usize;
        return format!("{v:.decimals$}");
    }
    format!("{m}·{}", power_of_ten(d))
}

/// 10^k written as people read it: 0.01, 0.1, 1, 10, 100 for small k, `10ᵏ` otherwise.
pub fn power_of_ten(k: i64) -> String {
    match k {
        -2 => "0.01".into(),
        -1 => "0.1".into(),
        0 => "1".into(),
        1 => "10".into(),
        2 => "100".into(),
        3 => "1000".into(),
        _ => superscript_power(k),
    }
}

/// `10ᵏ` with a superscript exponent: `10⁻³`, `10⁰`, `10⁵⁰`.
pub fn superscript_power(k: i64) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits: String = k.unsigned_abs().to_string().chars().map(|c| SUP[c as usize - '0' as usize]).collect();
    format!("10{}{digits}", if k < 0 { "⁻" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loss_falling_over_decades_gets_a_log_axis_and_accuracies_never_do() {
        let loss = [5000.0, 40.0, 3.0, 0.4];
        let a = choose(loss.iter().copied(), YScale::Auto);
        assert_eq!(a.scale, Scale::Log);
        assert!(a.lo < 0.4f64.log10() && a.hi > 5000f64.log10());
        let ticks: Vec<String> = a.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(ticks, ["1", "10", "100", "1000"]);
        assert_eq!(choose([0.01, 0.99].into_iter(), YScale::Linear).scale, Scale::Linear);
        assert_eq!(choose([0.5, 0.9].into_iter(), YScale::Auto).scale, Scale::Linear, "under 100×");
        assert_eq!(choose([0.0, 10.0, 1e6].into_iter(), YScale::Auto).scale, Scale::Linear, "a zero stays linear");
    }

    #[test]
    fn a_diverged_series_gets_finite_ends_and_readable_decade_ticks() {
        let sse = [1500.0, 2e30, 1e200, 1.7e307, f64::INFINITY, f64::NAN];
        let a = choose(sse.iter().copied(), YScale::Auto);
        assert_eq!(a.scale, Scale::Log);
        assert!(a.lo.is_finite() && a.hi.is_finite());
        let ticks = a.ticks();
        assert!(ticks.len() >= 3 && ticks.len() <= 8, "{ticks:?}");
        assert_eq!(ticks[0], (0.0, "10⁰".to_string()), "one form per axis");
        assert_eq!(ticks[1], (50.0, "10⁵⁰".to_string()));
        assert_eq!(ticks[2].1, "10¹⁰⁰");
        assert_eq!(a.place(f64::INFINITY), None);
        assert_eq!(a.place(-1.0), None);
    }

    #[test]
    fn huge_signed_values_give_a_linear_axis_with_alike_scientific_ticks() {
        let params = [3.0, -2.2e152, 5.1e151, -f64::MAX, f64::MAX];
        let a = choose(params.iter().copied(), YScale::Linear);
        assert!(a.lo.is_finite() && a.hi.is_finite() && a.hi > a.lo);
        let f = a.fraction(0.0);
        assert!((f - 0.5).abs() < 0.01, "0 sits in the middle of ±MAX: {f}");
        let ticks = linear_ticks(-2.4e152, 6e151);
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["-2e152", "-1.5e152", "-1e152", "-5e151", "0", "5e151"]);
    }

    #[test]
    fn linear_ticks_are_round_and_share_their_decimals() {
        let labels = |lo, hi| linear_ticks(lo, hi).into_iter().map(|t| t.1).collect::<Vec<_>>();
        assert_eq!(labels(0.93, 0.995), ["0.94", "0.96", "0.98"]);
        assert_eq!(labels(-0.2, 2.1), ["0.0", "0.5", "1.0", "1.5", "2.0"]);
        assert_eq!(labels(0.0, 20000.0), ["0", "5000", "10000", "15000", "20000"]);
        assert_eq!(power_of_ten(-7), "10⁻⁷");
        let labels_of = |lo: f64, hi: f64| decade_ticks(lo, hi).into_iter().map(|t| t.1).collect::<Vec<_>>();
        assert_eq!(labels_of(-4.2, 0.3), ["10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰"]);
        let labels =
            |lo: f64, hi: f64| decade_ticks(lo.log10(), hi.log10()).into_iter().map(|t| t.1).collect::<Vec<_>>();
        assert_eq!(labels(45.0, 7000.0), ["50", "100", "200", "500", "1000", "2000", "5000"]);
        assert_eq!(labels(0.015, 0.6), ["0.02", "0.05", "0.1", "0.2", "0.5"]);
        assert_eq!(labels(1.5e5, 6e6), ["2·10⁵", "5·10⁵", "10⁶", "2·10⁶", "5·10⁶"]);
    }
}
