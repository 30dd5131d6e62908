//! Checkpoints compared tensor by tensor: the same names, dtypes and shapes, then
//! every element within the tolerance (a tensor's name or the file's name may carry
//! its own).

use super::report::Item;
use super::tolerance::Tolerances;
use safetensors::{Dtype, SafeTensors};
use std::path::Path;

/// A tensor as read: name, dtype, shape, little-endian bytes.
type Tensor = (String, Dtype, Vec<usize>, Vec<u8>);

pub fn compare(file: &str, pa: &Path, pb: &Path, tol: &Tolerances) -> Result<Item, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let (ba, bb) = (read(pa)?, read(pb)?);
    let parse = |p: &Path, bytes: &[u8]| -> Result<Vec<Tensor>, String> {
        // The header first, so a damaged file names the tensor at fault (and a key
        // given twice is refused, which the crate's reader lets through).
        crate::results::check_safetensors_header(bytes)
            .map_err(|e| format!("{}: not a safetensors file: {e}", p.display()))?;
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| format!("{}: not a safetensors file: {e}", p.display()))?;
        let mut list: Vec<_> =
            st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
        list.sort_by(|x, y| x.0.cmp(&y.0));
        Ok(list)
    };
    let (ta, tb) = (parse(pa, &ba)?, parse(pb, &bb)?);
    let names = |t: &[Tensor]| t.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    if names(&ta) != names(&tb) {
        return Err(format!(
            "{file}: different tensors: A has {}, B has {}",
            names(&ta).join(", "),
            names(&tb).join(", ")
        ));
    }
    let mut item = Item::new(file, "tensors");
    for ((name, da, sa, xa), (_, db, sb, xb)) in ta.iter().zip(&tb) {
        if da != db || sa != sb {
            return Err(format!("{file}: tensor {name} is {da:?} {sa:?} in A, {db:?} {sb:?} in B"));
        }
        let t = tol.for_keys(&[name, file]);
        match (values(*da, xa), values(*db, xb)) {
            (Some(va), Some(vb)) => {
                for (k, (x, y)) in va.iter().zip(&vb).enumerate() {
                    item.value(*x, *y, t, || (format!("{name}[{k}]"), name.clone()));
                }
            }
            _ => {
                let hex = |b: &[u8]| super::load::sha256_hex(b);
                item.text(&hex(xa), &hex(xb), || (format!("{name} (bytes)"), name.clone()));
            }
        }
    }
    Ok(item.finish())
}

/// The elements of a float or int64 tensor; None for other dtypes (compared as bytes).
fn values(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f64>> {
    match dtype {
        Dtype::F32 => {
            Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect())
        }
        Dtype::F64 => Some(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
        // A batch-norm's num_batches_tracked (int64, as PyTorch keeps it).
        Dtype::I64 => Some(
            bytes
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64)
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint whose header names a tensor twice (which the safetensors crate
    /// reads, keeping one) is refused, naming the file and the key.
    #[test]
    fn a_header_with_a_key_twice_is_refused_by_name() {
        let entry = r#""w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#;
        let header = format!("{{{entry},{entry}}}");
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend(1.0f32.to_le_bytes());
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a.safetensors"), tmp.path().join("b.safetensors"));
        std::fs::write(&a, &bytes).unwrap();
        std::fs::write(&b, &bytes).unwrap();
        let tol = Tolerances::resolve(None, None, None, &[]);
        let err = compare("model.safetensors", &a, &b, &tol).expect_err("refused");
        assert!(err.contains("a.safetensors") && err.contains("`w` appears twice"), "{err}");
    }
}
