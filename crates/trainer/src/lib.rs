//! Trains an [`lstm_model::LstmClassifier`] on image and label tensors.
//!
//! The default loop is the notebook's: Adam, softmax cross-entropy, one
//! minibatch per step, `while step * batch_size < training_iters` with `step`
//! starting at 1, and every `display_step` steps the line
//! `Iter 1280, Minibatch Loss= 1.871495, Training Accuracy= 0.35938`
//! for that minibatch, measured after the step as the notebook does.
//!
//! Around it: optimisers written over tensors so that their state can be
//! checkpointed exactly ([`Optimizer`]), learning-rate schedules
//! ([`Schedule`]), gradient clipping, validation with best-model keeping and
//! early stopping, atomic checkpoints ([`checkpoint`])
//! from which a run resumes exactly, metric records sent to pluggable sinks
//! ([`MetricsSink`]; [`JsonlSink`] writes `metrics.jsonl`). Validation goes
//! through a [`Validator`] the caller passes (the experiment crate's is built
//! on `eval`), and progress besides the notebook lines through a
//! [`ProgressRenderer`] (the experiment crate draws a progress bar with it), so
//! the trainer depends on neither.
//!
//! The trainer takes data-core's [`Split`], never a data crate's type, so any
//! data crate can feed it: features `[N, T, F]` `f32` (pictures `[N, rows, cols]`,
//! or sequences with their lengths) and labels `[N]` `i64`. Sequences of
//! different lengths are batched in length buckets (`train.length_buckets`).
//!
//! ```no_run
//! use lstm_model::{tch::{Device, Kind, Tensor}, LstmClassifier, ModelConfig, ModelSpec};
//! use trainer::{train, JsonlSink, Options, Split, TrainConfig};
//!
//! let spec = ModelSpec::new(ModelConfig::default(), 28, 28, (0..10).map(|d| d.to_string()).collect());
//! let model = LstmClassifier::new(spec, Device::Cpu)?;
//! let images = Tensor::rand([1000, 28, 28], (Kind::Float, Device::Cpu));
//! let labels = Tensor::randint(10, [1000], (Kind::Int64, Device::Cpu));
//! let config = TrainConfig { max_steps: Some(50), training_iters: None, display_step: 10, ..Default::default() };
//! let options = Options {
//!     checkpoints: Some("runs/example/checkpoints".into()),
//!     sinks: vec![Box::new(JsonlSink::new("runs/example/metrics.jsonl"))],
//!     ..Default::default()
//! };
//! let split = Split::new(images, labels);
//! let summary = train(&model, &split, None, &config, &mut std::io::stdout(), options)?;
//! println!("{} steps, last loss {:?}", summary.steps, summary.last_loss);
//! # Ok::<(), trainer::TrainError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

mod batches;
pub mod checkpoint;
mod config;
mod early_stopping;
mod error;
pub mod metrics;
mod optim;
mod render;
mod schedule;
mod state;
mod validator;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use lstm_model::LstmClassifier;
use serde::Serialize;

use batches::BatchOrder;
use config::Length;
use early_stopping::EarlyStopping;
use state::TrainState;

pub use checkpoint::{CheckpointMeta, ValidationPoint};
pub use config::{
    AdamConfig, ConstantSchedule, CosineSchedule, OneCycleSchedule, OptimizerConfig, Precision, RmspropConfig,
    ScheduleConfig, SgdConfig, StepSchedule, TrainConfig, DEFAULT_TRAINING_ITERS,
};
/// One split: features `[N, T, F]` `f32`, labels `[N]` `i64` (data-core's one type).
pub use data_core::Split;
pub use error::TrainError;
pub use metrics::{JsonlSink, MetricRecord, MetricsSink};
pub use optim::Optimizer;
pub use render::{PlainLines, ProgressRenderer};
pub use schedule::Schedule;
pub use validator::{Validation, Validator};

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Every step was taken.
    Completed,
    /// Validation accuracy stopped improving for `patience` validations.
    EarlyStopping,
    /// Stopped on request (Ctrl-C or [`Options::stop_after`]); a checkpoint was written.
    Interrupted,
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainSummary {
    /// Steps completed (over all sessions of the run).
    pub steps: i64,
    /// Steps the run was to take.
    pub total_steps: i64,
    /// Training examples seen.
    pub samples: i64,
    /// Loss of the last displayed minibatch.
    pub last_loss: Option<f64>,
    /// Training seconds (over all sessions).
    pub seconds: f64,
    /// Throughput of this session.
    pub samples_per_second: f64,
    /// Why the loop ended.
    pub stop: Stop,
    /// The step this session resumed from, if it did.
    pub resumed_from: Option<i64>,
    /// The best validation, if a validation split was given.
    pub best_validation: Option<ValidationPoint>,
    /// The last validation.
    pub last_validation: Option<ValidationPoint>,
    /// Whether the model was set back to the best validation's weights.
    pub restored_best: bool,
    /// The last checkpoint written.
    pub checkpoint: Option<PathBuf>,
}

/// How a run interacts with the world: files, metric sinks, validation,
/// interruption, progress rendering.
#[derive(Default)]
pub struct Options<'a> {
    /// Folder for checkpoints (`step-NNNNNN/` folders); `None` writes none.
    /// A fresh run refuses a folder that already holds checkpoints.
    pub checkpoints: Option<PathBuf>,
    /// Continue from the newest checkpoint in `checkpoints`.
    pub resume: bool,
    /// Where metric records go (for example a [`JsonlSink`]).
    pub sinks: Vec<Box<dyn MetricsSink + 'a>>,
    /// Measures the model on the validation split; needed when one is given.
    pub validator: Option<Box<dyn Validator + 'a>>,
    /// When set (by a Ctrl-C handler, say), the run stops after the current
    /// step and writes a checkpoint.
    pub stop: Option<&'a AtomicBool>,
    /// Stop as if interrupted right after this step (with a checkpoint),
    /// the run still planned for its whole length: a sweep's rung, which a
    /// resumed run continues exactly. Default `None`.
    pub stop_after: Option<i64>,
    /// Shows the progress (a progress bar, say); `None` writes the notebook lines only.
    pub renderer: Option<Box<dyn ProgressRenderer + 'a>>,
}

impl std::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("checkpoints", &self.checkpoints)
            .field("resume", &self.resume)
            .field("sinks", &self.sinks.len())
            .field("validator", &self.validator.is_some())
            .field("stop", &self.stop)
            .field("stop_after", &self.stop_after)
            .field("renderer", &self.renderer.is_some())
            .finish()
    }
}

/// Trains `model` on `train`, optionally validating on `validation`, writing
/// the notebook's progress lines to `progress`.
///
/// With `options.checkpoints`, checkpoints go there (every
/// `checkpoint_every` steps, at the end, on interruption); records go to
/// `options.sinks`. With `options.resume` the run continues from the newest
/// checkpoint and, on the CPU, takes exactly the steps the uninterrupted run
/// would have taken. The loss is checked after every forward pass (reading
/// one number costs nothing measurable on the CPU): a non-finite loss stops
/// the run with [`TrainError::Diverged`] before the update, leaving the last
/// good checkpoint in place.
pub fn train(
    model: &LstmClassifier,
    train: &Split,
    validation: Option<&Split>,
    config: &TrainConfig,
    progress: &mut dyn Write,
    options: Options,
) -> Result<TrainSummary, TrainError> {
    let mut state = TrainState::new(model, train, validation, config, options)?;
    state.start()?;
    let mut stop = Stop::Completed;
    for step in state.next_step()..=state.total_steps() {
        let batch = state.step(step)?;
        if step % config.display_step == 0 {
            state.display(step, &batch, progress)?;
        }
        if state.validation_due(step) && state.validate(step)? {
            stop = Stop::EarlyStopping;
        }
        if stop == Stop::Completed && state.interrupted(step) {
            stop = Stop::Interrupted;
        }
        if state.checkpoint_due(step) || stop != Stop::Completed {
            state.checkpoint()?;
        }
        if stop != Stop::Completed {
            break;
        }
    }
    state.finish(stop)
}

#[cfg(test)]
mod tests;

/// Config keys (dotted; a key stands for everything under it) that a resumed
/// run may change (`train --resume --set`, a sweep extending its trials):
/// they leave what a checkpoint holds (model, data order, optimiser state) valid.
pub const RESUME_KEYS: &[&str] = &[
    "train.training_iters",
    "train.epochs",
    "train.max_steps",
    "train.display_step",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.validate_every",
    "train.patience",
    "eval",
    "threads",
];

/// Whether `key` is one of [`RESUME_KEYS`] or under one.
pub fn resume_may_change(key: &str) -> bool {
    RESUME_KEYS.iter().any(|k| key == *k || key.strip_prefix(k).is_some_and(|rest| rest.starts_with('.')))
}
