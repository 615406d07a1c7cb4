//! The `data` section of an experiment and the wiring from the data crates to
//! plain tensors. This is the only place that knows which data crates exist:
//! `"source": "idx"` (the default) reads MNIST-family IDX files with
//! `mnist-data`, `"source": "synth"` generates a sequence dataset with
//! `synth-data`, `"source": "image-folder"` reads class folders of pictures
//! with `image-folder-data`. Everything downstream only sees [`LoadedData`].

use std::path::PathBuf;

use image_folder_data::ImageFolderConfig;
use mnist_data::{DataConfig, Locations};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use synth_data::SynthConfig;
use tch::Tensor;

/// The `data` section: a `source` selector (default `"idx"`) and that
/// source's own keys, for example `{"dataset": "fashion-mnist", "validation": 5000}`
/// or `{"source": "synth", "classes": 4}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum DataSection {
    /// MNIST-family IDX files, read by `mnist-data`.
    Idx(DataConfig),
    /// A generated sequence-classification dataset, from `synth-data`.
    Synth(SynthConfig),
    /// Class folders of PNG or JPEG pictures, read by `image-folder-data`.
    #[serde(rename = "image-folder")]
    ImageFolder(ImageFolderConfig),
}

impl Default for DataSection {
    fn default() -> Self {
        DataSection::Idx(DataConfig::default())
    }
}

/// The sources, as written in configs.
const SOURCES: &[&str] = &["idx", "synth", "image-folder"];

impl<'de> Deserialize<'de> for DataSection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut value = Value::deserialize(d)?;
        let map = value.as_object_mut().ok_or_else(|| D::Error::custom("expected an object"))?;
        let source = match map.remove("source") {
            None => "idx".to_owned(),
            Some(Value::String(s)) => s,
            Some(other) => return Err(D::Error::custom(format!("`source` must be a string, not {other}"))),
        };
        // The source's own keys are checked by its config type (unknown keys
        // are errors); the error names the key inside `data`.
        fn inner<T: serde::de::DeserializeOwned, E: Error>(value: Value) -> Result<T, E> {
            serde_path_to_error::deserialize(value).map_err(|e| E::custom(format!("`{}`: {}", e.path(), e.inner())))
        }
        match source.as_str() {
            "idx" => inner(value).map(DataSection::Idx),
            "synth" => inner(value).map(DataSection::Synth),
            "image-folder" => inner(value).map(DataSection::ImageFolder),
            other => Err(D::Error::unknown_variant(other, SOURCES)),
        }
    }
}

/// A dataset as the trainer and the evaluator take it: images
/// `[N, rows, cols]` `f32`, labels `[N]` `i64`.
#[derive(Debug)]
pub struct LoadedData {
    /// Training images and labels.
    pub train: (Tensor, Tensor),
    /// Validation images and labels, held out of the training data, when configured.
    pub validation: Option<(Tensor, Tensor)>,
    /// Test images and labels.
    pub test: (Tensor, Tensor),
    /// One name per class index.
    pub class_names: Vec<String>,
    /// `(mean, std)` of the training split, when the pixels were standardised with them.
    pub standardization: Option<(f64, f64)>,
}

/// A data source failed; the exit status depends on whether the config is at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataLoadError {
    /// From `mnist-data`.
    #[error(transparent)]
    Idx(#[from] mnist_data::DataError),
    /// From `synth-data`.
    #[error(transparent)]
    Synth(#[from] synth_data::SynthError),
    /// From `image-folder-data`.
    #[error(transparent)]
    ImageFolder(#[from] image_folder_data::ImageFolderError),
}

impl DataLoadError {
    /// Whether a config value is at fault (exit status 2) rather than the data
    /// (1): an invalid `data` value, or `data.dir` naming a folder that does
    /// not exist or lacks the dataset's files.
    pub fn is_config(&self) -> bool {
        match self {
            DataLoadError::Idx(e) => e.is_config(),
            DataLoadError::Synth(e) => e.is_config(),
            DataLoadError::ImageFolder(e) => e.is_config(),
        }
    }
}

/// The folder an IDX config naming no dataset reads: the real digits shipped
/// with the repository, relative to the working directory.
pub const SAMPLE_DIR: &str = "data/mnist-sample";

/// The program's cache folder: `$LSTM_MNIST_CACHE`, else `~/.cache/lstm-mnist`
/// (the one `make` and `scripts/` install libtorch into).
pub fn cache_root() -> PathBuf {
    std::env::var_os("LSTM_MNIST_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/lstm-mnist")))
        .unwrap_or_else(|| PathBuf::from(".cache/lstm-mnist"))
}

/// Where `mnist-data` reads when a config names no folder: [`SAMPLE_DIR`]
/// with no dataset, `<cache>/data/<name>` for a named dataset without a
/// system copy (see [`cache_root`]).
pub fn idx_locations() -> Locations {
    Locations { default_dir: Some(PathBuf::from(SAMPLE_DIR)), cache_dir: Some(cache_root().join("data")) }
}

/// Loads (or generates) the data the section describes.
pub fn load(section: &DataSection) -> Result<LoadedData, DataLoadError> {
    match section {
        DataSection::Idx(config) => {
            let data = mnist_data::load(config, &idx_locations())?;
            if let Some(st) = data.standardization {
                tracing::info!(mean = st.mean, std = st.std, "standardised with the training split's statistics");
            }
            Ok(LoadedData {
                train: (data.train.images, data.train.labels),
                validation: data.validation.map(|v| (v.images, v.labels)),
                test: (data.test.images, data.test.labels),
                class_names: data.class_names,
                standardization: data.standardization.map(|st| (st.mean, st.std)),
            })
        }
        DataSection::ImageFolder(config) => load_image_folder(config),
        DataSection::Synth(config) => {
            let data = synth_data::generate(config)?;
            Ok(LoadedData {
                train: data.train,
                validation: data.validation,
                test: data.test,
                class_names: data.class_names,
                standardization: None,
            })
        }
    }
}

/// Reads a folder of class folders of pictures, logging what was found.
fn load_image_folder(config: &ImageFolderConfig) -> Result<LoadedData, DataLoadError> {
    let data = image_folder_data::load(config)?;
    let report = &data.report;
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
    if let Some((mean, std)) = report.standardization {
        tracing::info!(mean, std, "standardised with the training split's statistics");
    }
    Ok(LoadedData {
        train: data.train,
        validation: data.validation,
        test: data.test,
        class_names: data.class_names,
        standardization: report.standardization,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn source_defaults_to_idx_and_selects_the_crate() {
        let idx: DataSection = serde_json::from_value(json!({"dir": "x"})).unwrap();
        assert_eq!(idx, DataSection::Idx(DataConfig::from_dir("x")));
        let folder: DataSection = serde_json::from_value(json!({"source": "image-folder", "dir": "pics"})).unwrap();
        assert_eq!(folder, DataSection::ImageFolder(ImageFolderConfig::from_dir("pics")));
        assert_eq!(serde_json::to_value(&folder).unwrap()["source"], "image-folder");
        let synth: DataSection = serde_json::from_value(json!({"source": "synth", "classes": 3})).unwrap();
        assert_eq!(synth, DataSection::Synth(SynthConfig { classes: 3, ..Default::default() }));
        // Serialised with its source, and back.
        let value = serde_json::to_value(&synth).unwrap();
        assert_eq!(value["source"], "synth");
        assert_eq!(serde_json::from_value::<DataSection>(value).unwrap(), synth);
    }

    #[test]
    fn unknown_sources_and_keys_are_named() {
        let err = serde_json::from_value::<DataSection>(json!({"source": "csv"})).unwrap_err().to_string();
        assert!(err.contains("csv") && err.contains("idx") && err.contains("synth"), "{err}");
        assert!(err.contains("image-folder"), "{err}");
        let err = serde_json::from_value::<DataSection>(json!({"dri": "x"})).unwrap_err().to_string();
        assert!(err.contains("dri") && err.contains("unknown field"), "{err}");
        let err =
            serde_json::from_value::<DataSection>(json!({"source": "synth", "dir": "x"})).unwrap_err().to_string();
        assert!(err.contains("dir"), "{err}");
        let err = serde_json::from_value::<DataSection>(json!({"validation": "lots"})).unwrap_err().to_string();
        assert!(err.contains("validation"), "{err}");
    }

    #[test]
    fn synth_source_gives_tensors_of_the_configured_shape() {
        let section = DataSection::Synth(SynthConfig {
            train: 8,
            validation: 4,
            test: 4,
            steps: 6,
            features: 3,
            classes: 2,
            ..Default::default()
        });
        let data = load(&section).unwrap();
        assert_eq!(data.train.0.size(), [8, 6, 3]);
        assert_eq!(data.validation.unwrap().1.size(), [4]);
        assert_eq!(data.class_names.len(), 2);
        let bad = DataSection::Synth(SynthConfig { classes: 20, ..Default::default() });
        assert!(load(&bad).unwrap_err().is_config());
    }

    #[test]
    fn idx_configs_naming_no_folder_read_the_sample_or_the_cache() {
        let places = idx_locations();
        let (dir, named) = DataConfig::default().resolve(&places).unwrap();
        assert_eq!((dir, named), (PathBuf::from(SAMPLE_DIR), None));
        let mnist = DataConfig { dataset: Some(mnist_data::DatasetRef::Mnist), ..Default::default() };
        let (dir, _) = mnist.resolve(&places).unwrap();
        assert_eq!(dir, cache_root().join("data/mnist"));
    }
}
