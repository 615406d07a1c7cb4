//! The trainer's error type.

use std::path::PathBuf;

/// Everything that can go wrong while training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A config value cannot be used (the shared [`config_error::InvalidConfig`]:
    /// the dotted key, the value, what would fix it).
    #[error(transparent)]
    InvalidConfig(#[from] config_error::InvalidConfig),
    /// The image and label tensors of a split do not fit each other.
    #[error("training data, {split} split: {detail}")]
    BadData {
        /// Which split: `training` or `validation`.
        split: String,
        /// What is wrong, in words.
        detail: String,
    },
    /// The loss stopped being a finite number.
    #[error(
        "training diverged at step {step}: the loss is {loss}; {}; lower `train.learning_rate` or set `train.clip_grad_norm`",
        match checkpoint { Some(p) => format!("the last good checkpoint is {}", p.display()), None => "no checkpoint was written before it".to_owned() }
    )]
    Diverged {
        /// The step whose loss was not finite.
        step: i64,
        /// That loss.
        loss: f64,
        /// The last good checkpoint, if one was written.
        checkpoint: Option<PathBuf>,
    },
    /// `resume` was asked but the checkpoints folder holds no checkpoint.
    #[error("{}: no checkpoint to resume from (expected step-*/ folders); start the run without --resume", .0.display())]
    NoCheckpoint(PathBuf),
    /// A fresh run was asked to write into a checkpoints folder holding an earlier run's checkpoints.
    #[error("{}: holds checkpoints of an earlier run; resume that run, or remove them before starting a new one", .0.display())]
    CheckpointsExist(PathBuf),
    /// `Options::resume` is set but `Options::checkpoints` is not.
    #[error("resuming needs a checkpoints folder: set `Options::checkpoints`")]
    NoCheckpointsFolder,
    /// A checkpoint file cannot be used: `path` is the file or checkpoint folder.
    #[error("checkpoint {}: {detail}", path.display())]
    BadCheckpoint {
        /// The file or folder at fault.
        path: PathBuf,
        /// What is wrong, in words.
        detail: String,
    },
    /// Saved tensors do not match the model's variables or optimiser state;
    /// the caller knows which checkpoint they came from and says so.
    #[error("tensor `{tensor}` {detail}")]
    StateMismatch {
        /// The tensor's name.
        tensor: String,
        /// What is wrong, in words.
        detail: String,
    },
    /// A field of a checkpoint's state.json holds what training never writes.
    #[error("checkpoint {}: invalid `{field}` = {value}: {hint}", path.display())]
    BadState {
        /// The file or folder at fault.
        path: PathBuf,
        /// The field of state.json.
        field: String,
        /// The value it holds, as text.
        value: String,
        /// What would fix it.
        hint: String,
    },
    /// Reading or writing a file of the run failed.
    #[error("{}: {source}", path.display())]
    File {
        /// The file or folder at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A metrics sink failed to record, or a metrics file is unreadable.
    #[error("metrics {}: {source}", path.display())]
    Metrics {
        /// The metrics file.
        path: PathBuf,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The model failed.
    #[error(transparent)]
    Model(#[from] lstm_model::ModelError),
    /// The [`Validator`](crate::Validator) failed; `config` says whether the
    /// user's config is at fault (see [`TrainError::validation`]).
    #[error("{source}")]
    Validation {
        /// The validator's error.
        source: Box<dyn std::error::Error + Send + Sync>,
        /// Whether a config value is at fault.
        config: bool,
    },
    /// A validation split was given without an [`Options::validator`](crate::Options::validator).
    #[error("a validation split needs a validator: set `Options::validator`")]
    NoValidator,
    /// libtorch refused an operation (the message's first line: libtorch
    /// appends C++ stack frames, which say nothing to a user).
    #[error("libtorch error: {}", config_error::first_line(.0))]
    Torch(#[from] tch::TchError),
    /// Writing progress lines failed.
    #[error("writing progress: {0}")]
    Io(#[from] std::io::Error),
}

impl TrainError {
    /// A [`Validation`](Self::Validation) error: a validator's `source`,
    /// `config` when a config value is at fault (exit status 2 in the bin).
    pub fn validation(source: impl Into<Box<dyn std::error::Error + Send + Sync>>, config: bool) -> Self {
        TrainError::Validation { source: source.into(), config }
    }

    /// An [`InvalidConfig`](Self::InvalidConfig) error for the dotted config key `key`.
    pub fn invalid_config(key: impl Into<String>, value: impl ToString, hint: impl Into<String>) -> Self {
        TrainError::InvalidConfig(config_error::InvalidConfig::new(key, value, hint))
    }

    /// Whether the user's input is at fault (exit status 2 in the bin): a config
    /// value, or a checkpoint's state.json holding what training never writes
    /// (edited by hand); rather than the data, a file or libtorch (1).
    pub fn is_config(&self) -> bool {
        match self {
            TrainError::InvalidConfig(_) | TrainError::BadState { .. } => true,
            TrainError::Model(e) => e.is_config(),
            TrainError::Validation { config, .. } => *config,
            _ => false,
        }
    }
}
