//! The `data` keys of the `"image-folder"` source.

use std::fmt;
use std::path::PathBuf;

use data_core::{Normalize, ValidationSize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::picture::Invert;
use crate::ImageFolderError;

/// The largest number of pixels of one image, as `lstm-model` allows.
pub const MAX_PIXELS: u64 = 1 << 24;

/// The size images are resized to: `28` (square) or `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSize {
    /// Rows of each image: the model's time steps.
    pub height: u32,
    /// Columns of each image: the model's features per step.
    pub width: u32,
}

impl Default for ImageSize {
    fn default() -> Self {
        Self { height: 28, width: 28 }
    }
}

impl ImageSize {
    /// Checks that the size is not empty and not absurd.
    pub fn validate(&self) -> Result<(), ImageFolderError> {
        let pixels = u64::from(self.height) * u64::from(self.width);
        if pixels == 0 || pixels > MAX_PIXELS {
            return Err(ImageFolderError::invalid_config(
                "data.size",
                format!("{}x{}", self.height, self.width),
                format!("give a size between 1 and {MAX_PIXELS} pixels in all, as 28 or [height, width]"),
            ));
        }
        Ok(())
    }
}

impl Serialize for ImageSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.height == self.width {
            s.serialize_u32(self.height)
        } else {
            [self.height, self.width].serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for ImageSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Square(u32),
            Pair([u32; 2]),
        }
        match Either::deserialize(d) {
            Ok(Either::Square(side)) => Ok(ImageSize { height: side, width: side }),
            Ok(Either::Pair([height, width])) => Ok(ImageSize { height, width }),
            Err(_) => {
                Err(serde::de::Error::custom("expected a whole number of pixels (28) or [height, width] ([28, 56])"))
            }
        }
    }
}

impl fmt::Display for ImageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.height, self.width)
    }
}

/// The `data` section with `"source": "image-folder"`: a folder holding
/// `train/<class>/`, `test/<class>/` and optionally `val/<class>/`, each class
/// folder holding PNG or JPEG files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageFolderConfig {
    /// The folder holding `train/`, `test/` and optionally `val/`. Required.
    pub dir: Option<PathBuf>,
    /// Size every image is resized to: `28` or `[height, width]`. Default: `28`.
    pub size: ImageSize,
    /// `"auto"` (invert each image whose border is mostly bright, the rule
    /// `predict --invert=auto` applies), `"yes"` or `"no"`. Default: `"auto"`.
    pub invert: Invert,
    /// Training images held out for validation when there is no `val/`
    /// folder, stratified by class: a count (`500`) or a fraction (`0.1`).
    /// Default: none.
    pub validation: Option<ValidationSize>,
    /// Seed of the validation hold-out. Default: `0`.
    pub seed: u64,
    /// `"scale"` (to `[0, 1]`) or `"standardize"` (with the training split's
    /// mean and standard deviation, one value over all pixels). Default: `"scale"`.
    pub normalize: Normalize,
    /// Skip files that cannot be read as images, with one warning giving
    /// their count, instead of stopping at the first. Default: `false`.
    pub skip_bad: bool,
}

impl Default for ImageFolderConfig {
    fn default() -> Self {
        Self {
            dir: None,
            size: ImageSize::default(),
            invert: Invert::Auto,
            validation: None,
            seed: 0,
            normalize: Normalize::Scale,
            skip_bad: false,
        }
    }
}

impl ImageFolderConfig {
    /// A config reading the folder `dir` with every other setting at its default.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: Some(dir.into()), ..Self::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_are_a_number_or_a_pair() {
        let square: ImageSize = serde_json::from_value(json!(32)).unwrap();
        assert_eq!(square, ImageSize { height: 32, width: 32 });
        assert_eq!(serde_json::to_value(square).unwrap(), json!(32));
        let pair: ImageSize = serde_json::from_value(json!([20, 40])).unwrap();
        assert_eq!(pair, ImageSize { height: 20, width: 40 });
        assert_eq!(serde_json::to_value(pair).unwrap(), json!([20, 40]));
        for bad in [json!("28"), json!([1, 2, 3]), json!(-1), json!(2.5)] {
            let err = serde_json::from_value::<ImageSize>(bad.clone()).unwrap_err().to_string();
            assert!(err.contains("[height, width]"), "{bad}: {err}");
        }
        assert!(ImageSize { height: 0, width: 28 }.validate().is_err());
        assert!(ImageSize { height: 1 << 13, width: 1 << 13 }.validate().is_err());
    }

    #[test]
    fn config_defaults_and_unknown_keys() {
        let config: ImageFolderConfig = serde_json::from_value(json!({"dir": "pics"})).unwrap();
        assert_eq!(config, ImageFolderConfig::from_dir("pics"));
        let value = serde_json::to_value(&config).unwrap();
        assert_eq!(value["size"], 28);
        assert_eq!(value["invert"], "auto");
        assert_eq!(value["skip_bad"], false);
        assert_eq!(serde_json::from_value::<ImageFolderConfig>(value).unwrap(), config);
        let err = serde_json::from_value::<ImageFolderConfig>(json!({"dir": "x", "sise": 3})).unwrap_err();
        assert!(err.to_string().contains("sise"), "{err}");
        let config: ImageFolderConfig =
            serde_json::from_value(json!({"dir": "x", "invert": true, "validation": 0.2})).unwrap();
        assert_eq!(config.invert, Invert::Yes);
        assert_eq!(config.validation, Some(ValidationSize::Fraction(0.2)));
    }
}
