//! The IDX file format of the MNIST database, gzipped or raw.
//!
//! An IDX file is a big-endian header — two zero bytes, an element-type code,
//! the number of dimensions, then one `u32` per dimension — followed by the
//! elements. MNIST-family images are 3-dimensional (`count × rows × cols`)
//! and labels 1-dimensional, both of unsigned bytes.

use std::io::{BufRead, BufReader, Read};
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

/// Opens `path` for reading: it must be a regular file (after following
/// links), so that a FIFO or a device is an error rather than a hang or an
/// endless read.
pub fn open_regular(path: &Path) -> Result<std::fs::File> {
    let io = |source| DataError::Io { path: path.to_owned(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file")));
    }
    std::fs::File::open(path).map_err(io)
}

/// The IDX bytes of `reader`, decompressed when they start with the gzip
/// magic bytes (whatever the file's name); `path` only names the source in errors.
fn decoded<'a>(path: &Path, reader: impl Read + Send + 'a) -> Result<Box<dyn Read + Send + 'a>> {
    let mut reader = BufReader::new(reader);
    let head = reader.fill_buf().map_err(|source| DataError::Io { path: path.to_owned(), source })?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) { Box::new(MultiGzDecoder::new(reader)) } else { Box::new(reader) })
}

/// Reads the IDX bytes of `reader`, gzipped or raw, up to the size the header
/// declares and one byte more (enough to tell that there is more data than
/// declared): a gzip bomb behind a small header is never inflated beyond that.
fn read_declared_from(path: &Path, reader: impl Read + Send) -> Result<Vec<u8>> {
    read_declared(&mut decoded(path, reader)?).map_err(|source| DataError::Io { path: path.to_owned(), source })
}

/// Reads IDX bytes from `reader`: the header, then at most the number of
/// data bytes the header declares plus one. Anything that is not an IDX
/// header is returned as read so far, for [`parse_images`] or
/// [`parse_labels`] to report.
fn read_declared(reader: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    reader.take(4).read_to_end(&mut out)?;
    if out.len() < 4 || out[0] != 0 || out[1] != 0 {
        return Ok(out);
    }
    let header_len = 4 + 4 * u64::from(out[3]);
    reader.take(header_len - 4).read_to_end(&mut out)?;
    if (out.len() as u64) < header_len {
        return Ok(out);
    }
    let declared = out[4..]
        .chunks_exact(4)
        .try_fold(1u64, |acc, c| acc.checked_mul(u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))));
    let Some(limit) = declared.and_then(|n| n.checked_add(1)) else { return Ok(out) };
    // Grow with the data actually there rather than trusting the header.
    out.reserve(limit.min(64 << 20) as usize);
    reader.take(limit).read_to_end(&mut out)?;
    Ok(out)
}

/// IDX images read a batch at a time from a file, gzipped or raw: memory
/// stays that of one batch whatever the number of images.
pub struct ImageStream {
    path: PathBuf,
    reader: Box<dyn Read + Send>,
    /// Number of images the header declares.
    pub count: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    read: usize,
}

impl ImageStream {
    /// Opens an IDX image file and checks its header.
    pub fn open(path: &Path) -> Result<Self> {
        let mut reader = decoded(path, open_regular(path)?)?;
        let mut header = Vec::new();
        (&mut reader)
            .take(16)
            .read_to_end(&mut header)
            .map_err(|source| DataError::Io { path: path.to_owned(), source })?;
        let (dims, _) = parse_header(path, &header, 3, "images")?;
        check_image_dims(path, &dims)?;
        Ok(Self { path: path.to_owned(), reader, count: dims[0], rows: dims[1], cols: dims[2], read: 0 })
    }

    /// The pixels of up to `max` further images (`n × rows × cols` bytes),
    /// or `None` after the last one. After the last image, data beyond what
    /// the header declares is an error.
    pub fn next_batch(&mut self, max: usize) -> Result<Option<Vec<u8>>> {
        let io = |source| DataError::Io { path: self.path.clone(), source };
        let n = max.max(1).min(self.count - self.read);
        if n == 0 {
            let mut extra = [0u8; 1];
            if self.reader.read(&mut extra).map_err(io)? > 0 {
                return Err(DataError::BadSize {
                    path: self.path.clone(),
                    detail: format!(
                        "header declares {} images of {}x{} but the file holds more than declared",
                        self.count, self.rows, self.cols
                    ),
                });
            }
            return Ok(None);
        }
        let size = n * self.rows * self.cols;
        let mut pixels = Vec::with_capacity(size);
        (&mut self.reader).take(size as u64).read_to_end(&mut pixels).map_err(io)?;
        if pixels.len() < size {
            let got = self.read * self.rows * self.cols + pixels.len();
            return Err(DataError::BadSize {
                path: self.path.clone(),
                detail: format!(
                    "header declares {} images of {}x{} = {} bytes of data but the file holds only {got}",
                    self.count,
                    self.rows,
                    self.cols,
                    self.count * self.rows * self.cols
                ),
            });
        }
        self.read += n;
        Ok(Some(pixels))
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

/// Parses an IDX header and checks the element type and the number of
/// dimensions. Returns the dimensions and the number of data bytes declared.
fn parse_header(path: &Path, bytes: &[u8], ndim: u8, what: &'static str) -> Result<(Vec<usize>, usize)> {
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
    Ok((dims, expected))
}

/// Parses an IDX header and checks the element type, the number of dimensions
/// and that the data that follows has exactly the size the header declares.
/// Returns the dimensions and the data.
fn parse<'a>(path: &Path, bytes: &'a [u8], ndim: u8, what: &'static str) -> Result<(Vec<usize>, &'a [u8])> {
    let (dims, expected) = parse_header(path, bytes, ndim, what)?;
    let bad_size = |detail: String| DataError::BadSize { path: path.to_owned(), detail };
    let data = &bytes[4 + 4 * usize::from(ndim)..];
    if data.len() < expected {
        return Err(bad_size(format!(
            "header declares {dims:?} = {expected} bytes of data but the file holds only {}",
            data.len()
        )));
    }
    if data.len() > expected {
        return Err(bad_size(format!(
            "header declares {dims:?} = {expected} bytes of data but the file holds more than declared"
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
    read_images_from(path, open_regular(path)?)
}

/// Reads IDX images, gzipped or raw, from `reader`; `path` names the source
/// in errors. [`read_images`] is this on the opened file, so bytes from
/// elsewhere (a fuzzer, a network) take the same path.
///
/// ```
/// let raw = mnist_data::idx::encode_images(1, 2, 2, &[0, 64, 128, 255]);
/// let images = mnist_data::idx::read_images_from("in-memory".as_ref(), raw.as_slice())?;
/// assert_eq!((images.count, images.rows, images.cols), (1, 2, 2));
/// # Ok::<(), mnist_data::DataError>(())
/// ```
pub fn read_images_from(path: &Path, reader: impl Read + Send) -> Result<IdxImages> {
    let mut bytes = read_declared_from(path, reader)?;
    let (count, rows, cols) = parse_images_header(path, &bytes)?;
    // Keep the buffer: drop the header in place rather than copying the pixels.
    bytes.drain(..16);
    Ok(IdxImages { path: path.to_owned(), count, rows, cols, pixels: bytes })
}

/// Validates IDX image data and returns `(count, rows, cols)`.
fn parse_images_header(path: &Path, bytes: &[u8]) -> Result<(usize, usize, usize)> {
    let (dims, _) = parse(path, bytes, 3, "images")?;
    check_image_dims(path, &dims)?;
    Ok((dims[0], dims[1], dims[2]))
}

fn check_image_dims(path: &Path, dims: &[usize]) -> Result<()> {
    if dims[1] == 0 || dims[2] == 0 {
        return Err(DataError::BadSize {
            path: path.to_owned(),
            detail: format!("images of {}x{} pixels are empty", dims[1], dims[2]),
        });
    }
    Ok(())
}

/// Reads an IDX label file, gzipped or raw.
pub fn read_labels(path: &Path) -> Result<IdxLabels> {
    read_labels_from(path, open_regular(path)?)
}

/// Reads IDX labels, gzipped or raw, from `reader`; `path` names the source
/// in errors (see [`read_images_from`]).
pub fn read_labels_from(path: &Path, reader: impl Read + Send) -> Result<IdxLabels> {
    parse_labels(path, &read_declared_from(path, reader)?)
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

    /// A reader of endless zeros after a prefix, counting what is taken from it.
    struct Endless {
        prefix: Vec<u8>,
        taken: usize,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = self.prefix.get(self.taken + i).copied().unwrap_or(0);
            }
            self.taken += buf.len();
            Ok(buf.len())
        }
    }

    #[test]
    fn decoding_stops_one_byte_after_the_declared_size() {
        // A header declaring 8000 images of 28x28, then zeros without end.
        let header = encode_images(8000, 28, 28, &[]);
        let mut endless = Endless { prefix: header, taken: 0 };
        let bytes = read_declared(&mut endless).unwrap();
        assert_eq!(bytes.len(), 16 + 8000 * 784 + 1);
        // Read in buffers, but never far past the limit.
        assert!(endless.taken < 16 + 8000 * 784 + 1 + (1 << 20), "{}", endless.taken);
        let err = parse_images(p(), &bytes).unwrap_err().to_string();
        assert!(err.contains("more than declared"), "{err}");
    }

    /// A gzip bomb: a valid 8000-image header followed by 200 MB of zeros
    /// (200 KB compressed) is refused after inflating the declared 6.3 MB.
    #[test]
    fn gzip_bomb_is_refused_without_inflating_it() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&encode_images(8000, 28, 28, &[])).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..200 {
            enc.write_all(&zeros).unwrap();
        }
        let bomb = enc.finish().unwrap();
        let bytes = read_declared_from(p(), bomb.as_slice()).unwrap();
        assert_eq!(bytes.len(), 16 + 8000 * 784 + 1);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train-images-idx3-ubyte.gz");
        std::fs::write(&path, &bomb).unwrap();
        let err = read_images(&path).unwrap_err().to_string();
        assert!(err.contains("more than declared") && err.contains("train-images"), "{err}");
        // The same, a batch at a time.
        let mut stream = ImageStream::open(&path).unwrap();
        assert_eq!((stream.count, stream.rows, stream.cols), (8000, 28, 28));
        let mut n = 0;
        let err = loop {
            match stream.next_batch(1000) {
                Ok(Some(batch)) => n += batch.len() / 784,
                Ok(None) => panic!("accepted"),
                Err(e) => break e.to_string(),
            }
        };
        assert_eq!(n, 8000);
        assert!(err.contains("more than declared"), "{err}");
    }

    #[test]
    fn image_stream_reads_batches_and_reports_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        let pixels: Vec<u8> = (0..5 * 2 * 3).map(|i| i as u8).collect();
        std::fs::write(&path, encode_images(5, 2, 3, &pixels)).unwrap();
        let mut stream = ImageStream::open(&path).unwrap();
        let mut all = Vec::new();
        while let Some(batch) = stream.next_batch(2).unwrap() {
            assert!(batch.len() <= 2 * 6);
            all.extend(batch);
        }
        assert_eq!(all, pixels);
        std::fs::write(&path, encode_images(5, 2, 3, &pixels[..20])).unwrap();
        let mut stream = ImageStream::open(&path).unwrap();
        let err = std::iter::from_fn(|| Some(stream.next_batch(2))).find_map(|r| r.err()).unwrap();
        assert!(err.to_string().contains("holds only 20"), "{err}");
    }

    #[test]
    fn special_files_are_refused() {
        let err = read_labels(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(err.contains("not a regular file") && err.contains("/dev/zero"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = read_labels(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }
}
