//! Reading a safetensors checkpoint to start a model from (`[model] init = { from = … }`).
//! Every parameter of the graph must be present with its shape; f32, f64 and integer
//! tensors (PyTorch's int64 `num_batches_tracked`) are accepted.

use crate::error::{Error, Result};
use crate::graph::Dag;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

pub fn read(path: &Path, dag: &Dag) -> Result<HashMap<String, Vec<f64>>> {
    let fail = |m: String| Error::Data(format!("{}: {m}", path.display()));
    // /dev/zero would be read until memory runs out, a FIFO would block: only files.
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(fail("is not a regular file".into()));
    }
    // Read whole, so its size is checked first: a corrupt or sparse file of many
    // gigabytes is not this model's checkpoint and would only exhaust memory.
    let most = most_bytes(dag);
    if meta.len() > most {
        return Err(fail(format!(
            "is {} bytes, more than a checkpoint of this model's {} parameters can take (at most {most})",
            meta.len(),
            dag.param_count()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    // First the stricter check, which names the entry at fault and refuses a name given twice.
    crate::results::check_safetensors_header(&bytes)
        .map_err(|m| fail(format!("not a safetensors file, or a damaged one: {m}")))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| fail(format!("not a safetensors file: {e}")))?;
    let mut values = HashMap::new();
    let mut missing = Vec::new();
    for node in &dag.nodes {
        for p in &node.params {
            let name = format!("{}.{}", node.name, p.name);
            let Ok(t) = st.tensor(&name) else {
                missing.push(name);
                continue;
            };
            if t.shape() != p.shape.as_slice() {
                return Err(fail(format!("`{name}` has shape {:?}; the model needs {:?}", t.shape(), p.shape)));
            }
            let decoded = decode(t.dtype(), t.data())
                .ok_or_else(|| fail(format!("`{name}` has unsupported dtype {:?}", t.dtype())))?;
            // A NaN weight would only show as a divergence at step 0, with no place.
            if let Some(i) = decoded.iter().position(|v| !v.is_finite()) {
                return Err(fail(format!("`{name}` holds {} at index {i}", crate::spec::show(decoded[i]))));
            }
            values.insert(name.clone(), decoded);
        }
    }
    if !missing.is_empty() {
        let have: Vec<String> = st.names().into_iter().map(String::from).collect();
        return Err(fail(format!("missing {} (the file has: {})", missing.join(", "), have.join(", "))));
    }
    Ok(values)
}

/// The largest checkpoint file read for `dag`: its parameters in f64 four times over
/// (room for tensors a checkpoint may hold besides them), and the header.
fn most_bytes(dag: &Dag) -> u64 {
    /// safetensors' own limit on the JSON header.
    const MAX_HEADER: u64 = 100_000_000;
    (dag.param_count() as u64).saturating_mul(32).saturating_add(MAX_HEADER + (64 << 20))
}

fn decode(dtype: Dtype, data: &[u8]) -> Option<Vec<f64>> {
    Some(match dtype {
        Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect(),
        Dtype::F64 => data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).collect(),
        Dtype::I64 => data.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f64).collect(),
        _ => return None,
    })
}
