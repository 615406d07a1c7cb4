//! Trains an [`lstm_model::LstmClassifier`] on image and label tensors.
//!
//! The loop is the notebook's: Adam, softmax cross-entropy, one minibatch
//! per step, `while step * batch_size < training_iters` with `step` starting
//! at 1, and every `display_step` steps the line
//! `Iter 1280, Minibatch Loss= 1.871495, Training Accuracy= 0.35938`
//! for that minibatch, measured after the step as the notebook does.
//!
//! The trainer takes tensors, not a dataset type, so any data crate can feed
//! it: images `[N, rows, cols]` `f32` and labels `[N]` `i64`.

mod batches;

use std::io::Write;
use std::time::Instant;

use lstm_model::LstmClassifier;
use serde::{Deserialize, Serialize};
use tch::{nn, nn::OptimizerConfig, Kind, Tensor};

pub use batches::BatchOrder;

/// The `train` section of an experiment config. Defaults are the notebook's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Adam's learning rate. Default 0.001.
    pub learning_rate: f64,
    /// Examples per minibatch. Default 128.
    pub batch_size: i64,
    /// Training stops before `step * batch_size` reaches this count. Default 100000
    /// (781 steps at batch 128).
    pub training_iters: i64,
    /// A progress line every this many steps. Default 10.
    pub display_step: i64,
    /// Seed of the order in which examples are visited. Default 0.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self { learning_rate: 0.001, batch_size: 128, training_iters: 100_000, display_step: 10, seed: 0 }
    }
}

impl TrainConfig {
    /// Number of optimisation steps: the notebook's
    /// `while step * batch_size < training_iters`, with `step` from 1.
    pub fn steps(&self) -> i64 {
        if self.batch_size < 1 {
            return 0;
        }
        ((self.training_iters - 1) / self.batch_size).max(0)
    }

    /// Checks every value, naming the config key of the first bad one.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |key, value: String, hint| Err(TrainError::InvalidConfig { key, value, hint });
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("train.learning_rate", self.learning_rate.to_string(), "use a positive number such as 0.001");
        }
        if self.batch_size < 1 {
            return bad("train.batch_size", self.batch_size.to_string(), "use a positive batch size such as 128");
        }
        if self.training_iters <= self.batch_size {
            return bad(
                "train.training_iters",
                self.training_iters.to_string(),
                "training runs while step * batch_size < training_iters: use more than one batch's worth",
            );
        }
        if self.display_step < 1 {
            return bad("train.display_step", self.display_step.to_string(), "use a positive number of steps such as 10");
        }
        Ok(())
    }
}

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
    #[error("training diverged at step {step}: the loss is {loss}; lower `train.learning_rate`")]
    Diverged { step: i64, loss: f64 },
    /// The model failed.
    #[error(transparent)]
    Model(#[from] lstm_model::ModelError),
    /// libtorch refused an operation.
    #[error("libtorch error: {0}")]
    Torch(#[from] tch::TchError),
    /// Writing progress lines failed.
    #[error("writing progress: {0}")]
    Io(#[from] std::io::Error),
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainSummary {
    /// Optimisation steps taken.
    pub steps: i64,
    /// Examples processed (`steps * batch_size`).
    pub samples: i64,
    /// Loss of the last displayed minibatch.
    pub last_loss: Option<f64>,
    /// Wall time of the loop.
    pub seconds: f64,
    /// Training throughput.
    pub samples_per_second: f64,
}

/// Loss and accuracy of one minibatch.
fn loss_and_accuracy(logits: &Tensor, labels: &Tensor) -> Result<(Tensor, Tensor), TrainError> {
    let loss = logits.f_cross_entropy_loss(labels, None::<Tensor>, tch::Reduction::Mean, -100, 0.0)?;
    let accuracy = logits.f_argmax(-1, false)?.f_eq_tensor(labels)?.f_mean(Kind::Float)?;
    Ok((loss, accuracy))
}

/// Trains `model` on `images` `[N, rows, cols]` and `labels` `[N]`, writing the
/// notebook's progress lines to `progress`.
pub fn train(
    model: &LstmClassifier,
    images: &Tensor,
    labels: &Tensor,
    config: &TrainConfig,
    progress: &mut dyn Write,
) -> Result<TrainSummary, TrainError> {
    config.validate()?;
    let n = labels.size().first().copied().unwrap_or(0);
    if labels.dim() != 1 || images.size().first() != Some(&n) || n == 0 {
        return Err(TrainError::BadData(format!(
            "{:?} images for {:?} labels; expected [N, rows, cols] images and [N] labels with N > 0",
            images.size(),
            labels.size()
        )));
    }
    let device = model.device();
    let (images, labels) = (images.f_to_device(device)?, labels.f_to_device(device)?);
    let mut optimizer = nn::Adam::default().build(model.var_store(), config.learning_rate)?;
    let mut order = BatchOrder::new(n as usize, config.seed);
    let steps = config.steps();
    tracing::info!(steps, batch_size = config.batch_size, examples = n, "training");
    let start = Instant::now();
    let mut last_loss = None;
    for step in 1..=steps {
        let index = Tensor::f_from_slice(&order.next_batch(config.batch_size as usize))?.f_to_device(device)?;
        let (x, y) = (images.f_index_select(0, &index)?, labels.f_index_select(0, &index)?);
        let logits = model.forward_t(&x, true)?;
        let loss = logits.f_cross_entropy_loss(&y, None::<Tensor>, tch::Reduction::Mean, -100, 0.0)?;
        optimizer.backward_step(&loss);
        if step % config.display_step == 0 {
            let (loss, accuracy) = tch::no_grad(|| loss_and_accuracy(&model.forward_t(&x, false)?, &y))?;
            let loss = loss.f_double_value(&[])?;
            if !loss.is_finite() {
                return Err(TrainError::Diverged { step, loss });
            }
            let accuracy = accuracy.f_double_value(&[])?;
            writeln!(
                progress,
                "Iter {}, Minibatch Loss= {loss:.6}, Training Accuracy= {accuracy:.5}",
                step * config.batch_size
            )?;
            last_loss = Some(loss);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let samples = steps * config.batch_size;
    Ok(TrainSummary { steps, samples, last_loss, seconds, samples_per_second: samples as f64 / seconds.max(1e-9) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lstm_model::{ModelConfig, ModelSpec};
    use tch::Device;

    #[test]
    fn notebook_defaults_give_781_steps() {
        assert_eq!(TrainConfig::default().steps(), 781);
        let c = TrainConfig { training_iters: 1281, batch_size: 128, ..Default::default() };
        assert_eq!(c.steps(), 10);
        let c = TrainConfig { training_iters: 1280, batch_size: 128, ..Default::default() };
        assert_eq!(c.steps(), 9);
    }

    #[test]
    fn invalid_values_name_their_key() {
        for (config, key) in [
            (TrainConfig { learning_rate: 0.0, ..Default::default() }, "train.learning_rate"),
            (TrainConfig { learning_rate: f64::NAN, ..Default::default() }, "train.learning_rate"),
            (TrainConfig { batch_size: 0, ..Default::default() }, "train.batch_size"),
            (TrainConfig { training_iters: 10, ..Default::default() }, "train.training_iters"),
            (TrainConfig { display_step: 0, ..Default::default() }, "train.display_step"),
        ] {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    /// Two separable classes: bright images are class 1, dark ones class 0.
    fn toy_data() -> (Tensor, Tensor) {
        tch::manual_seed(5);
        let labels = Tensor::randint(2, [256], (Kind::Int64, Device::Cpu));
        let noise = Tensor::rand([256, 4, 3], (Kind::Float, Device::Cpu)) * 0.3;
        let images = noise + labels.to_kind(Kind::Float).view([256, 1, 1]) * 0.7;
        (images, labels)
    }

    #[test]
    fn learns_a_separable_problem_and_prints_notebook_lines() {
        let (images, labels) = toy_data();
        let spec = ModelSpec::new(ModelConfig { hidden: 16, ..Default::default() }, 4, 3, vec!["dark".into(), "bright".into()]);
        let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
        let config = TrainConfig { batch_size: 32, training_iters: 32 * 61, display_step: 20, learning_rate: 0.01, seed: 1 };
        let mut out = Vec::new();
        let summary = train(&model, &images, &labels, &config, &mut out).unwrap();
        assert_eq!(summary.steps, 60);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("Iter 640, Minibatch Loss= "), "{}", lines[0]);
        assert!(lines[2].starts_with("Iter 1920, Minibatch Loss= "), "{}", lines[2]);
        let accuracy: f64 = lines[2].rsplit("= ").next().unwrap().parse().unwrap();
        assert!(accuracy > 0.9, "{text}");
        assert!(summary.last_loss.unwrap() < 0.3, "{text}");
    }

    #[test]
    fn same_seed_same_losses() {
        let (images, labels) = toy_data();
        let run = |seed| {
            let spec = ModelSpec::new(ModelConfig { hidden: 8, ..Default::default() }, 4, 3, vec!["a".into(), "b".into()]);
            let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
            let config = TrainConfig { batch_size: 16, training_iters: 16 * 21, display_step: 5, seed, ..Default::default() };
            let mut out = Vec::new();
            train(&model, &images, &labels, &config, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn mismatched_data_is_an_error() {
        let spec = ModelSpec::new(ModelConfig { hidden: 4, ..Default::default() }, 4, 3, vec!["a".into(), "b".into()]);
        let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
        let images = Tensor::zeros([10, 4, 3], (Kind::Float, Device::Cpu));
        let labels = Tensor::zeros([9], (Kind::Int64, Device::Cpu));
        let err = train(&model, &images, &labels, &TrainConfig::default(), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, TrainError::BadData(_)), "{err}");
    }
}
