//! Deserializers that check `[data]` values as they are parsed. An error raised while
//! a value is deserialized carries that value's span, so `runner` reports the key (or,
//! for inline rows, the row) at its line and column instead of failing later with no
//! place, or training on NaN.

use serde::de::{DeserializeSeed, Error, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// A value as the messages show it (1e308 as 1e308, not as 309 digits).
fn describe(v: f64) -> String {
    crate::spec::validate::show(v)
}

fn finite<E: Error>(key: &str, v: f64) -> Result<f64, E> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(E::custom(format!("`{key}` must be a finite number, found {}", describe(v))))
    }
}

fn in_range<E: Error>(key: &str, v: f64, ok: bool, rule: &str) -> Result<f64, E> {
    finite(key, v)?;
    if ok {
        Ok(v)
    } else {
        Err(E::custom(format!("`{key}` must be {rule}, found {}", describe(v))))
    }
}

fn fraction<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    in_range(key, v, (0.0..1.0).contains(&v), "in [0, 1)")
}

pub fn test_fraction<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    fraction(d, "test_fraction")
}

pub fn validation_fraction<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    fraction(d, "validation_fraction")
}

fn count<'de, D: Deserializer<'de>>(d: D, key: &str, least: usize) -> Result<Option<usize>, D::Error> {
    let v = usize::deserialize(d)?;
    if v < least {
        return Err(D::Error::custom(format!("`{key}` must be at least {least}, found {v}")));
    }
    Ok(Some(v))
}

pub fn sample_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    count(d, "n", 1)
}

pub fn test_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    count(d, "test_n", 1)
}

/// One class is no classification: cross-entropy and accuracy are constant with it.
pub fn classes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    count(d, "classes", 2)
}

pub fn noise<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    in_range("noise", v, v >= 0.0, "at least 0 (a standard deviation)")?;
    in_range("noise", v, v <= 1e6, "at most 1e6").map(Some)
}

pub fn intercept<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    finite("intercept", f64::deserialize(d)?).map(Some)
}

pub fn radius<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = f64::deserialize(d)?;
    in_range("radius", v, v > 0.0, "positive")?;
    // A subnormal radius is 0 in f32: no point is inside it.
    let rule = "at least about 1.2e-38 (a smaller one is subnormal in f32 and computes as 0)";
    in_range("radius", v, v >= crate::spec::validate::MIN_POSITIVE, rule)?;
    in_range("radius", v, v <= 1e6, "at most 1e6").map(Some)
}

pub fn coefficients<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
    d.deserialize_seq(FiniteList { key: "coefficients" }).map(Some)
}

/// A non-empty list of finite numbers. Each element is read through [`FiniteElement`],
/// so a bad one is reported at its own column, not at the start of a long line.
struct FiniteList {
    key: &'static str,
}

impl<'de> Visitor<'de> for FiniteList {
    type Value = Vec<f64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "`{}` as an array of numbers", self.key)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::new();
        while let Some(v) = seq.next_element_seed(FiniteElement { key: self.key, index: values.len() })? {
            values.push(v);
        }
        if values.is_empty() {
            return Err(A::Error::custom(format!("`{}` is empty; give one per input feature", self.key)));
        }
        Ok(values)
    }
}

struct FiniteElement {
    key: &'static str,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for FiniteElement {
    type Value = f64;

    // The check runs inside the element's own deserializer call (a visitor, not a test
    // after `f64::deserialize` returns), so toml attaches the element's span to the error.
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<f64, D::Error> {
        d.deserialize_f64(self)
    }
}

impl Visitor<'_> for FiniteElement {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "`{}[{}]` as a number", self.key, self.index)
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<f64, E> {
        finite(&format!("{}[{}]", self.key, self.index), v)
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
}

pub fn range<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[f64; 2]>, D::Error> {
    // Read as a list: serde's fixed-size arrays ignore extra elements, so [1, 2, 3] would
    // pass as [1, 2].
    let values = Vec::<f64>::deserialize(d)?;
    let [lo, hi] = <[f64; 2]>::try_from(values.as_slice()).map_err(|_| {
        D::Error::custom(format!(
            "`range` must be [low, high], two numbers; found {} {}",
            values.len(),
            if values.len() == 1 { "number" } else { "numbers" }
        ))
    })?;
    finite("range", lo)?;
    finite("range", hi)?;
    if lo >= hi {
        return Err(D::Error::custom(format!("`range` must be [low, high] with low < high, found [{lo}, {hi}]")));
    }
    Ok(Some([lo, hi]))
}

pub fn shift<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    // A shift beyond any image's size moves it out of the picture.
    in_range("shift", v, (0.0..=1000.0).contains(&v), "in [0, 1000] (pixels)")
}

pub fn rotate<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    in_range("rotate", v, (0.0..=180.0).contains(&v), "in [0, 180] (degrees)")
}

/// A zoom of 1 − scale must stay positive.
pub fn scale<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    in_range("scale", v, (0.0..1.0).contains(&v), "in [0, 1)")
}

pub fn inputs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Vec<f64>>>, D::Error> {
    d.deserialize_seq(Matrix { key: "inputs" }).map(Some)
}

pub fn targets<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Vec<f64>>>, D::Error> {
    d.deserialize_seq(Matrix { key: "targets" }).map(Some)
}

/// Rows of equal length. Each row is read through [`Row`], so an error in a row is
/// raised while that row is being parsed and carries its span.
struct Matrix {
    key: &'static str,
}

impl<'de> Visitor<'de> for Matrix {
    type Value = Vec<Vec<f64>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "`{}` as an array of rows, e.g. [[0.0, 1.0], [1.0, 0.0]]", self.key)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rows: Vec<Vec<f64>> = Vec::new();
        loop {
            let width = rows.first().map(Vec::len);
            let seed = Row { key: self.key, index: rows.len(), width };
            match seq.next_element_seed(seed)? {
                Some(row) => rows.push(row),
                None => break,
            }
        }
        if rows.is_empty() {
            return Err(A::Error::custom(format!("`{}` is empty; give at least one row", self.key)));
        }
        Ok(rows)
    }
}

struct Row {
    key: &'static str,
    index: usize,
    /// The first row's length, which every later row must match.
    width: Option<usize>,
}

impl<'de> DeserializeSeed<'de> for Row {
    type Value = Vec<f64>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Row {
    type Value = Vec<f64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "`{}` row {} as an array of numbers", self.key, self.index)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut row = Vec::with_capacity(self.width.unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element::<f64>()? {
            if !v.is_finite() {
                return Err(A::Error::custom(format!(
                    "`{}` row {} column {} is {}; data values must be finite numbers",
                    self.key,
                    self.index,
                    row.len(),
                    describe(v)
                )));
            }
            row.push(v);
        }
        match self.width {
            _ if row.is_empty() => Err(A::Error::custom(format!("`{}` row {} is empty", self.key, self.index))),
            Some(w) if w != row.len() => Err(A::Error::custom(format!(
                "`{}` row {} has {} values; row 0 has {w} (rows must all be the same length)",
                self.key,
                self.index,
                row.len()
            ))),
            _ => Ok(row),
        }
    }
}

impl<'de> Deserialize<'de> for super::Normalize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use super::{Normalize, NormalizeFrom};
        const FORMS: &str = "\"train\" (the training split's mean and std) or { mean = …, std = … }";
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Normalize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "`normalize` as {FORMS}")
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Normalize, E> {
                match v {
                    "train" => Ok(Normalize::FromSplit(NormalizeFrom::Train)),
                    _ => Err(E::custom(format!("`normalize` must be {FORMS}, found \"{v}\""))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Normalize, A::Error> {
                // Unknown keys are refused: `{ mean = 0, std = 1, sdt = 2 }` is a typo.
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Given {
                    mean: f64,
                    std: f64,
                }
                let g = Given::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Normalize::Given { mean: g.mean, std: g.std })
            }
        }
        d.deserialize_any(V)
    }
}

/// The span of `[data]`'s `key` in the spec text (of its row `row` when given), for
/// errors found after parsing. Parses the text again, so it is for error paths only.
pub fn data_key_span(text: &str, key: &str, row: Option<usize>) -> Option<std::ops::Range<usize>> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let data = doc.as_table().get("data")?.as_table_like()?;
    let (k, v) = data.get_key_value(key)?;
    match row {
        Some(i) => v.as_array()?.get(i)?.span(),
        None => k.span(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::DataSpec;

    fn parse(text: &str) -> Result<DataSpec, String> {
        toml::from_str::<DataSpec>(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            format!("{} @ {}", e.message(), &text[span])
        })
    }

    #[test]
    fn values_are_checked_where_they_are_written() {
        let err = parse("kind = \"inline\"\ninputs = [[1.0, 2.0], [3.0, nan]]").unwrap_err();
        assert_eq!(err, "`inputs` row 1 column 1 is nan; data values must be finite numbers @ [3.0, nan]");
        let err = parse("inputs = [[1.0, 2.0], [3.0]]").unwrap_err();
        assert!(err.starts_with("`inputs` row 1 has 1 values; row 0 has 2") && err.ends_with("@ [3.0]"), "{err}");
        assert!(parse("targets = [[inf]]").unwrap_err().contains("row 0 column 0 is inf"));
        assert!(parse("inputs = []").unwrap_err().contains("`inputs` is empty"));
        assert_eq!(
            parse("test_fraction = nan").unwrap_err(),
            "`test_fraction` must be a finite number, found nan @ nan"
        );
        assert!(parse("validation_fraction = 1.0").unwrap_err().contains("must be in [0, 1), found 1 @ 1.0"));
        assert!(parse("n = 0").unwrap_err().contains("`n` must be at least 1, found 0"));
        assert!(parse("classes = 1").unwrap_err().contains("`classes` must be at least 2"));
        assert!(parse("noise = -0.5").unwrap_err().contains("`noise` must be at least 0"));
        assert!(parse("range = [0.0, inf]").unwrap_err().contains("`range` must be a finite number, found inf"));
        assert!(parse("coefficients = [1.0, nan]").unwrap_err().contains("coefficients[1]"));
        assert!(parse("augment = { scale = 1.5 }").unwrap_err().contains("`scale` must be in [0, 1)"));
        assert!(parse("range = [1]")
            .unwrap_err()
            .starts_with("`range` must be [low, high], two numbers; found 1 number @"));
        let err = parse("normalize = \"zscore\"").unwrap_err();
        assert!(err.starts_with("`normalize` must be \"train\" (the training split's mean and std) or {"), "{err}");
        assert!(err.ends_with("found \"zscore\" @ \"zscore\""), "{err}");
        assert!(parse("normalize = { mean = 0, std = 1, sdt = 2 }").unwrap_err().contains("unknown field `sdt`"));
        assert!(parse("normalize = 3").unwrap_err().contains("expected `normalize` as \"train\""));
        assert_eq!(
            parse("normalize = \"train\"").unwrap().normalize,
            Some(super::super::Normalize::FromSplit(super::super::NormalizeFrom::Train))
        );
        assert_eq!(
            parse("normalize = { mean = 0.5, std = 2 }").unwrap().normalize,
            Some(super::super::Normalize::Given { mean: 0.5, std: 2.0 })
        );
        let ok = parse("kind = \"inline\"\ninputs = [[1, 2], [3, 4]]\ntest_fraction = 0.5").unwrap();
        assert_eq!(ok.inputs, Some(vec![vec![1.0, 2.0], vec![3.0, 4.0]]));
        assert_eq!(ok.test_fraction, 0.5);
    }

    #[test]
    fn finds_keys_and_rows_in_the_text() {
        let text = "name = \"x\"\n[data]\nkind = \"inline\"\ntargets = [\n  [0],\n  [7],\n]\n";
        let at = |r: std::ops::Range<usize>| &text[r];
        assert_eq!(super::data_key_span(text, "targets", Some(1)).map(at), Some("[7]"));
        assert_eq!(super::data_key_span(text, "kind", None).map(at), Some("kind"));
        assert_eq!(super::data_key_span(text, "n", None), None);
        assert_eq!(super::data_key_span("data = { n = 3 }", "n", None), Some(9..10));
    }
}
