//! The `train` section of an experiment config.

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// The `train` section of an experiment config. Defaults are the notebook's.
///
/// The length of training is given by exactly one of `training_iters` (the
/// notebook's sample count, default when none is set), `epochs` and
/// `max_steps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Peak learning rate (the schedule scales it). Default 0.001.
    pub learning_rate: f64,
    /// Examples per minibatch. Default 128.
    pub batch_size: i64,
    /// The notebook's length: training runs `while step * batch_size <
    /// training_iters`, `step` from 1 (781 steps for 100000 at batch 128), and
    /// batches behave as `next_batch`: always full, an epoch's last batch is
    /// completed with the next epoch's first examples. Default: 100000 when
    /// `epochs` is not set, else null.
    pub training_iters: Option<i64>,
    /// The alternative length: this many passes over the training data, each
    /// a fresh permutation; see `drop_last`. Default null.
    pub epochs: Option<i64>,
    /// The third alternative: exactly this many optimisation steps, batches
    /// drawn as with `training_iters` (always full). Default null.
    pub max_steps: Option<i64>,
    /// With `epochs`: drop each epoch's last partial batch (true) or train on
    /// it (false). Ignored with `training_iters`. Default false.
    pub drop_last: bool,
    /// A progress line (and a `metrics.jsonl` record) every this many steps. Default 10.
    pub display_step: i64,
    /// Seed of the order in which examples are visited and of dropout. Default 0.
    pub seed: u64,
    /// The optimiser. Default `{"name": "adam"}` with PyTorch's defaults.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule. Default `{"name": "constant"}`.
    pub schedule: ScheduleConfig,
    /// Rescale the gradients so that their global L2 norm is at most this
    /// (as `torch.nn.utils.clip_grad_norm_`). Default null: no clipping.
    pub clip_grad_norm: Option<f64>,
    /// Validate every this many steps; null: at the end of every epoch
    /// (`ceil(N / batch_size)` steps, `floor` with `drop_last`), and always
    /// after the last step. Only used when a validation split is given. Default null.
    pub validate_every: Option<i64>,
    /// Stop when this many validations in a row have not improved the best
    /// validation accuracy. Default null: never stop early.
    pub patience: Option<i64>,
    /// With a validation split, end training with the weights of the best
    /// validation accuracy (true) or the last weights (false). Default true.
    pub restore_best: bool,
    /// Write a checkpoint every this many steps (and always at the end);
    /// 0 writes one only at the end. Default 200.
    pub checkpoint_every: i64,
    /// How many step checkpoints to keep in `checkpoints/`. Default 2.
    pub keep_checkpoints: usize,
    /// Compute precision of the training forward and backward passes:
    /// `"fp32"`, `"bf16"`, `"fp16"` (CUDA only) or `"auto"` (the faster of bf16
    /// and fp32, measured on the model where the hardware has bf16; fp32 elsewhere). Mixed precision
    /// keeps `f32` master weights and optimiser state; the recurrent layers
    /// run in the lower precision, the readout, loss and evaluation in `f32`.
    /// Default `"fp32"`.
    pub precision: Precision,
    /// For sequences of different lengths: batch sequences of similar
    /// lengths together (each epoch's order is cut into pools of 50 batches,
    /// each sorted by length, and the batches shuffled), so that little
    /// padding is computed; the log reports the padding fraction. Default
    /// null: on when the training split has lengths, off otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length_buckets: Option<bool>,
}

pub use crate::optim::{AdamConfig, OptimizerConfig, RmspropConfig, SgdConfig};
pub use crate::schedule::{ConstantSchedule, CosineSchedule, OneCycleSchedule, ScheduleConfig, StepSchedule};
pub use lstm_model::Precision;
use lstm_model::{LstmClassifier, Workload};

/// The precision training `model` computes in at `batch` images a step:
/// `"auto"` resolved by [`LstmClassifier::resolve_precision`] (the faster of
/// fp32 and bf16, measured where the hardware has bf16); an error naming
/// `train.precision` for fp16 off CUDA.
pub(crate) fn training_precision(
    precision: Precision,
    model: &LstmClassifier,
    batch: i64,
) -> Result<Precision, TrainError> {
    if precision == Precision::Fp16 && !model.device().is_cuda() {
        return Err(TrainError::invalid_config(
            "train.precision",
            "\"fp16\"",
            "fp16 training needs a CUDA device; on the CPU use \"fp32\", \"bf16\" or \"auto\"",
        ));
    }
    Ok(model.resolve_precision(precision, batch, Workload::Training)?)
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            learning_rate: 0.001,
            batch_size: 128,
            training_iters: None,
            epochs: None,
            max_steps: None,
            drop_last: false,
            display_step: 10,
            seed: 0,
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::default(),
            clip_grad_norm: None,
            validate_every: None,
            patience: None,
            restore_best: true,
            checkpoint_every: 200,
            keep_checkpoints: 2,
            precision: Precision::Fp32,
            length_buckets: None,
        }
    }
}

/// The notebook's `training_iters`.
pub const DEFAULT_TRAINING_ITERS: i64 = 100_000;

/// How long training lasts, resolved from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Length {
    /// The notebook's sample count.
    TrainingIters(i64),
    /// Whole epochs.
    Epochs(i64),
    /// Optimisation steps.
    Steps(i64),
}

pub(crate) type Bad = Result<(), TrainError>;

pub(crate) fn bad(key: &str, value: impl ToString, hint: &str) -> Bad {
    Err(TrainError::invalid_config(key, value, hint))
}

impl TrainConfig {
    /// How long training lasts: `training_iters`, `epochs`, `max_steps`, or
    /// the notebook's 100000 samples when none is set; two set is an error
    /// naming both keys.
    pub(crate) fn length(&self) -> Result<Length, TrainError> {
        let given: Vec<(&'static str, Length)> = [
            ("train.training_iters", self.training_iters.map(Length::TrainingIters)),
            ("train.epochs", self.epochs.map(Length::Epochs)),
            ("train.max_steps", self.max_steps.map(Length::Steps)),
        ]
        .into_iter()
        .filter_map(|(key, length)| length.map(|l| (key, l)))
        .collect();
        match given.as_slice() {
            [] => Ok(Length::TrainingIters(DEFAULT_TRAINING_ITERS)),
            [(_, length)] => Ok(*length),
            [(first, _), (second, _), ..] => Err(TrainError::invalid_config(
                *first,
                format!("set together with `{second}`"),
                "give the length as exactly one of `train.training_iters`, `train.epochs` and \
                       `train.max_steps` (set the others to null)",
            )),
        }
    }

    /// The key that sets the run length, `train.training_iters` (also when
    /// none is set: the notebook's default), `train.epochs` or
    /// `train.max_steps`, for messages; two set is an error naming both.
    pub fn length_key(&self) -> Result<&'static str, TrainError> {
        Ok(match self.length()? {
            Length::TrainingIters(_) => "train.training_iters",
            Length::Epochs(_) => "train.epochs",
            Length::Steps(_) => "train.max_steps",
        })
    }

    /// Steps per epoch over `examples` training examples: `ceil(N / batch)`,
    /// or `floor` with `drop_last` in epochs mode.
    pub fn steps_per_epoch(&self, examples: i64) -> i64 {
        let b = self.batch_size.max(1);
        match self.length() {
            Ok(Length::Epochs(_)) if self.drop_last => examples / b,
            _ => (examples + b - 1) / b,
        }
    }

    /// Number of optimisation steps for `examples` training examples. With
    /// `training_iters` this is the notebook's `while step * batch_size <
    /// training_iters` with `step` from 1 (independent of `examples`).
    pub fn steps(&self, examples: i64) -> i64 {
        match self.length() {
            Ok(Length::TrainingIters(iters)) if self.batch_size >= 1 => ((iters - 1) / self.batch_size).max(0),
            Ok(Length::Epochs(epochs)) => epochs.max(0).saturating_mul(self.steps_per_epoch(examples)),
            Ok(Length::Steps(steps)) => steps.max(0),
            _ => 0,
        }
    }

    /// Checks every value, naming the config key of the first bad one.
    pub fn validate(&self) -> Result<(), TrainError> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("train.learning_rate", self.learning_rate, "use a positive number such as 0.001");
        }
        if self.batch_size < 1 {
            return bad("train.batch_size", self.batch_size, "use a positive batch size such as 128");
        }
        match self.length()? {
            Length::TrainingIters(iters) if iters <= self.batch_size => {
                return bad(
                    "train.training_iters",
                    iters,
                    "training runs while step * batch_size < training_iters: use more than one batch's worth",
                )
            }
            Length::Epochs(epochs) if epochs < 1 => {
                return bad("train.epochs", epochs, "use a positive number of epochs")
            }
            Length::Steps(steps) if steps < 1 => {
                return bad("train.max_steps", steps, "use a positive number of steps")
            }
            _ => {}
        }
        if self.display_step < 1 {
            return bad("train.display_step", self.display_step, "use a positive number of steps such as 10");
        }
        if let Some(norm) = self.clip_grad_norm {
            if !(norm.is_finite() && norm > 0.0) {
                return bad("train.clip_grad_norm", norm, "use a positive norm such as 1.0, or null for no clipping");
            }
        }
        if let Some(every) = self.validate_every {
            if every < 1 {
                return bad("train.validate_every", every, "use a positive number of steps, or null for every epoch");
            }
        }
        if let Some(patience) = self.patience {
            if patience < 1 {
                return bad(
                    "train.patience",
                    patience,
                    "use a positive number of validations, or null for no early stopping",
                );
            }
        }
        if self.checkpoint_every < 0 {
            return bad(
                "train.checkpoint_every",
                self.checkpoint_every,
                "use a number of steps, or 0 for a checkpoint at the end only",
            );
        }
        if self.keep_checkpoints < 1 {
            return bad("train.keep_checkpoints", self.keep_checkpoints, "keep at least one checkpoint");
        }
        self.optimizer.validate()?;
        self.schedule.validate(self.learning_rate)
    }

    /// [`validate`](Self::validate), then the checks that need the number of
    /// training examples: the batch size is at most the training split, the
    /// number of steps (and samples) is computed without overflow, and the
    /// schedule gives a finite learning rate >= 0 at every step. Returns
    /// the number of steps.
    pub fn validate_for(&self, examples: i64) -> Result<i64, TrainError> {
        self.validate()?;
        if examples < 1 {
            return Err(TrainError::invalid_config(
                "data",
                "0 training examples",
                "the training split is empty: check the data folder or the validation hold-out",
            ));
        }
        if self.batch_size > examples {
            return Err(TrainError::invalid_config(
                "train.batch_size",
                format!("{} (the training split has {examples} examples)", self.batch_size),
                "use a batch size of at most the number of training examples",
            ));
        }
        let too_long = |key: &str, value: i64| {
            TrainError::invalid_config(
                key,
                value.to_string(),
                "the run would have more steps (or samples) than can be counted: use a smaller value",
            )
        };
        let length = self.length()?;
        let given = match length {
            Length::TrainingIters(v) | Length::Epochs(v) | Length::Steps(v) => v,
        };
        let steps = match length {
            Length::TrainingIters(iters) => (iters - 1) / self.batch_size,
            Length::Epochs(epochs) => {
                epochs.checked_mul(self.steps_per_epoch(examples)).ok_or_else(|| too_long("train.epochs", epochs))?
            }
            Length::Steps(steps) => steps,
        };
        let key = self.length_key()?;
        if steps < 1 {
            return Err(TrainError::invalid_config(
                key,
                format!("{} steps", steps),
                "the run has no step: use more epochs or training_iters, or turn off train.drop_last",
            ));
        }
        steps.checked_mul(self.batch_size).ok_or_else(|| too_long(key, given))?;
        self.validate_rates(steps)?;
        Ok(steps)
    }

    /// Checks that the schedule gives a finite rate >= 0 over a run of
    /// `steps` steps (at its start, end and phase boundaries).
    fn validate_rates(&self, steps: i64) -> Bad {
        if let ScheduleConfig::OneCycle(c) = &self.schedule {
            if c.pct_start * steps as f64 <= 1.0 {
                return Err(TrainError::invalid_config(
                    "train.schedule.pct_start",
                    format!("{} with {steps} steps", c.pct_start),
                    "one-cycle needs pct_start x steps > 1 (a warm-up of at least one step): \
                           train longer or use a larger pct_start",
                ));
            }
        }
        let schedule = crate::schedule::Schedule::new(self.schedule.clone(), self.learning_rate, steps);
        let mut probes = vec![1, 2, steps / 2, steps - 1, steps];
        if let ScheduleConfig::OneCycle(c) = &self.schedule {
            let up = (c.pct_start * steps as f64) as i64;
            probes.extend([up - 1, up, up + 1, up + 2]);
        }
        for step in probes.into_iter().filter(|s| (1..=steps).contains(s)) {
            let lr = schedule.lr(step);
            if !(lr.is_finite() && lr >= 0.0) {
                return Err(TrainError::invalid_config(
                    "train.schedule",
                    format!("learning rate {lr} at step {step} of {steps}"),
                    "the schedule must give a finite rate >= 0: check its factors against train.learning_rate",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod bounds_tests {
    use super::*;

    fn key_of(config: &TrainConfig, examples: i64) -> String {
        match config.validate_for(examples) {
            Err(TrainError::InvalidConfig(c)) => c.key,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn absurd_lengths_and_batch_sizes_are_refused_with_their_key() {
        let base = TrainConfig::default();
        assert_eq!(base.validate_for(8000).unwrap(), 781);
        let huge_batch = TrainConfig { batch_size: 1_000_000_000_000, training_iters: Some(i64::MAX), ..base.clone() };
        assert_eq!(key_of(&huge_batch, 8000), "train.batch_size");
        let epochs = TrainConfig { epochs: Some(4_611_686_018_427_387_904), ..base.clone() };
        assert_eq!(key_of(&epochs, 8000), "train.epochs");
        let samples = TrainConfig { epochs: Some(i64::MAX / 100), ..base.clone() };
        assert_eq!(key_of(&samples, 8000), "train.epochs");
        let no_step = TrainConfig { epochs: Some(1), batch_size: 100, drop_last: true, ..base.clone() };
        assert_eq!(no_step.validate_for(150).unwrap(), 1);
        assert_eq!(key_of(&TrainConfig { epochs: Some(1), ..base.clone() }, 0), "data");
        let iters = TrainConfig { training_iters: Some(i64::MAX), ..base.clone() };
        assert_eq!(iters.validate_for(8000).unwrap(), (i64::MAX - 1) / 128);
    }

    #[test]
    fn a_length_too_long_to_count_is_echoed_as_given() {
        let steps = TrainConfig { max_steps: Some(i64::MAX), training_iters: None, ..Default::default() };
        let err = steps.validate_for(8000).unwrap_err().to_string();
        assert!(err.contains("train.max_steps = 9223372036854775807"), "{err}");
        let epochs = TrainConfig { epochs: Some(i64::MAX / 100), training_iters: None, ..Default::default() };
        let err = epochs.validate_for(8000).unwrap_err().to_string();
        assert!(err.contains(&format!("train.epochs = {}", i64::MAX / 100)), "{err}");
    }

    #[test]
    fn one_cycle_too_short_for_its_warm_up_is_refused() {
        let schedule = ScheduleConfig::OneCycle(OneCycleSchedule::default());
        let short = TrainConfig { training_iters: Some(3 * 128 + 1), schedule: schedule.clone(), ..Default::default() };
        let err = short.validate_for(8000).unwrap_err().to_string();
        assert!(err.contains("train.schedule.pct_start") && err.contains("3 steps"), "{err}");
        let long = TrainConfig { training_iters: Some(100 * 128 + 1), schedule, ..Default::default() };
        assert_eq!(long.validate_for(8000).unwrap(), 100);
    }

    #[test]
    fn schedules_giving_no_valid_rate_are_refused() {
        let schedule = ScheduleConfig::OneCycle(OneCycleSchedule { div_factor: 1e-320, ..Default::default() });
        let config = TrainConfig { learning_rate: 1e10, schedule, ..Default::default() };
        assert_eq!(key_of(&config, 8000), "train.schedule");
    }
}
