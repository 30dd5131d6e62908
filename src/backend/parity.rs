//! Comparing one backend's values with another's (or with an exact reference), with a
//! report of how close they came: `|got − want| ≤ atol + rtol·|want|` element by
//! element, printing the worst absolute and relative errors and where they are. Used
//! by the CPU paths' parity tests, the finite-difference checks and the CUDA tests.

use crate::backend::Element;

/// How far `got` was from `want`: the worst absolute and relative errors and their
/// indices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Closeness {
    pub worst_abs: f64,
    pub worst_abs_at: usize,
    pub worst_rel: f64,
    pub worst_rel_at: usize,
}

/// Compares without asserting: Err names the first element beyond
/// `atol + rtol·|want|` (a NaN anywhere but in the same place in both is beyond).
pub fn compare(got: &[f64], want: &[f64], atol: f64, rtol: f64) -> Result<Closeness, String> {
    if got.len() != want.len() {
        return Err(format!("lengths differ: {} and {}", got.len(), want.len()));
    }
    let mut c = Closeness { worst_abs: 0.0, worst_abs_at: 0, worst_rel: 0.0, worst_rel_at: 0 };
    let mut first_bad = None;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let both_nan = g.is_nan() && w.is_nan();
        let diff = if both_nan || g == w { 0.0 } else { (g - w).abs() };
        let rel = if diff == 0.0 { 0.0 } else { diff / w.abs() };
        let beyond = diff.is_nan() || diff > atol + rtol * w.abs();
        if beyond && first_bad.is_none() {
            first_bad = Some(i);
        }
        if diff > c.worst_abs || (diff.is_nan() && !c.worst_abs.is_nan()) {
            c.worst_abs = diff;
            c.worst_abs_at = i;
        }
        if rel > c.worst_rel || (rel.is_nan() && !c.worst_rel.is_nan()) {
            c.worst_rel = rel;
            c.worst_rel_at = i;
        }
    }
    match first_bad {
        None => Ok(c),
        Some(i) => Err(format!(
            "element {i}: {} vs {}, beyond {atol:e} + {rtol:e}·|want|; worst absolute error {:.3e} at {}, \
             worst relative {:.3e} at {}",
            got[i], want[i], c.worst_abs, c.worst_abs_at, c.worst_rel, c.worst_rel_at
        )),
    }
}

/// Asserts `|got − want| ≤ atol + rtol·|want|` element by element and prints (to
/// stderr) the worst absolute and relative errors with their indices.
pub fn assert_close<T: Element>(what: &str, got: &[T], want: &[T], atol: f64, rtol: f64) -> Closeness {
    let g: Vec<f64> = got.iter().map(|v| v.as_f64()).collect();
    let w: Vec<f64> = want.iter().map(|v| v.as_f64()).collect();
    match compare(&g, &w, atol, rtol) {
        Ok(c) => {
            eprintln!(
                "{what}: {} values within {atol:e} + {rtol:e}·|want|; worst absolute error {:.3e} at {}, worst relative {:.3e} at {}",
                g.len(),
                c.worst_abs,
                c.worst_abs_at,
                c.worst_rel,
                c.worst_rel_at
            );
            c
        }
        Err(m) => panic!("{what}: {m}"),
    }
}

/// Asserts |got − want| ≤ bound element by element (a bound per element, e.g. from a
/// rounding-error analysis); returns the worst |got − want| and the worst ratio to its
/// bound, for the report.
pub fn assert_within<T: Element>(what: &str, got: &[T], want: &[T], bounds: &[f64]) -> (f64, f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    assert_eq!(got.len(), bounds.len(), "{what}: lengths");
    let (mut worst, mut ratio, mut at) = (0.0f64, 0.0f64, 0);
    for (i, ((g, w), b)) in got.iter().zip(want).zip(bounds).enumerate() {
        let diff = (g.as_f64() - w.as_f64()).abs();
        assert!(diff <= *b, "{what}: element {i}: {g} vs {w}, difference {diff:e} exceeds the bound {b:e}");
        if diff > worst {
            worst = diff;
            at = i;
        }
        if *b > 0.0 {
            ratio = ratio.max(diff / b);
        }
    }
    eprintln!("{what}: worst difference {worst:.3e} at {at}, {:.1}% of its bound", 100.0 * ratio);
    (worst, ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_errors_and_their_places_are_reported() {
        let c = compare(&[1.0, 2.0, 3.5, 100.5], &[1.0, 2.1, 3.0, 100.0], 1.0, 0.0).unwrap();
        assert_eq!((c.worst_abs, c.worst_abs_at), (0.5, 2));
        assert!((c.worst_rel - 0.5 / 3.0).abs() < 1e-12 && c.worst_rel_at == 2);
        let c = compare(&[10.0, 1.1], &[10.5, 1.0], 1.0, 0.0).unwrap();
        assert_eq!(c.worst_abs_at, 0);
        assert_eq!(c.worst_rel_at, 1);
    }

    #[test]
    fn beyond_the_tolerance_names_the_element() {
        let e = compare(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.1], 0.05, 0.01).unwrap_err();
        assert!(e.starts_with("element 2: 3 vs 3.1"), "{e}");
        // rtol scales with |want|: 0.05 + 0.01·100 admits 1.0.
        assert!(compare(&[101.0], &[100.0], 0.05, 0.01).is_ok());
        assert!(compare(&[f64::NAN], &[1.0], 1.0, 1.0).is_err());
        assert!(compare(&[f64::NAN], &[f64::NAN], 0.0, 0.0).is_ok());
        assert!(compare(&[1.0], &[1.0, 2.0], 1.0, 1.0).is_err());
    }

    #[test]
    #[should_panic(expected = "f32 values: element 1")]
    fn assert_close_panics_with_what_and_where() {
        assert_close::<f32>("f32 values", &[1.0, 5.0], &[1.0, 4.0], 1e-3, 1e-3);
    }

    #[test]
    fn assert_within_returns_the_worst_and_its_share_of_the_bound() {
        let (worst, ratio) = assert_within::<f32>("x", &[1.0, 2.5], &[1.0, 2.0], &[0.0, 1.0]);
        assert_eq!((worst, ratio), (0.5, 0.5));
    }
}
