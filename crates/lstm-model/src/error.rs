use std::path::PathBuf;

/// Everything that can go wrong while building, running, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A config value cannot be used (the shared [`config_error::InvalidConfig`]:
    /// the dotted key, the value, what would fix it).
    #[error(transparent)]
    InvalidConfig(#[from] config_error::InvalidConfig),

    /// The input batch does not have the shape the model was built for.
    #[error("input of shape {got:?} does not fit this model: expected [batch, {height}, {width}] images")]
    BadInput {
        /// The shape given.
        got: Vec<i64>,
        /// Image height (rows) of the model.
        height: i64,
        /// Image width (columns) of the model.
        width: i64,
    },

    /// A step given to [`LstmClassifier::step`](crate::LstmClassifier::step) has the wrong shape.
    #[error("step input of shape {got:?} does not fit: expected [{batch}, {features}] (one step of each sequence of the state)")]
    BadStep {
        /// The shape given.
        got: Vec<i64>,
        /// Number of sequences of the state.
        batch: i64,
        /// Features per step of the model.
        features: i64,
    },

    /// A step state made by a model of another kind was given to [`LstmClassifier::step`](crate::LstmClassifier::step).
    #[error("the step state was made by a model of another kind: start from this model's initial_state")]
    StepStateMismatch,

    /// A batch of sequences does not have the shape the model reads.
    #[error("sequences of shape {got:?} do not fit this model: expected [batch, steps >= 1, {features}]")]
    BadSequences {
        /// The shape given.
        got: Vec<i64>,
        /// Features per step the model reads.
        features: i64,
    },

    /// The lengths given with a batch of sequences do not fit it.
    #[error("invalid sequence lengths: {detail}")]
    BadLengths {
        /// What is wrong and what would fix it.
        detail: String,
    },

    /// A pixel buffer is not a whole number of images of the given shape.
    #[error("{len} pixel bytes are not a whole number of {height}x{width} images")]
    BadPixels {
        /// Number of bytes given.
        len: usize,
        /// Image height asked for.
        height: i64,
        /// Image width asked for.
        width: i64,
    },

    /// Reading or writing a model file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The model description (`model.json`) is malformed.
    #[error("{}: {source}; the file is not a model description written by lstm-model", path.display())]
    BadSpec {
        /// The model.json file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },

    /// A value in the model description (`model.json`) cannot build a model.
    #[error(
        "{}: `{key}` = {value} is invalid: {hint}; the file was not written by lstm-mnist or was edited: \
         use the model.json saved with the weights",
        path.display()
    )]
    InvalidSpec {
        /// The model.json file.
        path: PathBuf,
        /// The key in model.json (`config.hidden`).
        key: String,
        /// The offending value, as text.
        value: String,
        /// What would fix it.
        hint: String,
    },

    /// The weights hold NaN or infinite values.
    #[error("{}: tensor `{name}` holds NaN or infinite values; the model cannot predict: train it again", path.display())]
    NonFiniteWeights {
        /// The weights file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },

    /// The model description was written by a newer, incompatible version.
    #[error(
        "{}: format version {found} is not supported (this build reads versions up to {supported}); \
         upgrade lstm-mnist to load it",
        path.display()
    )]
    UnsupportedVersion {
        /// The model.json file.
        path: PathBuf,
        /// The format version the file declares.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },

    /// The weights file is missing tensors, has extra ones, or has tensors of the wrong shape.
    #[error("{}: {detail}; the weights do not belong to the model described next to them", path.display())]
    WeightsMismatch {
        /// The weights file.
        path: PathBuf,
        /// What is wrong, in words.
        detail: String,
    },

    /// The weights file is not a readable safetensors file (truncated, corrupt, not safetensors).
    #[error("{}: not a readable safetensors file ({detail}); the file is damaged or truncated: save or copy the model again", path.display())]
    BadWeights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong, in words.
        detail: String,
    },

    /// libtorch refused an operation.
    #[error("libtorch error: {}", crate::first_line(&.0.to_string()))]
    Torch(#[from] tch::TchError),
}

impl ModelError {
    /// An [`InvalidConfig`](Self::InvalidConfig) error for the dotted config key `key`.
    pub fn invalid_config(key: impl Into<String>, value: impl ToString, hint: impl Into<String>) -> Self {
        ModelError::InvalidConfig(config_error::InvalidConfig::new(key, value, hint))
    }

    /// Whether a config value is at fault (exit status 2 in the bin) rather than
    /// a file, the data or libtorch (1).
    pub fn is_config(&self) -> bool {
        matches!(self, ModelError::InvalidConfig(_))
    }
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, ModelError>;
