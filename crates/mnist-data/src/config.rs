//! The `data` section of a config: which dataset, where its files are, and
//! how it is prepared; and [`Locations`], the folders the application chooses.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use data_core::{short_float, Locations, Normalize, ValidationSize};

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
    /// mean and standard deviation, one value over all pixels). Default: `"scale"`.
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
            assert!(matches!(&err, DataError::InvalidConfig(c) if c.key == "data.dir") && err.is_config(), "{err}");
        }
        let both = DataConfig { dataset: Some(DatasetRef::from("a")), dir: Some("b".into()), ..Default::default() };
        assert!(matches!(both.resolve(&places), Err(DataError::InvalidConfig(c)) if c.key == "data.dir"));
        let fashion =
            DataConfig { dataset: Some(DatasetRef::FashionMnist), dir: Some("f".into()), ..Default::default() };
        assert_eq!(fashion.resolve(&places).unwrap(), (PathBuf::from("f"), Some(datasets::FASHION_MNIST)));
    }
}
