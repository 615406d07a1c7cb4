//! Input files as batches of prepared pictures: a PNG or JPEG is one image;
//! an IDX image file is read a batch at a time, so memory stays that of one
//! batch whatever the number of images.

use std::path::{Path, PathBuf};

use data_core::Invert;
use image::GrayImage;
use image_folder_data::picture;
use mnist_data::idx::ImageStream;

use crate::InferenceError;

/// Some images of one input file, prepared for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// `height × width` bytes per image, row by row, after resizing and any inversion.
    pub pixels: Vec<u8>,
    /// Position of the first image in its IDX file; `None` for a picture.
    pub first_index: Option<usize>,
    /// Whether each image was inverted.
    pub inverted: Vec<bool>,
}

impl Batch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.inverted.len()
    }

    /// Whether the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.inverted.is_empty()
    }

    /// The position in its file of image `i` of the batch (`None` for a picture).
    pub fn index(&self, i: usize) -> Option<usize> {
        self.first_index.map(|first| first + i)
    }
}

enum Source {
    /// A decoded picture, until it is taken.
    Picture(Option<(Vec<u8>, bool)>),
    /// An IDX file, with whether to invert its images.
    Idx { stream: ImageStream, invert: bool, next: usize },
}

/// The images of one input file, for a model of `height × width` pictures.
pub struct ImageBatches {
    path: PathBuf,
    source: Source,
    height: u32,
    width: u32,
}

impl std::fmt::Debug for ImageBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageBatches").field("path", &self.path).finish()
    }
}

impl ImageBatches {
    /// Checks and opens `path`: a regular file (a folder, FIFO or device is
    /// refused before it is opened); a PNG or JPEG (recognised by content) of
    /// at most 64 MiB, decoded and prepared now ([`picture::prepare`], inverted
    /// as `invert` says); a file named like a picture or holding another
    /// picture format is refused as "not a PNG or JPEG"; anything else must be
    /// an IDX image file with a valid header (inverted only with [`Invert::Yes`]).
    pub fn open(path: &Path, height: u32, width: u32, invert: Invert) -> Result<Self, InferenceError> {
        let head = picture::file_head(path)?;
        let source = if picture::is_picture(&head) {
            let prepared = picture::load(path, width, height, invert)?;
            Source::Picture(Some((prepared.pixels, prepared.inverted)))
        } else if let Some(err) = picture::not_a_picture(path, &head) {
            return Err(err.into());
        } else {
            Source::Idx { stream: ImageStream::open(path)?, invert: invert == Invert::Yes, next: 0 }
        };
        Ok(ImageBatches { path: path.to_owned(), source, height, width })
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is a picture (one image) rather than an IDX file.
    pub fn is_picture(&self) -> bool {
        matches!(self.source, Source::Picture(_))
    }

    /// The next at most `max` images, or `None` after the last.
    pub fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, InferenceError> {
        let (height, width) = (self.height, self.width);
        match &mut self.source {
            Source::Picture(taken) => {
                Ok(taken.take().map(|(pixels, inverted)| Batch { pixels, first_index: None, inverted: vec![inverted] }))
            }
            Source::Idx { stream, invert, next } => {
                let Some(raw) = stream.next_batch(max)? else { return Ok(None) };
                let (rows, cols) = (stream.rows, stream.cols);
                let same = (rows, cols) == (height as usize, width as usize);
                let mut pixels = Vec::with_capacity(raw.len() / (rows * cols).max(1) * (height * width) as usize);
                let mut inverted = Vec::new();
                for image in raw.chunks(rows * cols) {
                    if same && !*invert {
                        pixels.extend_from_slice(image);
                    } else {
                        let gray = GrayImage::from_raw(cols as u32, rows as u32, image.to_vec())
                            .expect("IDX image of rows x cols bytes");
                        let policy = if *invert { Invert::Yes } else { Invert::No };
                        pixels.extend(picture::prepare(gray, width, height, policy).pixels);
                    }
                    inverted.push(*invert);
                }
                let first_index = Some(*next);
                *next += inverted.len();
                Ok(Some(Batch { pixels, first_index, inverted }))
            }
        }
    }
}
