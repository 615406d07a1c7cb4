//! Reading a safetensors file's header (names, element types, shapes and
//! byte ranges) without loading any tensor, so that a weights file can be
//! checked against a model's description before anything is allocated.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::error::{ModelError, Result};

/// The largest header accepted: far more than any model of this crate needs
/// (a few hundred bytes per tensor).
const MAX_HEADER_BYTES: u64 = 16 << 20;

/// One tensor as the header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TensorInfo {
    /// safetensors element type, for example `F32`.
    pub dtype: String,
    /// The dimensions.
    pub shape: Vec<i64>,
}

/// Bytes per element of a safetensors element type.
fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" => 8,
        _ => return None,
    })
}

/// Reads and checks the header of the safetensors file `path`: a regular
/// file, a header of sane length that is a JSON object, and for each tensor
/// a known element type, non-negative dimensions and a byte range inside the
/// file whose length matches the shape.
pub(crate) fn read(path: &Path) -> Result<BTreeMap<String, TensorInfo>> {
    let bad = |detail: String| ModelError::BadWeights { path: path.to_owned(), detail };
    let io = |source| ModelError::Io { path: path.to_owned(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file")));
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes).map_err(|_| bad(format!("{} bytes is too short for a header", meta.len())))?;
    let header_len = u64::from_le_bytes(len_bytes);
    let data_len = meta.len() - 8;
    if header_len > data_len || header_len > MAX_HEADER_BYTES {
        return Err(bad(format!("header length {header_len} does not fit the file of {} bytes", meta.len())));
    }
    let mut text = vec![0u8; header_len as usize];
    file.read_exact(&mut text).map_err(io)?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&text).map_err(|e| bad(format!("header is not a JSON object: {e}")))?;
    let data_len = data_len - header_len;
    let mut tensors = BTreeMap::new();
    for (name, entry) in header {
        if name == "__metadata__" {
            continue;
        }
        let info = tensor_info(&entry, data_len).map_err(|detail| bad(format!("tensor `{name}`: {detail}")))?;
        tensors.insert(name, info);
    }
    Ok(tensors)
}

fn tensor_info(entry: &serde_json::Value, data_len: u64) -> std::result::Result<TensorInfo, String> {
    let dtype = entry.get("dtype").and_then(|d| d.as_str()).ok_or("no `dtype`")?.to_owned();
    let size = dtype_size(&dtype).ok_or_else(|| format!("unknown dtype {dtype}"))?;
    let dims = entry.get("shape").and_then(|s| s.as_array()).ok_or("no `shape`")?;
    let shape: Vec<u64> = dims
        .iter()
        .map(|d| d.as_u64().ok_or("a dimension is not a whole number"))
        .collect::<std::result::Result<_, _>>()?;
    let bytes = shape.iter().try_fold(size, |acc, &d| acc.checked_mul(d)).ok_or("shape overflows")?;
    let offsets = entry.get("data_offsets").and_then(|o| o.as_array()).ok_or("no `data_offsets`")?;
    let (begin, end) = match offsets.as_slice() {
        [a, b] => (a.as_u64().ok_or("bad offset")?, b.as_u64().ok_or("bad offset")?),
        _ => return Err("`data_offsets` is not [begin, end]".into()),
    };
    if begin > end || end > data_len || end - begin != bytes {
        return Err(format!(
            "bytes {begin}..{end} do not hold {bytes} bytes of shape {shape:?} inside the {data_len} data bytes"
        ));
    }
    let shape = shape
        .into_iter()
        .map(|d| i64::try_from(d).map_err(|_| "shape overflows"))
        .collect::<std::result::Result<_, _>>()?;
    Ok(TensorInfo { dtype, shape })
}

/// Checks that the header holds exactly the `expected` tensors (name and
/// shape), each of 32-bit floats.
pub(crate) fn check(path: &Path, header: &BTreeMap<String, TensorInfo>, expected: &[(String, Vec<i64>)]) -> Result<()> {
    let mismatch = |detail: String| ModelError::WeightsMismatch { path: path.to_owned(), detail };
    for (name, shape) in expected {
        let info = header.get(name).ok_or_else(|| mismatch(format!("tensor `{name}` is missing")))?;
        if &info.shape != shape {
            return Err(mismatch(format!("tensor `{name}` has shape {:?}, expected {shape:?}", info.shape)));
        }
        if info.dtype != "F32" {
            return Err(mismatch(format!("tensor `{name}` holds {}, expected F32", info.dtype)));
        }
    }
    if let Some(extra) = header.keys().find(|k| !expected.iter().any(|(name, _)| name == *k)) {
        return Err(mismatch(format!("unexpected tensor `{extra}`")));
    }
    Ok(())
}
