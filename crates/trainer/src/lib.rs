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
//! early stopping, atomic checkpoints ([`checkpoint`]) from which a run
//! resumes exactly, `metrics.jsonl` ([`metrics`]) and a progress bar.
//!
//! The trainer takes tensors, not a dataset type, so any data crate can feed
//! it: images `[N, rows, cols]` `f32` and labels `[N]` `i64`.

mod batches;
pub mod checkpoint;
mod config;
pub mod metrics;
mod optim;
mod schedule;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use lstm_model::LstmClassifier;
use serde::Serialize;
use tch::{Kind, Tensor};

pub use batches::BatchOrder;
pub use checkpoint::{CheckpointMeta, ValidationPoint};
pub use config::training_precision;
pub use config::{
    AdamConfig, ConstantSchedule, CosineSchedule, Length, OneCycleSchedule, OptimizerConfig, Precision, RmspropConfig,
    ScheduleConfig, SgdConfig, StepSchedule, TrainConfig, DEFAULT_TRAINING_ITERS,
};
pub use metrics::MetricRecord;
pub use optim::Optimizer;
pub use schedule::Schedule;

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
    /// `resume` was asked but the run folder has no checkpoint.
    #[error("{}: no checkpoint to resume from (expected checkpoints/step-*/); start the run without --resume", .0.display())]
    NoCheckpoint(PathBuf),
    /// A checkpoint cannot be used.
    #[error("checkpoint: {0}")]
    BadCheckpoint(String),
    /// Reading or writing a file of the run folder failed.
    #[error("{}: {source}", path.display())]
    File { path: PathBuf, source: std::io::Error },
    /// The model failed.
    #[error(transparent)]
    Model(#[from] lstm_model::ModelError),
    /// libtorch refused an operation (the message's first line: libtorch
    /// appends C++ stack frames, which say nothing to a user).
    #[error("libtorch error: {}", .0.to_string().lines().next().unwrap_or_default())]
    Torch(#[from] tch::TchError),
    /// Writing progress lines failed.
    #[error("writing progress: {0}")]
    Io(#[from] std::io::Error),
}

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

/// Image and label tensors of one split: `[N, rows, cols]` `f32` and `[N]` `i64`.
#[derive(Debug, Clone, Copy)]
pub struct Split<'a> {
    /// Images `[N, rows, cols]`.
    pub images: &'a Tensor,
    /// Labels `[N]`.
    pub labels: &'a Tensor,
}

/// How a run interacts with the world: files, interruption, progress bar.
#[derive(Debug, Default, Clone, Copy)]
pub struct Options<'a> {
    /// Run folder for `checkpoints/` and `metrics.jsonl`; `None` writes no files.
    pub run_dir: Option<&'a Path>,
    /// Continue from the newest checkpoint in `run_dir`.
    pub resume: bool,
    /// When set (by a Ctrl-C handler, say), the run stops after the current
    /// step and writes a checkpoint.
    pub stop: Option<&'a AtomicBool>,
    /// Stop as if interrupted right after this step.
    pub stop_after: Option<i64>,
    /// Draw a progress bar on stderr (only sensible on a terminal).
    pub progress_bar: bool,
}

/// Batch size of validation passes.
const VALIDATION_BATCH: i64 = 1000;

fn check_split(what: &str, split: &Split) -> Result<i64, TrainError> {
    let n = split.labels.size().first().copied().unwrap_or(0);
    if split.labels.dim() != 1 || split.images.size().first() != Some(&n) || n == 0 {
        return Err(TrainError::BadData(format!(
            "{what}: {:?} images for {:?} labels; expected [N, rows, cols] images and [N] labels with N > 0",
            split.images.size(),
            split.labels.size()
        )));
    }
    Ok(n)
}

/// Loss and accuracy of one minibatch.
fn loss_and_accuracy(logits: &Tensor, labels: &Tensor) -> Result<(f64, f64), TrainError> {
    let loss = logits.f_cross_entropy_loss(labels, None::<Tensor>, tch::Reduction::Mean, -100, 0.0)?;
    let accuracy = logits.f_argmax(-1, false)?.f_eq_tensor(labels)?.f_mean(Kind::Float)?;
    Ok((loss.f_double_value(&[])?, accuracy.f_double_value(&[])?))
}

/// Mean loss and accuracy of `model` over a whole split, in evaluation mode.
fn validate(model: &LstmClassifier, images: &Tensor, labels: &Tensor) -> Result<(f64, f64), TrainError> {
    let n = labels.size()[0];
    let (mut loss, mut correct) = (0.0, 0i64);
    tch::no_grad(|| -> Result<(), TrainError> {
        for start in (0..n).step_by(VALIDATION_BATCH as usize) {
            let len = VALIDATION_BATCH.min(n - start);
            let (x, y) = (images.f_narrow(0, start, len)?, labels.f_narrow(0, start, len)?);
            let logits = model.forward_t(&x, false)?;
            loss +=
                logits.f_cross_entropy_loss(&y, None::<Tensor>, tch::Reduction::Sum, -100, 0.0)?.f_double_value(&[])?;
            correct += logits.f_argmax(-1, false)?.f_eq_tensor(&y)?.f_sum(Kind::Int64)?.f_int64_value(&[])?;
        }
        Ok(())
    })?;
    Ok((loss / n as f64, correct as f64 / n as f64))
}

/// The seed of libtorch's generator for step `step`: a SplitMix64 mix of the
/// run's seed and the step, so that dropout masks need no saved state.
fn step_seed(seed: u64, step: i64) -> i64 {
    let mut z = seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 1) as i64
}

/// Copies of the model's variables, by name.
fn snapshot(model: &LstmClassifier) -> Result<BTreeMap<String, Tensor>, TrainError> {
    tch::no_grad(|| model.var_store().variables().into_iter().map(|(k, v)| Ok((k, v.f_detach_copy()?))).collect())
}

/// Copies `tensors[prefix + name]` into every variable of the model. The
/// tensors under `prefix` must be exactly the model's variables with their
/// shapes; everything is checked before anything is copied, so a mismatch
/// never leaves a partly loaded model.
fn restore(model: &LstmClassifier, tensors: &BTreeMap<String, Tensor>, prefix: &str) -> Result<(), TrainError> {
    let vars = model.var_store().variables();
    for (name, var) in &vars {
        let key = format!("{prefix}{name}");
        let src = tensors.get(&key).ok_or_else(|| TrainError::BadCheckpoint(format!("tensor `{key}` is missing")))?;
        if src.size() != var.size() {
            return Err(TrainError::BadCheckpoint(format!(
                "tensor `{key}` has shape {:?}, expected {:?}",
                src.size(),
                var.size()
            )));
        }
    }
    let extra = tensors.keys().filter_map(|k| k.strip_prefix(prefix)).find(|name| !vars.contains_key(*name));
    if let (Some(name), false) = (extra, prefix.is_empty()) {
        return Err(TrainError::BadCheckpoint(format!("tensor `{prefix}{name}` is not a variable of this model")));
    }
    for (name, mut var) in vars {
        tch::no_grad(|| var.f_copy_(&tensors[&format!("{prefix}{name}")]))?;
    }
    Ok(())
}

/// Trains `model` on `train`, optionally validating on `validation`, writing
/// the notebook's progress lines to `progress`.
///
/// With `options.run_dir`, checkpoints go to `run_dir/checkpoints/` (every
/// `checkpoint_every` steps, at the end, on interruption) and records to
/// `run_dir/metrics.jsonl`; with `options.resume` the run continues from the
/// newest checkpoint and, on the CPU, takes exactly the steps the
/// uninterrupted run would have taken. The loss is checked after every
/// forward pass (reading one number costs nothing measurable on the CPU): a
/// non-finite loss stops the run with [`TrainError::Diverged`] before the
/// update, leaving the last good checkpoint in place.
pub fn train(
    model: &LstmClassifier,
    train: Split,
    validation: Option<Split>,
    config: &TrainConfig,
    progress: &mut dyn Write,
    options: &Options,
) -> Result<TrainSummary, TrainError> {
    config.validate()?;
    let compute = config::training_precision(config.precision, model.device())?.kind();
    // libtorch's generator only drives dropout: reseeding it (about 0.7 ms a
    // step on the CPU) is needed for exact resume only when there is dropout.
    let reseed = model.spec().config.dropout > 0.0;
    let n = check_split("training split", &train)?;
    if let Some(v) = &validation {
        check_split("validation split", v)?;
    }
    let length = config.length()?;
    let device = model.device();
    let (images, labels) = (train.images.f_to_device(device)?, train.labels.f_to_device(device)?);
    let validation = match validation {
        Some(v) => Some((v.images.f_to_device(device)?, v.labels.f_to_device(device)?)),
        None => None,
    };
    let total_steps = config.steps(n);
    let steps_per_epoch = config.steps_per_epoch(n).max(1);
    let schedule = Schedule::new(config.schedule.clone(), config.learning_rate, total_steps);
    let mut optimizer = Optimizer::new(config.optimizer.clone(), model.var_store())?;
    let mut order = BatchOrder::new(n as usize, config.seed);
    let mut meta = CheckpointMeta {
        version: checkpoint::CHECKPOINT_VERSION,
        step: 0,
        total_steps,
        samples: 0,
        epoch: 0,
        cursor: 0,
        optimizer_steps: 0,
        lr: schedule.lr(1),
        elapsed_seconds: 0.0,
        last_loss: None,
        best: None,
        bad_validations: 0,
        seed: config.seed,
    };
    let mut best_weights: Option<BTreeMap<String, Tensor>> = None;
    let mut resumed_from = None;
    let mut last_checkpoint = None;
    if options.resume {
        let run_dir = options.run_dir.ok_or_else(|| TrainError::BadCheckpoint("resuming needs a run folder".into()))?;
        let dir = checkpoint::latest(run_dir)?.ok_or_else(|| TrainError::NoCheckpoint(run_dir.to_owned()))?;
        let (saved, tensors) = checkpoint::read(&dir)?;
        checkpoint::remove_leftovers(&run_dir.join("checkpoints"))?;
        if saved.total_steps != total_steps || saved.seed != config.seed {
            return Err(TrainError::BadCheckpoint(format!(
                "{} was written by a run of {} steps with seed {}, but this config gives {total_steps} steps with seed {}; \
                 resume with the run's own config.json",
                dir.display(),
                saved.total_steps,
                saved.seed,
                config.seed
            )));
        }
        let other_model = |e: TrainError| match e {
            TrainError::BadCheckpoint(detail) => TrainError::BadCheckpoint(format!(
                "{} does not fit the model of this run's config ({detail}); was `model` in config.json changed \
                 since the checkpoint was written? Restore it, or start a new run",
                dir.display()
            )),
            e => e,
        };
        restore(model, &tensors, "model.").map_err(other_model)?;
        optimizer.load_state(&tensors, "optim.", saved.optimizer_steps).map_err(other_model)?;
        if saved.best.is_some() {
            let prefixed =
                tensors.iter().filter_map(|(k, v)| k.strip_prefix("best.").map(|k| (k.to_owned(), v.shallow_clone())));
            best_weights = Some(prefixed.collect());
        }
        order = BatchOrder::resume(n as usize, config.seed, saved.epoch, saved.cursor);
        tracing::info!(step = saved.step, checkpoint = %dir.display(), "resuming");
        resumed_from = Some(saved.step);
        last_checkpoint = Some(dir);
        meta = saved;
    }
    if let (Some(run_dir), false) = (options.run_dir, options.resume) {
        // A fresh run: checkpoints of an earlier run in the same folder must not be resumed or kept.
        let old = run_dir.join("checkpoints");
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|source| TrainError::File { path: old.clone(), source })?;
        }
    }
    let mut metrics = match options.run_dir {
        Some(dir) => Some(metrics::MetricsWriter::open(dir, resumed_from)?),
        None => None,
    };
    let bar = options.progress_bar.then(|| {
        let bar = indicatif::ProgressBar::new((total_steps * config.batch_size) as u64);
        let style = indicatif::ProgressStyle::with_template(
            "{bar:30} {human_pos}/{human_len} samples  {per_sec}  ETA {eta}  {msg}",
        );
        if let Ok(style) = style {
            bar.set_style(style);
        }
        bar.set_position(meta.samples as u64);
        bar.reset_eta();
        bar
    });
    let write_checkpoint = |meta: &CheckpointMeta, optimizer: &Optimizer, best: &Option<BTreeMap<String, Tensor>>| {
        let Some(run_dir) = options.run_dir else { return Ok(None) };
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        for (name, var) in model.var_store().variables() {
            let finite = tch::no_grad(|| var.f_isfinite()?.f_all()?.f_int64_value(&[]))?;
            if finite == 0 {
                return Err(TrainError::Diverged {
                    step: meta.step,
                    loss: f64::NAN,
                    checkpoint: checkpoint::latest(run_dir)?,
                });
            }
            tensors.push((format!("model.{name}"), var));
        }
        tensors.extend(optimizer.state_tensors().into_iter().map(|(k, v)| (format!("optim.{k}"), v)));
        if let Some(best) = best {
            tensors.extend(best.iter().map(|(k, v)| (format!("best.{k}"), v.shallow_clone())));
        }
        let keep = config.keep_checkpoints;
        checkpoint::write(run_dir, meta, &tensors, keep).map(Some)
    };

    tracing::info!(steps = total_steps, batch_size = config.batch_size, examples = n, ?length, "training");
    let start = Instant::now();
    let (elapsed_before, samples_before) = (meta.elapsed_seconds, meta.samples);
    let first_step = meta.step + 1;
    let (mut window_start, mut window_samples) = (Instant::now(), 0i64);
    let mut stop = Stop::Completed;
    let mut last_validation = None;
    for step in first_step..=total_steps {
        if reseed {
            tch::manual_seed(step_seed(config.seed, step));
        }
        let batch = match length {
            Length::TrainingIters(_) | Length::Steps(_) => order.next_batch(config.batch_size as usize),
            Length::Epochs(_) => order.next_batch_in_epoch(config.batch_size as usize, config.drop_last),
        };
        let index = Tensor::f_from_slice(&batch)?.f_to_device(device)?;
        let (x, y) = (images.f_index_select(0, &index)?, labels.f_index_select(0, &index)?);
        let lr = schedule.lr(step);
        optimizer.zero_grad();
        let logits = model.forward_t_with(&x, true, compute)?;
        let loss = logits.f_cross_entropy_loss(&y, None::<Tensor>, tch::Reduction::Mean, -100, 0.0)?;
        let loss_value = loss.f_double_value(&[])?;
        if !loss_value.is_finite() {
            if let Some(bar) = &bar {
                bar.abandon();
            }
            return Err(TrainError::Diverged { step, loss: loss_value, checkpoint: last_checkpoint });
        }
        loss.f_backward()?;
        if let Some(max_norm) = config.clip_grad_norm {
            optimizer.clip_grad_norm(max_norm)?;
        }
        optimizer.step(lr)?;
        meta.step = step;
        meta.samples += batch.len() as i64;
        meta.epoch = order.epoch();
        meta.cursor = order.cursor();
        meta.optimizer_steps = optimizer.steps();
        meta.lr = lr;
        meta.elapsed_seconds = elapsed_before + start.elapsed().as_secs_f64();
        window_samples += batch.len() as i64;
        if let Some(bar) = &bar {
            bar.set_position(meta.samples as u64);
        }
        if step % config.display_step == 0 {
            let (loss, accuracy) = tch::no_grad(|| loss_and_accuracy(&model.forward_t(&x, false)?, &y))?;
            let line = format!(
                "Iter {}, Minibatch Loss= {loss:.6}, Training Accuracy= {accuracy:.5}",
                step * config.batch_size
            );
            match &bar {
                Some(bar) => bar.suspend(|| writeln!(progress, "{line}"))?,
                None => writeln!(progress, "{line}")?,
            }
            meta.last_loss = Some(loss);
            let samples_per_second = window_samples as f64 / window_start.elapsed().as_secs_f64().max(1e-9);
            (window_start, window_samples) = (Instant::now(), 0);
            if let Some(m) = &mut metrics {
                let elapsed = meta.elapsed_seconds;
                m.write(&MetricRecord::Train {
                    step,
                    samples: meta.samples,
                    loss,
                    accuracy,
                    lr,
                    samples_per_second,
                    elapsed,
                })?;
            }
        }
        let due = match config.validate_every {
            Some(every) => step % every == 0,
            None => step % steps_per_epoch == 0,
        };
        if let (Some((vx, vy)), true) = (&validation, due || step == total_steps) {
            let (loss, accuracy) = validate(model, vx, vy)?;
            let point = ValidationPoint { step, accuracy, loss };
            let improved = !matches!(meta.best, Some(b) if accuracy <= b.accuracy);
            if improved {
                meta.best = Some(point);
                meta.bad_validations = 0;
                best_weights = Some(snapshot(model)?);
            } else {
                meta.bad_validations += 1;
            }
            tracing::info!(step, accuracy, loss, best = improved, "validation");
            if let Some(bar) = &bar {
                bar.set_message(format!("val acc {accuracy:.4}"));
            }
            if let Some(m) = &mut metrics {
                let elapsed = meta.elapsed_seconds;
                m.write(&MetricRecord::Validation {
                    step,
                    samples: meta.samples,
                    loss,
                    accuracy,
                    best: improved,
                    elapsed,
                })?;
            }
            last_validation = Some(point);
            if config.patience.is_some_and(|p| meta.bad_validations >= p) {
                tracing::info!(
                    step,
                    best_step = meta.best.map(|b| b.step),
                    "early stopping: validation accuracy stopped improving"
                );
                stop = Stop::EarlyStopping;
            }
        }
        let interrupted = options.stop.is_some_and(|s| s.load(Ordering::SeqCst)) || options.stop_after == Some(step);
        if interrupted && step < total_steps && stop == Stop::Completed {
            stop = Stop::Interrupted;
        }
        let periodic = config.checkpoint_every > 0 && step % config.checkpoint_every == 0;
        if periodic || stop != Stop::Completed || step == total_steps {
            last_checkpoint = write_checkpoint(&meta, &optimizer, &best_weights)?.or(last_checkpoint);
        }
        if stop != Stop::Completed {
            break;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut restored_best = false;
    if stop != Stop::Interrupted && config.restore_best {
        if let Some(best) = &best_weights {
            restore(model, best, "")?;
            restored_best = true;
            tracing::info!(step = meta.best.map(|b| b.step), "model set to the best validation's weights");
        }
    }
    Ok(TrainSummary {
        steps: meta.step,
        total_steps,
        samples: meta.samples,
        last_loss: meta.last_loss,
        seconds: elapsed_before + seconds,
        samples_per_second: (meta.samples - samples_before) as f64 / seconds.max(1e-9),
        stop,
        resumed_from,
        best_validation: meta.best,
        last_validation,
        restored_best,
        checkpoint: last_checkpoint,
    })
}

#[cfg(test)]
mod tests;
