//! What a model is, in data: the configuration of an experiment's `model`
//! section and the self-description saved next to the weights.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// Version of the saved-model description this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// How parameters are initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// As the notebook's TensorFlow graph: Glorot-uniform LSTM kernel, zero
    /// LSTM biases, readout weights and bias drawn from N(0, 1).
    #[default]
    Tensorflow,
    /// As PyTorch's `nn.LSTM` and `nn.Linear` defaults.
    Pytorch,
}

/// The `model` section of an experiment config. Defaults are the notebook's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// LSTM hidden units. Default 128.
    pub hidden: i64,
    /// Added to the forget gate's bias at initialisation, as TensorFlow's
    /// `BasicLSTMCell` does (its `forget_bias`). Default 1.0.
    pub forget_bias: f64,
    /// Parameter initialisation. Default `"tensorflow"` (the notebook's).
    pub init: Init,
    /// Seed of the parameter initialisation. Default 0.
    pub seed: u64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self { hidden: 128, forget_bias: 1.0, init: Init::Tensorflow, seed: 0 }
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
    /// Time steps per input: the image height.
    pub steps: i64,
    /// Features per step: the image width.
    pub features: i64,
    /// One name per class; the model has one logit per name.
    pub class_names: Vec<String>,
}

impl ModelSpec {
    /// The description of a model reading `steps × features` images into the given classes.
    pub fn new(config: ModelConfig, steps: i64, features: i64, class_names: Vec<String>) -> Self {
        Self { format_version: FORMAT_VERSION, config, steps, features, class_names }
    }

    /// Number of classes (logits).
    pub fn classes(&self) -> i64 {
        self.class_names.len() as i64
    }

    /// Checks that every value can build a model.
    pub fn validate(&self) -> Result<()> {
        let bad = |key, value: String, hint| Err(ModelError::InvalidConfig { key, value, hint });
        if self.config.hidden < 1 {
            return bad("model.hidden", self.config.hidden.to_string(), "use a positive number of hidden units");
        }
        if !self.config.forget_bias.is_finite() {
            return bad("model.forget_bias", self.config.forget_bias.to_string(), "use a finite number (the notebook uses 1.0)");
        }
        if self.steps < 1 || self.features < 1 {
            return bad("input", format!("{}x{}", self.steps, self.features), "images must have at least one row and one column");
        }
        if self.class_names.len() < 2 {
            return bad("class_names", self.class_names.len().to_string(), "a classifier needs at least two classes");
        }
        Ok(())
    }

    /// Reads and checks a description written by [`ModelSpec::write`].
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io { path: path.to_owned(), source })?;
        let bad = |source| ModelError::BadSpec { path: path.to_owned(), source };
        // Check the version first, so that a newer format is reported as such
        // rather than as an unknown field.
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let Version { format_version } = serde_json::from_slice(&bytes).map_err(bad)?;
        if format_version > FORMAT_VERSION {
            return Err(ModelError::UnsupportedVersion { path: path.to_owned(), found: format_version, supported: FORMAT_VERSION });
        }
        let spec: Self = serde_json::from_slice(&bytes).map_err(bad)?;
        spec.validate()?;
        Ok(spec)
    }
}
