//! serde's and the TOML reader's words for a value of the wrong type ("invalid value:
//! integer `-1`, expected usize", "… as i128", "floating-point number overflowed") name
//! Rust types, not the key or what a spec may write there. These are rewritten to name
//! the key, the value as written and what is accepted; other messages pass unchanged.

use crate::error::Source;

/// The message for a failed deserialisation of the spec: `message` and `span` are the
/// error's, `shown` its whole text (toml adds "in `train.warmup`" there, the keys of
/// the tables it was in).
pub fn plain(message: &str, shown: &str, span: Option<&std::ops::Range<usize>>, source: &Source) -> Option<String> {
    let message = message.trim_end();
    let key = key_of(shown, span, source);
    let written = span.and_then(|s| written_value(s, source));
    let the_key = key.as_deref().map_or_else(|| "the value".to_string(), |k| format!("`{k}`"));
    if message == "floating-point number overflowed" {
        let value = written.unwrap_or_else(|| "the number".into());
        return Some(format!(
            "{the_key} is {value}, past the largest number a spec can hold (about 1.8e308); write a finite number"
        ));
    }
    if message == "integer number overflowed" {
        let value = written.unwrap_or_else(|| "the number".into());
        return Some(format!("{the_key} is {value}, past the largest whole number a spec can hold ({})", u64::MAX));
    }
    let rest = message.strip_prefix("invalid type: ").or_else(|| message.strip_prefix("invalid value: "))?;
    let (given, expected) = rest.rsplit_once(", expected ")?;
    let huge = given.ends_with(" as i128") || given.ends_with(" as u128");
    let given_value = given.split('`').nth(1).map(String::from).unwrap_or_else(|| {
        // `string "abc"`, `boolean `true``, `sequence`: what serde shows after the type.
        given.split_once(' ').map_or(given, |(_, v)| v).to_string()
    });
    let found = written.unwrap_or(given_value.clone());
    let is_float = given.starts_with("floating point");
    let integral = is_float && given_value.parse::<f64>().is_ok_and(|v| v.fract() == 0.0 && v.abs() < 1e19);
    let unsigned_max = match expected {
        "usize" | "u64" => Some(u64::MAX),
        "u32" => Some(u64::from(u32::MAX)),
        "u16" => Some(u64::from(u16::MAX)),
        "u8" => Some(u64::from(u8::MAX)),
        _ => None,
    };
    if let Some(max) = unsigned_max {
        let accepted = if huge { format!("a whole number from 0 to {max}") } else { "a whole number ≥ 0".into() };
        let hint = if integral {
            let whole = given_value.parse::<f64>().map(|v| format!("{v:.0}")).unwrap_or_default();
            format!(" (write {whole}: a number with a fraction or exponent is not a whole number in TOML)")
        } else {
            String::new()
        };
        return Some(format!("{the_key} must be {accepted}, found {found}{hint}"));
    }
    if matches!(expected, "f64" | "f32") {
        let hint = if huge {
            let as_float = given_value.parse::<f64>().map(|v| format!("{v:e}")).unwrap_or_else(|_| "1e23".into());
            format!(" (too large for a whole number in TOML; write it with an exponent, as {as_float})")
        } else {
            String::new()
        };
        return Some(format!("{the_key} must be a finite number, found {found}{hint}"));
    }
    None
}

/// The key the error is at: the last of toml's "in `a.b.c`", or the last name of the
/// `--set` whose value it is.
fn key_of(shown: &str, span: Option<&std::ops::Range<usize>>, source: &Source) -> Option<String> {
    let from_toml = shown.lines().rev().find_map(|l| l.strip_prefix("in `")?.strip_suffix('`').map(String::from));
    if let Some(keys) = from_toml {
        return keys.rsplit('.').next().map(String::from);
    }
    let (path, _) = set_at(span?, source)?;
    path.rsplit('.').find(|s| s.parse::<usize>().is_err()).map(|s| s.trim().to_string())
}

/// The value as the spec or the `--set` wrote it (`1e3`, not serde's `1000.0`), when
/// it is one short value and not a list or table.
fn written_value(span: &std::ops::Range<usize>, source: &Source) -> Option<String> {
    let text = match set_at(span, source) {
        Some((_, value)) => value,
        None => source.text.get(span.clone())?.to_string(),
    };
    let text = text.trim();
    let one_value = !text.is_empty() && text.len() <= 60 && !text.contains(['[', '{', '\n', ',']);
    one_value.then(|| text.to_string())
}

/// The key path and value of the `--set` a span stands for.
fn set_at(span: &std::ops::Range<usize>, source: &Source) -> Option<(String, String)> {
    let i = span.start.checked_sub(source.override_base())? >> 20;
    let (path, value) = source.overrides.get(i)?.strip_prefix("--set ")?.split_once('=')?;
    Some((path.trim().to_string(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    /// The message `text` gets from the spec loader.
    fn message_of(text: &str, sets: &[&str]) -> String {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let e = crate::spec::load_str("s.toml", text, &sets, None).unwrap_err();
        e.to_string().lines().next().unwrap().to_string()
    }

    const SPEC: &str =
        "name = \"t\"\nseed = 1\n[data]\nkind = \"xor\"\n[[model.layers]]\nname = \"out\"\nop = \"dense\"\n\
                        units = 1\n[train]\nloss = \"mse\"\nlr = 0.1\niterations = 2\n";

    #[test]
    fn numbers_of_the_wrong_kind_name_the_key_the_value_and_what_is_accepted() {
        let with = |line: &str| format!("{SPEC}{line}\n");
        assert_eq!(
            message_of(&with("warmup = -1"), &[]),
            "s.toml:13:10: `warmup` must be a whole number ≥ 0, found -1"
        );
        assert_eq!(
            message_of(&SPEC.replace("iterations = 2", "iterations = 1e3"), &[]),
            "s.toml:12:14: `iterations` must be a whole number ≥ 0, found 1e3 (write 1000: a number with a \
             fraction or exponent is not a whole number in TOML)"
        );
        assert_eq!(
            message_of(SPEC, &["train.iterations=99999999999999999999999"]),
            "--set train.iterations=99999999999999999999999: `iterations` must be a whole number from 0 to \
             18446744073709551615, found 99999999999999999999999"
        );
        assert_eq!(
            message_of(SPEC, &["train.lr=99999999999999999999999"]),
            "--set train.lr=99999999999999999999999: `lr` must be a finite number, found 99999999999999999999999 \
             (too large for a whole number in TOML; write it with an exponent, as 1e23)"
        );
        assert_eq!(
            message_of(&SPEC.replace("lr = 0.1", "lr = 1e309"), &[]),
            "s.toml:11:6: `lr` is 1e309, past the largest number a spec can hold (about 1.8e308); write a finite number"
        );
        assert_eq!(
            message_of(SPEC, &["model.layers.out.units=1e99999"]),
            "--set model.layers.out.units=1e99999: `units` is 1e99999, past the largest number a spec can hold \
             (about 1.8e308); write a finite number"
        );
        assert_eq!(
            message_of(&SPEC.replace("units = 1", "units = 999999999999999999999999999999999999999999"), &[]),
            "s.toml:8:9: `units` is 999999999999999999999999999999999999999999, past the largest whole number a \
             spec can hold (18446744073709551615)"
        );
        assert_eq!(message_of(SPEC, &["seed=-1"]), "--set seed=-1: `seed` must be a whole number ≥ 0, found -1");
        assert_eq!(
            message_of(SPEC, &["train.lr=fast"]),
            "--set train.lr=fast: `lr` must be a finite number, found fast"
        );
        assert_eq!(
            message_of(SPEC, &["model.layers.0.units=2.5"]),
            "--set model.layers.0.units=2.5: `units` must be a whole number ≥ 0, found 2.5"
        );
        // Messages that already say what to do pass unchanged.
        assert!(message_of(&with("warmpu = 1"), &[]).contains("did you mean `warmup`?"));
    }
}
