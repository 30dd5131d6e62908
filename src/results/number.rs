//! How every number in a run folder's CSVs is written: the shortest decimal that reads
//! back to the same value in the run's dtype, so an f32 run's 0.8 is `0.8` and not the
//! `0.800000011920929` of the f32 widened to f64.
//!
//! Rust's `{}` is shortest round-trip but never uses an exponent: 1e300 comes out as 301
//! digits, 5e-324 as 324. Outside [1e-5, 1e16) the value is written with `{:e}` instead,
//! which has the same shortest digits (`1e300`, `3.4028235e38`, `5e-324`). A hand rule
//! rather than the `ryu` crate because ryu writes whole numbers as `1.0` and `1E16`
//! styles differ from the `1`/`0.5` the files have always had, and `{}`/`{:e}` are both
//! in std. Non-finite values are `nan`, `inf` and `-inf`, which Rust's `parse::<f64>`,
//! numpy and pandas all read back.

use crate::backend::DType;

/// Below this magnitude (and above zero) the plain form starts with five or more zeros.
const PLAIN_FROM: f64 = 1e-5;
/// From this magnitude on the plain form has 17 or more digits, most of them zeros.
const PLAIN_BELOW: f64 = 1e16;

/// `v` as it is in a run of `dtype`: an f32 run's values rounded to f32 (the nearest
/// f32; infinite past f32's range, as the run itself would compute it).
pub fn in_dtype(v: f64, dtype: DType) -> f64 {
    match dtype {
        DType::F32 => v as f32 as f64,
        DType::F64 => v,
    }
}

/// The CSV text of `v` in a run of `dtype` (see the module comment).
pub fn format_value(v: f64, dtype: DType) -> String {
    let mut out = String::new();
    write_value(&mut out, v, dtype);
    out
}

/// Appends the text of `format_value` to `out`, formatting in place (a metrics row is
/// written every step; a String per value was a tenth of writing it).
fn write_value(out: &mut String, v: f64, dtype: DType) {
    use std::fmt::Write;
    if v.is_nan() {
        return out.push_str("nan");
    }
    if v.is_infinite() {
        return out.push_str(if v > 0.0 { "inf" } else { "-inf" });
    }
    let plain = v == 0.0 || (PLAIN_FROM..PLAIN_BELOW).contains(&v.abs());
    // Writing to a String cannot fail.
    let _ = match (dtype, plain) {
        (DType::F32, true) => write!(out, "{}", v as f32),
        (DType::F32, false) => write!(out, "{:e}", v as f32),
        (DType::F64, true) => write!(out, "{v}"),
        (DType::F64, false) => write!(out, "{v:e}"),
    };
}

/// `v` as a reader of the CSVs gets it: the f64 nearest the written decimal (0.8 for an
/// f32 run's 0.800000011920929), so numbers shown elsewhere (the manifest's JSON, the
/// summary) match the CSVs' text.
pub fn as_written(v: f64, dtype: DType) -> f64 {
    format_value(v, dtype).parse().unwrap_or(v)
}

/// Appends `,` and the text of `v` to a CSV row.
pub fn push_cell(out: &mut String, v: f64, dtype: DType) {
    out.push(',');
    write_value(out, v, dtype);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(format_value(0.8f32 as f64, DType::F32), "0.8");
        assert_eq!(format_value(0.8f32 as f64, DType::F64), "0.800000011920929");
        assert_eq!(format_value(0.1 + 0.2, DType::F64), "0.30000000000000004");
        assert_eq!(format_value(1.0, DType::F32), "1");
        assert_eq!(format_value(-2.5, DType::F64), "-2.5");
        assert_eq!(format_value(1e300, DType::F64), "1e300");
        assert_eq!(format_value(-1.5e300, DType::F64), "-1.5e300");
        assert_eq!(format_value(1e300, DType::F32), "inf", "past f32's range");
        assert_eq!(format_value(f32::MAX as f64, DType::F32), "3.4028235e38");
        assert_eq!(format_value(f64::MAX, DType::F64), "1.7976931348623157e308");
        assert_eq!(format_value(f64::from_bits(1), DType::F64), "5e-324");
        assert_eq!(format_value(f32::from_bits(1) as f64, DType::F32), "1e-45");
        assert_eq!(format_value(1e16, DType::F64), "1e16");
        assert_eq!(format_value(9999999999999998.0, DType::F64), "9999999999999998");
        assert_eq!(format_value(1e-5, DType::F64), "0.00001");
        assert_eq!(format_value(9e-6, DType::F64), "9e-6");
        assert_eq!(format_value(0.0, DType::F32), "0");
        assert_eq!(format_value(-0.0, DType::F32), "-0");
        assert_eq!(format_value(-0.0, DType::F64), "-0");
        assert_eq!(format_value(f64::NAN, DType::F32), "nan");
        assert_eq!(format_value(-f64::NAN, DType::F64), "nan");
        assert_eq!(format_value(f64::INFINITY, DType::F64), "inf");
        assert_eq!(format_value(f64::NEG_INFINITY, DType::F32), "-inf");
        assert_eq!(as_written(0.8f32 as f64, DType::F32), 0.8);
        assert_eq!(as_written(0.8f32 as f64, DType::F64), 0.8f32 as f64);
        assert_eq!(as_written(f64::NEG_INFINITY, DType::F32), f64::NEG_INFINITY);
    }

    #[test]
    fn non_finite_and_exponent_forms_parse_back() {
        assert!("nan".parse::<f64>().unwrap().is_nan());
        assert_eq!("inf".parse::<f64>(), Ok(f64::INFINITY));
        assert_eq!("-inf".parse::<f64>(), Ok(f64::NEG_INFINITY));
        assert_eq!("1e300".parse::<f64>(), Ok(1e300));
        assert_eq!("9e-6".parse::<f64>(), Ok(9e-6));
        assert_eq!("-0".parse::<f64>().map(f64::to_bits), Ok((-0.0f64).to_bits()));
    }

    /// xorshift64*: bit patterns over every exponent, sign, subnormals and non-finite ones.
    fn patterns(n: usize) -> impl Iterator<Item = u64> {
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n).map(move |_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_f491_4f6c_dd1d)
        })
    }

    #[test]
    fn every_f64_reads_back_bit_for_bit_and_stays_short() {
        for bits in patterns(200_000) {
            let v = f64::from_bits(bits);
            let text = format_value(v, DType::F64);
            let back: f64 = text.parse().unwrap();
            if v.is_nan() {
                assert!(back.is_nan(), "{text}");
            } else {
                assert_eq!(back.to_bits(), v.to_bits(), "{v:e} written as {text}");
            }
            assert!(text.len() <= 24, "{text}");
        }
    }

    #[test]
    fn every_f32_reads_back_bit_for_bit_through_f64_and_stays_short() {
        for bits in patterns(200_000) {
            let v = f32::from_bits(bits as u32) as f64;
            let text = format_value(v, DType::F32);
            // Read as f64 (as pandas and `runner diff` do), then rounded to the dtype.
            let back = in_dtype(text.parse::<f64>().unwrap(), DType::F32);
            if v.is_nan() {
                assert!(back.is_nan(), "{text}");
            } else {
                assert_eq!(back.to_bits(), v.to_bits(), "{v:e} written as {text}");
                assert_eq!(text.parse::<f32>().map(f32::to_bits), Ok((v as f32).to_bits()));
            }
            assert!(text.len() <= 18, "{text}");
        }
    }
}
