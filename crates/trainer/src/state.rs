//! The state of a training run and the parts of one step: resuming, the
//! update, the progress line, validation and checkpointing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use lstm_model::LstmClassifier;
use tch::{Device, Kind, Tensor};

use crate::checkpoint::{self, CheckpointMeta, ValidationPoint};
use crate::{
    BatchOrder, EarlyStopping, Length, MetricRecord, Optimizer, Options, PlainLines, ProgressRenderer, Schedule, Split,
    Stop, TrainConfig, TrainError, TrainSummary, Validator,
};

/// Everything a run carries from one step to the next.
pub(crate) struct TrainState<'a> {
    model: &'a LstmClassifier,
    config: &'a TrainConfig,
    options: Options<'a>,
    /// Kind of the training forward pass.
    compute: Kind,
    /// libtorch's generator only drives dropout: reseeding it every step
    /// (about 0.7 ms on the CPU) is needed for exact resume only with dropout.
    reseed: bool,
    length: Length,
    device: Device,
    images: Tensor,
    labels: Tensor,
    /// Real steps of each training sequence (on the CPU), when they differ.
    lengths: Option<Tensor>,
    /// The validation split on the model's device, and what measures the model on it.
    validation: Option<(Split, Box<dyn Validator + 'a>)>,
    /// Steps of real data and steps computed (real plus padding) in this
    /// session's batches, for the padding fraction.
    padding: (i64, i64),
    total_steps: i64,
    steps_per_epoch: i64,
    schedule: Schedule,
    optimizer: Optimizer,
    order: BatchOrder,
    /// Progress as a checkpoint records it (its `best` and `bad_validations`
    /// are taken from `early` when written).
    meta: CheckpointMeta,
    early: EarlyStopping,
    best_weights: Option<BTreeMap<String, Tensor>>,
    resumed_from: Option<i64>,
    last_checkpoint: Option<PathBuf>,
    last_validation: Option<ValidationPoint>,
    renderer: Box<dyn ProgressRenderer + 'a>,
    clock: Clock,
}

/// One minibatch: inputs cut to its longest sequence, labels, lengths.
pub(crate) struct Batch {
    x: Tensor,
    y: Tensor,
    lengths: Option<Tensor>,
}

/// Training time of this session and throughput between progress lines.
struct Clock {
    start: Instant,
    elapsed_before: f64,
    samples_before: i64,
    window_start: Instant,
    window_samples: i64,
}

fn check_split(what: &str, split: &Split) -> Result<i64, TrainError> {
    let n = split.labels.size().first().copied().unwrap_or(0);
    let bad = |detail: String| Err(TrainError::BadData { split: what.to_owned(), detail });
    if split.labels.dim() != 1 || split.features.size().first() != Some(&n) || n == 0 {
        return bad(format!(
            "{:?} images for {:?} labels; expected [N, rows, cols] images and [N] labels with N > 0",
            split.features.size(),
            split.labels.size()
        ));
    }
    if let Some(lengths) = &split.lengths {
        let steps = split.features.size().get(1).copied().unwrap_or(0);
        let (lo, hi) = (lengths.f_min()?.f_int64_value(&[])?, lengths.f_max()?.f_int64_value(&[])?);
        if lengths.size() != [n] || lo < 1 || hi > steps {
            return bad(format!(
                "lengths {:?} from {lo} to {hi} for {n} sequences of {steps} steps; expected [{n}], each in 1..={steps}",
                lengths.size()
            ));
        }
    }
    Ok(n)
}

/// The split's tensors on `device` (lengths as `i64` on the CPU).
fn to_device(split: &Split, device: Device) -> Result<Split, TrainError> {
    Ok(Split {
        features: split.features.f_to_device(device)?,
        labels: split.labels.f_to_device(device)?,
        lengths: split.lengths.as_ref().map(|l| l.f_to_device(Device::Cpu)?.f_to_kind(Kind::Int64)).transpose()?,
    })
}

/// The training loss: mean softmax cross-entropy of a minibatch.
fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor, TrainError> {
    Ok(logits.f_cross_entropy_loss(labels, None::<Tensor>, tch::Reduction::Mean, -100, 0.0)?)
}

/// Loss and accuracy of one minibatch.
fn loss_and_accuracy(logits: &Tensor, labels: &Tensor) -> Result<(f64, f64), TrainError> {
    let loss = cross_entropy(logits, labels)?;
    let accuracy = logits.f_argmax(-1, false)?.f_eq_tensor(labels)?.f_mean(Kind::Float)?;
    Ok((loss.f_double_value(&[])?, accuracy.f_double_value(&[])?))
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
pub(crate) fn restore(
    model: &LstmClassifier,
    tensors: &BTreeMap<String, Tensor>,
    prefix: &str,
) -> Result<(), TrainError> {
    let vars = model.var_store().variables();
    for (name, var) in &vars {
        let key = format!("{prefix}{name}");
        let mismatch = |detail: String| TrainError::StateMismatch { tensor: key.clone(), detail };
        let src = tensors.get(&key).ok_or_else(|| mismatch("is missing".into()))?;
        if src.size() != var.size() {
            return Err(mismatch(format!("has shape {:?}, expected {:?}", src.size(), var.size())));
        }
    }
    let extra = tensors.keys().filter_map(|k| k.strip_prefix(prefix)).find(|name| !vars.contains_key(*name));
    if let (Some(name), false) = (extra, prefix.is_empty()) {
        let tensor = format!("{prefix}{name}");
        return Err(TrainError::StateMismatch { tensor, detail: "is not a variable of this model".into() });
    }
    for (name, mut var) in vars {
        tch::no_grad(|| var.f_copy_(&tensors[&format!("{prefix}{name}")]))?;
    }
    Ok(())
}

impl<'a> TrainState<'a> {
    /// Checks the config and the data and sets up a fresh run (nothing is read or written yet).
    pub fn new(
        model: &'a LstmClassifier,
        train: &Split,
        validation: Option<&Split>,
        config: &'a TrainConfig,
        mut options: Options<'a>,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        let compute = crate::config::training_precision(config.precision, model, config.batch_size)?.kind();
        let n = check_split("training", train)?;
        if let Some(v) = validation {
            check_split("validation", v)?;
        }
        let device = model.device();
        let validation = match (validation, options.validator.take()) {
            (Some(v), Some(validator)) => Some((to_device(v, device)?, validator)),
            (Some(_), None) => return Err(TrainError::NoValidator),
            (None, _) => None,
        };
        let data = to_device(train, device)?;
        let mut order = BatchOrder::new(n as usize, config.seed);
        if let (Some(lengths), true) = (&data.lengths, config.length_buckets != Some(false)) {
            order = order.with_buckets(Vec::<i64>::try_from(lengths)?, config.batch_size as usize);
        }
        let total_steps = config.steps(n);
        let schedule = Schedule::new(config.schedule.clone(), config.learning_rate, total_steps);
        let meta = CheckpointMeta {
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
        Ok(Self {
            model,
            config,
            compute,
            reseed: model.spec().config.dropout > 0.0,
            length: config.length()?,
            device,
            images: data.features,
            labels: data.labels,
            lengths: data.lengths,
            validation,
            padding: (0, 0),
            total_steps,
            steps_per_epoch: config.steps_per_epoch(n).max(1),
            schedule,
            optimizer: Optimizer::new(config.optimizer.clone(), model.var_store())?,
            order,
            meta,
            early: EarlyStopping::new(config.patience),
            best_weights: None,
            resumed_from: None,
            last_checkpoint: None,
            last_validation: None,
            renderer: options.renderer.take().unwrap_or_else(|| Box::new(PlainLines)),
            clock: Clock {
                start: Instant::now(),
                elapsed_before: 0.0,
                samples_before: 0,
                window_start: Instant::now(),
                window_samples: 0,
            },
            options,
        })
    }

    /// Steps the whole run takes.
    pub fn total_steps(&self) -> i64 {
        self.total_steps
    }

    /// The first step this session takes.
    pub fn next_step(&self) -> i64 {
        self.meta.step + 1
    }

    /// Resumes (or checks that a fresh run has no earlier checkpoints), starts
    /// the sinks and the renderer, and starts the clock.
    pub fn start(&mut self) -> Result<(), TrainError> {
        match (&self.options.checkpoints, self.options.resume) {
            (Some(dir), true) => self.resume(&dir.clone())?,
            (None, true) => return Err(TrainError::NoCheckpointsFolder),
            (Some(dir), false) => {
                if checkpoint::latest(dir)?.is_some() {
                    return Err(TrainError::CheckpointsExist(dir.clone()));
                }
            }
            (None, false) => {}
        }
        for sink in &mut self.options.sinks {
            sink.start(self.resumed_from)?;
        }
        self.renderer.start(self.total_steps * self.config.batch_size, self.meta.samples);
        let n = self.labels.size()[0];
        tracing::info!(
            steps = self.total_steps,
            batch_size = self.config.batch_size,
            examples = n,
            length = ?self.length,
            "training"
        );
        self.clock = Clock {
            start: Instant::now(),
            elapsed_before: self.meta.elapsed_seconds,
            samples_before: self.meta.samples,
            window_start: Instant::now(),
            window_samples: 0,
        };
        Ok(())
    }

    /// Loads the newest checkpoint of `checkpoints`: weights, optimiser state,
    /// data position, best validation and early-stopping counter.
    fn resume(&mut self, checkpoints: &Path) -> Result<(), TrainError> {
        let dir = checkpoint::latest(checkpoints)?.ok_or_else(|| TrainError::NoCheckpoint(checkpoints.to_owned()))?;
        let (saved, tensors) = checkpoint::read(&dir)?;
        checkpoint::check_position(&dir, &saved, self.labels.size()[0], self.config.batch_size)?;
        checkpoint::remove_leftovers(checkpoints)?;
        // The run length may change (a finished run is extended from its last
        // checkpoint; the schedule follows the new length), the seed may not.
        if saved.seed != self.config.seed || saved.step > self.total_steps {
            return Err(TrainError::BadCheckpoint {
                path: dir,
                detail: format!(
                    "written at step {} of a run with seed {}, but this config gives {} steps with seed {}; \
                     resume with the run's own config.json (a longer run length is fine)",
                    saved.step, saved.seed, self.total_steps, self.config.seed
                ),
            });
        }
        let other_model = |e: TrainError| match e {
            TrainError::StateMismatch { .. } => TrainError::BadCheckpoint {
                path: dir.clone(),
                detail: format!(
                    "does not fit the model of this run's config ({e}); was `model` in config.json changed \
                     since the checkpoint was written? Restore it, or start a new run"
                ),
            },
            e => e,
        };
        restore(self.model, &tensors, "model.").map_err(other_model)?;
        self.optimizer.load_state(&tensors, "optim.", saved.optimizer_steps).map_err(other_model)?;
        if saved.best.is_some() {
            let prefixed =
                tensors.iter().filter_map(|(k, v)| k.strip_prefix("best.").map(|k| (k.to_owned(), v.shallow_clone())));
            self.best_weights = Some(prefixed.collect());
        }
        let n = self.labels.size()[0] as usize;
        self.order = BatchOrder::resume(n, self.config.seed, saved.epoch, saved.cursor);
        if let (Some(lengths), true) = (&self.lengths, self.config.length_buckets != Some(false)) {
            self.order =
                self.order.clone().with_buckets(Vec::<i64>::try_from(lengths)?, self.config.batch_size as usize);
        }
        self.early = EarlyStopping::resume(self.config.patience, saved.best, saved.bad_validations);
        tracing::info!(step = saved.step, checkpoint = %dir.display(), "resuming");
        self.resumed_from = Some(saved.step);
        self.last_checkpoint = Some(dir);
        self.meta = CheckpointMeta { total_steps: self.total_steps, ..saved };
        Ok(())
    }

    /// The examples `batch` of the training split, cut to their longest sequence.
    fn gather(&mut self, batch: &[i64]) -> Result<Batch, TrainError> {
        let cpu_index = Tensor::f_from_slice(batch)?;
        let index = cpu_index.f_to_device(self.device)?;
        let (x, y) = (self.images.f_index_select(0, &index)?, self.labels.f_index_select(0, &index)?);
        let Some(all) = &self.lengths else { return Ok(Batch { x, y, lengths: None }) };
        let lengths = all.f_index_select(0, &cpu_index)?;
        let longest = lengths.f_max()?.f_int64_value(&[])?;
        self.padding.0 += lengths.f_sum(Kind::Int64)?.f_int64_value(&[])?;
        self.padding.1 += longest * batch.len() as i64;
        Ok(Batch { x: x.f_narrow(1, 0, longest)?, y, lengths: Some(lengths) })
    }

    /// One optimiser step on the next minibatch; returns the minibatch.
    pub fn step(&mut self, step: i64) -> Result<Batch, TrainError> {
        let config = self.config;
        if self.reseed {
            tch::manual_seed(step_seed(config.seed, step));
        }
        let batch = match self.length {
            Length::TrainingIters(_) | Length::Steps(_) => self.order.next_batch(config.batch_size as usize),
            Length::Epochs(_) => self.order.next_batch_in_epoch(config.batch_size as usize, config.drop_last),
        };
        let data = self.gather(&batch)?;
        let lr = self.schedule.lr(step);
        self.optimizer.zero_grad();
        let logits = self.model.forward_input_t(&data.x, data.lengths.as_ref(), true, self.compute)?;
        let loss = cross_entropy(&logits, &data.y)?;
        let loss_value = loss.f_double_value(&[])?;
        if !loss_value.is_finite() {
            self.renderer.abandon();
            return Err(TrainError::Diverged { step, loss: loss_value, checkpoint: self.last_checkpoint.clone() });
        }
        loss.f_backward()?;
        if let Some(max_norm) = config.clip_grad_norm {
            self.optimizer.clip_grad_norm(max_norm)?;
        }
        self.optimizer.step(lr)?;
        let meta = &mut self.meta;
        meta.step = step;
        meta.samples += batch.len() as i64;
        meta.epoch = self.order.epoch();
        meta.cursor = self.order.cursor();
        meta.optimizer_steps = self.optimizer.steps();
        meta.lr = lr;
        meta.elapsed_seconds = self.clock.elapsed_before + self.clock.start.elapsed().as_secs_f64();
        self.clock.window_samples += batch.len() as i64;
        self.renderer.step(meta.samples);
        Ok(data)
    }

    /// The notebook's progress line for the minibatch `(x, y)` of step
    /// `step`, measured after the update, and its metric record.
    pub fn display(&mut self, step: i64, batch: &Batch, progress: &mut dyn Write) -> Result<(), TrainError> {
        let (x, lengths) = (&batch.x, batch.lengths.as_ref());
        let logits = tch::no_grad(|| self.model.forward_input_t(x, lengths, false, Kind::Float))?;
        let (loss, accuracy) = loss_and_accuracy(&logits, &batch.y)?;
        let line = format!(
            "Iter {}, Minibatch Loss= {loss:.6}, Training Accuracy= {accuracy:.5}",
            step * self.config.batch_size
        );
        self.renderer.line(&line, progress)?;
        self.meta.last_loss = Some(loss);
        let clock = &mut self.clock;
        let samples_per_second = clock.window_samples as f64 / clock.window_start.elapsed().as_secs_f64().max(1e-9);
        (clock.window_start, clock.window_samples) = (Instant::now(), 0);
        let record = MetricRecord::Train {
            step,
            samples: self.meta.samples,
            loss,
            accuracy,
            lr: self.meta.lr,
            samples_per_second,
            elapsed: self.meta.elapsed_seconds,
        };
        self.send(&record)
    }

    fn send(&mut self, record: &MetricRecord) -> Result<(), TrainError> {
        for sink in &mut self.options.sinks {
            sink.record(record)?;
        }
        Ok(())
    }

    /// Whether a validation follows step `step`: every `validate_every`
    /// steps (default: every epoch) and after the last step, given a validation split.
    pub fn validation_due(&self, step: i64) -> bool {
        let due = match self.config.validate_every {
            Some(every) => step % every == 0,
            None => step % self.steps_per_epoch == 0,
        };
        self.validation.is_some() && (due || step == self.total_steps)
    }

    /// Validates, keeps the best weights; returns whether early stopping says stop.
    pub fn validate(&mut self, step: i64) -> Result<bool, TrainError> {
        let Some((split, validator)) = &mut self.validation else { return Ok(false) };
        let crate::Validation { loss, accuracy } = validator.validate(self.model, split)?;
        let point = ValidationPoint { step, accuracy, loss };
        let improved = self.early.update(point);
        if improved {
            self.best_weights = Some(snapshot(self.model)?);
        }
        tracing::info!(step, accuracy, loss, best = improved, "validation");
        self.renderer.validation(accuracy);
        let record = MetricRecord::Validation {
            step,
            samples: self.meta.samples,
            loss,
            accuracy,
            best: improved,
            elapsed: self.meta.elapsed_seconds,
        };
        self.send(&record)?;
        self.last_validation = Some(point);
        let stop = self.early.should_stop();
        if stop {
            tracing::info!(
                step,
                best_step = self.early.best().map(|b| b.step),
                "early stopping: validation accuracy stopped improving"
            );
        }
        Ok(stop)
    }

    /// Whether a stop was asked for after step `step` (before the last one).
    pub fn interrupted(&self, step: i64) -> bool {
        let asked =
            self.options.stop.is_some_and(|s| s.load(Ordering::SeqCst)) || self.options.stop_after == Some(step);
        asked && step < self.total_steps
    }

    /// Whether step `step` ends with a checkpoint: every `checkpoint_every` steps and after the last one.
    pub fn checkpoint_due(&self, step: i64) -> bool {
        let periodic = self.config.checkpoint_every > 0 && step % self.config.checkpoint_every == 0;
        periodic || step == self.total_steps
    }

    /// Writes a checkpoint of the state after the current step (if there is a
    /// checkpoints folder), refusing non-finite weights.
    pub fn checkpoint(&mut self) -> Result<(), TrainError> {
        let Some(checkpoints) = self.options.checkpoints.clone() else { return Ok(()) };
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        for (name, var) in self.model.var_store().variables() {
            let finite = tch::no_grad(|| var.f_isfinite()?.f_all()?.f_int64_value(&[]))?;
            if finite == 0 {
                let checkpoint = checkpoint::latest(&checkpoints)?;
                return Err(TrainError::Diverged { step: self.meta.step, loss: f64::NAN, checkpoint });
            }
            tensors.push((format!("model.{name}"), var));
        }
        tensors.extend(self.optimizer.state_tensors().into_iter().map(|(k, v)| (format!("optim.{k}"), v)));
        if let Some(best) = &self.best_weights {
            tensors.extend(best.iter().map(|(k, v)| (format!("best.{k}"), v.shallow_clone())));
        }
        let meta = CheckpointMeta {
            best: self.early.best(),
            bad_validations: self.early.bad_validations(),
            ..self.meta.clone()
        };
        let dir = checkpoint::write(&checkpoints, &meta, &tensors, self.config.keep_checkpoints)?;
        for sink in &mut self.options.sinks {
            sink.on_checkpoint(meta.step, &dir)?;
        }
        self.last_checkpoint = Some(dir);
        Ok(())
    }

    /// Logs the padding fraction of this session's batches of sequences, and
    /// what it would have been with every batch padded to the longest
    /// training sequence.
    fn log_padding(&self) {
        let (Some(lengths), (real, computed)) = (&self.lengths, self.padding) else { return };
        if computed == 0 {
            return;
        }
        let mean =
            lengths.f_to_kind(Kind::Double).and_then(|l| l.f_mean(Kind::Double)).and_then(|m| m.f_double_value(&[]));
        let longest = self.images.size().get(1).copied().unwrap_or(1) as f64;
        let unbucketed = mean.map_or(f64::NAN, |m| 1.0 - m / longest);
        tracing::info!(
            padding = format!("{:.1}%", 100.0 * (computed - real) as f64 / computed as f64),
            padding_if_padded_to_longest = format!("{:.1}%", 100.0 * unbucketed),
            length_buckets = self.config.length_buckets != Some(false),
            samples_per_second = format!(
                "{:.0}",
                (self.meta.samples - self.clock.samples_before) as f64
                    / self.clock.start.elapsed().as_secs_f64().max(1e-9)
            ),
            "sequence padding: share of the steps computed that were padding"
        );
    }

    /// Ends the run: tells the renderer, sets the model to the best
    /// validation's weights when configured, finishes the sinks.
    pub fn finish(mut self, stop: Stop) -> Result<TrainSummary, TrainError> {
        self.renderer.finish();
        let seconds = self.clock.start.elapsed().as_secs_f64();
        self.log_padding();
        let mut restored_best = false;
        if stop != Stop::Interrupted && self.config.restore_best {
            if let Some(best) = &self.best_weights {
                restore(self.model, best, "")?;
                restored_best = true;
                tracing::info!(step = self.early.best().map(|b| b.step), "model set to the best validation's weights");
            }
        }
        for sink in &mut self.options.sinks {
            sink.finish()?;
        }
        Ok(TrainSummary {
            steps: self.meta.step,
            total_steps: self.total_steps,
            samples: self.meta.samples,
            last_loss: self.meta.last_loss,
            seconds: self.clock.elapsed_before + seconds,
            samples_per_second: (self.meta.samples - self.clock.samples_before) as f64 / seconds.max(1e-9),
            stop,
            resumed_from: self.resumed_from,
            best_validation: self.early.best(),
            last_validation: self.last_validation,
            restored_best,
            checkpoint: self.last_checkpoint,
        })
    }
}
