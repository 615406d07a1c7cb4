//! The `data` section of a config: which dataset, where its files are, and
//! how it is prepared; and [`Locations`], the folders the application chooses.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::datasets::{self, NamedDataset};
use crate::error::{DataError, Result};

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
    /// otherwise, its folder in the application's cache
    /// ([`Locations::cache_dir`]); with no dataset, the application's default
    /// folder ([`Locations::default_dir`]).
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

    /// The folder to read and the named dataset, if any. A config naming no
    /// folder reads [`Locations::default_dir`]; a named dataset without
    /// `dir` reads its first system folder that exists, else its folder
    /// under [`Locations::cache_dir`].
    pub fn resolve(&self, locations: &Locations) -> Result<(PathBuf, Option<NamedDataset>)> {
        let named = match &self.dataset {
            Some(DatasetRef::Dir(a)) => return self.resolve_dir(a).map(|dir| (dir, None)),
            Some(DatasetRef::Mnist) => datasets::MNIST,
            Some(DatasetRef::FashionMnist) => datasets::FASHION_MNIST,
            None => {
                let dir = self.dir.clone().or_else(|| locations.default_dir.clone());
                return dir.map(|dir| (dir, None)).ok_or_else(|| {
                    DataError::invalid_config(
                        "data.dir",
                        "(missing)",
                        "no dataset given: set `data.dir` to a folder holding the four IDX files, \
                         or `data.dataset` to \"mnist\" or \"fashion-mnist\"",
                    )
                });
            }
        };
        let dir = match &self.dir {
            Some(dir) => dir.clone(),
            None => named.default_dir(locations.cache_dir.as_deref()).ok_or_else(|| {
                DataError::invalid_config(
                    "data.dir",
                    "(missing)",
                    format!(
                        "{} has no system folder here and no cache folder was given: set `data.dir` to its folder",
                        named.name
                    ),
                )
            })?,
        };
        Ok((dir, Some(named)))
    }

    /// The folder `data.dataset` names, which `data.dir`, if given, must repeat.
    fn resolve_dir(&self, dataset_dir: &Path) -> Result<PathBuf> {
        match &self.dir {
            Some(dir) if dir != dataset_dir => Err(DataError::invalid_config(
                "data.dir",
                dir.display(),
                format!("`data.dataset` names another folder, {}; keep only one of the two", dataset_dir.display()),
            )),
            _ => Ok(dataset_dir.to_owned()),
        }
    }
}

/// The folders the application chooses for the configs that name none; the
/// crate itself assumes no working directory and reads no environment.
///
/// ```
/// let places = mnist_data::Locations {
///     default_dir: Some("data/mnist-sample".into()),
///     cache_dir: Some("/var/cache/my-app/data".into()),
/// };
/// let (dir, named) = mnist_data::DataConfig::default().resolve(&places)?;
/// assert_eq!((dir.to_str(), named), (Some("data/mnist-sample"), None));
/// # Ok::<(), mnist_data::DataError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locations {
    /// The folder read when the config gives neither `dataset` nor `dir`.
    /// `None`: such a config is an error asking for `data.dir`.
    pub default_dir: Option<PathBuf>,
    /// The folder holding one folder per named dataset (`<cache_dir>/mnist`,
    /// `<cache_dir>/fashion-mnist`), read and downloaded into when a named
    /// dataset has no `dir` and no system copy. `None`: such a config is an
    /// error asking for `data.dir`.
    pub cache_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let places = Locations { default_dir: Some("sample".into()), cache_dir: Some("/cache/data".into()) };
        let (dir, named) = c.resolve(&places).unwrap();
        assert_eq!((dir, named), (PathBuf::from("/cache/data/mnist"), Some(datasets::MNIST)));
        assert_eq!(DataConfig::default().resolve(&places).unwrap(), (PathBuf::from("sample"), None));
        // Without the application's folders, a config naming no folder asks for `data.dir`.
        for unplaced in [&c, &DataConfig::default()] {
            let err = unplaced.resolve(&Locations::default()).unwrap_err();
            assert!(
                matches!(&err, DataError::InvalidConfig { key, .. } if key == "data.dir") && err.is_config(),
                "{err}"
            );
        }
        let both = DataConfig { dataset: Some(DatasetRef::from("a")), dir: Some("b".into()), ..Default::default() };
        assert!(matches!(both.resolve(&places), Err(DataError::InvalidConfig { key, .. }) if key == "data.dir"));
        let fashion =
            DataConfig { dataset: Some(DatasetRef::FashionMnist), dir: Some("f".into()), ..Default::default() };
        assert_eq!(fashion.resolve(&places).unwrap(), (PathBuf::from("f"), Some(datasets::FASHION_MNIST)));
    }
}
