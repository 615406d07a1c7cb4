//! What a model's raw input is and how it becomes the model's `[N, T, F]`
//! features: [`InputSpec`], saved in `model.json` so that a model folder
//! alone says how to prepare pictures or sequences for it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The raw input a dataset (and a model trained on it) takes.
///
/// In JSON, tagged by `kind`:
/// `{"kind": "picture", "height": 28, "width": 28, "invert": "auto", "resize": "fit"}` or
/// `{"kind": "sequence", "features": 3, "points_per_step": 1}`.
///
/// ```
/// use data_core::{InputSpec, Invert, PictureInput};
/// let input = InputSpec::Picture(PictureInput::new(28, 28, Invert::Auto));
/// let json = serde_json::to_string(&input).unwrap();
/// assert_eq!(json, r#"{"kind":"picture","height":28,"width":28,"invert":"auto","resize":"fit"}"#);
/// assert_eq!(serde_json::from_str::<InputSpec>(&json).unwrap(), input);
/// assert_eq!(input.steps_and_features(), (28, 28));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum InputSpec {
    /// Grayscale pictures: each image row is one time step, each pixel of
    /// the row one feature (pixel value / 255, then any standardisation).
    Picture(PictureInput),
    /// Sequences of `features` values per time step.
    Sequence(SequenceInput),
}

impl InputSpec {
    /// Time steps and features per step of the model input `[N, T, F]`:
    /// `(height, width)` for pictures; for sequences `T` is not fixed
    /// (reported as 0) and `F` is `features * points_per_step`.
    pub fn steps_and_features(&self) -> (i64, i64) {
        match self {
            InputSpec::Picture(p) => (i64::from(p.height), i64::from(p.width)),
            InputSpec::Sequence(s) => (0, i64::from(s.features) * i64::from(s.points_per_step.max(1))),
        }
    }

    /// The picture preparation, when the input is pictures.
    pub fn picture(&self) -> Option<&PictureInput> {
        match self {
            InputSpec::Picture(p) => Some(p),
            InputSpec::Sequence(_) => None,
        }
    }
}

/// How a picture (PNG, JPEG, or an IDX image) becomes a model input:
/// decoded to grayscale (transparent pixels over white), resized to
/// `height × width` ([`Resize`]), inverted as `invert` says, divided by 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PictureInput {
    /// Rows of the model's pictures: its time steps.
    pub height: u32,
    /// Columns: its features per step.
    pub width: u32,
    /// Which pictures (PNG, JPEG) are inverted before classifying: `auto`
    /// (those whose border is mostly bright), `yes` or `no`. IDX images are
    /// taken as they are unless the caller asks for `yes`.
    pub invert: Invert,
    /// How a picture of another size is brought to `height × width`.
    #[serde(default)]
    pub resize: Resize,
}

impl PictureInput {
    /// Pictures of `height × width`, inverted as `invert` says, resized with [`Resize::Fit`].
    pub fn new(height: u32, width: u32, invert: Invert) -> Self {
        PictureInput { height, width, invert, resize: Resize::Fit }
    }
}

/// How pictures of another size are resized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resize {
    /// Stretched to exactly `height × width` (the aspect ratio is not kept):
    /// box-averaged when shrinking, bilinear when enlarging.
    #[default]
    Fit,
}

/// How a sequence becomes a model input: `features` values per point, and
/// `points_per_step` consecutive points fed to the model as one time step
/// (the model sees `features * points_per_step` features per step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceInput {
    /// Values per point of the raw sequence.
    pub features: u32,
    /// Consecutive points per model time step. Default: `1`.
    #[serde(default = "one")]
    pub points_per_step: u32,
}

fn one() -> u32 {
    1
}

/// Whether to invert pictures (255 - value) so that they are light on dark,
/// as MNIST digits are: in a config `"auto"`, `"yes"` or `"no"` (`true` and
/// `false` are accepted too); on the command line `--invert=auto|yes|no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Invert {
    /// Invert a picture whose border is mostly bright (a dark drawing on a
    /// light background).
    #[default]
    Auto,
    /// Always invert.
    Yes,
    /// Never invert.
    No,
}

impl Invert {
    /// The three values, as written in configs and on the command line.
    pub const NAMES: [&'static str; 3] = ["auto", "yes", "no"];
}

impl fmt::Display for Invert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Invert::Auto => "auto",
            Invert::Yes => "yes",
            Invert::No => "no",
        })
    }
}

impl FromStr for Invert {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Invert::Auto),
            "yes" | "true" => Ok(Invert::Yes),
            "no" | "false" => Ok(Invert::No),
            other => Err(format!("`{other}` is not a way to invert: use auto, yes or no")),
        }
    }
}

impl Serialize for Invert {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Invert {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Invert;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"auto\", \"yes\", \"no\", true or false")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Invert, E> {
                Ok(if v { Invert::Yes } else { Invert::No })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Invert, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invert_parses_and_serialises() {
        for (text, value) in [("auto", Invert::Auto), ("yes", Invert::Yes), ("no", Invert::No)] {
            assert_eq!(text.parse::<Invert>().unwrap(), value);
            assert_eq!(serde_json::to_value(value).unwrap(), text);
            assert_eq!(serde_json::from_value::<Invert>(serde_json::json!(text)).unwrap(), value);
        }
        assert_eq!(serde_json::from_str::<Invert>("true").unwrap(), Invert::Yes);
        assert_eq!(serde_json::from_str::<Invert>("false").unwrap(), Invert::No);
        let err = "maybe".parse::<Invert>().unwrap_err();
        assert!(err.contains("maybe") && err.contains("auto, yes or no"), "{err}");
        assert!(serde_json::from_str::<Invert>("3").is_err());
    }

    #[test]
    fn sequences_default_to_one_point_per_step_and_unknown_keys_are_refused() {
        let input: InputSpec = serde_json::from_str(r#"{"kind": "sequence", "features": 3}"#).unwrap();
        assert_eq!(input, InputSpec::Sequence(SequenceInput { features: 3, points_per_step: 1 }));
        assert_eq!(input.steps_and_features(), (0, 3));
        assert!(input.picture().is_none());
        let err = serde_json::from_str::<InputSpec>(r#"{"kind": "sequence", "features": 3, "pps": 2}"#).unwrap_err();
        assert!(err.to_string().contains("pps"), "{err}");
        let err = serde_json::from_str::<InputSpec>(r#"{"kind": "audio"}"#).unwrap_err();
        assert!(err.to_string().contains("audio"), "{err}");
        let picture: InputSpec =
            serde_json::from_str(r#"{"kind": "picture", "height": 2, "width": 3, "invert": "no"}"#).unwrap();
        assert_eq!(picture.picture().map(|p| p.resize), Some(Resize::Fit));
    }
}
