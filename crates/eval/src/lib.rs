//! Evaluates an [`lstm_model::LstmClassifier`] on a whole split and reports
//! accuracy, mean loss, per-class precision/recall/F1, the confusion matrix
//! and the most confused pairs ([`EvalReport`]); [`plots`] draws the
//! pictures of a run folder.
//!
//! Works on data-core's [`Split`] — features `[N, T, F]` `f32` (pictures
//! `[N, rows, cols]`), labels `[N]` `i64` — batched and without recording gradients.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

mod decision;
pub mod explain;
pub mod plots;
mod report;
pub mod series;
pub mod text;

use lstm_model::{LstmClassifier, Precision, Workload};
use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

/// One split to evaluate on: features `[N, T, F]` `f32`, labels `[N]` `i64` (data-core's one type).
pub use data_core::Split;

pub use decision::{ClassDecision, Decision, DecisionCounter};
pub use report::{ClassMetrics, ConfusedPair, EvalReport};

/// Images per forward pass when nothing else is configured: evaluation,
/// validation during training and prediction.
pub const DEFAULT_BATCH_SIZE: i64 = 1000;
/// Longest sequence for which a bidirectional model's decision time is
/// computed by default (it costs one pass per step).
pub const BIDIRECTIONAL_DECISION_STEPS: i64 = 64;

/// The `eval` section of an experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Images per forward pass. Default [`DEFAULT_BATCH_SIZE`] (1000).
    pub batch_size: i64,
    /// Compute precision of the recurrent layers while evaluating (and in
    /// `predict` and `explain`): `"fp32"`, `"bf16"`, `"fp16"` (CUDA only) or
    /// `"auto"`. Default null: as `train.precision` (the binary fills it in;
    /// this crate alone reads null as fp32).
    pub precision: Option<Precision>,
    /// Whether to compute the decision time (`decision` in `report.json`):
    /// `true`, `false`, or `null` (the default) for "unless the model is
    /// bidirectional over more than 64 steps". A unidirectional model gives
    /// every step's prediction in the one forward pass the evaluation makes
    /// anyway; a bidirectional one needs one more pass per step.
    pub decision: Option<bool>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self { batch_size: DEFAULT_BATCH_SIZE, precision: None, decision: None }
    }
}

impl EvalConfig {
    /// Whether the decision time is computed for `model` (see [`EvalConfig::decision`]).
    pub fn wants_decision(&self, model: &LstmClassifier) -> bool {
        let spec = model.spec();
        self.decision.unwrap_or(!spec.config.bidirectional || spec.steps <= BIDIRECTIONAL_DECISION_STEPS)
    }
}

impl EvalConfig {
    /// Checks every value, so that a bad one is caught before any work.
    pub fn validate(&self) -> Result<(), EvalError> {
        if self.batch_size < 1 {
            return Err(EvalError::invalid_config(
                "eval.batch_size",
                self.batch_size,
                "use a positive batch size such as 1000",
            ));
        }
        Ok(())
    }
}

/// Everything that can go wrong while evaluating or drawing.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A config value cannot be used (the shared [`config_error::InvalidConfig`]:
    /// the dotted key, the value, what would fix it).
    #[error(transparent)]
    InvalidConfig(#[from] config_error::InvalidConfig),
    /// The image and label tensors do not fit each other.
    #[error("evaluation data: {0}")]
    BadData(String),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] lstm_model::ModelError),
    /// libtorch refused an operation (the message's first line: libtorch
    /// appends C++ stack frames, which say nothing to a user).
    #[error("libtorch error: {}", config_error::first_line(.0))]
    Torch(#[from] tch::TchError),
    /// A picture could not be drawn or written.
    #[error("{}: cannot draw: {message}", path.display())]
    Plot {
        /// The picture being drawn.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl EvalError {
    /// An [`InvalidConfig`](Self::InvalidConfig) error for the dotted config key `key`.
    pub fn invalid_config(key: impl Into<String>, value: impl ToString, hint: impl Into<String>) -> Self {
        EvalError::InvalidConfig(config_error::InvalidConfig::new(key, value, hint))
    }

    /// Whether a config value is at fault (exit status 2 in the bin) rather than
    /// the data, the model, a file or libtorch (1).
    pub fn is_config(&self) -> bool {
        match self {
            EvalError::InvalidConfig(_) => true,
            EvalError::Model(e) => e.is_config(),
            _ => false,
        }
    }
}

/// A report plus every prediction, in the order of the images.
#[derive(Debug)]
pub struct Evaluation {
    /// The numbers.
    pub report: EvalReport,
    /// Predicted class of each image.
    pub predictions: Vec<i64>,
    /// `decided_at` of each image (1-based step; see [`Decision`]); empty
    /// when the decision time was not computed.
    pub decided_at: Vec<usize>,
}

/// Evaluates `model` on every example of `split` (data-core's one split type).
pub fn evaluate(model: &LstmClassifier, split: &Split, config: &EvalConfig) -> Result<EvalReport, EvalError> {
    evaluate_with_predictions(model, split, config).map(|e| e.report)
}

/// As [`evaluate`], also returning the prediction for every example.
pub fn evaluate_with_predictions(
    model: &LstmClassifier,
    split: &Split,
    config: &EvalConfig,
) -> Result<Evaluation, EvalError> {
    evaluate_sequences(model, &split.features, split.lengths.as_ref(), &split.labels, config)
}

/// As [`evaluate_with_predictions`], for inputs whose sequences have
/// `lengths` `[N]` real steps (`None`: all): each sequence is read up to its
/// own length, whatever the padding and the batch (see
/// `LstmClassifier::forward_input_t`). The decision time is computed only
/// without lengths.
pub fn evaluate_sequences(
    model: &LstmClassifier,
    inputs: &Tensor,
    lengths: Option<&Tensor>,
    labels: &Tensor,
    config: &EvalConfig,
) -> Result<Evaluation, EvalError> {
    let decisions = lengths.is_none() && config.wants_decision(model);
    let pass = batched_pass(model, Inputs { x: inputs, lengths, labels }, config, decisions)?;
    let truth = Vec::<i64>::try_from(&labels.f_to_device(tch::Device::Cpu)?.f_to_kind(Kind::Int64)?)?;
    let n = pass.predictions.len();
    let names = &model.spec().class_names;
    let mut report = EvalReport::from_predictions(&truth, &pass.predictions, names, pass.loss_sum / n as f64);
    report.decision = pass.decisions.map(|counter| counter.finish(names));
    tracing::info!(accuracy = report.accuracy, samples = n, loss = report.loss, "evaluated");
    Ok(Evaluation { report, predictions: pass.predictions, decided_at: pass.decided_at })
}

/// Mean cross-entropy and accuracy (0 to 1) of `model` on a whole split, in
/// evaluation mode: what the trainer reports for its validations (no decision time).
pub fn loss_and_accuracy(
    model: &LstmClassifier,
    images: &Tensor,
    labels: &Tensor,
    config: &EvalConfig,
) -> Result<(f64, f64), EvalError> {
    loss_and_accuracy_sequences(model, images, None, labels, config)
}

/// As [`loss_and_accuracy`], for sequences of `lengths` real steps (`None`: all).
pub fn loss_and_accuracy_sequences(
    model: &LstmClassifier,
    inputs: &Tensor,
    lengths: Option<&Tensor>,
    labels: &Tensor,
    config: &EvalConfig,
) -> Result<(f64, f64), EvalError> {
    let pass = batched_pass(model, Inputs { x: inputs, lengths, labels }, config, false)?;
    let n = pass.predictions.len() as f64;
    Ok((pass.loss_sum / n, pass.correct as f64 / n))
}

/// What one batched pass over a split adds up.
struct Pass {
    /// Decision-time counts, when asked for.
    decisions: Option<DecisionCounter>,
    /// `decided_at` of each image, when the decision time is computed.
    decided_at: Vec<usize>,
    /// Summed cross-entropy.
    loss_sum: f64,
    /// Correctly classified images.
    correct: i64,
    /// Predicted class of each image.
    predictions: Vec<i64>,
}

/// A split as [`batched_pass`] reads it.
#[derive(Clone, Copy)]
struct Inputs<'a> {
    /// Images or sequences `[N, ...]`.
    x: &'a Tensor,
    /// Real steps of each sequence `[N]`, or `None` when all are full.
    lengths: Option<&'a Tensor>,
    /// Labels `[N]`.
    labels: &'a Tensor,
}

/// Runs `model` over the split in batches of `config.batch_size`, without
/// gradients; with `decisions`, also counts when each prediction was decided.
fn batched_pass(
    model: &LstmClassifier,
    inputs: Inputs,
    config: &EvalConfig,
    decisions: bool,
) -> Result<Pass, EvalError> {
    let (images, labels) = (inputs.x, inputs.labels);
    config.validate()?;
    let n = labels.size().first().copied().unwrap_or(0);
    if labels.dim() != 1 || images.size().first() != Some(&n) || n == 0 {
        return Err(EvalError::BadData(format!(
            "{:?} images for {:?} labels; expected [N, rows, cols] images and [N] labels with N > 0",
            images.size(),
            labels.size()
        )));
    }
    if let Some(lengths) = inputs.lengths {
        if lengths.size() != [n] {
            return Err(EvalError::BadData(format!("lengths {:?} for {n} examples; expected [{n}]", lengths.size())));
        }
    }
    let classes = model.spec().classes();
    let device = model.device();
    let batch = config.batch_size.min(n);
    let compute = model.resolve_precision(config.precision.unwrap_or_default(), batch, Workload::Inference)?.kind();
    let mut pass = Pass {
        loss_sum: 0.0,
        correct: 0,
        predictions: Vec::with_capacity(n as usize),
        decisions: decisions.then(|| DecisionCounter::new(model.spec().steps as usize, classes as usize)),
        decided_at: Vec::new(),
    };
    tch::no_grad(|| -> Result<(), EvalError> {
        for start in (0..n).step_by(config.batch_size as usize) {
            let len = config.batch_size.min(n - start);
            let (x, lengths) = batch_inputs(images, inputs.lengths, start, len)?;
            let x = x.f_to_device(device)?;
            let y = labels.f_narrow(0, start, len)?.f_to_device(device)?;
            let (min, max) = (y.f_min()?.f_int64_value(&[])?, y.f_max()?.f_int64_value(&[])?);
            if min < 0 || max >= classes {
                return Err(EvalError::BadData(format!(
                    "label {} is outside the model's {classes} classes",
                    if min < 0 { min } else { max }
                )));
            }
            let logits = match pass.decisions.as_mut() {
                Some(counter) => {
                    let steps = model.step_logits_with(&x, compute)?;
                    let step_classes = steps.f_argmax(-1, false)?.f_to_device(tch::Device::Cpu)?;
                    let y_cpu = Vec::<i64>::try_from(&y.f_to_device(tch::Device::Cpu)?)?;
                    pass.decided_at
                        .extend(counter.add(&Vec::<i64>::try_from(&step_classes.f_flatten(0, -1)?)?, &y_cpu));
                    steps.f_select(1, -1)?
                }
                None => model.forward_input_t(&x, lengths.as_ref(), false, compute)?,
            };
            let batch_loss =
                logits.f_log_softmax(-1, Kind::Float)?.f_nll_loss(&y, None::<Tensor>, Reduction::Sum, -100)?;
            pass.loss_sum += batch_loss.f_double_value(&[])?;
            let predicted = logits.f_argmax(-1, false)?;
            pass.correct += predicted.f_eq_tensor(&y)?.f_sum(Kind::Int64)?.f_int64_value(&[])?;
            pass.predictions.extend(Vec::<i64>::try_from(&predicted.f_to_device(tch::Device::Cpu)?)?);
        }
        Ok(())
    })?;
    Ok(pass)
}

/// Examples `start..start + len` of a split, and their lengths; with
/// lengths, the sequences are cut to the batch's longest (the padding beyond
/// it is read by no sequence).
fn batch_inputs(
    x: &Tensor,
    lengths: Option<&Tensor>,
    start: i64,
    len: i64,
) -> Result<(Tensor, Option<Tensor>), EvalError> {
    let x = x.f_narrow(0, start, len)?;
    let Some(lengths) = lengths else { return Ok((x, None)) };
    let lengths = lengths.f_narrow(0, start, len)?;
    let longest = lengths.f_max()?.f_int64_value(&[])?;
    let steps = x.size().get(1).copied().unwrap_or(0);
    let x = if longest >= 1 && longest < steps { x.f_narrow(1, 0, longest)? } else { x };
    Ok((x, Some(lengths)))
}

#[cfg(test)]
/// `shape` values uniform in `[0, 1)` and `n` classes below `classes`, from a
/// ChaCha8 stream seeded with `seed`: tests run in parallel, so none seeds or
/// draws from libtorch's global generator.
pub(crate) fn seeded_data(seed: u64, shape: &[i64], classes: i64) -> (Tensor, Tensor) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<f32> = (0..shape.iter().product::<i64>()).map(|_| rng.random::<f32>()).collect();
    let labels: Vec<i64> = (0..shape[0]).map(|_| rng.random_range(0..classes)).collect();
    (Tensor::from_slice(&values).view(shape), Tensor::from_slice(&labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lstm_model::{ModelConfig, ModelSpec};
    use tch::Device;

    #[test]
    fn counts_match_a_direct_computation_whatever_the_batch_size() {
        let spec = ModelSpec::new(
            ModelConfig { hidden: 8, ..Default::default() },
            4,
            3,
            (0..5).map(|c| c.to_string()).collect(),
        );
        let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
        let (images, labels) = crate::seeded_data(9, &[23, 4, 3], 5);
        let logits = model.forward(&images).unwrap();
        let expected = logits.argmax(-1, false).eq_tensor(&labels).sum(Kind::Int64).int64_value(&[]);
        let expected_loss = logits.cross_entropy_for_logits(&labels).double_value(&[]);
        let expected_predictions = Vec::<i64>::try_from(logits.argmax(-1, false)).unwrap();
        for batch_size in [1, 5, 23, 1000] {
            let config = EvalConfig { batch_size, ..Default::default() };
            let e =
                evaluate_with_predictions(&model, &Split::new(images.shallow_clone(), labels.shallow_clone()), &config)
                    .unwrap();
            let report = e.report;
            assert_eq!((report.correct, report.samples), (expected, 23));
            assert!((report.accuracy - expected as f64 / 23.0).abs() < 1e-12);
            assert!((report.loss - expected_loss).abs() < 1e-5, "{} vs {expected_loss}", report.loss);
            assert_eq!(e.predictions, expected_predictions);
            assert_eq!(report.confusion.iter().flatten().sum::<i64>(), 23);
            let decision = report.decision.expect("a unidirectional model's decision time is computed");
            assert_eq!((decision.steps, decision.early_exit.len()), (4, 4));
            assert!((decision.early_exit[3] - report.accuracy).abs() < 1e-12, "all steps read: the accuracy");
            assert_eq!(e.decided_at.len(), 23);
            assert!(e.decided_at.iter().all(|&at| (1..=4).contains(&at)));
        }
    }

    #[test]
    fn bf16_evaluation_computes_in_bf16_and_stays_close_to_fp32() {
        let spec = ModelSpec::new(
            ModelConfig { hidden: 8, ..Default::default() },
            4,
            3,
            (0..5).map(|c| c.to_string()).collect(),
        );
        let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
        let (images, labels) = crate::seeded_data(3, &[40, 4, 3], 5);
        let fp32 =
            evaluate(&model, &Split::new(images.shallow_clone(), labels.shallow_clone()), &EvalConfig::default())
                .unwrap();
        let bf16_config = EvalConfig { precision: Some(Precision::Bf16), ..Default::default() };
        let bf16 = evaluate(&model, &Split::new(images.shallow_clone(), labels.shallow_clone()), &bf16_config).unwrap();
        assert_eq!(bf16.samples, 40);
        assert_ne!(bf16.loss, fp32.loss, "bf16 evaluation gave fp32's exact loss: precision not applied");
        assert!((bf16.loss - fp32.loss).abs() < 0.02, "bf16 loss {} vs fp32 {}", bf16.loss, fp32.loss);
        let fp32_again = EvalConfig { precision: Some(Precision::Fp32), ..Default::default() };
        assert_eq!(
            evaluate(&model, &Split::new(images.shallow_clone(), labels.shallow_clone()), &fp32_again).unwrap().loss,
            fp32.loss
        );
    }

    #[test]
    fn decision_time_follows_the_per_step_classes() {
        let spec = ModelSpec::new(
            ModelConfig { hidden: 8, bidirectional: true, ..Default::default() },
            6,
            3,
            (0..4).map(|c| c.to_string()).collect(),
        );
        let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
        let (images, labels) = crate::seeded_data(3, &[17, 6, 3], 4);
        let e = evaluate_with_predictions(
            &model,
            &Split::new(images.shallow_clone(), labels.shallow_clone()),
            &EvalConfig { batch_size: 5, ..Default::default() },
        )
        .unwrap();
        let step_classes = model.step_logits(&images).unwrap().argmax(-1, false);
        let truth = Vec::<i64>::try_from(&labels).unwrap();
        for i in 0..17 {
            let classes = Vec::<i64>::try_from(step_classes.get(i)).unwrap();
            assert_eq!(e.decided_at[i as usize], lstm_model::decided_at(&classes));
            assert_eq!(classes[5], e.predictions[i as usize], "the last step's class is the prediction");
        }
        let decision = e.report.decision.unwrap();
        for k in 0..6 {
            let right = (0..17).filter(|&i| step_classes.int64_value(&[i, k]) == truth[i as usize]).count();
            assert!((decision.early_exit[k as usize] - right as f64 / 17.0).abs() < 1e-12);
        }
        let off = EvalConfig { decision: Some(false), ..Default::default() };
        let e = evaluate_with_predictions(&model, &Split::new(images.shallow_clone(), labels.shallow_clone()), &off)
            .unwrap();
        assert!(e.report.decision.is_none() && e.decided_at.is_empty());
        assert!(!serde_json::to_string(&e.report).unwrap().contains("decision"));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let spec = ModelSpec::new(ModelConfig { hidden: 4, ..Default::default() }, 4, 3, vec!["a".into(), "b".into()]);
        let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
        let images = Tensor::zeros([3, 4, 3], (Kind::Float, Device::Cpu));
        let labels = Tensor::zeros([3], (Kind::Int64, Device::Cpu));
        let zero = evaluate(
            &model,
            &Split::new(images.shallow_clone(), labels.shallow_clone()),
            &EvalConfig { batch_size: 0, ..Default::default() },
        )
        .unwrap_err();
        assert!(matches!(&zero, EvalError::InvalidConfig(c) if c.key == "eval.batch_size" && c.value == "0"));
        assert!(zero.is_config(), "{zero}");
        assert_eq!(zero.to_string(), "invalid eval.batch_size = 0: use a positive batch size such as 1000");
        let short = Tensor::zeros([2], (Kind::Int64, Device::Cpu));
        let err = evaluate(&model, &Split::new(images.shallow_clone(), short.shallow_clone()), &EvalConfig::default())
            .unwrap_err();
        assert!(matches!(err, EvalError::BadData(_)) && !err.is_config(), "{err}");
        let wrong = Tensor::zeros([3, 3, 4], (Kind::Float, Device::Cpu));
        assert!(matches!(
            evaluate(&model, &Split::new(wrong.shallow_clone(), labels.shallow_clone()), &EvalConfig::default()),
            Err(EvalError::Model(_))
        ));
        let out_of_range = Tensor::from_slice(&[0i64, 1, 2]);
        let err =
            evaluate(&model, &Split::new(images.shallow_clone(), out_of_range.shallow_clone()), &EvalConfig::default())
                .unwrap_err()
                .to_string();
        assert!(err.contains("label 2"), "{err}");
    }

    /// With lengths, each sequence is classified as it would be alone, at
    /// every batch size (batches are cut to their longest sequence).
    #[test]
    fn sequences_of_mixed_lengths_are_read_up_to_their_length() {
        let spec = ModelSpec::new(
            ModelConfig { hidden: 6, bidirectional: true, ..Default::default() },
            7,
            3,
            (0..4).map(|c| c.to_string()).collect(),
        );
        let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
        let (x, labels) = crate::seeded_data(3, &[9, 7, 3], 4);
        let lengths = Tensor::from_slice(&[7i64, 1, 3, 5, 2, 7, 4, 6, 2]);
        let alone: Vec<Tensor> = (0..9)
            .map(|i| {
                let len = lengths.int64_value(&[i]);
                model.forward_sequences(&x.narrow(0, i, 1).narrow(1, 0, len), None).unwrap()
            })
            .collect();
        let logits = Tensor::cat(&alone, 0);
        let expected = Vec::<i64>::try_from(logits.argmax(-1, false)).unwrap();
        let expected_loss = logits.cross_entropy_for_logits(&labels).double_value(&[]);
        for batch_size in [1, 2, 4, 1000] {
            let config = EvalConfig { batch_size, ..Default::default() };
            let e = evaluate_sequences(&model, &x, Some(&lengths), &labels, &config).unwrap();
            assert_eq!(e.predictions, expected, "batch {batch_size}");
            assert!((e.report.loss - expected_loss).abs() < 1e-5, "batch {batch_size}");
            assert!(e.report.decision.is_none() && e.decided_at.is_empty());
            let (loss, _) = loss_and_accuracy_sequences(&model, &x, Some(&lengths), &labels, &config).unwrap();
            assert!((loss - expected_loss).abs() < 1e-5);
        }
        let err = evaluate_sequences(&model, &x, Some(&lengths.narrow(0, 0, 3)), &labels, &EvalConfig::default());
        assert!(matches!(err, Err(EvalError::BadData(_))));
    }
}
