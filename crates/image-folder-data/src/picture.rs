//! How a picture becomes a model input: decoded (PNG or JPEG, recognised by
//! content), converted to grayscale (transparent pixels over white), resized
//! to the model's image size and, when asked or when it looks like a dark
//! drawing on a light background, inverted.
//!
//! This is the one implementation used both for training on image folders
//! ([`crate::load`]) and by `lstm-mnist predict` and `explain`, so a picture
//! is prepared the same way for training and for prediction.
//!
//! ```
//! use image_folder_data::picture::{prepare, Invert};
//! // A dark stroke on white paper, 56x56: shrunk to 28x28 and inverted.
//! let paper = image::GrayImage::from_fn(56, 56, |x, _| image::Luma([if (26..30).contains(&x) { 0 } else { 255 }]));
//! let prepared = prepare(paper, 28, 28, Invert::Auto);
//! assert!(prepared.inverted);
//! assert_eq!(prepared.pixels.len(), 28 * 28);
//! assert_eq!(prepared.pixels[0], 0); // the white border is now black
//! assert_eq!(prepared.pixels[14], 255); // and the stroke white
//! ```

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use image::{imageops::FilterType, DynamicImage, GrayImage, ImageFormat, ImageReader};

/// Why a picture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The path is not a regular file (a folder, a FIFO, a device, a
    /// socket): refused before it is opened, so a FIFO never hangs the reader.
    #[error("{}: {what}, not a regular file; {hint}", path.display())]
    NotRegular {
        /// The path given.
        path: PathBuf,
        /// What it is instead (`a folder`, `a FIFO (named pipe)`, ...).
        what: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// The file is larger than [`MAX_PICTURE_BYTES`].
    #[error("{}: {bytes} bytes: larger than the 64 MiB a picture may have here; shrink it first", path.display())]
    TooLarge {
        /// The picture file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// The file is neither a PNG nor a JPEG.
    #[error("{}: not a PNG or JPEG image (recognised by content, not by name){}", path.display(), found_note(*.found))]
    UnknownFormat {
        /// The picture file.
        path: PathBuf,
        /// The other picture format recognised, if any (`Gif`, `WebP`, ...).
        found: Option<&'static str>,
    },
    /// The file looks like an image but does not decode (truncated, corrupt, too large).
    #[error("{}: cannot decode the {format} image: {}", path.display(), one_line(source))]
    Decode {
        /// The picture file.
        path: PathBuf,
        /// The format recognised (PNG or JPEG).
        format: &'static str,
        /// The underlying error.
        source: image::ImageError,
    },
}

/// The largest picture file read (64 MiB).
pub const MAX_PICTURE_BYTES: u64 = 64 << 20;

fn found_note(found: Option<&'static str>) -> String {
    found.map(|f| format!(": it is a {f} picture; convert it to PNG")).unwrap_or_default()
}

/// A decoder's message on one line (some span several).
fn one_line(error: &image::ImageError) -> String {
    error.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks that `path` (links followed) is a regular file of at most
/// [`MAX_PICTURE_BYTES`], without opening it; returns its size. Every reader
/// of pictures (training on image folders, `predict`, `explain`) goes through it.
pub fn check_file(path: &Path) -> Result<u64, PictureError> {
    let meta = regular(path)?;
    if meta.len() > MAX_PICTURE_BYTES {
        return Err(PictureError::TooLarge { path: path.to_owned(), bytes: meta.len() });
    }
    Ok(meta.len())
}

/// The metadata of `path` (links followed) when it is a regular file; else
/// the error saying what it is (folder, FIFO, device), before anything opens it.
fn regular(path: &Path) -> Result<std::fs::Metadata, PictureError> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).map_err(|source| PictureError::Io { path: path.to_owned(), source })?;
    let kind = meta.file_type();
    let (what, hint) = if kind.is_file() {
        return Ok(meta);
    } else if kind.is_dir() {
        ("a folder", "give the picture files inside it")
    } else if kind.is_fifo() {
        ("a FIFO (named pipe)", "save the data to a regular file first")
    } else if kind.is_block_device() || kind.is_char_device() {
        ("a device", "give a regular file")
    } else {
        ("a special file", "give a regular file")
    };
    Err(PictureError::NotRegular { path: path.to_owned(), what, hint })
}

/// The picture format the first bytes are, if they are PNG or JPEG:
/// `Ok(None)` for data that is no picture at all, `Err` naming another
/// picture format (GIF, WebP, ...).
fn picture_format(head: &[u8]) -> Result<Option<(ImageFormat, &'static str)>, &'static str> {
    match image::guess_format(head) {
        Ok(ImageFormat::Png) => Ok(Some((ImageFormat::Png, "PNG"))),
        Ok(ImageFormat::Jpeg) => Ok(Some((ImageFormat::Jpeg, "JPEG"))),
        Ok(other) => Err(other.extensions_str().first().copied().unwrap_or("other")),
        Err(_) => Ok(None),
    }
}

/// Whether the file name ends in a picture extension (`.png`, `.jpg`, `.jpeg`, any case).
pub fn has_picture_extension(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg"))
}

/// Whether a file that is not a PNG or JPEG should still be taken for a
/// picture (and so refused as one, not read as another format): its name
/// says so, or its content is another picture format. The error, if so.
pub fn not_a_picture(path: &Path, head: &[u8]) -> Option<PictureError> {
    match picture_format(head) {
        Ok(Some(_)) => None,
        Err(found) => Some(PictureError::UnknownFormat { path: path.to_owned(), found: Some(found) }),
        Ok(None) if has_picture_extension(path) => {
            Some(PictureError::UnknownFormat { path: path.to_owned(), found: None })
        }
        Ok(None) => None,
    }
}

/// Decodes a PNG or JPEG held in memory (recognised by content) to
/// grayscale; `name` only names the source in errors.
pub fn decode(bytes: &[u8], name: &Path) -> Result<GrayImage, PictureError> {
    decode_from(std::io::Cursor::new(bytes), name)
}

/// Decodes the picture `reader` holds; `path` names it in errors.
fn decode_from(mut reader: impl BufRead + std::io::Seek, path: &Path) -> Result<GrayImage, PictureError> {
    let head = reader.fill_buf().map_err(|source| PictureError::Io { path: path.to_owned(), source })?;
    // Recognised by content only (the name's extension is not trusted).
    let (image_format, format) = match picture_format(head) {
        Ok(Some(found)) => found,
        Ok(None) => return Err(PictureError::UnknownFormat { path: path.to_owned(), found: None }),
        Err(found) => return Err(PictureError::UnknownFormat { path: path.to_owned(), found: Some(found) }),
    };
    let image = ImageReader::with_format(reader, image_format).decode().map_err(|source| PictureError::Decode {
        path: path.to_owned(),
        format,
        source,
    })?;
    Ok(to_gray(image))
}

pub use data_core::Invert;

/// Whether `invert` inverts a picture that already has the model's size:
/// with [`Invert::Auto`], when its border is mostly bright ([`border_is_bright`]).
pub fn inverts(invert: Invert, image: &GrayImage) -> bool {
    match invert {
        Invert::Auto => border_is_bright(image),
        Invert::Yes => true,
        Invert::No => false,
    }
}

/// A picture ready for a model: `height × width` bytes, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Grayscale pixels, 0 black to 255 white, after any inversion.
    pub pixels: Vec<u8>,
    /// Whether the picture was inverted.
    pub inverted: bool,
}

/// Whether the first bytes of a file are those of a PNG or a JPEG.
pub fn is_picture(head: &[u8]) -> bool {
    matches!(image::guess_format(head), Ok(ImageFormat::Png | ImageFormat::Jpeg))
}

/// The first 16 bytes of the regular file `path` (refused as
/// [`check_file`] refuses special files, before opening it).
pub fn file_head(path: &Path) -> Result<Vec<u8>, PictureError> {
    let io = |source| PictureError::Io { path: path.to_owned(), source };
    regular(path)?;
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path).map_err(io)?.take(16).read_to_end(&mut head).map_err(io)?;
    Ok(head)
}

/// Whether the file at `path` starts like a PNG or a JPEG (a special file is an error).
pub fn is_picture_file(path: &Path) -> Result<bool, PictureError> {
    Ok(is_picture(&file_head(path)?))
}

/// Decodes a PNG or JPEG file (recognised by content) to grayscale, streaming
/// it from disk, after [`check_file`] (a regular file of at most 64 MiB).
/// Transparent pixels are laid over white, as viewers show them.
pub fn open(path: &Path) -> Result<GrayImage, PictureError> {
    check_file(path)?;
    let file = std::fs::File::open(path).map_err(|source| PictureError::Io { path: path.to_owned(), source })?;
    decode_from(BufReader::new(file), path)
}

/// Grayscale (ITU-R BT.709 luma, as the `image` crate computes it), with any
/// transparency composited over white.
pub fn to_gray(image: DynamicImage) -> GrayImage {
    if !image.color().has_alpha() {
        return image.into_luma8();
    }
    let with_alpha = image.into_luma_alpha8();
    let (w, h) = with_alpha.dimensions();
    let pixels = with_alpha
        .pixels()
        .map(|p| {
            let [luma, alpha] = p.0.map(u32::from);
            ((luma * alpha + 255 * (255 - alpha) + 127) / 255) as u8
        })
        .collect();
    GrayImage::from_raw(w, h, pixels).expect("one byte per pixel")
}

/// Resizes to `width × height`: box-averaged when shrinking (each source pixel
/// counts towards one target pixel, so a picture drawn at a whole multiple of
/// the size comes back exactly), bilinear when enlarging.
pub fn fit(image: GrayImage, width: u32, height: u32) -> GrayImage {
    let (w, h) = image.dimensions();
    if (w, h) == (width, height) {
        image
    } else if w >= width && h >= height {
        image::imageops::thumbnail(&image, width, height)
    } else {
        image::imageops::resize(&image, width, height, FilterType::Triangle)
    }
}

/// Whether most of the picture's border is bright (value 128 or more): the
/// sign of a dark drawing on a light background. The border is the outer ring
/// of `max(1, min(width, height) / 14)` pixels, 2 pixels at 28×28.
pub fn border_is_bright(image: &GrayImage) -> bool {
    let (w, h) = image.dimensions();
    let ring = (w.min(h) / 14).max(1);
    let (mut bright, mut total) = (0u64, 0u64);
    for (x, y, p) in image.enumerate_pixels() {
        if x < ring || y < ring || x + ring >= w || y + ring >= h {
            total += 1;
            bright += u64::from(p.0[0] >= 128);
        }
    }
    2 * bright > total
}

/// Resizes a grayscale picture to `width × height` ([`fit`]) and inverts it
/// as `invert` says (with [`Invert::Auto`], judged on the resized picture).
pub fn prepare(image: GrayImage, width: u32, height: u32, invert: Invert) -> Prepared {
    let image = fit(image, width, height);
    let inverted = inverts(invert, &image);
    let mut pixels = image.into_raw();
    if inverted {
        pixels.iter_mut().for_each(|p| *p = 255 - *p);
    }
    Prepared { pixels, inverted }
}

/// [`open`], then [`prepare`].
pub fn load(path: &Path, width: u32, height: u32, invert: Invert) -> Result<Prepared, PictureError> {
    Ok(prepare(open(path)?, width, height, invert))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Luma, LumaA, Rgb};

    fn stripe(w: u32, h: u32, ink: u8, paper: u8) -> GrayImage {
        GrayImage::from_fn(w, h, |x, _| Luma([if x >= w / 3 && x < 2 * w / 3 { ink } else { paper }]))
    }

    #[test]
    fn auto_inverts_dark_on_light_only() {
        let light_on_dark = prepare(stripe(28, 28, 255, 0), 28, 28, Invert::Auto);
        assert!(!light_on_dark.inverted);
        assert_eq!(light_on_dark.pixels, stripe(28, 28, 255, 0).into_raw());
        let dark_on_light = prepare(stripe(28, 28, 0, 255), 28, 28, Invert::Auto);
        assert!(dark_on_light.inverted);
        assert_eq!(dark_on_light.pixels, light_on_dark.pixels);
        assert!(!prepare(stripe(28, 28, 0, 255), 28, 28, Invert::No).inverted);
        assert!(prepare(stripe(28, 28, 255, 0), 28, 28, Invert::Yes).inverted);
    }

    #[test]
    fn border_needs_a_majority_of_bright_pixels() {
        // Left half of the picture bright: half the border, not a majority.
        let half = GrayImage::from_fn(28, 28, |x, _| Luma([if x < 14 { 255 } else { 0 }]));
        assert!(!border_is_bright(&half));
        let most = GrayImage::from_fn(28, 28, |x, _| Luma([if x < 20 { 200 } else { 0 }]));
        assert!(border_is_bright(&most));
        // A bright centre does not count.
        let centre = GrayImage::from_fn(28, 28, |x, y| {
            Luma([if (2..26).contains(&x) && (2..26).contains(&y) { 255 } else { 0 }])
        });
        assert!(!border_is_bright(&centre));
        assert!(border_is_bright(&GrayImage::from_pixel(1, 1, Luma([255]))));
    }

    #[test]
    fn whole_multiples_shrink_exactly_and_enlarging_keeps_the_size() {
        let small = GrayImage::from_fn(5, 6, |x, y| Luma([(x * 40 + y * 7) as u8]));
        let big = image::imageops::resize(&small, 20, 24, FilterType::Nearest);
        assert_eq!(fit(big, 5, 6), small);
        let enlarged = fit(small.clone(), 28, 28);
        assert_eq!(enlarged.dimensions(), (28, 28));
        assert_eq!(fit(small.clone(), 5, 6), small);
        // One dimension larger, one smaller.
        assert_eq!(fit(small, 3, 12).dimensions(), (3, 12));
    }

    #[test]
    fn transparency_is_laid_over_white() {
        let image = image::ImageBuffer::from_fn(2, 1, |x, _| if x == 0 { LumaA([0u8, 0]) } else { LumaA([0, 255]) });
        let gray = to_gray(DynamicImage::ImageLumaA8(image));
        assert_eq!(gray.into_raw(), vec![255, 0]);
        let rgb = image::RgbImage::from_pixel(1, 1, Rgb([255, 255, 255]));
        assert_eq!(to_gray(DynamicImage::ImageRgb8(rgb)).into_raw(), vec![255]);
    }

    #[test]
    fn files_are_recognised_by_content() {
        let tmp = tempfile::tempdir().unwrap();
        let png = tmp.path().join("really-a-png.jpg");
        stripe(8, 8, 255, 0).save_with_format(&png, ImageFormat::Png).unwrap();
        let jpeg = tmp.path().join("photo.png");
        DynamicImage::ImageLuma8(stripe(16, 16, 0, 255)).to_rgb8().save_with_format(&jpeg, ImageFormat::Jpeg).unwrap();
        assert!(is_picture_file(&png).unwrap() && is_picture_file(&jpeg).unwrap());
        assert_eq!(open(&png).unwrap(), stripe(8, 8, 255, 0));
        let from_jpeg = load(&jpeg, 8, 8, Invert::Auto).unwrap();
        assert!(from_jpeg.inverted, "JPEG of a dark stripe on white");
        let text = tmp.path().join("notes.png");
        std::fs::write(&text, "not an image").unwrap();
        assert!(!is_picture_file(&text).unwrap());
        let err = open(&text).unwrap_err();
        assert!(matches!(err, PictureError::UnknownFormat { .. }) && err.to_string().contains("notes.png"), "{err}");
        let truncated = tmp.path().join("truncated.png");
        std::fs::write(&truncated, &std::fs::read(&png).unwrap()[..40]).unwrap();
        let err = open(&truncated).unwrap_err();
        assert!(matches!(err, PictureError::Decode { .. }) && err.to_string().contains("truncated.png"), "{err}");
        let err = open(&tmp.path().join("missing.png")).unwrap_err();
        assert!(matches!(err, PictureError::Io { .. }) && err.to_string().contains("missing.png"), "{err}");
    }
}
