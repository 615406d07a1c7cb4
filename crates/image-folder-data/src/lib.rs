//! Reads a folder of images sorted into class folders — the layout of
//! torchvision's `ImageFolder` — into libtorch tensors:
//!
//! ```text
//! DIR/train/<class>/*.png|*.jpg|*.jpeg    training images (subfolders allowed)
//! DIR/test/<class>/...                    test images
//! DIR/val/<class>/...                     validation images (optional)
//! ```
//!
//! The classes are the folder names of `train/`, sorted; they become the
//! model's class names. Every image is decoded (PNG or JPEG, by content),
//! converted to grayscale, resized to [`ImageFolderConfig::size`] and,
//! depending on [`ImageFolderConfig::invert`], inverted, by [`picture`]: the
//! same code `lstm-mnist predict` runs on a picture, so training and
//! prediction see images prepared alike. Files are read in parallel (rayon)
//! straight from disk, each into its place in one pixel buffer.
//!
//! The result is data-core's one [`Dataset`]: images `[N, height, width]`
//! `f32` in `[0, 1]` (or standardised with one mean and deviation over all
//! pixels), labels `[N]` `i64`. [`ImageFolderConfig`] is a [`data_core::DataSource`].
//!
//! ```no_run
//! let config = image_folder_data::ImageFolderConfig::from_dir("my-digits");
//! let data = image_folder_data::load(&config)?;
//! println!("{} classes: {:?}", data.class_names.len(), data.class_names);
//! # Ok::<(), image_folder_data::ImageFolderError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

mod config;
mod listing;
pub mod picture;

use std::path::{Path, PathBuf};
use std::time::Instant;

use data_core::{Dataset, InputSpec, PictureInput, Scope, Split};
use rayon::prelude::*;
use tch::{Kind, Tensor};

pub use config::{ImageFolderConfig, ImageSize, MAX_PIXELS};
pub use listing::{class_folders, EXTENSIONS, MAX_CLASSES};
use listing::{list_split, Listing};
use picture::PictureError;

/// Why an image folder could not be loaded. Every variant names the file,
/// folder or config key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ImageFolderError {
    /// A config value cannot be used (the shared [`config_error::InvalidConfig`]:
    /// the dotted key, the value, what would fix it).
    #[error(transparent)]
    InvalidConfig(#[from] config_error::InvalidConfig),
    /// `data.dir` does not exist.
    #[error("{}: no such folder (data.dir): give a folder holding train/<class>/ and test/<class>/", .0.display())]
    MissingDir(PathBuf),
    /// The folder lacks `train/` or `test/`.
    #[error("{}: no such folder; an image folder holds train/<class>/ and test/<class>/, optionally val/<class>/", .0.display())]
    MissingSplit(PathBuf),
    /// `train/` holds no class folder.
    #[error("{}: no class folders; put each class's images in a folder named after it, as train/<class>/", .0.display())]
    NoClasses(PathBuf),
    /// A class folder's name is not UTF-8.
    #[error("{}: a class folder's name must be valid UTF-8 (it becomes the class name); rename it", path.display())]
    BadClassName {
        /// The class folder.
        path: PathBuf,
    },
    /// More classes than supported.
    #[error("{}: {count} class folders; at most {MAX_CLASSES} are supported", path.display())]
    TooManyClasses {
        /// The `train/` folder.
        path: PathBuf,
        /// Number of class folders found.
        count: usize,
    },
    /// A test or validation class the training split lacks.
    #[error(
        "{}: no class of that name in train/ (classes: {}); the model can only learn classes it is trained on",
        path.display(), classes.join(", ")
    )]
    UnknownClass {
        /// The test or validation class folder.
        path: PathBuf,
        /// The class names of `train/`.
        classes: Vec<String>,
    },
    /// A training class folder without images.
    #[error("{}: no images (.png, .jpg, .jpeg) in this class folder; add some or remove the folder", path.display())]
    EmptyClass {
        /// The class folder.
        path: PathBuf,
    },
    /// A split ended up empty.
    #[error("{}: no images left to {what}{}", path.display(), skipped_note(*.skipped))]
    EmptySplit {
        /// The split's folder.
        path: PathBuf,
        /// What the split was for (`train on`, `test on`, `validate on`).
        what: &'static str,
        /// Files skipped by `data.skip_bad` so far.
        skipped: usize,
    },
    /// A folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An image file could not be read.
    #[error("{source}{}", more_bad(*.more))]
    BadImage {
        /// The first picture that could not be read.
        source: PictureError,
        /// How many more bad files there are.
        more: usize,
    },
    /// The validation size does not fit the training split.
    #[error(transparent)]
    Validation(data_core::DataCoreError),
    /// A tensor operation failed.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

fn skipped_note(skipped: usize) -> String {
    match skipped {
        0 => String::new(),
        n => format!(" ({n} unreadable files skipped by data.skip_bad so far)"),
    }
}

fn more_bad(more: usize) -> String {
    let others = match more {
        0 => String::new(),
        1 => " (and 1 more bad file)".to_owned(),
        n => format!(" (and {n} more bad files)"),
    };
    format!("{others}; fix or remove it, or set data.skip_bad: true to skip bad files with a warning")
}

impl ImageFolderError {
    /// Whether the config is at fault (a value, or a folder that is missing
    /// or laid out wrongly) rather than the contents of a file.
    pub fn is_config(&self) -> bool {
        use ImageFolderError::*;
        match self {
            InvalidConfig(_)
            | MissingDir(_)
            | MissingSplit(_)
            | NoClasses(_)
            | UnknownClass { .. }
            | EmptyClass { .. }
            | TooManyClasses { .. } => true,
            Validation(e) => e.is_config(),
            _ => false,
        }
    }

    /// An [`InvalidConfig`](Self::InvalidConfig) error for the dotted config key `key`.
    pub fn invalid_config(key: impl Into<String>, value: impl ToString, hint: impl Into<String>) -> Self {
        ImageFolderError::InvalidConfig(config_error::InvalidConfig::new(key, value, hint))
    }
}

/// What loading found, for the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Images read, all splits together.
    pub images: usize,
    /// How many of them were inverted.
    pub inverted: usize,
    /// Bad files skipped (with `skip_bad`).
    pub skipped: Vec<PathBuf>,
    /// Files in class folders not ending in an image extension (not read).
    pub ignored: Vec<PathBuf>,
    /// Wall time of reading and preparing the images, in seconds.
    pub seconds: f64,
}

/// Pixels and labels of one split, read from its files.
struct Pixels {
    bytes: Vec<u8>,
    labels: Vec<u8>,
}

impl Pixels {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn tensors(&self, size: ImageSize) -> Result<Split, ImageFolderError> {
        let shape = [self.len() as i64, i64::from(size.height), i64::from(size.width)];
        let images =
            Tensor::f_from_slice(&self.bytes)?.f_reshape(shape)?.f_to_kind(Kind::Float)?.f_div_scalar_(255.0)?;
        let labels = Tensor::f_from_slice(&self.labels)?.f_to_kind(Kind::Int64)?;
        Ok(Split::new(images, labels))
    }
}

/// Reads every file of `listing` in parallel into one buffer. A bad file is
/// an error naming it, or with `skip_bad` is left out and recorded in `report`.
fn read_split(
    listing: Listing,
    config: &ImageFolderConfig,
    report: &mut LoadReport,
) -> Result<Pixels, ImageFolderError> {
    let ImageSize { height, width } = config.size;
    let pixels_per_image = (height * width) as usize;
    check_memory(listing.files.len(), config.size, data_core::memory::available_bytes())?;
    let mut bytes = vec![0u8; listing.files.len() * pixels_per_image];
    let outcomes: Vec<Result<bool, PictureError>> = bytes
        .par_chunks_mut(pixels_per_image)
        .zip(listing.files.par_iter())
        .map(|(slot, path)| {
            let prepared = picture::load(path, width, height, config.invert)?;
            slot.copy_from_slice(&prepared.pixels);
            Ok(prepared.inverted)
        })
        .collect();
    report.ignored.extend(listing.ignored);
    let bad = outcomes.iter().filter(|o| o.is_err()).count();
    let mut labels = listing.labels;
    let mut kept = Vec::with_capacity(outcomes.len());
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(inverted) => {
                report.inverted += usize::from(inverted);
                kept.push(i);
            }
            Err(source) if !config.skip_bad => return Err(ImageFolderError::BadImage { source, more: bad - 1 }),
            Err(_) => report.skipped.push(listing.files[i].clone()),
        }
    }
    if bad > 0 {
        // Move the good images (and their labels) to the front, in order.
        for (to, &from) in kept.iter().enumerate() {
            bytes.copy_within(from * pixels_per_image..(from + 1) * pixels_per_image, to * pixels_per_image);
            labels[to] = labels[from];
        }
        bytes.truncate(kept.len() * pixels_per_image);
        labels.truncate(kept.len());
    }
    report.images += labels.len();
    Ok(Pixels { bytes, labels })
}

/// The folder `name` of `dir`, which must exist unless `optional`.
fn split_dir(dir: &Path, name: &str, optional: bool) -> Result<Option<PathBuf>, ImageFolderError> {
    let path = dir.join(name);
    match (path.is_dir(), optional) {
        (true, _) => Ok(Some(path)),
        (false, true) => Ok(None),
        (false, false) => Err(ImageFolderError::MissingSplit(path)),
    }
}

/// Reads one split folder, requiring it to hold at least one image.
fn load_split(
    path: &Path,
    classes: &[String],
    what: &'static str,
    config: &ImageFolderConfig,
    report: &mut LoadReport,
) -> Result<Pixels, ImageFolderError> {
    let listing = list_split(path, classes, what == "train on")?;
    let pixels = read_split(listing, config, report)?;
    if pixels.len() == 0 {
        return Err(ImageFolderError::EmptySplit { path: path.to_owned(), what, skipped: report.skipped.len() });
    }
    Ok(pixels)
}

/// Bytes held per pixel of a split while it is loaded: the decoded bytes,
/// the `f32` tensor made of them and one more `f32` copy (a hold-out or
/// standardisation).
pub const BYTES_PER_PIXEL: u64 = 1 + 4 + 4;

/// Refuses, before anything is allocated, `files` pictures of `size` whose
/// loading (see [`BYTES_PER_PIXEL`]) needs more than `available` bytes:
/// an error naming `data.size` (status 2), instead of a failed allocation.
pub fn check_memory(files: usize, size: ImageSize, available: Option<u64>) -> Result<(), ImageFolderError> {
    let Some(available) = available else { return Ok(()) };
    let pixels = u64::from(size.height) * u64::from(size.width);
    let need = (files as u64).checked_mul(pixels).and_then(|p| p.checked_mul(BYTES_PER_PIXEL));
    if need.is_some_and(|n| n <= available) {
        return Ok(());
    }
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30));
    Err(ImageFolderError::invalid_config(
        "data.size",
        size,
        format!(
            "{files} pictures of {size} pixels need about {} to load, this machine allows {}: \
             use a smaller data.size (MNIST's is 28) or fewer pictures",
            need.map_or_else(|| "more than 2^64 bytes".to_owned(), gib),
            gib(available)
        ),
    ))
}

/// Splits `train` into training and validation tensors, stratified by class.
fn hold_out(
    train: &Pixels,
    size: data_core::ValidationSize,
    config: &ImageFolderConfig,
) -> Result<(Split, Split), ImageFolderError> {
    let count = size.count(train.len()).map_err(ImageFolderError::Validation)?;
    let holdout = data_core::stratified_holdout(&train.labels, count, config.seed);
    let all = train.tensors(config.size)?;
    let pick = |idx: &[i64]| all.select(idx).map_err(ImageFolderError::Validation);
    Ok((pick(&holdout.train)?, pick(&holdout.validation)?))
}

/// Standardises every split with the training images' mean and standard
/// deviation; `train_dir` names the folder when every training pixel is the same.
fn standardize(data: &mut Dataset, train_dir: &Path) -> Result<(), ImageFolderError> {
    data.standardize(Scope::Global).map_err(|e| match e {
        data_core::DataCoreError::Constant { .. } => ImageFolderError::invalid_config(
            "data.normalize",
            "\"standardize\"",
            format!(
                "every training pixel under {} has the same value, so it cannot be standardised; use \"scale\"",
                train_dir.display()
            ),
        ),
        other => ImageFolderError::Validation(other),
    })
}

/// Checks the config and finds the class names (the sorted folder names of `train/`).
fn classes_of(config: &ImageFolderConfig) -> Result<(PathBuf, Vec<String>), ImageFolderError> {
    let dir = config.dir.clone().ok_or_else(|| {
        ImageFolderError::invalid_config(
            "data.dir",
            "(missing)",
            "give the folder holding train/<class>/ and test/<class>/",
        )
    })?;
    config.size.validate()?;
    if !dir.is_dir() {
        return Err(ImageFolderError::MissingDir(dir));
    }
    let train_dir = dir.join("train");
    split_dir(&dir, "train", false)?;
    let classes = class_folders(&train_dir)?;
    if classes.is_empty() {
        return Err(ImageFolderError::NoClasses(train_dir));
    }
    if classes.len() > MAX_CLASSES {
        return Err(ImageFolderError::TooManyClasses { path: train_dir, count: classes.len() });
    }
    Ok((dir, classes))
}

/// Loads the training, validation and test splits of the image folder
/// `config.dir`, logging what was read (see [`load_with_report`]).
pub fn load(config: &ImageFolderConfig) -> Result<Dataset, ImageFolderError> {
    let (data, report) = load_with_report(config)?;
    tracing::info!(
        images = report.images,
        inverted = report.inverted,
        seconds = format!("{:.2}", report.seconds),
        images_per_second = format!("{:.0}", report.images as f64 / report.seconds.max(1e-9)),
        "pictures read"
    );
    if !report.ignored.is_empty() {
        tracing::info!(
            ignored = report.ignored.len(),
            first = %report.ignored[0].display(),
            "files not ending in .png, .jpg or .jpeg were not read"
        );
    }
    Ok(data)
}

/// Reads every source image of the folder `config.dir` (see [`load`]), also
/// returning what was found: counts, inverted, skipped and ignored files.
pub fn load_with_report(config: &ImageFolderConfig) -> Result<(Dataset, LoadReport), ImageFolderError> {
    let (dir, classes) = classes_of(config)?;
    let test_dir = split_dir(&dir, "test", false)?.expect("required split");
    let val_dir = split_dir(&dir, "val", true)?;
    if let (Some(val), Some(_)) = (&val_dir, config.validation) {
        return Err(ImageFolderError::invalid_config(
            "data.validation",
            match config.validation {
                Some(data_core::ValidationSize::Count(n)) => n.to_string(),
                Some(data_core::ValidationSize::Fraction(f)) => f.to_string(),
                None => String::new(),
            },
            format!("{} already holds the validation images; remove data.validation", val.display()),
        ));
    }
    let start = Instant::now();
    let mut report = LoadReport::default();
    let train = load_split(&dir.join("train"), &classes, "train on", config, &mut report)?;
    let test = load_split(&test_dir, &classes, "test on", config, &mut report)?;
    let val = val_dir.map(|v| load_split(&v, &classes, "validate on", config, &mut report)).transpose()?;
    report.seconds = start.elapsed().as_secs_f64();
    if !report.skipped.is_empty() {
        tracing::warn!(
            skipped = report.skipped.len(),
            first = %report.skipped[0].display(),
            "skipped files that are not readable PNG or JPEG images (data.skip_bad)"
        );
    }
    let (train, validation) = match (val, config.validation) {
        (Some(val), _) => (train.tensors(config.size)?, Some(val.tensors(config.size)?)),
        (None, Some(size)) => {
            let (train, validation) = hold_out(&train, size, config)?;
            (train, Some(validation))
        }
        (None, None) => (train.tensors(config.size)?, None),
    };
    let input = InputSpec::Picture(PictureInput::new(config.size.height, config.size.width, config.invert));
    let test = test.tensors(config.size)?;
    let mut data = Dataset { train, validation, test, class_names: classes, input, standardization: None };
    if config.normalize == data_core::Normalize::Standardize {
        standardize(&mut data, &dir.join("train"))?;
    }
    Ok((data, report))
}

impl data_core::SourceError for ImageFolderError {
    fn is_config(&self) -> bool {
        ImageFolderError::is_config(self)
    }
}

/// Reads the image folder the config names (see [`load`]); `data.dir` is required.
impl data_core::DataSource for ImageFolderConfig {
    type Error = ImageFolderError;

    fn check(&self) -> Result<(), ImageFolderError> {
        self.size.validate()
    }

    fn load(&self, _: &data_core::Locations) -> Result<Dataset, ImageFolderError> {
        load(self)
    }
}

#[cfg(test)]
mod tests;
