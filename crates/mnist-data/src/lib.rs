//! Reads MNIST-family datasets into libtorch tensors.
//!
//! A dataset folder holds the four standard IDX files, gzipped or raw:
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`
//! and `t10k-labels-idx1-ubyte` (each optionally ending in `.gz`, and also under
//! the `train-images.idx3-ubyte` spelling found in the wild). Every file is
//! validated — magic number, element type, dimensions, sizes, image and label
//! counts, label range — and any problem is a [`DataError`] naming the file.
//!
//! The result is plain tensors, so the trainer and the evaluator never depend
//! on this crate: images are `[N, rows, cols]` `f32` in `[0, 1]`, labels `[N]`
//! `i64`.
//!
//! ```no_run
//! let data = mnist_data::load(&mnist_data::DataConfig::default())?;
//! assert_eq!(data.train.images.size()[1..], [28, 28]);
//! # Ok::<(), mnist_data::DataError>(())
//! ```

mod error;
pub mod idx;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

pub use error::{DataError, Result};
use idx::{IdxImages, IdxLabels};

/// Number of classes of the MNIST family.
pub const NUM_CLASSES: usize = 10;

/// Where the data comes from (the `data` section of an experiment config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Folder with the four standard IDX files.
    /// Default: `data/mnist-sample`, the 10,000 real digits shipped with the project.
    pub dir: PathBuf,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self { dir: PathBuf::from("data/mnist-sample") }
    }
}

/// One split as tensors: images `[N, rows, cols]` `f32` in `[0, 1]`, labels `[N]` `i64`.
#[derive(Debug)]
pub struct Split {
    /// Pixel values scaled to `[0, 1]`.
    pub images: Tensor,
    /// Class indices.
    pub labels: Tensor,
}

impl Split {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    /// Whether the split holds no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A dataset: a training and a test split and the names of its classes.
#[derive(Debug)]
pub struct Dataset {
    /// Training split.
    pub train: Split,
    /// Test split.
    pub test: Split,
    /// One name per class index.
    pub class_names: Vec<String>,
}

/// The file names accepted for one of the four files, most common first:
/// `train-images-idx3-ubyte` and `train-images.idx3-ubyte`, each also gzipped.
fn candidates(stem: &str, what: &str, idx: &str) -> Vec<String> {
    let dashed = format!("{stem}-{what}-{idx}-ubyte");
    let dotted = format!("{stem}-{what}.{idx}-ubyte");
    vec![format!("{dashed}.gz"), dashed, format!("{dotted}.gz"), dotted]
}

/// Finds the first existing file among the accepted names.
fn find(dir: &Path, stem: &str, what: &'static str, idx: &str) -> Result<PathBuf> {
    let tried = candidates(stem, what, idx);
    tried
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| DataError::MissingFile { dir: dir.to_owned(), what, tried })
}

/// Turns validated IDX images and labels into a [`Split`].
pub fn to_split(images: &IdxImages, labels: &IdxLabels, classes: usize) -> Result<Split> {
    if images.count != labels.labels.len() {
        return Err(DataError::CountMismatch {
            images_path: images.path.clone(),
            labels_path: labels.path.clone(),
            images: images.count,
            labels: labels.labels.len(),
        });
    }
    if let Some((index, &label)) = labels.labels.iter().enumerate().find(|(_, &l)| usize::from(l) >= classes) {
        return Err(DataError::LabelOutOfRange { path: labels.path.clone(), index, label, classes });
    }
    let shape = [images.count as i64, images.rows as i64, images.cols as i64];
    let images_t = Tensor::f_from_slice(&images.pixels)?.f_reshape(shape)?.f_to_kind(Kind::Float)? / 255.0;
    let labels_t = Tensor::f_from_slice(&labels.labels)?.f_to_kind(Kind::Int64)?;
    Ok(Split { images: images_t, labels: labels_t })
}

/// Reads one split (`stem` is `train` or `t10k`) from a dataset folder.
pub fn load_split(dir: &Path, stem: &str) -> Result<(IdxImages, IdxLabels)> {
    let images = idx::read_images(&find(dir, stem, "images", "idx3")?)?;
    let labels = idx::read_labels(&find(dir, stem, "labels", "idx1")?)?;
    Ok((images, labels))
}

/// The class names of MNIST digits.
pub fn digit_names() -> Vec<String> {
    (0..NUM_CLASSES).map(|d| d.to_string()).collect()
}

/// Loads the training and test splits described by `config`.
pub fn load(config: &DataConfig) -> Result<Dataset> {
    let dir = &config.dir;
    if !dir.is_dir() {
        return Err(DataError::MissingDir(dir.clone()));
    }
    let (train_images, train_labels) = load_split(dir, "train")?;
    let (test_images, test_labels) = load_split(dir, "t10k")?;
    if (train_images.rows, train_images.cols) != (test_images.rows, test_images.cols) {
        return Err(DataError::ShapeMismatch {
            train: train_images.path.clone(),
            train_shape: (train_images.rows, train_images.cols),
            test: test_images.path.clone(),
            test_shape: (test_images.rows, test_images.cols),
        });
    }
    let train = to_split(&train_images, &train_labels, NUM_CLASSES)?;
    let test = to_split(&test_images, &test_labels, NUM_CLASSES)?;
    tracing::info!(
        dir = %dir.display(),
        train = train.len(),
        test = test.len(),
        rows = train_images.rows,
        cols = train_images.cols,
        "loaded dataset"
    );
    Ok(Dataset { train, test, class_names: digit_names() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use idx::{encode_images, encode_labels};

    fn write_dataset(dir: &Path, train_labels: &[u8], test_labels: &[u8]) {
        let (r, c) = (3, 2);
        for (stem, labels) in [("train", train_labels), ("t10k", test_labels)] {
            let pixels: Vec<u8> = (0..labels.len() * r * c).map(|i| (i * 37 % 256) as u8).collect();
            std::fs::write(dir.join(format!("{stem}-images-idx3-ubyte")), encode_images(labels.len(), r, c, &pixels))
                .unwrap();
            std::fs::write(dir.join(format!("{stem}-labels.idx1-ubyte")), encode_labels(labels)).unwrap();
        }
    }

    #[test]
    fn loads_tensors_of_the_right_shape_and_scale() {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), &[0, 1, 2, 9], &[3, 4]);
        let data = load(&DataConfig { dir: dir.path().to_owned() }).unwrap();
        assert_eq!(data.train.images.size(), [4, 3, 2]);
        assert_eq!(data.test.labels.size(), [2]);
        assert_eq!(Vec::<i64>::try_from(&data.train.labels).unwrap(), vec![0, 1, 2, 9]);
        assert_eq!(data.train.images.kind(), Kind::Float);
        let second = data.train.images.double_value(&[0, 0, 1]);
        assert!((second - 37.0 / 255.0).abs() < 1e-7);
        assert_eq!(data.class_names.len(), NUM_CLASSES);
    }

    #[test]
    fn names_missing_files_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&DataConfig { dir: dir.path().join("nope") }).unwrap_err();
        assert!(matches!(err, DataError::MissingDir(_)), "{err}");
        let err = load(&DataConfig { dir: dir.path().to_owned() }).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("train-images-idx3-ubyte.gz") && msg.contains("train-images.idx3-ubyte"), "{msg}");
    }

    #[test]
    fn rejects_label_out_of_range_and_count_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), &[0, 10], &[1]);
        let err = load(&DataConfig { dir: dir.path().to_owned() }).unwrap_err();
        assert!(matches!(err, DataError::LabelOutOfRange { index: 1, label: 10, .. }), "{err}");
        std::fs::write(dir.path().join("train-labels.idx1-ubyte"), encode_labels(&[0])).unwrap();
        let err = load(&DataConfig { dir: dir.path().to_owned() }).unwrap_err();
        assert!(matches!(err, DataError::CountMismatch { images: 2, labels: 1, .. }), "{err}");
    }
}
