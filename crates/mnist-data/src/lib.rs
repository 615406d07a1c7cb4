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
//! seeded ([`split::stratified_holdout`]).
//!
//! The result is plain tensors, so the trainer and the evaluator never depend
//! on this crate: images are `[N, rows, cols]` `f32` (in `[0, 1]`, or
//! standardised), labels `[N]` `i64`. Images may have any height and width.
//!
//! ```no_run
//! let config = mnist_data::DataConfig {
//!     dataset: Some(mnist_data::DatasetRef::FashionMnist),
//!     validation: Some(mnist_data::ValidationSize::Count(5000)),
//!     ..Default::default()
//! };
//! let data = mnist_data::load(&config)?;
//! assert_eq!(data.train.len(), 55_000);
//! assert_eq!(data.class_names[0], "T-shirt/top");
//! # Ok::<(), mnist_data::DataError>(())
//! ```

pub mod datasets;
pub mod download;
mod error;
pub mod idx;
pub mod recognise;
pub mod split;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tch::{Kind, Tensor};

pub use datasets::NamedDataset;
pub use error::{DataError, DownloadAttempt, Result};
use idx::{IdxImages, IdxLabels};

/// Number of classes of the MNIST family.
pub const NUM_CLASSES: usize = 10;

/// The folder used when neither `data.dataset` nor `data.dir` is given: the
/// 10,000 real digits shipped with the project.
pub const SAMPLE_DIR: &str = "data/mnist-sample";

/// Which dataset: a named one, or a folder of IDX files.
///
/// In a config it is a string: `"mnist"`, `"fashion-mnist"`, or any other
/// string, taken as the path of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetRef {
    /// MNIST digits ([`datasets::MNIST`]).
    Mnist,
    /// Fashion-MNIST ([`datasets::FASHION_MNIST`]).
    FashionMnist,
    /// A folder holding the four IDX files; classes are named `0`..`9`.
    Dir(PathBuf),
}

impl DatasetRef {
    /// The named dataset, if this is one.
    pub fn named(&self) -> Option<NamedDataset> {
        match self {
            DatasetRef::Mnist => Some(datasets::MNIST),
            DatasetRef::FashionMnist => Some(datasets::FASHION_MNIST),
            DatasetRef::Dir(_) => None,
        }
    }
}

impl From<&str> for DatasetRef {
    fn from(s: &str) -> Self {
        match s {
            "mnist" => DatasetRef::Mnist,
            "fashion-mnist" => DatasetRef::FashionMnist,
            dir => DatasetRef::Dir(PathBuf::from(dir)),
        }
    }
}

impl fmt::Display for DatasetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetRef::Dir(dir) => write!(f, "{}", dir.display()),
            named => f.write_str(named.named().map_or("", |n| n.name)),
        }
    }
}

impl Serialize for DatasetRef {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DatasetRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(DatasetRef::from(s.as_str()))
    }
}

/// A float for a message: exponent notation when plain notation would be
/// long (`1e-300`, not 300 digits).
pub fn short_float(v: f64) -> String {
    let plain = if v.fract() == 0.0 && v.abs() < 1e12 { format!("{v:.1}") } else { v.to_string() };
    if plain.len() > 12 && v != 0.0 {
        format!("{v:e}")
    } else {
        plain
    }
}

/// How many training images to hold out for validation: a count (`5000`)
/// or a fraction of the training images (`0.1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValidationSize {
    /// This many images.
    Count(usize),
    /// This fraction (strictly between 0 and 1) of the training images, rounded.
    Fraction(f64),
}

impl ValidationSize {
    /// The number of images to hold out of `train` training images.
    pub fn count(&self, train: usize) -> Result<usize> {
        let invalid = |value: String, hint: String| Err(DataError::invalid_config("data.validation", value, hint));
        match *self {
            ValidationSize::Count(n) if n < train => Ok(n),
            ValidationSize::Count(n) => invalid(
                n.to_string(),
                format!("it would leave no training images out of {train}; use a smaller count or a fraction"),
            ),
            ValidationSize::Fraction(f) if f > 0.0 && f < 1.0 => {
                let n = (f * train as f64).round() as usize;
                if n == 0 || n >= train {
                    invalid(short_float(f), format!("this fraction of {train} training images leaves an empty split"))
                } else {
                    Ok(n)
                }
            }
            ValidationSize::Fraction(f) => {
                invalid(short_float(f), "use a count (an integer) or a fraction strictly between 0 and 1".into())
            }
        }
    }
}

impl Serialize for ValidationSize {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match *self {
            ValidationSize::Count(n) => s.serialize_u64(n as u64),
            ValidationSize::Fraction(f) => s.serialize_f64(f),
        }
    }
}

impl<'de> Deserialize<'de> for ValidationSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ValidationSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count of images (5000) or a fraction between 0 and 1 (0.1)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
                Ok(ValidationSize::Count(v as usize))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
                u64::try_from(v).map(|v| ValidationSize::Count(v as usize)).map_err(|_| {
                    E::custom(format!("{v} is negative: expected {}", "a count or a fraction between 0 and 1"))
                })
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
                // A number written with a point or an exponent is a fraction; a count is an integer.
                if v > 0.0 && v < 1.0 {
                    Ok(ValidationSize::Fraction(v))
                } else {
                    Err(E::custom(format!(
                        "{}: a fraction must be strictly between 0 and 1 (0.1), a count an integer without a point (5000)",
                        short_float(v)
                    )))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// How pixel values are preprocessed, once, when loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    /// Divide by 255: values in `[0, 1]` (the notebook's choice).
    #[default]
    Scale,
    /// Scale to `[0, 1]`, then subtract the training split's mean and divide
    /// by its standard deviation (the same two numbers for every split).
    Standardize,
}

/// Where the data comes from and how it is prepared (the `data` section of
/// an experiment config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// `"mnist"`, `"fashion-mnist"`, or the path of a folder with the four
    /// IDX files. Named datasets bring their class names, usual folder and
    /// download mirrors. Default: none (the folder `dir`, digit classes).
    pub dataset: Option<DatasetRef>,
    /// Folder holding the four IDX files. Default: for `"fashion-mnist"`,
    /// `/usr/share/datasets/fashion-mnist` when it exists; for a named dataset
    /// otherwise, the cache folder `~/.cache/lstm-mnist/data/<name>` (or
    /// `$LSTM_MNIST_CACHE/data/<name>`); with no dataset, `data/mnist-sample`.
    pub dir: Option<PathBuf>,
    /// Download missing files of a named dataset into `dir`, verified by
    /// SHA-256. Default: `false`.
    pub download: bool,
    /// Base URLs to download from, tried in order. Default: the dataset's
    /// public mirrors (those torchvision uses).
    pub mirrors: Option<Vec<String>>,
    /// Training images held out for validation, stratified by class: a count
    /// (`5000`) or a fraction (`0.1`). Default: none.
    pub validation: Option<ValidationSize>,
    /// Seed of the validation hold-out. Default: `0`.
    pub seed: u64,
    /// `"scale"` (to `[0, 1]`) or `"standardize"` (with the training split's
    /// mean and standard deviation). Default: `"scale"`.
    pub normalize: Normalize,
    /// One name per class, in label order; the labels must use exactly this
    /// many classes. Default: the named dataset's names; for a folder, those of
    /// the dataset its label files are recognised as (by SHA-256), else `"0"`..`"9"`.
    pub class_names: Option<Vec<String>>,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dataset: None,
            dir: None,
            download: false,
            mirrors: None,
            validation: None,
            seed: 0,
            normalize: Normalize::Scale,
            class_names: None,
        }
    }
}

impl DataConfig {
    /// A config reading the folder `dir` with every other setting at its default.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: Some(dir.into()), ..Self::default() }
    }

    /// The folder to read and the named dataset, if any.
    pub fn resolve(&self) -> Result<(PathBuf, Option<NamedDataset>)> {
        match (&self.dataset, &self.dir) {
            (Some(DatasetRef::Dir(a)), Some(b)) if a != b => Err(DataError::invalid_config(
                "data.dir",
                b.display(),
                format!("`data.dataset` names another folder, {}; keep only one of the two", a.display()),
            )),
            (Some(DatasetRef::Dir(dir)), _) => Ok((dir.clone(), None)),
            (Some(named), dir) => {
                let named = named.named().expect("not a folder, so a named dataset");
                Ok((dir.clone().unwrap_or_else(|| named.default_dir()), Some(named)))
            }
            (None, Some(dir)) => Ok((dir.clone(), None)),
            (None, None) => Ok((PathBuf::from(SAMPLE_DIR), None)),
        }
    }
}

/// The mean and standard deviation used by [`Normalize::Standardize`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Standardization {
    /// Mean pixel value (after scaling to `[0, 1]`) of the training split.
    pub mean: f64,
    /// Standard deviation of the same.
    pub std: f64,
}

/// One split as tensors: images `[N, rows, cols]` `f32`, labels `[N]` `i64`.
#[derive(Debug)]
pub struct Split {
    /// Pixel values, scaled to `[0, 1]` or standardised (see [`Normalize`]).
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

/// A dataset: training, validation and test splits and the names of its classes.
#[derive(Debug)]
pub struct Dataset {
    /// Training split (without the validation images).
    pub train: Split,
    /// Validation split held out of the training images, when asked for.
    pub validation: Option<Split>,
    /// Test split.
    pub test: Split,
    /// One name per class index.
    pub class_names: Vec<String>,
    /// The folder the files were read from.
    pub dir: PathBuf,
    /// Mean and standard deviation applied, with [`Normalize::Standardize`].
    pub standardization: Option<Standardization>,
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
    tried.iter().map(|name| dir.join(name)).find(|path| path.is_file()).ok_or_else(|| DataError::MissingFile {
        dir: dir.to_owned(),
        what,
        tried,
    })
}

/// Checks that images and labels agree and that every label is below `classes`.
pub fn check_pair(images: &IdxImages, labels: &IdxLabels, classes: usize) -> Result<()> {
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
    Ok(())
}

/// Turns validated IDX images and labels into a [`Split`], pixels scaled to `[0, 1]`.
pub fn to_split(images: &IdxImages, labels: &IdxLabels, classes: usize) -> Result<Split> {
    check_pair(images, labels, classes)?;
    let (images, labels) = raw_tensors(images, labels)?;
    Ok(Split { images: scale(&images)?, labels })
}

/// Pixels as a `[N, rows, cols]` `u8` tensor and labels as `[N]` `i64`.
fn raw_tensors(images: &IdxImages, labels: &IdxLabels) -> Result<(Tensor, Tensor)> {
    let shape = [images.count as i64, images.rows as i64, images.cols as i64];
    let pixels = Tensor::f_from_slice(&images.pixels)?.f_reshape(shape)?;
    let labels = Tensor::f_from_slice(&labels.labels)?.f_to_kind(Kind::Int64)?;
    Ok((pixels, labels))
}

/// `u8` pixels to `f32` in `[0, 1]`.
fn scale(pixels: &Tensor) -> Result<Tensor> {
    Ok(pixels.f_to_kind(Kind::Float)?.f_div_scalar_(255.0)?)
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

/// The four files of a dataset, in [`NamedDataset::files`] order: stem, kind, IDX suffix.
const FILES: [(&str, &str, &str); 4] =
    [("train", "images", "idx3"), ("train", "labels", "idx1"), ("t10k", "images", "idx3"), ("t10k", "labels", "idx1")];

/// Downloads the files of `named` that are missing from `dir`.
fn download_missing(dir: &Path, named: &NamedDataset, mirrors: &[String]) -> Result<()> {
    for ((stem, what, idx), remote) in FILES.into_iter().zip(named.files) {
        let present = candidates(stem, what, idx).iter().any(|name| dir.join(name).is_file());
        if !present {
            download::fetch(dir, remote.name, remote.sha256, remote.size, mirrors)?;
        }
    }
    Ok(())
}

/// The class names: `data.class_names` (checked against the labels), else
/// the named dataset's, else those of the dataset the label files are
/// recognised as by their SHA-256, else the digits.
fn class_names(
    config: &DataConfig,
    named: Option<NamedDataset>,
    train: &IdxLabels,
    test: &IdxLabels,
) -> Result<Vec<String>> {
    let invalid = |value: String, hint: String| Err(DataError::invalid_config("data.class_names", value, hint));
    let Some(names) = &config.class_names else {
        if let Some(named) = named {
            return Ok(named.class_names());
        }
        return Ok(match recognise::recognise(&train.path, &test.path) {
            Some(known) => {
                tracing::info!(dataset = known.name, "label files recognised by SHA-256; using its class names");
                known.class_names()
            }
            None => digit_names(),
        });
    };
    let used = train.labels.iter().chain(&test.labels).max().map_or(0, |&l| usize::from(l) + 1);
    if names.len() != used {
        return invalid(
            format!("{} names given", names.len()),
            format!(
                "the labels of {} and {} use {used} classes (0 to {}); give one name per class",
                train.path.display(),
                test.path.display(),
                used.saturating_sub(1)
            ),
        );
    }
    if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
        return invalid(format!("name {i} {:?}", names[i]), "give every class a non-empty name".into());
    }
    if let Some((i, n)) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
        return invalid(format!("name {i} {n:?}"), "this name is given twice; class names must differ".into());
    }
    Ok(names.clone())
}

/// Downloads the missing files of the named dataset `named` into `dir`
/// (`data.download`), from `data.mirrors` or the dataset's own mirrors.
fn download_named(config: &DataConfig, dir: &Path, named: Option<NamedDataset>) -> Result<()> {
    let Some(named) = named else {
        return Err(DataError::invalid_config(
            "data.download",
            "true",
            "downloading needs a named dataset: set `data.dataset` to \"mnist\" or \"fashion-mnist\"",
        ));
    };
    let mirrors: Vec<String> = match &config.mirrors {
        Some(m) => m.clone(),
        None => named.mirrors.iter().map(|m| (*m).to_owned()).collect(),
    };
    download_missing(dir, &named, &mirrors)
}

/// Standardises every split with the training split's mean and standard
/// deviation (`data.normalize: "standardize"`); `train_path` names the file
/// when the training pixels are constant.
fn standardize(data: &mut Dataset, train_path: &Path) -> Result<()> {
    let mean = data.train.images.f_mean(Kind::Double)?.f_double_value(&[])?;
    let std = data.train.images.f_std(true)?.f_double_value(&[])?;
    if std.is_nan() || std <= 0.0 {
        return Err(DataError::BadSize {
            path: train_path.to_owned(),
            detail: "every training pixel has the same value, so it cannot be standardised".into(),
        });
    }
    for split in std::iter::once(&mut data.train).chain(data.validation.as_mut()).chain(std::iter::once(&mut data.test))
    {
        split.images = split.images.f_sub_scalar(mean)?.f_div_scalar_(std)?;
    }
    data.standardization = Some(Standardization { mean, std });
    Ok(())
}

/// Loads the training, validation and test splits described by `config`,
/// downloading missing files first when `config.download` is set.
pub fn load(config: &DataConfig) -> Result<Dataset> {
    let (dir, named) = config.resolve()?;
    if config.download {
        download_named(config, &dir, named)?;
    }
    if !dir.is_dir() {
        return Err(DataError::MissingDir(dir));
    }
    // The two splits decompress in parallel.
    let (train_files, test_files) = std::thread::scope(|s| {
        let test = s.spawn(|| load_split(&dir, "t10k"));
        let train = load_split(&dir, "train");
        (train, test.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    let (train_images, train_labels) = train_files?;
    let (test_images, test_labels) = test_files?;
    if (train_images.rows, train_images.cols) != (test_images.rows, test_images.cols) {
        return Err(DataError::ShapeMismatch {
            train: train_images.path.clone(),
            train_shape: (train_images.rows, train_images.cols),
            test: test_images.path.clone(),
            test_shape: (test_images.rows, test_images.cols),
        });
    }
    let class_names = class_names(config, named, &train_labels, &test_labels)?;
    check_pair(&train_images, &train_labels, class_names.len())?;
    check_pair(&test_images, &test_labels, class_names.len())?;

    let (train_pixels, train_y) = raw_tensors(&train_images, &train_labels)?;
    let (train, validation) = match config.validation {
        None => (Split { images: scale(&train_pixels)?, labels: train_y }, None),
        Some(size) => {
            let count = size.count(train_images.count)?;
            let holdout = split::stratified_holdout(&train_labels.labels, count, config.seed);
            let pick = |idx: &[i64]| -> Result<Split> {
                let idx = Tensor::f_from_slice(idx)?;
                Ok(Split {
                    images: scale(&train_pixels.f_index_select(0, &idx)?)?,
                    labels: train_y.f_index_select(0, &idx)?,
                })
            };
            (pick(&holdout.train)?, Some(pick(&holdout.validation)?))
        }
    };
    let (test_pixels, test_y) = raw_tensors(&test_images, &test_labels)?;
    let mut data = Dataset {
        train,
        validation,
        test: Split { images: scale(&test_pixels)?, labels: test_y },
        class_names,
        dir,
        standardization: None,
    };
    if config.normalize == Normalize::Standardize {
        standardize(&mut data, &train_images.path)?;
    }
    tracing::info!(
        dir = %data.dir.display(),
        train = data.train.len(),
        validation = data.validation.as_ref().map_or(0, Split::len),
        test = data.test.len(),
        rows = train_images.rows,
        cols = train_images.cols,
        "loaded dataset"
    );
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use idx::{encode_images, encode_labels};

    #[test]
    fn class_names_from_the_config_are_checked_against_the_labels() {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), &[0, 1, 11, 3], &[4, 2]);
        let names: Vec<String> = (0..12).map(|i| format!("class {i}")).collect();
        let config = DataConfig { class_names: Some(names.clone()), ..DataConfig::from_dir(dir.path()) };
        let data = load(&config).unwrap();
        assert_eq!(data.class_names, names);
        assert_eq!(Vec::<i64>::try_from(&data.train.labels).unwrap(), vec![0, 1, 11, 3]);
        // Without names, label 11 is out of range, and the error says how to fix it.
        let err = load(&DataConfig::from_dir(dir.path())).unwrap_err().to_string();
        assert!(err.contains("label 11") && err.contains("data.class_names"), "{err}");
        for (bad, expected) in [
            (names[..10].to_vec(), "10 names given"),
            ([names.clone(), vec!["one more".into()]].concat(), "use 12 classes (0 to 11)"),
            ([&names[..11], &["class 3".to_owned()]].concat(), "given twice"),
            ([&names[..11], &[" ".to_owned()]].concat(), "empty"),
        ] {
            let config = DataConfig { class_names: Some(bad), ..DataConfig::from_dir(dir.path()) };
            let err = load(&config).unwrap_err();
            assert!(matches!(&err, DataError::InvalidConfig { key, .. } if key == "data.class_names"), "{err}");
            assert!(err.is_config(), "{err}");
            assert!(err.to_string().contains(expected), "{err}");
        }
    }

    #[test]
    fn a_folder_holding_fashion_mnist_gets_its_class_names() {
        let dir = std::path::Path::new(datasets::FASHION_MNIST.system_dirs[0]);
        if !dir.join("train-labels-idx1-ubyte.gz").is_file() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} missing: apt-get install dataset-fashion-mnist",
                dir.display()
            );
            eprintln!("skipped: {} missing (Debian package dataset-fashion-mnist)", dir.display());
            return;
        }
        let data = load(&DataConfig::from_dir(dir)).unwrap();
        assert_eq!(data.class_names, datasets::FASHION_MNIST.class_names());
    }

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
        let data = load(&DataConfig::from_dir(dir.path())).unwrap();
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
        let err = load(&DataConfig::from_dir(dir.path().join("nope"))).unwrap_err();
        assert!(matches!(err, DataError::MissingDir(_)) && err.is_config(), "{err}");
        let err = load(&DataConfig::from_dir(dir.path())).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("train-images-idx3-ubyte.gz") && msg.contains("train-images.idx3-ubyte"), "{msg}");
        assert!(err.is_config(), "a folder without the dataset's files is the config's fault: {msg}");
    }

    #[test]
    fn rejects_label_out_of_range_and_count_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), &[0, 10], &[1]);
        let err = load(&DataConfig::from_dir(dir.path())).unwrap_err();
        assert!(matches!(err, DataError::LabelOutOfRange { index: 1, label: 10, .. }) && !err.is_config(), "{err}");
        std::fs::write(dir.path().join("train-labels.idx1-ubyte"), encode_labels(&[0])).unwrap();
        let err = load(&DataConfig::from_dir(dir.path())).unwrap_err();
        assert!(matches!(err, DataError::CountMismatch { images: 2, labels: 1, .. }), "{err}");
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// `per_class` examples of each class, `r x c` images whose pixels encode the label.
    fn labels_of(per_class: usize) -> Vec<u8> {
        (0..per_class * NUM_CLASSES).map(|i| (i % NUM_CLASSES) as u8).collect()
    }

    #[test]
    fn both_naming_styles_and_gzip_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let (r, c) = (5, 7); // not square: rows are time steps, columns features
        let train = [3u8, 1, 4, 1, 5];
        let test = [9u8, 2];
        let px = |n: usize| (0..n * r * c).map(|i| (i % 256) as u8).collect::<Vec<u8>>();
        // Dotted name, gzipped content under a name without `.gz`.
        std::fs::write(dir.path().join("train-images.idx3-ubyte"), gzip(&encode_images(5, r, c, &px(5)))).unwrap();
        // Dashed name ending in `.gz` but raw content.
        std::fs::write(dir.path().join("train-labels-idx1-ubyte.gz"), encode_labels(&train)).unwrap();
        std::fs::write(dir.path().join("t10k-images-idx3-ubyte.gz"), gzip(&encode_images(2, r, c, &px(2)))).unwrap();
        std::fs::write(dir.path().join("t10k-labels.idx1-ubyte"), encode_labels(&test)).unwrap();
        let data = load(&DataConfig::from_dir(dir.path())).unwrap();
        assert_eq!(data.train.images.size(), [5, 5, 7]);
        assert_eq!(Vec::<i64>::try_from(&data.train.labels).unwrap(), vec![3, 1, 4, 1, 5]);
        assert_eq!(Vec::<i64>::try_from(&data.test.labels).unwrap(), vec![9, 2]);
        assert!((data.test.images.double_value(&[1, 0, 0]) - 35.0 / 255.0).abs() < 1e-7);
        assert!(data.validation.is_none());
    }

    #[test]
    fn train_and_test_shapes_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), &[0, 1], &[2]);
        std::fs::write(dir.path().join("t10k-images-idx3-ubyte"), encode_images(1, 2, 3, &[0; 6])).unwrap();
        let err = load(&DataConfig::from_dir(dir.path())).unwrap_err();
        assert!(matches!(err, DataError::ShapeMismatch { train_shape: (3, 2), test_shape: (2, 3), .. }), "{err}");
        assert!(err.to_string().contains("t10k-images-idx3-ubyte"), "{err}");
    }

    #[test]
    fn validation_split_is_stratified_seeded_and_sized() {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), &labels_of(10), &[0, 1]);
        let config = |v| DataConfig { validation: Some(v), seed: 3, ..DataConfig::from_dir(dir.path()) };
        let data = load(&config(ValidationSize::Count(20))).unwrap();
        let val = data.validation.as_ref().unwrap();
        assert_eq!((data.train.len(), val.len()), (80, 20));
        let counts = val.labels.bincount(None::<Tensor>, NUM_CLASSES as i64);
        assert_eq!(Vec::<i64>::try_from(&counts).unwrap(), vec![2; NUM_CLASSES], "2 of each class");
        // Same seed, same split; images follow their labels.
        let again = load(&config(ValidationSize::Count(20))).unwrap();
        assert!(again.validation.unwrap().images.equal(&val.images));
        let frac = load(&config(ValidationSize::Fraction(0.3))).unwrap();
        assert_eq!((frac.train.len(), frac.validation.unwrap().len()), (70, 30));
        for bad in [ValidationSize::Count(100), ValidationSize::Fraction(1.0), ValidationSize::Fraction(0.001)] {
            let err = load(&config(bad)).unwrap_err();
            assert!(matches!(&err, DataError::InvalidConfig { key, .. } if key == "data.validation"), "{err}");
            assert!(err.is_config(), "{err}");
        }
    }

    #[test]
    fn standardize_uses_the_training_mean_and_std() {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), &labels_of(3), &[0, 1, 2]);
        let scaled = load(&DataConfig::from_dir(dir.path())).unwrap();
        let config = DataConfig { normalize: Normalize::Standardize, ..DataConfig::from_dir(dir.path()) };
        let data = load(&config).unwrap();
        let st = data.standardization.unwrap();
        assert!((st.mean - scaled.train.images.mean(Kind::Double).double_value(&[])).abs() < 1e-9);
        assert!(data.train.images.mean(Kind::Double).double_value(&[]).abs() < 1e-5);
        assert!((data.train.images.std(true).double_value(&[]) - 1.0).abs() < 1e-5);
        let expected = (scaled.test.images.double_value(&[0, 0, 1]) - st.mean) / st.std;
        assert!((data.test.images.double_value(&[0, 0, 1]) - expected).abs() < 1e-5, "test split uses train stats");
    }

    #[test]
    fn config_parses_named_datasets_counts_and_fractions() {
        let parse = |v: serde_json::Value| serde_json::from_value::<DataConfig>(v);
        let c = parse(serde_json::json!({"dataset": "fashion-mnist", "validation": 5000})).unwrap();
        assert_eq!(c.dataset, Some(DatasetRef::FashionMnist));
        assert_eq!(c.validation, Some(ValidationSize::Count(5000)));
        assert_eq!(
            parse(serde_json::json!({"validation": 0.1})).unwrap().validation,
            Some(ValidationSize::Fraction(0.1))
        );
        // A count is an integer: 1.0 and 50.0 are neither a count nor a fraction.
        for v in [1.0, 50.0, 0.0, -0.5, 1.5] {
            let err = parse(serde_json::json!({ "validation": v })).unwrap_err().to_string();
            assert!(err.contains("strictly between 0 and 1") && err.contains("integer"), "{v}: {err}");
        }
        // Tiny fractions are printed short, not as 300 digits.
        let tiny = parse(serde_json::json!({"validation": 1e-300})).unwrap().validation.unwrap();
        let err = tiny.count(8000).unwrap_err().to_string();
        assert!(err.contains("1e-300") && err.len() < 200, "{err}");
        for bad in [
            serde_json::json!({"validation": -1}),
            serde_json::json!({"validation": 1.5}),
            serde_json::json!({"dri": "x"}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
        let c = parse(serde_json::json!({"dataset": "mnist", "normalize": "standardize", "download": true})).unwrap();
        assert_eq!(parse(serde_json::to_value(&c).unwrap()).unwrap(), c, "round trip");
        let (dir, named) = c.resolve().unwrap();
        assert_eq!((dir, named), (datasets::MNIST.cache_dir(), Some(datasets::MNIST)));
        assert_eq!(DataConfig::default().resolve().unwrap(), (PathBuf::from(SAMPLE_DIR), None));
        let both = DataConfig { dataset: Some(DatasetRef::from("a")), dir: Some("b".into()), ..Default::default() };
        assert!(matches!(both.resolve(), Err(DataError::InvalidConfig { key, .. }) if key == "data.dir"));
        let fashion =
            DataConfig { dataset: Some(DatasetRef::FashionMnist), dir: Some("f".into()), ..Default::default() };
        assert_eq!(fashion.resolve().unwrap(), (PathBuf::from("f"), Some(datasets::FASHION_MNIST)));
    }

    #[test]
    fn download_needs_a_named_dataset() {
        let dir = tempfile::tempdir().unwrap();
        let config = DataConfig { download: true, ..DataConfig::from_dir(dir.path()) };
        assert!(matches!(load(&config), Err(DataError::InvalidConfig { key, .. }) if key == "data.download"));
    }

    #[test]
    fn missing_files_of_a_named_dataset_are_downloaded_then_loaded() {
        use crate::download::tests::{serve, sha, Reply};
        // A 2-example dataset published on a loopback mirror, under the official names.
        let files: Vec<Vec<u8>> = vec![
            gzip(&encode_images(2, 2, 2, &[0, 255, 0, 255, 1, 2, 3, 4])),
            gzip(&encode_labels(&[8, 9])),
            gzip(&encode_images(1, 2, 2, &[9; 4])),
            gzip(&encode_labels(&[7])),
        ];
        let names = [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ];
        let sums: Vec<&'static str> = files.iter().map(|f| &*Box::leak(sha(f).into_boxed_str())).collect();
        let mut named = datasets::FASHION_MNIST;
        for (i, f) in named.files.iter_mut().enumerate() {
            f.sha256 = sums[i];
        }
        let table = names.iter().zip(&files).map(|(n, f)| (format!("/fm/{n}"), Reply::Ok(f.clone()))).collect();
        let (base, log) = serve(table);
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("fashion");
        // One file is already there: only the three others are fetched.
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("t10k-labels-idx1-ubyte"), encode_labels(&[7])).unwrap();
        download_missing(&target, &named, &[format!("{base}/fm/")]).unwrap();
        assert_eq!(log.lock().unwrap().len(), 3);
        let data = load(&DataConfig::from_dir(&target)).unwrap();
        assert_eq!(Vec::<i64>::try_from(&data.train.labels).unwrap(), vec![8, 9]);
        // With the real checksums, the loopback files are refused and nothing is written.
        let other = dir.path().join("other");
        let err = download_missing(&other, &datasets::FASHION_MNIST, &[format!("{base}/fm/")]).unwrap_err();
        assert!(err.to_string().contains("SHA-256 mismatch"), "{err}");
        assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0);
    }
}
