//! What a model is, in data: the configuration of an experiment's `model`
//! section and the self-description saved next to the weights.

use std::path::Path;

use data_core::{InputSpec, Invert, PictureInput, Standardization};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// Version of the saved-model description this build writes. Version 3 adds
/// `input` (what raw input the model takes and how it is prepared) and
/// `standardization` (the training split's statistics). Versions 2 (no input
/// description) and 1 (the single-layer LSTM over rows, without
/// `image_height`/`image_width`) are still read; [`ModelSpec::lacks`] says
/// what such a folder does not record.
pub const FORMAT_VERSION: u32 = 3;

/// The most parameters (weights and biases, all layers) a model may have:
/// 2^31 elements, 8 GiB of `f32`. [`ModelSpec::validate`] rejects larger
/// specs, so that a corrupt or hostile `model.json` is an error rather than
/// an attempt to allocate terabytes.
pub const MAX_PARAMETERS: u64 = 1 << 31;

/// The most pixels an input image may have (2^24, for example 4096 × 4096),
/// which bounds the sequence length and the pixel permutation.
pub const MAX_IMAGE_PIXELS: u64 = 1 << 24;

/// The most consecutive points a series model reads as one step (2^16).
pub const MAX_POINTS_PER_STEP: i64 = 1 << 16;

/// The most classes a model may have (2^20).
pub const MAX_CLASSES: usize = 1 << 20;

/// The largest `model.json` read (64 MiB; 2^20 class names fit easily).
const MAX_SPEC_BYTES: u64 = 64 << 20;

/// How parameters are initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// As the notebook's TensorFlow graph: Glorot-uniform recurrent kernel
    /// (per layer and direction), zero recurrent biases, readout weights and
    /// bias drawn from N(0, 1).
    #[default]
    Tensorflow,
    /// As PyTorch's `nn.LSTM`/`nn.GRU` and `nn.Linear` defaults.
    Pytorch,
}

/// The recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// Long short-term memory (`torch.nn.LSTM`), the notebook's.
    #[default]
    Lstm,
    /// Gated recurrent unit (`torch.nn.GRU`).
    Gru,
}

impl Cell {
    /// Gates per cell: the row blocks of each weight matrix.
    pub fn gates(self) -> i64 {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// The attribute name of the recurrent module, the prefix of its parameters
    /// (`lstm.weight_ih_l0` or `gru.weight_ih_l0`).
    pub fn name(self) -> &'static str {
        match self {
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }
}

/// What the linear readout sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Readout {
    /// The top layer's output at the last time step, `output[:, -1]` in
    /// PyTorch terms (the notebook's). For a bidirectional model this is the
    /// forward direction's final output next to the backward direction's
    /// output at the last step (which has seen only the last input), exactly
    /// what `output[:, -1]` of a bidirectional `nn.LSTM` holds.
    #[default]
    Last,
    /// The top layer's output averaged over all time steps.
    Mean,
}

/// How an image becomes a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Sequence {
    /// One step per image row, the row's pixels as features (the notebook's:
    /// 28 steps of 28 pixels).
    #[default]
    Rows,
    /// One step per pixel in row-major order, one feature (sequential MNIST:
    /// 784 steps of 1 pixel).
    Pixels,
    /// One step per pixel, in the order of a fixed random permutation drawn
    /// from `permutation_seed` (permuted sequential MNIST).
    PermutedPixels,
}

/// The `model` section of an experiment config. Defaults are the notebook's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Hidden units per layer and direction. Default 128.
    pub hidden: i64,
    /// Stacked recurrent layers. Default 1.
    pub layers: i64,
    /// Whether each layer also runs backwards over the sequence (the readout
    /// then sees twice `hidden` features). Default false.
    pub bidirectional: bool,
    /// Dropout probability between stacked layers and before the readout,
    /// active in training only. Default 0.0.
    pub dropout: f64,
    /// `"lstm"` or `"gru"`. Default `"lstm"`.
    pub cell: Cell,
    /// `"last"` (the last step's output) or `"mean"` (the mean over steps).
    /// Default `"last"`.
    pub readout: Readout,
    /// `"rows"`, `"pixels"` or `"permuted-pixels"`. Default `"rows"`.
    pub sequence: Sequence,
    /// Seed of the pixel permutation of `"permuted-pixels"`. Default 0.
    pub permutation_seed: u64,
    /// Added to the LSTM forget gate's bias at initialisation, as
    /// TensorFlow's `BasicLSTMCell` does (its `forget_bias`); not used by
    /// GRU cells, which have no forget gate. Default 1.0.
    pub forget_bias: f64,
    /// Parameter initialisation. Default `"tensorflow"` (the notebook's).
    pub init: Init,
    /// Seed of the parameter initialisation. Default 0.
    pub seed: u64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            hidden: 128,
            layers: 1,
            bidirectional: false,
            dropout: 0.0,
            cell: Cell::Lstm,
            readout: Readout::Last,
            sequence: Sequence::Rows,
            permutation_seed: 0,
            forget_bias: 1.0,
            init: Init::Tensorflow,
            seed: 0,
        }
    }
}

impl ModelConfig {
    /// 2 for a bidirectional model, else 1.
    pub fn directions(&self) -> i64 {
        if self.bidirectional {
            2
        } else {
            1
        }
    }
}

/// Everything needed to rebuild a model: its configuration, its input layout
/// and its classes. Saved as `model.json` next to the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Format version of this description ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The model's configuration.
    pub config: ModelConfig,
    /// Height of the input images, in pixels.
    pub image_height: i64,
    /// Width of the input images, in pixels.
    pub image_width: i64,
    /// Time steps per input, derived from the image shape and
    /// `config.sequence` (written out for readers of the file).
    pub steps: i64,
    /// Features per step, derived like `steps`.
    pub features: i64,
    /// One name per class; the model has one logit per name.
    pub class_names: Vec<String>,
    /// What raw input the model takes and how it is prepared: pictures
    /// (size, invert policy, resize) or sequences (features per point,
    /// points per step). Format 3; `None` in older folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputSpec>,
    /// The statistics the training input was standardised with
    /// (`data.normalize: "standardize"`): model input is `(value - mean) / std`.
    /// `None`: not standardised (format 3), or not recorded (older folders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardization: Option<Standardization>,
}

/// The version-1 layout: a single-layer LSTM over image rows.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecV1 {
    config: ModelConfig,
    steps: i64,
    features: i64,
    class_names: Vec<String>,
    #[allow(dead_code)]
    format_version: u32,
}

/// Steps and features of the sequence an image of `height × width` becomes.
/// (Saturating, so that absurd shapes from a file are rejected by
/// [`ModelSpec::validate`] instead of overflowing.)
fn sequence_shape(sequence: Sequence, height: i64, width: i64) -> (i64, i64) {
    match sequence {
        Sequence::Rows => (height, width),
        Sequence::Pixels | Sequence::PermutedPixels => (height.saturating_mul(width), 1),
    }
}

impl ModelSpec {
    /// The description of a model reading `height × width` images into the
    /// given classes; the sequence shape follows from `config.sequence`. The
    /// input is pictures of that size (auto-inverted, not standardised) until
    /// [`ModelSpec::with_input`] says otherwise.
    pub fn new(config: ModelConfig, height: i64, width: i64, class_names: Vec<String>) -> Self {
        let (steps, features) = sequence_shape(config.sequence, height, width);
        let picture = |v: i64| u32::try_from(v).unwrap_or(0);
        Self {
            format_version: FORMAT_VERSION,
            config,
            image_height: height,
            image_width: width,
            steps,
            features,
            class_names,
            input: Some(InputSpec::Picture(PictureInput::new(picture(height), picture(width), Invert::Auto))),
            standardization: None,
        }
    }

    /// The description of a model for a dataset's `input`: pictures of its
    /// size, or series (`steps` = the training split's longest series, in
    /// points) read `points_per_step` points per step — `image_height` is then
    /// the nominal number of steps `ceil(steps / points_per_step)` (any length
    /// is read) and `image_width` the features per step
    /// `features × points_per_step`. `standardization` as in [`ModelSpec::with_input`].
    pub fn for_input(
        config: ModelConfig,
        input: &InputSpec,
        steps: i64,
        class_names: Vec<String>,
        standardization: Option<Standardization>,
    ) -> Self {
        let (height, width) = match input {
            InputSpec::Picture(p) => (i64::from(p.height), i64::from(p.width)),
            InputSpec::Sequence(s) => {
                let k = i64::from(s.points_per_step.max(1));
                ((steps.max(1) + k - 1) / k, i64::from(s.features).saturating_mul(k))
            }
        };
        Self::new(config, height, width, class_names).with_input(input.clone(), standardization)
    }

    /// The same description with the data's input and standardisation (a
    /// dataset's `input` and `standardization`), saved in `model.json`.
    pub fn with_input(self, input: InputSpec, standardization: Option<Standardization>) -> Self {
        Self { input: Some(input), standardization, ..self }
    }

    /// The input description, or for an older folder that has none the one
    /// it implies: pictures of `image_height × image_width`, auto-inverted.
    pub fn input_or_default(&self) -> InputSpec {
        self.input.clone().unwrap_or_else(|| {
            let side = |v: i64| u32::try_from(v).unwrap_or(0);
            InputSpec::Picture(PictureInput::new(side(self.image_height), side(self.image_width), Invert::Auto))
        })
    }

    /// What a folder of an older format does not record (`None` for this
    /// format): for a message that names the file and what to do.
    pub fn lacks(&self) -> Option<&'static str> {
        (self.format_version < 3).then_some(
            "the input description and the standardisation statistics (added in format 3); \
             pictures are taken as image_height x image_width, pixel / 255, not standardised",
        )
    }

    /// Number of classes (logits).
    pub fn classes(&self) -> i64 {
        self.class_names.len() as i64
    }

    /// Number of parameters (weights and biases of every layer and the
    /// readout) the model has, or `None` when it does not fit in a `u64`.
    pub fn parameter_count(&self) -> Option<u64> {
        let c = &self.config;
        let [h, layers, dirs, gates, features, classes] =
            [c.hidden, c.layers, c.directions(), c.cell.gates(), self.features, self.classes()]
                .map(|v| u64::try_from(v).unwrap_or(0));
        let gh = gates.checked_mul(h)?;
        // Per direction: W_ih [gh, input], W_hh [gh, h], b_ih and b_hh [gh].
        let per_dir = |input: u64| gh.checked_mul(input.checked_add(h)?.checked_add(2)?);
        let first = per_dir(features)?.checked_mul(dirs)?;
        let rest = per_dir(h.checked_mul(dirs)?)?.checked_mul(dirs)?.checked_mul(layers.saturating_sub(1))?;
        let readout = classes.checked_mul(h.checked_mul(dirs)?.checked_add(1)?)?;
        first.checked_add(rest)?.checked_add(readout)
    }

    /// The name and shape of every parameter the model has, in the order
    /// [`crate::LstmClassifier::new`] creates them (PyTorch's `state_dict`
    /// names). Meaningful for a spec that passes [`ModelSpec::validate`].
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<i64>)> {
        let c = &self.config;
        let (h, dirs, gh, cell) = (c.hidden, c.directions(), c.cell.gates() * c.hidden, c.cell.name());
        let mut shapes = Vec::new();
        for layer in 0..c.layers {
            let input = if layer == 0 { self.features } else { h * dirs };
            for suffix in ["", "_reverse"].into_iter().take(dirs as usize) {
                shapes.push((format!("{cell}.weight_ih_l{layer}{suffix}"), vec![gh, input]));
                shapes.push((format!("{cell}.weight_hh_l{layer}{suffix}"), vec![gh, h]));
                shapes.push((format!("{cell}.bias_ih_l{layer}{suffix}"), vec![gh]));
                shapes.push((format!("{cell}.bias_hh_l{layer}{suffix}"), vec![gh]));
            }
        }
        shapes.push(("out.weight".to_owned(), vec![self.classes(), h * dirs]));
        shapes.push(("out.bias".to_owned(), vec![self.classes()]));
        shapes
    }

    /// Bytes of memory training this model with Adam on batches of `batch`
    /// images needs, roughly: the weights, their gradients, Adam's two
    /// moments and the best-validation copy (5 × 4 bytes per parameter),
    /// plus the activations the backward pass keeps and the input batch.
    /// The activations are 16 values (64 bytes) per hidden unit, step, layer,
    /// direction and image: measured as the growth of the peak RSS of one
    /// training step of hidden 3000 between batch 100 and 400 (63.7 bytes;
    /// 8 values underestimated batch 8000 x hidden 3000 by half, which then
    /// failed in libtorch's allocator).
    /// `None` when it does not fit in a `u64`.
    pub fn training_bytes(&self, batch: u64) -> Option<u64> {
        let c = &self.config;
        let params = self.parameter_count()?.checked_mul(20)?;
        let [h, layers, dirs, steps, features] =
            [c.hidden, c.layers, c.directions(), self.steps, self.features].map(|v| u64::try_from(v).unwrap_or(0));
        let per_image = h.checked_mul(steps)?.checked_mul(layers)?.checked_mul(dirs)?.checked_mul(16 * 4)?;
        let input = steps.checked_mul(features)?.checked_mul(4)?;
        params.checked_add(batch.checked_mul(per_image.checked_add(input)?)?)
    }

    /// Checks that every value can build a model, including the size limits
    /// [`MAX_PARAMETERS`], [`MAX_IMAGE_PIXELS`] and [`MAX_CLASSES`].
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, value: String, hint: &str| Err(ModelError::invalid_config(key, value, hint));
        let c = &self.config;
        if c.hidden < 1 {
            return bad("model.hidden", c.hidden.to_string(), "use a positive number of hidden units");
        }
        if c.layers < 1 {
            return bad("model.layers", c.layers.to_string(), "use at least one layer");
        }
        if !(0.0..1.0).contains(&c.dropout) {
            return bad("model.dropout", c.dropout.to_string(), "use a probability in [0, 1), 0 for none");
        }
        if !c.forget_bias.is_finite() {
            return bad("model.forget_bias", c.forget_bias.to_string(), "use a finite number (the notebook uses 1.0)");
        }
        if self.image_height < 1 || self.image_width < 1 {
            return bad(
                "input",
                format!("{}x{}", self.image_height, self.image_width),
                "images must have at least one row and one column",
            );
        }
        if (self.steps, self.features) != sequence_shape(c.sequence, self.image_height, self.image_width) {
            return bad(
                "steps/features",
                format!("{}x{}", self.steps, self.features),
                "steps and features must follow from image_height, image_width and the sequence layout",
            );
        }
        self.validate_input()?;
        if self.class_names.len() < 2 {
            return bad("class_names", self.class_names.len().to_string(), "a classifier needs at least two classes");
        }
        if self.class_names.len() > MAX_CLASSES {
            return bad(
                "class_names",
                self.class_names.len().to_string(),
                "a classifier may have at most 2^20 classes",
            );
        }
        if let Some((i, name)) = self.class_names.iter().enumerate().find(|(_, n)| !is_printable_name(n)) {
            let shown: String = name.chars().take(40).collect();
            return bad(
                "class_names",
                format!("class {i} {shown:?}{} ({} bytes)", if shown.len() < name.len() { "..." } else { "" }, name.len()),
                "a class name is at most 255 bytes without control characters (newline, tab, escape):                  rename the class folder or fix `data.class_names`",
            );
        }
        if (self.image_height as u64).saturating_mul(self.image_width as u64) > MAX_IMAGE_PIXELS {
            return bad(
                "input",
                format!("{}x{}", self.image_height, self.image_width),
                "images may have at most 2^24 pixels (for example 4096x4096)",
            );
        }
        match self.parameter_count() {
            Some(n) if n <= MAX_PARAMETERS => Ok(()),
            n => bad(
                "model.hidden",
                format!(
                    "{} (with {} layers: {} parameters)",
                    c.hidden,
                    c.layers,
                    n.map_or("over 2^64".to_owned(), |n| n.to_string())
                ),
                "a model may have at most 2^31 parameters: use fewer hidden units or layers",
            ),
        }
    }

    /// Checks that the input description fits the image size and the
    /// standardisation the features.
    fn validate_input(&self) -> Result<()> {
        // Per-feature statistics are for the raw input's features (a series'
        // dimensions), before points are grouped into steps.
        let mut raw_features = self.features;
        match &self.input {
            Some(InputSpec::Picture(p))
                if (i64::from(p.height), i64::from(p.width)) != (self.image_height, self.image_width) =>
            {
                return Err(ModelError::invalid_config(
                    "input",
                    format!("{}x{}", p.height, p.width),
                    "a picture input must have the size image_height x image_width",
                ));
            }
            Some(InputSpec::Sequence(s)) => {
                let k = i64::from(s.points_per_step);
                if s.features == 0 || !(1..=MAX_POINTS_PER_STEP).contains(&k) {
                    return Err(ModelError::invalid_config(
                        "input",
                        format!("{} features, {k} points per step", s.features),
                        "a sequence input needs at least one feature and 1 to 65536 points per step",
                    ));
                }
                if self.config.sequence != Sequence::Rows || i64::from(s.features) * k != self.image_width {
                    return Err(ModelError::invalid_config(
                        "input",
                        format!("{} features x {k} points per step, model.sequence {:?}", s.features, self.config.sequence),
                        "a sequence input is read with model.sequence \"rows\", image_width = features x points_per_step",
                    ));
                }
                raw_features = i64::from(s.features);
            }
            Some(InputSpec::Picture(_)) | None => {}
        }
        if let Some(st) = &self.standardization {
            st.check(raw_features)
                .map_err(|hint| ModelError::invalid_config("standardization", format!("{st:?}"), hint))?;
        }
        Ok(())
    }

    /// Reads and checks a description written by [`crate::LstmClassifier::save`]
    /// (this format version or versions 2 and 1).
    pub fn read(path: &Path) -> Result<Self> {
        let io = |source| ModelError::Io { path: path.to_owned(), source };
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() || meta.len() > MAX_SPEC_BYTES {
            let why = if meta.is_file() { "larger than 64 MiB, not a model description" } else { "not a regular file" };
            return Err(io(std::io::Error::new(std::io::ErrorKind::InvalidInput, why)));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        Self::from_json(path, &bytes)
    }

    /// Parses and checks a description; `path` only names the source in errors.
    pub fn from_json(path: &Path, bytes: &[u8]) -> Result<Self> {
        let bad = |source| ModelError::BadSpec { path: path.to_owned(), source };
        // Check the version first, so that a newer format is reported as such
        // rather than as an unknown field.
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let Version { format_version } = serde_json::from_slice(bytes).map_err(bad)?;
        if format_version > FORMAT_VERSION || format_version == 0 {
            return Err(ModelError::UnsupportedVersion {
                path: path.to_owned(),
                found: format_version,
                supported: FORMAT_VERSION,
            });
        }
        let spec = if format_version == 1 {
            let v1: SpecV1 = serde_json::from_slice(bytes).map_err(bad)?;
            Self { format_version: 2, input: None, ..Self::new(v1.config, v1.steps, v1.features, v1.class_names) }
        } else {
            serde_json::from_slice(bytes).map_err(bad)?
        };
        if spec.format_version < 3 && (spec.input.is_some() || spec.standardization.is_some()) {
            return Err(ModelError::InvalidSpec {
                path: path.to_owned(),
                key: "format_version".into(),
                value: spec.format_version.to_string(),
                hint: "`input` and `standardization` need format_version 3".into(),
            });
        }
        spec.validate().map_err(|err| match err {
            ModelError::InvalidConfig(config_error::InvalidConfig { key, value, hint }) => ModelError::InvalidSpec {
                path: path.to_owned(),
                key: key.strip_prefix("model.").map_or_else(|| key.clone(), |k| format!("config.{k}")),
                value,
                hint,
            },
            other => other,
        })?;
        Ok(spec)
    }
}

/// The longest class name, in bytes (a folder name's limit on Linux).
pub const MAX_CLASS_NAME_BYTES: usize = 255;

/// Whether `name` can name a class: at most [`MAX_CLASS_NAME_BYTES`] bytes
/// and no control character (it is printed in tables, logs and pages).
pub fn is_printable_name(name: &str) -> bool {
    name.len() <= MAX_CLASS_NAME_BYTES && !name.chars().any(char::is_control)
}
