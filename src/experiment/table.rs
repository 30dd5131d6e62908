//! Aligned text tables for a run's printed summary, and the number format they use.

/// A titled table of text cells; the first `labels` columns are left-aligned (names),
/// the rest right-aligned (numbers), so decimal columns line up.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub labels: usize,
    pub rows: Vec<Vec<String>>,
    /// A line printed under the table (what was left out, where the rest is).
    pub note: Option<String>,
}

impl Table {
    /// The table as text: the title, then the header and rows indented two spaces.
    pub fn render(&self) -> String {
        let cols = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let parts: Vec<String> = (0..cols)
                .map(|j| {
                    let cell = cells.get(j).map(String::as_str).unwrap_or("");
                    let w = widths[j];
                    if j < self.labels {
                        format!("{cell:<w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect();
            format!("  {}\n", parts.join("  ").trim_end())
        };
        let mut out = format!("{}\n", self.title);
        out += &line(&self.header);
        for row in &self.rows {
            out += &line(row);
        }
        if let Some(note) = &self.note {
            out += &format!("  ({note})\n");
        }
        out
    }
}

/// Significant digits of a printed number: enough to read the course's values
/// (0.727806 for 0.72780576), few enough for a table.
pub const DIGITS: usize = 6;

/// `v` to [`DIGITS`] significant digits without trailing zeros: `0.5`, `1.50843`,
/// `0.00291506`, `-19`; scientific beyond 1e-4..1e6 (`4.53979e-5`); `nan`, `inf`, `-inf`.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return "0".into();
    }
    // The exponent after rounding to DIGITS digits (9.999999 rounds up to 10).
    let sci = format!("{:.*e}", DIGITS - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let decimals = (DIGITS as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    } else {
        format!("{}e{exp}", trim_zeros(mantissa))
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// θ₀, θ₁, …, θ₁₂: the course's name for the i-th coefficient.
pub fn theta(i: usize) -> String {
    const SUB: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    let digits: String = i.to_string().chars().map(|c| SUB[c.to_digit(10).unwrap_or(0) as usize]).collect();
    format!("θ{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_six_significant_digits() {
        let cases = [
            (0.72780576, "0.727806"),
            (0.00291506, "0.00291506"),
            (0.5, "0.5"),
            (1.0, "1"),
            (-19.0, "-19"),
            (1.508431234, "1.50843"),
            (123456.7, "123457"),
            (9.9999999, "10"),
            (4.5397868702434395e-5, "4.53979e-5"),
            (2.5e7, "2.5e7"),
            (0.0, "0"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (v, want) in cases {
            assert_eq!(number(v), want, "{v}");
        }
    }

    #[test]
    fn theta_names_use_subscripts() {
        assert_eq!([theta(0), theta(2), theta(12)], ["θ₀", "θ₂", "θ₁₂"]);
    }

    #[test]
    fn columns_align_names_left_and_numbers_right() {
        let t = Table {
            title: "params".into(),
            header: vec!["name".into(), "value".into()],
            labels: 1,
            rows: vec![vec!["θ₀".into(), "1.5".into()], vec!["theta.w".into(), "-19".into()]],
            note: Some("more".into()),
        };
        assert_eq!(t.render(), "params\n  name     value\n  θ₀         1.5\n  theta.w    -19\n  (more)\n");
    }
}
