//! The IDX file format of the MNIST database, gzipped or raw.
//!
//! An IDX file is a big-endian header — two zero bytes, an element-type code,
//! the number of dimensions, then one `u32` per dimension — followed by the
//! elements. MNIST-family images are 3-dimensional (`count × rows × cols`)
//! and labels 1-dimensional, both of unsigned bytes.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, Result};

/// Element type code of unsigned bytes, the only one MNIST files use.
pub const TYPE_U8: u8 = 0x08;
/// Magic number of an IDX file of 3-dimensional unsigned-byte data (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of 1-dimensional unsigned-byte data (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Images read from an IDX file: `count` images of `rows × cols` bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// The file they came from.
    pub path: PathBuf,
    /// Number of images.
    pub count: usize,
    /// Image height (time steps for the model).
    pub rows: usize,
    /// Image width (features per step for the model).
    pub cols: usize,
    /// `count * rows * cols` pixel bytes.
    pub pixels: Vec<u8>,
}

/// Labels read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxLabels {
    /// The file they came from.
    pub path: PathBuf,
    /// One byte per label.
    pub labels: Vec<u8>,
}

/// Reads a whole file, decompressing it when it starts with the gzip magic
/// bytes (whatever its extension).
pub fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io { path: path.to_owned(), source })?;
    decode_maybe_gzipped(path, raw)
}

/// Decompresses `raw` when it starts with the gzip magic bytes, else returns
/// it unchanged; `path` only names the source in errors. This is
/// [`read_maybe_gzipped`] without the file read, for bytes from elsewhere.
///
/// ```
/// let raw = mnist_data::idx::encode_labels(&[3, 1]);
/// let bytes = mnist_data::idx::decode_maybe_gzipped("labels".as_ref(), raw.clone())?;
/// assert_eq!(bytes, raw);
/// # Ok::<(), mnist_data::DataError>(())
/// ```
pub fn decode_maybe_gzipped(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        // The gzip trailer holds the uncompressed size modulo 2^32: a good
        // first guess for the buffer (capped, as the trailer is untrusted).
        let n = raw.len();
        let hint =
            if n >= 18 { u32::from_le_bytes([raw[n - 4], raw[n - 3], raw[n - 2], raw[n - 1]]) as usize } else { 0 };
        let mut out = Vec::with_capacity(hint.clamp(n, n.saturating_mul(16)) + 1);
        MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|source| DataError::Io { path: path.to_owned(), source })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn type_name(code: u8) -> &'static str {
    match code {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "short",
        0x0C => "int",
        0x0D => "float",
        0x0E => "double",
        _ => "unknown",
    }
}

/// Parses an IDX header and checks the element type, the number of dimensions
/// and that the data that follows has exactly the size the header declares.
/// Returns the dimensions and the data.
fn parse<'a>(path: &Path, bytes: &'a [u8], ndim: u8, what: &'static str) -> Result<(Vec<usize>, &'a [u8])> {
    let expected_magic = u32::from(TYPE_U8) << 8 | u32::from(ndim);
    let header_len = 4 + 4 * usize::from(ndim);
    let bad_size = |detail: String| DataError::BadSize { path: path.to_owned(), detail };
    if bytes.len() < 4 {
        return Err(bad_size(format!("{} bytes is too short for an IDX header", bytes.len())));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 || bytes[3] != ndim {
        return Err(DataError::BadMagic { path: path.to_owned(), expected: what, expected_magic, found: magic });
    }
    if bytes[2] != TYPE_U8 {
        return Err(DataError::UnsupportedType { path: path.to_owned(), code: bytes[2], name: type_name(bytes[2]) });
    }
    if bytes.len() < header_len {
        return Err(bad_size(format!(
            "{} bytes is too short for a {ndim}-dimensional IDX header ({header_len} bytes)",
            bytes.len()
        )));
    }
    let dims: Vec<usize> =
        bytes[4..header_len].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad_size(format!("header dimensions {dims:?} overflow")))?;
    let data = &bytes[header_len..];
    if data.len() < expected {
        return Err(bad_size(format!(
            "header declares {dims:?} = {expected} bytes of data but the file holds only {}",
            data.len()
        )));
    }
    if data.len() > expected {
        return Err(bad_size(format!(
            "header declares {dims:?} = {expected} bytes of data but the file holds {} (more than declared)",
            data.len()
        )));
    }
    Ok((dims, data))
}

/// Parses IDX image data (already decompressed) read from `path`.
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<IdxImages> {
    let (count, rows, cols) = parse_images_header(path, bytes)?;
    Ok(IdxImages { path: path.to_owned(), count, rows, cols, pixels: bytes[16..].to_vec() })
}

/// Parses IDX label data (already decompressed) read from `path`.
pub fn parse_labels(path: &Path, bytes: &[u8]) -> Result<IdxLabels> {
    let (_, data) = parse(path, bytes, 1, "labels")?;
    Ok(IdxLabels { path: path.to_owned(), labels: data.to_vec() })
}

/// Reads an IDX image file, gzipped or raw.
pub fn read_images(path: &Path) -> Result<IdxImages> {
    let mut bytes = read_maybe_gzipped(path)?;
    let (count, rows, cols) = {
        let img = parse_images_header(path, &bytes)?;
        (img.0, img.1, img.2)
    };
    // Keep the buffer: drop the header in place rather than copying the pixels.
    bytes.drain(..16);
    Ok(IdxImages { path: path.to_owned(), count, rows, cols, pixels: bytes })
}

/// Validates IDX image data and returns `(count, rows, cols)`.
fn parse_images_header(path: &Path, bytes: &[u8]) -> Result<(usize, usize, usize)> {
    let (dims, _) = parse(path, bytes, 3, "images")?;
    if dims[1] == 0 || dims[2] == 0 {
        return Err(DataError::BadSize {
            path: path.to_owned(),
            detail: format!("images of {}x{} pixels are empty", dims[1], dims[2]),
        });
    }
    Ok((dims[0], dims[1], dims[2]))
}

/// Reads an IDX label file, gzipped or raw.
pub fn read_labels(path: &Path) -> Result<IdxLabels> {
    parse_labels(path, &read_maybe_gzipped(path)?)
}

/// Encodes images as an uncompressed IDX file (used by tests and tools).
pub fn encode_images(count: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [count, rows, cols] {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as an uncompressed IDX file (used by tests and tools).
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = LABELS_MAGIC.to_be_bytes().to_vec();
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("x-idx3-ubyte")
    }

    #[test]
    fn round_trip() {
        let pixels: Vec<u8> = (0..2 * 3 * 4).map(|i| i as u8).collect();
        let img = parse_images(p(), &encode_images(2, 3, 4, &pixels)).unwrap();
        assert_eq!((img.count, img.rows, img.cols), (2, 3, 4));
        assert_eq!(img.pixels, pixels);
        let lab = parse_labels(p(), &encode_labels(&[1, 2, 3])).unwrap();
        assert_eq!(lab.labels, vec![1, 2, 3]);
    }

    #[test]
    fn rejects_bad_magic_type_and_sizes() {
        let good = encode_images(2, 2, 2, &[0; 8]);
        // Labels parsed as images: wrong number of dimensions.
        assert!(matches!(parse_images(p(), &encode_labels(&[1])), Err(DataError::BadMagic { .. })));
        let mut float = good.clone();
        float[2] = 0x0D;
        let err = parse_images(p(), &float).unwrap_err();
        assert!(matches!(err, DataError::UnsupportedType { code: 0x0D, .. }), "{err}");
        assert!(err.to_string().contains("float"));
        let truncated = &good[..good.len() - 1];
        assert!(parse_images(p(), truncated).unwrap_err().to_string().contains("holds only 7"));
        let mut long = good.clone();
        long.push(0);
        assert!(parse_images(p(), &long).unwrap_err().to_string().contains("more than declared"));
        assert!(matches!(parse_images(p(), &good[..10]), Err(DataError::BadSize { .. })));
        assert!(matches!(parse_images(p(), &[]), Err(DataError::BadSize { .. })));
        let huge = encode_images(u32::MAX as usize, u32::MAX as usize, u32::MAX as usize, &[]);
        assert!(matches!(parse_images(p(), &huge), Err(DataError::BadSize { .. })));
    }

    #[test]
    fn gzip_detected_by_content() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.bin");
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&encode_labels(&[7, 8])).unwrap();
        std::fs::write(&path, enc.finish().unwrap()).unwrap();
        assert_eq!(read_labels(&path).unwrap().labels, vec![7, 8]);
        // A gzip header followed by garbage is an I/O error naming the file.
        std::fs::write(&path, [0x1f, 0x8b, 0, 1, 2, 3]).unwrap();
        let err = read_labels(&path).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }) && err.to_string().contains("labels.bin"), "{err}");
    }
}
