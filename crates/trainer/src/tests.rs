use super::*;
use std::collections::BTreeMap;
use std::path::Path;

use lstm_model::{ModelConfig, ModelSpec};
use tch::{Device, Kind, Tensor};

#[test]
fn notebook_defaults_give_781_steps() {
    assert_eq!(TrainConfig::default().steps(55_000), 781);
    let c = TrainConfig { training_iters: Some(1281), batch_size: 128, ..Default::default() };
    assert_eq!(c.steps(10), 10);
    let c = TrainConfig { training_iters: Some(1280), batch_size: 128, ..Default::default() };
    assert_eq!(c.steps(10), 9);
}

#[test]
fn epochs_count_partial_batches_unless_drop_last() {
    let c = TrainConfig { epochs: Some(3), batch_size: 10, ..Default::default() };
    assert_eq!((c.steps_per_epoch(95), c.steps(95)), (10, 30));
    let c = TrainConfig { drop_last: true, ..c };
    assert_eq!((c.steps_per_epoch(95), c.steps(95)), (9, 27));
}

#[test]
fn invalid_values_name_their_key() {
    let sgd = |nesterov, momentum| OptimizerConfig::Sgd(SgdConfig { nesterov, momentum, ..Default::default() });
    for (config, key) in [
        (TrainConfig { learning_rate: 0.0, ..Default::default() }, "train.learning_rate"),
        (TrainConfig { learning_rate: f64::NAN, ..Default::default() }, "train.learning_rate"),
        (TrainConfig { batch_size: 0, ..Default::default() }, "train.batch_size"),
        (TrainConfig { training_iters: Some(10), ..Default::default() }, "train.training_iters"),
        (TrainConfig { epochs: Some(0), ..Default::default() }, "train.epochs"),
        (TrainConfig { display_step: 0, ..Default::default() }, "train.display_step"),
        (TrainConfig { clip_grad_norm: Some(-1.0), ..Default::default() }, "train.clip_grad_norm"),
        (TrainConfig { patience: Some(0), ..Default::default() }, "train.patience"),
        (TrainConfig { optimizer: sgd(true, 0.0), ..Default::default() }, "train.optimizer.nesterov"),
        (
            TrainConfig {
                schedule: ScheduleConfig::Step(StepSchedule { step_size: 0, ..Default::default() }),
                ..Default::default()
            },
            "train.schedule.step_size",
        ),
    ] {
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
    }
    let both = TrainConfig { training_iters: Some(1000), epochs: Some(2), ..Default::default() };
    let err = both.validate().unwrap_err().to_string();
    assert!(err.contains("train.training_iters") && err.contains("train.epochs"), "{err}");
    let two = TrainConfig { epochs: Some(2), max_steps: Some(30), ..Default::default() };
    let err = two.validate().unwrap_err().to_string();
    assert!(err.contains("train.epochs") && err.contains("train.max_steps"), "{err}");
}

#[test]
fn max_steps_is_exactly_that_many_steps() {
    let config = TrainConfig { max_steps: Some(25), ..Default::default() };
    assert_eq!(config.length().unwrap(), Length::Steps(25));
    assert_eq!((config.steps(7), config.steps(100_000)), (25, 25), "independent of the data size");
    let zero = TrainConfig { max_steps: Some(0), ..Default::default() };
    assert!(zero.validate().unwrap_err().to_string().contains("train.max_steps"));
    let (images, labels) = toy_data(64);
    let m = model(4);
    let config = TrainConfig { max_steps: Some(7), batch_size: 10, display_step: 1, ..Default::default() };
    let split = Split::new(images, labels);
    let mut log = Vec::new();
    let summary = train(&m, &split, None, &config, &mut log, Options::default()).unwrap();
    assert_eq!((summary.steps, summary.total_steps, summary.samples), (7, 7, 70));
    assert_eq!(String::from_utf8(log).unwrap().lines().count(), 7);
}

/// Two separable classes: bright images are class 1, dark ones class 0. Drawn
/// from a seeded ChaCha8 stream: tests run in parallel, and the trainer
/// reseeds libtorch's global generator for dropout, so no test data comes from it.
fn toy_data(n: i64) -> (Tensor, Tensor) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let labels: Vec<i64> = (0..n).map(|_| rng.random_range(0..2)).collect();
    let noise: Vec<f32> = (0..n * 4 * 3).map(|_| rng.random::<f32>() * 0.3).collect();
    let (labels, noise) = (Tensor::from_slice(&labels), Tensor::from_slice(&noise).view([n, 4, 3]));
    let images = noise + labels.to_kind(Kind::Float).view([n, 1, 1]) * 0.7;
    (images, labels)
}

fn model(hidden: i64) -> LstmClassifier {
    let spec = ModelSpec::new(ModelConfig { hidden, ..Default::default() }, 4, 3, vec!["dark".into(), "bright".into()]);
    LstmClassifier::new(spec, Device::Cpu).unwrap()
}

fn split(data: &(Tensor, Tensor)) -> Split {
    Split::new(data.0.shallow_clone(), data.1.shallow_clone())
}

#[test]
fn learns_a_separable_problem_and_prints_notebook_lines() {
    let data = toy_data(256);
    let model = model(16);
    let config = TrainConfig {
        batch_size: 32,
        training_iters: Some(32 * 61),
        display_step: 20,
        learning_rate: 0.01,
        seed: 1,
        ..Default::default()
    };
    let mut out = Vec::new();
    let summary = train(&model, &split(&data), None, &config, &mut out, Options::default()).unwrap();
    assert_eq!((summary.steps, summary.stop), (60, Stop::Completed));
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
    let data = toy_data(256);
    let run = |seed| {
        let config =
            TrainConfig { batch_size: 16, training_iters: Some(16 * 21), display_step: 5, seed, ..Default::default() };
        let mut out = Vec::new();
        train(&model(8), &split(&data), None, &config, &mut out, Options::default()).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}

#[test]
fn mismatched_data_is_an_error() {
    let images = Tensor::zeros([10, 4, 3], (Kind::Float, Device::Cpu));
    let labels = Tensor::zeros([9], (Kind::Int64, Device::Cpu));
    let err = train(
        &model(4),
        &Split::new(images.shallow_clone(), labels.shallow_clone()),
        None,
        &TrainConfig::default(),
        &mut Vec::new(),
        Options::default(),
    )
    .unwrap_err();
    assert!(matches!(err, TrainError::BadData { .. }), "{err}");
}

/// The metrics file of the tests' run folders.
const METRICS: &str = "metrics.jsonl";

/// Validation as the experiment crate does it: `eval`'s batched loss and accuracy.
fn eval_validator() -> Option<Box<dyn Validator>> {
    Some(Box::new(|model: &LstmClassifier, split: &Split| {
        let config = eval::EvalConfig::default();
        let (x, lengths, y) = (&split.features, split.lengths.as_ref(), &split.labels);
        let (loss, accuracy) = eval::loss_and_accuracy_sequences(model, x, lengths, y, &config)
            .map_err(|e| TrainError::validation(e, false))?;
        Ok(Validation { loss, accuracy })
    }))
}

/// Options validating with [`eval_validator`].
fn validating() -> Options<'static> {
    Options { validator: eval_validator(), ..Default::default() }
}

/// Options writing checkpoints to `dir/checkpoints` and records to `dir/metrics.jsonl`.
fn files(dir: &Path) -> Options<'static> {
    Options {
        checkpoints: Some(dir.join("checkpoints")),
        sinks: vec![Box::new(JsonlSink::new(dir.join(METRICS)))],
        validator: eval_validator(),
        ..Default::default()
    }
}

fn train_losses(dir: &Path) -> Vec<(i64, f64)> {
    metrics::read(&dir.join(METRICS))
        .unwrap()
        .into_iter()
        .filter_map(|r| match r {
            MetricRecord::Train { step, loss, .. } => Some((step, loss)),
            MetricRecord::Validation { .. } => None,
        })
        .collect()
}

/// Every step logged, epochs with a partial last batch, SGD with momentum
/// (state that matters), a schedule, clipping and validation with best-model
/// keeping: resuming anywhere must give the uninterrupted run's numbers exactly.
#[test]
fn resumed_run_takes_exactly_the_uninterrupted_steps() {
    let data = toy_data(90);
    let val = toy_data(40);
    let config = TrainConfig {
        batch_size: 16,
        epochs: Some(4),
        display_step: 1,
        learning_rate: 0.05,
        optimizer: OptimizerConfig::Adamw(AdamConfig { weight_decay: 0.01, ..Default::default() }),
        schedule: ScheduleConfig::Cosine(CosineSchedule { warmup_steps: 3, min_lr: 0.001 }),
        clip_grad_norm: Some(0.5),
        validate_every: Some(5),
        checkpoint_every: 7,
        ..Default::default()
    };
    let full_dir = tempfile::tempdir().unwrap();
    let mut full_out = Vec::new();
    let opts = files(full_dir.path());
    let full_model = model(8);
    let full = train(&full_model, &split(&data), Some(&split(&val)), &config, &mut full_out, opts).unwrap();
    assert_eq!(full.steps, 24);

    let dir = tempfile::tempdir().unwrap();
    let mut first_out = Vec::new();
    let opts = Options { stop_after: Some(10), ..files(dir.path()) };
    let first = train(&model(8), &split(&data), Some(&split(&val)), &config, &mut first_out, opts).unwrap();
    assert_eq!((first.steps, first.stop), (10, Stop::Interrupted));
    let mut second_out = Vec::new();
    // A fresh model with different initial weights: everything must come from the checkpoint.
    let fresh = LstmClassifier::new(
        ModelSpec::new(
            ModelConfig { hidden: 8, seed: 99, ..Default::default() },
            4,
            3,
            vec!["dark".into(), "bright".into()],
        ),
        Device::Cpu,
    )
    .unwrap();
    let opts = Options { resume: true, ..files(dir.path()) };
    let second = train(&fresh, &split(&data), Some(&split(&val)), &config, &mut second_out, opts).unwrap();
    assert_eq!((second.resumed_from, second.steps, second.stop), (Some(10), 24, Stop::Completed));

    let full_losses = train_losses(full_dir.path());
    assert_eq!(full_losses.len(), 24);
    assert_eq!(train_losses(dir.path()), full_losses, "metrics.jsonl holds the same losses, bit for bit");
    first_out.extend_from_slice(&second_out);
    assert_eq!(String::from_utf8(first_out).unwrap(), String::from_utf8(full_out).unwrap());
    assert_eq!(second.best_validation, full.best_validation);
    let full_weights = model_weights(&full_model);
    for (name, var) in model_weights(&fresh) {
        assert!(var.equal(&full_weights[&name]), "{name} differs");
    }
    assert_eq!(
        std::fs::read_to_string(full_dir.path().join(METRICS)).unwrap().lines().count(),
        std::fs::read_to_string(dir.path().join(METRICS)).unwrap().lines().count()
    );
}

fn model_weights(model: &LstmClassifier) -> BTreeMap<String, Tensor> {
    model.var_store().variables().into_iter().collect()
}

#[test]
fn resuming_without_a_checkpoint_is_a_clear_error() {
    let data = toy_data(32);
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { resume: true, ..files(dir.path()) };
    let config = TrainConfig { batch_size: 8, training_iters: Some(100), ..Default::default() };
    let err = train(&model(4), &split(&data), None, &config, &mut Vec::new(), opts).unwrap_err();
    assert!(matches!(err, TrainError::NoCheckpoint(_)), "{err}");
}

/// A NaN pixel makes the loss NaN at the first step whose batch holds it: the
/// run stops there, names the step, and keeps the checkpoint before it.
#[test]
fn nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint() {
    let (images, labels) = toy_data(64);
    let config = TrainConfig { batch_size: 8, training_iters: Some(8 * 41), checkpoint_every: 3, ..Default::default() };
    // Step (1-based) whose batch first holds example 0.
    let mut order = BatchOrder::new(64, config.seed);
    let bad_step = (1..).find(|_| order.next_batch(8).contains(&0)).unwrap() as i64;
    let _ = tch::no_grad(|| images.get(0).get(0).get(0).fill_(f64::NAN));
    let dir = tempfile::tempdir().unwrap();
    let opts = files(dir.path());
    let err = train(
        &model(4),
        &Split::new(images.shallow_clone(), labels.shallow_clone()),
        None,
        &config,
        &mut Vec::new(),
        opts,
    )
    .unwrap_err();
    let TrainError::Diverged { step, loss, checkpoint } = &err else { panic!("{err}") };
    assert_eq!(*step, bad_step);
    assert!(loss.is_nan());
    let good = (bad_step - 1) / 3 * 3;
    let message = err.to_string();
    assert!(message.contains(&format!("step {bad_step}")), "{message}");
    if good > 0 {
        assert_eq!(
            checkpoint.as_deref(),
            Some(checkpoint::checkpoint_dir(&dir.path().join("checkpoints"), good).as_path())
        );
        let (meta, tensors) = checkpoint::read(checkpoint.as_ref().unwrap()).unwrap();
        assert_eq!(meta.step, good);
        assert!(tensors.values().all(|t| t.isfinite().all().int64_value(&[]) == 1));
        assert!(message.contains("last good checkpoint"), "{message}");
    } else {
        assert!(checkpoint.is_none());
    }
    assert_eq!(checkpoint::latest(&dir.path().join("checkpoints")).unwrap(), checkpoint.clone());
}

/// Checkpoints appear only complete: a leftover temporary folder (a crash
/// mid-write) is ignored by resume and replaced; old ones are pruned.
#[test]
fn checkpoints_are_atomic_and_pruned() {
    let data = toy_data(32);
    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        batch_size: 8,
        training_iters: Some(8 * 11),
        checkpoint_every: 2,
        keep_checkpoints: 2,
        ..Default::default()
    };
    let opts = Options { stop_after: Some(5), ..files(dir.path()) };
    train(&model(4), &split(&data), None, &config, &mut Vec::new(), opts).unwrap();
    let steps: Vec<i64> =
        checkpoint::list(&dir.path().join("checkpoints")).unwrap().into_iter().map(|(s, _)| s).collect();
    assert_eq!(steps, [4, 5]);
    // Then a crash while writing step 6 left a half-written folder behind.
    let stale = dir.path().join("checkpoints/.tmp-step-000006");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join(checkpoint::STATE_JSON), b"{ half").unwrap();
    let opts = Options { resume: true, ..files(dir.path()) };
    let summary = train(&model(4), &split(&data), None, &config, &mut Vec::new(), opts).unwrap();
    assert_eq!((summary.resumed_from, summary.steps), (Some(5), 10));
    let names: Vec<String> = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["step-000008", "step-000010"], "the stale temporary folder was replaced and removed");
    let (meta, tensors) = checkpoint::read(&checkpoint::checkpoint_dir(&dir.path().join("checkpoints"), 10)).unwrap();
    assert_eq!((meta.step, meta.optimizer_steps, meta.samples), (10, 10, 80));
    assert!(tensors.contains_key("model.lstm.weight_ih_l0") && tensors.contains_key("optim.exp_avg_sq.out.weight"));
}

#[test]
fn early_stopping_keeps_the_best_model() {
    let data = toy_data(64);
    let val = toy_data(32);
    // A learning rate far too high: validation accuracy soon stops improving.
    let config = TrainConfig {
        batch_size: 8,
        epochs: Some(30),
        learning_rate: 0.5,
        optimizer: OptimizerConfig::Sgd(SgdConfig::default()),
        validate_every: Some(2),
        patience: Some(3),
        ..Default::default()
    };
    let m = model(4);
    let summary = train(&m, &split(&data), Some(&split(&val)), &config, &mut Vec::new(), validating()).unwrap();
    assert_eq!(summary.stop, Stop::EarlyStopping);
    let best = summary.best_validation.unwrap();
    assert_eq!(summary.steps, summary.last_validation.unwrap().step);
    assert!(summary.steps < summary.total_steps);
    assert!(summary.restored_best);
    let (_, accuracy) = eval::loss_and_accuracy(&m, &val.0, &val.1, &eval::EvalConfig::default()).unwrap();
    assert_eq!(accuracy, best.accuracy, "the model holds the best validation's weights");
}

/// bf16 compute with f32 master weights: the weights stay f32, the loss
/// falls and the logits stay finite.
#[test]
fn bf16_precision_trains() {
    let data = toy_data(128);
    let model = model(8);
    let config = TrainConfig {
        batch_size: 32,
        training_iters: Some(32 * 41),
        display_step: 5,
        learning_rate: 0.01,
        precision: Precision::Bf16,
        ..Default::default()
    };
    let mut out = Vec::new();
    let summary = train(&model, &split(&data), None, &config, &mut out, Options::default()).unwrap();
    assert_eq!(summary.steps, 40);
    let losses: Vec<f64> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| l.split("Loss= ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(losses.len(), 8);
    assert!(losses[7] < 0.5 * losses[0], "{losses:?}");
    for (name, var) in model.var_store().variables() {
        assert_eq!(var.kind(), Kind::Float, "{name}");
    }
    let logits = model.forward_t_with(&data.0, false, Kind::BFloat16).unwrap();
    assert_eq!(logits.kind(), Kind::Float);
    assert!(bool::try_from(logits.isfinite().all()).unwrap());
}

#[test]
fn fp16_on_the_cpu_is_a_config_error() {
    let data = toy_data(64);
    let config =
        TrainConfig { batch_size: 16, training_iters: Some(16 * 3), precision: Precision::Fp16, ..Default::default() };
    let err = train(&model(4), &split(&data), None, &config, &mut Vec::new(), Options::default()).unwrap_err();
    assert!(matches!(&err, TrainError::InvalidConfig(c) if c.key == "train.precision"), "{err}");
    assert!(err.to_string().contains("CUDA"), "{err}");
}

#[test]
fn precision_parses_from_json() {
    let config: TrainConfig = serde_json::from_str(r#"{"precision": "bf16"}"#).unwrap();
    assert_eq!(config.precision, Precision::Bf16);
    assert_eq!(TrainConfig::default().precision, Precision::Fp32);
    assert!(serde_json::from_str::<TrainConfig>(r#"{"precision": "fp64"}"#).is_err());
}

/// A checkpoint of a model with more layers holds every tensor of a 1-layer
/// model with the right shapes, plus the second layer's: resuming the smaller
/// model refuses (no silent partial load) and leaves its weights untouched.
#[test]
fn checkpoint_of_another_model_is_refused_before_anything_is_loaded() {
    let data = toy_data(32);
    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig { batch_size: 8, training_iters: Some(8 * 5), ..Default::default() };
    let spec = |layers| {
        ModelSpec::new(ModelConfig { hidden: 4, layers, ..Default::default() }, 4, 3, vec!["a".into(), "b".into()])
    };
    let two = LstmClassifier::new(spec(2), Device::Cpu).unwrap();
    let opts = Options { stop_after: Some(2), ..files(dir.path()) };
    train(&two, &split(&data), None, &config, &mut Vec::new(), opts).unwrap();
    let one = LstmClassifier::new(spec(1), Device::Cpu).unwrap();
    let before: BTreeMap<String, Tensor> = model_weights(&one).into_iter().map(|(k, v)| (k, v.copy())).collect();
    let opts = Options { resume: true, ..files(dir.path()) };
    let err = train(&one, &split(&data), None, &config, &mut Vec::new(), opts).unwrap_err().to_string();
    assert!(err.contains("step-000002") && err.contains("not a variable of this model") && err.contains("l1"), "{err}");
    for (name, value) in model_weights(&one) {
        assert!(value.equal(&before[&name]), "{name} was changed");
    }
}

/// With dropout the trainer reseeds libtorch's generator every step, so a
/// resumed run still takes the uninterrupted run's steps exactly.
#[test]
fn resumed_run_with_dropout_is_exact() {
    let data = toy_data(64);
    let spec = || {
        ModelSpec::new(
            ModelConfig { hidden: 8, dropout: 0.3, ..Default::default() },
            4,
            3,
            vec!["dark".into(), "bright".into()],
        )
    };
    let config = TrainConfig {
        batch_size: 16,
        training_iters: Some(16 * 13),
        display_step: 1,
        checkpoint_every: 0,
        ..Default::default()
    };
    let full_dir = tempfile::tempdir().unwrap();
    let opts = files(full_dir.path());
    train(&LstmClassifier::new(spec(), Device::Cpu).unwrap(), &split(&data), None, &config, &mut Vec::new(), opts)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = LstmClassifier::new(spec(), Device::Cpu).unwrap();
    let opts = Options { stop_after: Some(5), ..files(dir.path()) };
    train(&model, &split(&data), None, &config, &mut Vec::new(), opts).unwrap();
    // Disturb libtorch's generator between the two halves (as a new process
    // would) by drawing from it; this is the one test here that uses it.
    let _ = Tensor::rand([1000], (Kind::Float, Device::Cpu));
    let opts = Options { resume: true, ..files(dir.path()) };
    let second = train(&model, &split(&data), None, &config, &mut Vec::new(), opts).unwrap();
    assert_eq!((second.resumed_from, second.steps), (Some(5), 12));
    let full = train_losses(full_dir.path());
    assert_eq!(full.len(), 12);
    assert_eq!(train_losses(dir.path()), full);
}

/// Sequences whose class only their length tells: every value (padding too)
/// is 1, class 0 has 2 to 4 real steps, class 1 has 7 to 9. A model that read
/// the padding would see identical sequences.
fn length_data(n: i64) -> (Tensor, Tensor, Tensor) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let labels: Vec<i64> = (0..n).map(|_| rng.random_range(0..2)).collect();
    let lengths: Vec<i64> = labels.iter().map(|&l| if l == 0 { 2 } else { 7 } + rng.random_range(0..3)).collect();
    let x = Tensor::ones([n, 9, 3], (Kind::Float, Device::Cpu));
    (x, Tensor::from_slice(&labels), Tensor::from_slice(&lengths))
}

fn length_model() -> LstmClassifier {
    let config = ModelConfig { hidden: 8, init: lstm_model::Init::Pytorch, ..Default::default() };
    LstmClassifier::new(ModelSpec::new(config, 9, 3, vec!["short".into(), "long".into()]), Device::Cpu).unwrap()
}

#[test]
fn sequences_are_read_up_to_their_lengths_with_or_without_buckets() {
    let (x, y, lengths) = length_data(96);
    let (vx, vy, vl) = length_data(40);
    for buckets in [None, Some(false)] {
        let model = length_model();
        let config = TrainConfig {
            batch_size: 16,
            epochs: Some(12),
            training_iters: None,
            display_step: 6,
            learning_rate: 0.02,
            length_buckets: buckets,
            ..Default::default()
        };
        let train_split =
            Split { features: x.shallow_clone(), labels: y.shallow_clone(), lengths: Some(lengths.shallow_clone()) };
        let validation =
            Split { features: vx.shallow_clone(), labels: vy.shallow_clone(), lengths: Some(vl.shallow_clone()) };
        let summary = train(&model, &train_split, Some(&validation), &config, &mut Vec::new(), validating()).unwrap();
        let best = summary.best_validation.unwrap().accuracy;
        assert!(best == 1.0, "buckets {buckets:?}: validation accuracy {best}");
    }
}

#[test]
fn bad_lengths_are_errors() {
    let (x, y, _) = length_data(8);
    let config = TrainConfig { max_steps: Some(1), ..Default::default() };
    for lengths in [Tensor::from_slice(&[3i64; 7]), Tensor::from_slice(&[0i64; 8]), Tensor::from_slice(&[10i64; 8])] {
        let split =
            Split { features: x.shallow_clone(), labels: y.shallow_clone(), lengths: Some(lengths.shallow_clone()) };
        let err = train(&length_model(), &split, None, &config, &mut Vec::new(), Options::default()).unwrap_err();
        assert!(matches!(err, TrainError::BadData { .. }) && err.to_string().contains("lengths"), "{err}");
    }
}

/// Resuming a run of bucketed sequences takes exactly the uninterrupted steps.
#[test]
fn resumed_bucketed_run_is_exact() {
    let (x, y, lengths) = length_data(90);
    let config = TrainConfig {
        batch_size: 16,
        epochs: Some(3),
        training_iters: None,
        display_step: 1,
        checkpoint_every: 4,
        ..Default::default()
    };
    let run = |stop_after: Option<i64>, resume: bool, dir: &Path| {
        let split =
            Split { features: x.shallow_clone(), labels: y.shallow_clone(), lengths: Some(lengths.shallow_clone()) };
        let opts = Options { stop_after, resume, ..files(dir) };
        let mut out = Vec::new();
        train(&length_model(), &split, None, &config, &mut out, opts).unwrap();
        String::from_utf8(out).unwrap()
    };
    let (full, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let whole = run(None, false, full.path());
    let first = run(Some(7), false, parts.path());
    let second = run(None, true, parts.path());
    assert_eq!(first + &second, whole);
    assert_eq!(train_losses(parts.path()), train_losses(full.path()));
}

/// What a renderer was told, in order.
#[derive(Default)]
struct Recorded(Vec<String>);

/// A renderer writing down every call (and the notebook lines as the default does).
struct Recorder<'a>(&'a std::cell::RefCell<Recorded>);

impl ProgressRenderer for Recorder<'_> {
    fn start(&mut self, total_samples: i64, done_samples: i64) {
        self.0.borrow_mut().0.push(format!("start {total_samples} {done_samples}"));
    }
    fn step(&mut self, done_samples: i64) {
        self.0.borrow_mut().0.push(format!("step {done_samples}"));
    }
    fn line(&mut self, line: &str, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.0.borrow_mut().0.push("line".to_owned());
        writeln!(out, "{line}")
    }
    fn validation(&mut self, accuracy: f64) {
        self.0.borrow_mut().0.push(format!("validation {accuracy}"));
    }
    fn finish(&mut self) {
        self.0.borrow_mut().0.push("finish".to_owned());
    }
}

/// The renderer hears of the start, every step, every notebook line (which
/// still reach the progress writer) and every validation, then the end; a
/// validation split without a validator is refused before training.
#[test]
fn renderer_and_validator_see_the_run() {
    let data = toy_data(40);
    let val = toy_data(20);
    let config = TrainConfig { batch_size: 10, epochs: Some(2), display_step: 2, ..Default::default() };
    let calls = std::cell::RefCell::new(Recorded::default());
    let options = Options { renderer: Some(Box::new(Recorder(&calls))), ..validating() };
    let mut out = Vec::new();
    let summary = train(&model(4), &split(&data), Some(&split(&val)), &config, &mut out, options).unwrap();
    let calls = calls.into_inner().0;
    assert_eq!(calls.first().map(String::as_str), Some("start 80 0"));
    assert_eq!(calls.last().map(String::as_str), Some("finish"));
    let count = |prefix: &str| calls.iter().filter(|c| c.starts_with(prefix)).count();
    assert_eq!((count("step "), count("line"), count("validation ")), (8, 4, 2));
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("Iter ")).count(), 4, "{text}");
    let best = summary.best_validation.unwrap().accuracy;
    assert!(calls.contains(&format!("validation {best}")), "{calls:?}");

    let err =
        train(&model(4), &split(&data), Some(&split(&val)), &config, &mut Vec::new(), Options::default()).unwrap_err();
    assert!(matches!(err, TrainError::NoValidator), "{err}");
}
