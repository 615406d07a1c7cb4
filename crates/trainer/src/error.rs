//! The trainer's error type.

use std::path::PathBuf;

/// Everything that can go wrong while training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A config value is out of range.
    #[error("config: `{key}` = {value} is invalid: {hint}")]
    InvalidConfig { key: &'static str, value: String, hint: &'static str },
    /// The image and label tensors do not fit each other or the model.
    #[error("training data: {0}")]
    BadData(String),
    /// The loss stopped being a finite number.
    #[error(
        "training diverged at step {step}: the loss is {loss}; {}; lower `train.learning_rate` or set `train.clip_grad_norm`",
        match checkpoint { Some(p) => format!("the last good checkpoint is {}", p.display()), None => "no checkpoint was written before it".to_owned() }
    )]
    Diverged { step: i64, loss: f64, checkpoint: Option<PathBuf> },
    /// `resume` was asked but the checkpoints folder holds no checkpoint.
    #[error("{}: no checkpoint to resume from (expected step-*/ folders); start the run without --resume", .0.display())]
    NoCheckpoint(PathBuf),
    /// A fresh run was asked to write into a checkpoints folder holding an earlier run's checkpoints.
    #[error("{}: holds checkpoints of an earlier run; resume that run, or remove them before starting a new one", .0.display())]
    CheckpointsExist(PathBuf),
    /// A field of a checkpoint's state.json holds what training never writes.
    #[error("checkpoint {}: invalid `{field}` = {value}: {hint}", path.display())]
    BadState { path: PathBuf, field: String, value: String, hint: String },
    /// A checkpoint cannot be used.
    #[error("checkpoint: {0}")]
    BadCheckpoint(String),
    /// Reading or writing a file of the run failed.
    #[error("{}: {source}", path.display())]
    File { path: PathBuf, source: std::io::Error },
    /// A metrics sink failed to record, or a metrics file is unreadable.
    #[error("metrics {}: {source}", path.display())]
    Metrics { path: PathBuf, source: Box<dyn std::error::Error + Send + Sync> },
    /// The model failed.
    #[error(transparent)]
    Model(#[from] lstm_model::ModelError),
    /// Validation failed.
    #[error(transparent)]
    Eval(#[from] eval::EvalError),
    /// libtorch refused an operation (the message's first line: libtorch
    /// appends C++ stack frames, which say nothing to a user).
    #[error("libtorch error: {}", .0.to_string().lines().next().unwrap_or_default())]
    Torch(#[from] tch::TchError),
    /// Writing progress lines failed.
    #[error("writing progress: {0}")]
    Io(#[from] std::io::Error),
}
