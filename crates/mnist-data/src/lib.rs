//! Reads MNIST-family datasets into libtorch tensors.
//!
//! A dataset folder holds the four standard IDX files, gzipped or raw:
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`
//! and `t10k-labels-idx1-ubyte` (each optionally ending in `.gz`, and also under
//! the `train-images.idx3-ubyte` spelling found in the wild); gzip is detected
//! by content, not by name. Every file is validated — magic number, element
//! type, dimensions, sizes, image and label counts, label range — and any
//! problem is a [`DataError`] naming the file.
//!
//! Named datasets ([`datasets::MNIST`], [`datasets::FASHION_MNIST`]) know
//! their usual folder, their class names, their mirrors and the SHA-256 of
//! each file, so they can be downloaded and verified ([`download::fetch`]).
//! A validation set can be held out of the training images, stratified and
//! seeded (data-core's [`data_core::stratified_holdout`]).
//!
//! The crate assumes no working directory and reads no environment: a config
//! naming no folder reads the folders the application gives in [`Locations`].
//!
//! The result is data-core's one [`Dataset`], so the trainer and the
//! evaluator never depend on this crate: images are `[N, rows, cols]` `f32`
//! (in `[0, 1]`, or standardised with one mean and deviation over all
//! pixels), labels `[N]` `i64`. Images may have any height and width.
//! [`DataConfig`] is a [`data_core::DataSource`].
//!
//! ```no_run
//! let config = mnist_data::DataConfig {
//!     dataset: Some(mnist_data::DatasetRef::FashionMnist),
//!     validation: Some(mnist_data::ValidationSize::Count(5000)),
//!     ..Default::default()
//! };
//! let data = mnist_data::load(&config, &mnist_data::Locations::default())?;
//! assert_eq!(data.train.len(), 55_000);
//! assert_eq!(data.class_names[0], "T-shirt/top");
//! # Ok::<(), mnist_data::DataError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

pub mod classes;
pub mod config;
pub mod datasets;
#[cfg(feature = "download")]
pub mod download;
mod error;
pub mod files;
pub mod fuzz;
pub mod idx;
pub mod recognise;
pub mod tensors;
#[cfg(test)]
mod tests;

use data_core::{Dataset, InputSpec, Invert, PictureInput, Scope, Split};

pub use classes::digit_names;
pub use config::{short_float, DataConfig, DatasetRef, Locations, Normalize, ValidationSize};
pub use datasets::NamedDataset;
pub use error::{DataError, DownloadAttempt, Result};
pub use files::load_split;
pub use tensors::to_splits;

/// Reads the IDX files the config names (see [`load`]).
impl data_core::DataSource for DataConfig {
    type Error = DataError;

    fn load(&self, locations: &Locations) -> Result<Dataset> {
        load(self, locations)
    }
}

/// Number of classes of the MNIST family.
pub const NUM_CLASSES: usize = 10;

/// Loads the training, validation and test splits described by `config`,
/// downloading missing files first when `config.download` is set; a config
/// naming no folder reads those of `locations`.
pub fn load(config: &DataConfig, locations: &Locations) -> Result<Dataset> {
    let (dir, named) = config.resolve(locations)?;
    if config.download {
        download_named(config, &dir, named)?;
    }
    if !dir.is_dir() {
        return Err(DataError::MissingDir(dir));
    }
    let ((train_images, train_labels), (test_images, test_labels)) = files::load_both(&dir)?;
    if (train_images.rows, train_images.cols) != (test_images.rows, test_images.cols) {
        return Err(DataError::ShapeMismatch {
            train: train_images.path.clone(),
            train_shape: (train_images.rows, train_images.cols),
            test: test_images.path.clone(),
            test_shape: (test_images.rows, test_images.cols),
        });
    }
    let class_names = classes::class_names(config, named, &train_labels, &test_labels)?;
    tensors::check_pair(&train_images, &train_labels, class_names.len())?;
    tensors::check_pair(&test_images, &test_labels, class_names.len())?;
    let holdout = match config.validation {
        Some(size) => {
            Some(data_core::stratified_holdout(&train_labels.labels, size.count(train_images.count)?, config.seed))
        }
        None => None,
    };
    let (train, validation) = to_splits(&train_images, &train_labels, class_names.len(), holdout.as_ref())?;
    let (test, _) = to_splits(&test_images, &test_labels, class_names.len(), None)?;
    // Pictures given to the model later (PNG, JPEG) are inverted when they
    // look like dark drawings on light paper: MNIST-family images are light on dark.
    let (rows, cols) = (train_images.rows as u32, train_images.cols as u32);
    let input = InputSpec::Picture(PictureInput::new(rows, cols, Invert::Auto));
    let mut data = Dataset { train, validation, test, class_names, input, standardization: None };
    data.normalize(config.normalize, Scope::Global).map_err(|e| match e {
        data_core::DataCoreError::Constant { .. } => DataError::BadSize {
            path: train_images.path.clone(),
            detail: "every training pixel has the same value, so it cannot be standardised".into(),
        },
        other => other.into(),
    })?;
    tracing::info!(
        dir = %dir.display(),
        train = data.train.len(),
        validation = data.validation.as_ref().map_or(0, Split::len),
        test = data.test.len(),
        rows = train_images.rows,
        cols = train_images.cols,
        "loaded dataset"
    );
    Ok(data)
}

/// Downloads the missing files of the named dataset (`data.download`).
#[cfg(feature = "download")]
fn download_named(config: &DataConfig, dir: &std::path::Path, named: Option<NamedDataset>) -> Result<()> {
    download::download_named(config, dir, named)
}

/// `data.download` in a build without the `download` feature: refused,
/// naming the key (this build reads IDX files only).
#[cfg(not(feature = "download"))]
fn download_named(_: &DataConfig, _: &std::path::Path, _: Option<NamedDataset>) -> Result<()> {
    let hint = "this build reads IDX files only (mnist-data without its `download` feature): \
                download the files with lstm-mnist, or build mnist-data with the feature";
    Err(config_error::InvalidConfig::new("data.download", true, hint).into())
}
