use std::path::PathBuf;

/// Everything that can go wrong while building, running, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A config value cannot build a model: `key` is the dotted config key
    /// (`model.hidden`), `value` the offending value, `hint` how to fix it.
    #[error("invalid {key} = {value}: {hint}")]
    InvalidConfig { key: String, value: String, hint: String },

    /// The input batch does not have the shape the model was built for.
    #[error("input of shape {got:?} does not fit this model: expected [batch, {height}, {width}] images")]
    BadInput { got: Vec<i64>, height: i64, width: i64 },

    /// A pixel buffer is not a whole number of images of the given shape.
    #[error("{len} pixel bytes are not a whole number of {height}x{width} images")]
    BadPixels { len: usize, height: i64, width: i64 },

    /// Reading or writing a model file failed.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    /// The model description (`model.json`) is malformed.
    #[error("{}: {source}; the file is not a model description written by lstm-model", path.display())]
    BadSpec { path: PathBuf, source: serde_json::Error },

    /// A value in the model description (`model.json`) cannot build a model.
    #[error(
        "{}: `{key}` = {value} is invalid: {hint}; the file was not written by lstm-mnist or was edited: \
         use the model.json saved with the weights",
        path.display()
    )]
    InvalidSpec { path: PathBuf, key: String, value: String, hint: String },

    /// The weights hold NaN or infinite values.
    #[error("{}: tensor `{name}` holds NaN or infinite values; the model cannot predict: train it again", path.display())]
    NonFiniteWeights { path: PathBuf, name: String },

    /// The model description was written by a newer, incompatible version.
    #[error(
        "{}: format version {found} is not supported (this build reads versions up to {supported}); \
         upgrade lstm-mnist to load it",
        path.display()
    )]
    UnsupportedVersion { path: PathBuf, found: u32, supported: u32 },

    /// The weights file is missing tensors, has extra ones, or has tensors of the wrong shape.
    #[error("{}: {detail}; the weights do not belong to the model described next to them", path.display())]
    WeightsMismatch { path: PathBuf, detail: String },

    /// The weights file is not a readable safetensors file (truncated, corrupt, not safetensors).
    #[error("{}: not a readable safetensors file ({detail}); the file is damaged or truncated: save or copy the model again", path.display())]
    BadWeights { path: PathBuf, detail: String },

    /// libtorch refused an operation.
    #[error("libtorch error: {}", crate::first_line(&.0.to_string()))]
    Torch(#[from] tch::TchError),
}

impl ModelError {
    /// An [`InvalidConfig`](Self::InvalidConfig) error for the dotted config key `key`.
    pub fn invalid_config(key: impl Into<String>, value: impl ToString, hint: impl Into<String>) -> Self {
        ModelError::InvalidConfig { key: key.into(), value: value.to_string(), hint: hint.into() }
    }

    /// Whether a config value is at fault (exit status 2 in the bin) rather than
    /// a file, the data or libtorch (1).
    pub fn is_config(&self) -> bool {
        matches!(self, ModelError::InvalidConfig { .. })
    }
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, ModelError>;
