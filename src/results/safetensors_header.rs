//! A stricter reading of a safetensors header than the `safetensors` crate's, run before
//! it: the crate keeps the last of two entries with one name (so a damaged header can
//! silently swap a tensor), and when one entry's offsets or shape are edited it blames
//! the tensor after it, or no tensor. Here each entry is checked on its own first, so
//! the message names the entry that is wrong.

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;

/// Any JSON value, refused when one of its objects (at any depth) names a key twice.
struct NoDuplicateKeys;

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateKeys)
    }
}

impl<'de> Visitor<'de> for NoDuplicateKeys {
    type Value = NoDuplicateKeys;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("the key `{key}` appears twice")));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(self)
    }
}

/// One tensor's entry as the header gives it.
#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// Bytes per element of a safetensors dtype name (`None`: not one).
fn element_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" => 8,
        _ => return None,
    })
}

/// Checks the header of a safetensors file (`bytes`, the whole file): valid JSON with
/// no key twice, each tensor's offsets spanning exactly its shape's bytes, the tensors
/// one after another with no gap or overlap, and the data ending where the file does.
/// The reason, naming the tensor, when not.
pub fn check_safetensors_header(bytes: &[u8]) -> Result<(), String> {
    let n = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).ok_or("shorter than 8 bytes")?;
    let header = usize::try_from(n)
        .ok()
        .and_then(|n| bytes.get(8..8usize.checked_add(n)?))
        .ok_or_else(|| format!("its header claims {n} bytes; the file has {}", bytes.len().saturating_sub(8)))?;
    let text = std::str::from_utf8(header).map_err(|e| format!("its header is not UTF-8: {e}"))?;
    serde_json::from_str::<NoDuplicateKeys>(text).map_err(|e| format!("its header: {e}"))?;
    let top: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("its header is not a JSON object: {e}"))?;
    let data_len = (bytes.len() - 8 - header.len()) as u64;
    let mut spans = Vec::new();
    for (name, value) in top.iter().filter(|(k, _)| *k != "__metadata__") {
        let e: Entry = serde_json::from_value(value.clone()).map_err(|err| format!("tensor `{name}`: {err}"))?;
        let size = element_bytes(&e.dtype).ok_or_else(|| format!("tensor `{name}` has unknown dtype `{}`", e.dtype))?;
        let needs = e.shape.iter().try_fold(size, |a, &d| a.checked_mul(d));
        let (start, end) = e.data_offsets;
        let spans_bytes = end.checked_sub(start);
        if needs.is_none() || spans_bytes != needs {
            return Err(format!(
                "tensor `{name}`: shape {:?} of {} takes {} bytes, but its data_offsets [{start}, {end}] span {}",
                e.shape,
                e.dtype,
                needs.map_or("too many".to_string(), |b| b.to_string()),
                spans_bytes.map_or("a negative length".to_string(), |b| format!("{b} bytes"))
            ));
        }
        if end > data_len {
            return Err(format!(
                "tensor `{name}`: its data_offsets [{start}, {end}] run past the {data_len} bytes of data"
            ));
        }
        spans.push((start, end, name.as_str()));
    }
    spans.sort();
    // Where the previous tensor ended, and its name (none before the first).
    let mut at: (u64, Option<&str>) = (0, None);
    for &(start, end, name) in &spans {
        if start != at.0 {
            let how = if start > at.0 { "a gap" } else { "an overlap" };
            let before = at.1.map_or("the data starts".to_string(), |b| format!("`{b}` ends"));
            return Err(format!(
                "tensor `{name}` starts at byte {start} of the data, but {before} at byte {} ({how})",
                at.0
            ));
        }
        at = (end, Some(name));
    }
    if at.0 != data_len {
        return Err(format!("the tensors end at byte {} of the data, and the file has {data_len}", at.0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header.as_bytes());
        out.extend(vec![0u8; data]);
        out
    }

    const A: &str = r#""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#;
    const B: &str = r#""b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}"#;

    #[test]
    fn a_good_header_passes() {
        assert_eq!(check_safetensors_header(&file(&format!("{{{A},{B}}}"), 20)), Ok(()));
    }

    #[test]
    fn the_edited_entry_is_the_one_named() {
        // `a` edited to end at 12: the crate would blame `b`, whose start no longer fits.
        let a = A.replace("[0,8]", "[0,12]");
        let e = check_safetensors_header(&file(&format!("{{{a},{B}}}"), 20)).unwrap_err();
        assert_eq!(e, "tensor `a`: shape [2] of F32 takes 8 bytes, but its data_offsets [0, 12] span 12 bytes");
        // `b`'s shape edited: the crate names no tensor.
        let b = B.replace("[3]", "[4]");
        let e = check_safetensors_header(&file(&format!("{{{A},{b}}}"), 20)).unwrap_err();
        assert!(e.starts_with("tensor `b`: shape [4] of F32 takes 16 bytes"), "{e}");
        // Both moved together: the gap names both neighbours.
        let b = B.replace("[8,20]", "[12,24]");
        let e = check_safetensors_header(&file(&format!("{{{A},{b}}}"), 24)).unwrap_err();
        assert_eq!(e, "tensor `b` starts at byte 12 of the data, but `a` ends at byte 8 (a gap)");
        let e = check_safetensors_header(&file(&format!("{{{A},{B}}}"), 24)).unwrap_err();
        assert_eq!(e, "the tensors end at byte 20 of the data, and the file has 24");
    }

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        let twice = format!("{{{A},{B},{B}}}");
        let e = check_safetensors_header(&file(&twice, 20)).unwrap_err();
        assert!(e.contains("the key `b` appears twice"), "{e}");
        let inner = r#"{"__metadata__":{"k":"1","k":"2"}}"#;
        let e = check_safetensors_header(&file(inner, 0)).unwrap_err();
        assert!(e.contains("the key `k` appears twice"), "{e}");
    }
}
