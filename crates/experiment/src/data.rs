//! The `data` section of an experiment and the wiring from the data crates to
//! data-core's one [`Dataset`]. This is the only place that knows which data
//! crates exist: each is registered by one line of [`data_sources!`] below,
//! giving its `"source"` name and its config type, which implements
//! [`DataSource`]. `"source": "idx"` (the default) reads MNIST-family IDX
//! files with `mnist-data`, `"source": "synth"` generates a sequence dataset
//! with `synth-data`, `"source": "image-folder"` reads class folders of
//! pictures with `image-folder-data`, `"source": "ts"` reads a UCR/UEA
//! time-series problem (`.ts` files) with `ts-data`. Everything downstream only sees [`Dataset`].

use std::path::PathBuf;

use data_core::{DataSource, Dataset, Locations, SourceError};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Declares [`DataSection`] from one line per source:
/// `Variant("source name", config type implementing DataSource)`, with its doc comment.
macro_rules! data_sources {
    ($($(#[$doc:meta])* $variant:ident($name:literal, $config:ty),)+) => {
        /// The `data` section: a `source` selector (default `"idx"`) and that
        /// source's own keys, for example `{"dataset": "fashion-mnist", "validation": 5000}`
        /// or `{"source": "synth", "classes": 4}`.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "source")]
        pub enum DataSection {
            $($(#[$doc])* #[serde(rename = $name)] $variant($config),)+
        }

        /// The sources, as written in configs.
        const SOURCES: &[&str] = &[$($name),+];

        impl DataSection {
            /// The section of source `source` from the rest of its keys.
            fn parse<E: serde::de::Error>(source: &str, value: Value) -> Result<Self, E> {
                match source {
                    $($name => inner(value).map(DataSection::$variant),)+
                    other => Err(E::unknown_variant(other, SOURCES)),
                }
            }

            /// Checks every value that can be judged without reading data.
            pub fn check(&self) -> Result<(), DataLoadError> {
                match self {
                    $(DataSection::$variant(config) => config.check().map_err(DataLoadError::new),)+
                }
            }

            /// Loads (or generates) the dataset with the source's crate.
            fn load_with(&self, locations: &Locations) -> Result<Dataset, DataLoadError> {
                match self {
                    $(DataSection::$variant(config) => config.load(locations).map_err(DataLoadError::new),)+
                }
            }
        }
    };
}

// The registered sources: one line each.
data_sources! {
    /// MNIST-family IDX files, read by `mnist-data`.
    Idx("idx", mnist_data::DataConfig),
    /// A generated sequence-classification dataset, from `synth-data`.
    Synth("synth", synth_data::SynthConfig),
    /// Class folders of PNG or JPEG pictures, read by `image-folder-data`.
    ImageFolder("image-folder", image_folder_data::ImageFolderConfig),
    /// UCR/UEA time-series problems (`.ts` files), read by `ts-data`.
    Ts("ts", ts_data::TsConfig),
}

impl Default for DataSection {
    fn default() -> Self {
        DataSection::Idx(mnist_data::DataConfig::default())
    }
}

/// A source's own keys, checked by its config type (unknown keys are
/// errors); the error names the key inside `data`.
fn inner<T: serde::de::DeserializeOwned, E: serde::de::Error>(value: Value) -> Result<T, E> {
    serde_path_to_error::deserialize(value).map_err(|e| E::custom(format!("`{}`: {}", e.path(), e.inner())))
}

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
        DataSection::parse(&source, value)
    }
}

/// A data source failed; the exit status depends on whether the config is
/// at fault. The message is the source's own.
#[derive(Debug)]
pub struct DataLoadError(Box<dyn SourceError>);

impl DataLoadError {
    /// Wraps a data source's error.
    pub fn new(error: impl SourceError) -> Self {
        DataLoadError(Box::new(error))
    }

    /// Whether a config value is at fault (exit status 2) rather than the
    /// data (1): an invalid `data` value, or `data.dir` naming a folder that
    /// does not exist or lacks the dataset's files.
    pub fn is_config(&self) -> bool {
        self.0.is_config()
    }
}

impl std::fmt::Display for DataLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DataLoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
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

/// Where the data sources read when a config names no folder: [`SAMPLE_DIR`]
/// with no dataset, `<cache>/data/<name>` for a named dataset without a
/// system copy (see [`cache_root`]).
pub fn idx_locations() -> Locations {
    Locations { default_dir: Some(PathBuf::from(SAMPLE_DIR)), cache_dir: Some(cache_root().join("data")) }
}

/// Loads (or generates) the data the section describes, logging the
/// standardisation applied, if any.
pub fn load(section: &DataSection) -> Result<Dataset, DataLoadError> {
    let data = section.load_with(&idx_locations())?;
    if let Some(st) = &data.standardization {
        tracing::info!(mean = ?st.mean, std = ?st.std, "standardised with the training split's statistics");
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image_folder_data::ImageFolderConfig;
    use mnist_data::DataConfig;
    use serde_json::json;
    use synth_data::SynthConfig;

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
        assert_eq!(data.train.features.size(), [8, 6, 3]);
        assert_eq!(data.validation.unwrap().labels.size(), [4]);
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
