//! `lstm-mnist bench`: the figures `make bench` compares with PyTorch.
//!
//! Loads the experiment's data (timed), builds its model, runs `warmup`
//! training steps, then `steps` timed training steps through the same
//! `trainer::train` that `lstm-mnist train` uses (progress lines discarded),
//! then one warm-up and `eval_repeats` timed evaluations of the whole test
//! split through `eval::evaluate`. Prints one JSON line on stdout.

use std::path::PathBuf;
use std::time::Instant;

use eval::EvalConfig;
use lstm_model::{LstmClassifier, Workload};
use serde_json::json;

use crate::config::{ConfigError, Experiment};
use crate::runtime::choose_device;
use crate::Failure;

/// Arguments of `lstm-mnist bench`: the config and how much work to time.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The experiment config (JSON), for example configs/seed.json.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Override a config value by its dotted key, as for `train`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Timed training steps.
    #[arg(long, default_value_t = 200)]
    pub steps: i64,
    /// Untimed training steps before them.
    #[arg(long, default_value_t = 20)]
    pub warmup: i64,
    /// Timed evaluations of the whole test split (after one untimed one).
    #[arg(long, default_value_t = 5)]
    pub eval_repeats: u32,
}

/// Peak resident set size of this process (`VmHWM`), in KiB, where Linux tells it.
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the benchmark for `--config` with its `--set` overrides.
pub fn run(args: &BenchArgs) -> Result<(), Failure> {
    let experiment = Experiment::load(&args.config, &args.sets)?;
    experiment.train.validate()?;
    if args.steps < 1 || args.warmup < 0 {
        return Err(Failure::from(ConfigError::Invalid {
            path: args.config.clone(),
            key: "--steps/--warmup".into(),
            message: "use at least one timed step and a non-negative warm-up".into(),
        }));
    }
    crate::runtime::set_threads(experiment.threads);
    let device = choose_device(experiment.device)?;
    crate::precision::check(experiment.train.precision, "train.precision", device)?;
    // Loss and accuracy only, the work of PyTorch's reference evaluation: the
    // decision time (every step's prediction) would add work PyTorch does not do.
    let eval_config = EvalConfig { decision: Some(false), ..crate::precision::eval_config(&experiment, device)? };

    let start = Instant::now();
    let data = crate::data::load(&experiment.data)?;
    let load_seconds = start.elapsed().as_secs_f64();
    let spec = experiment::model_spec(&experiment.model, &data);
    let model = LstmClassifier::new(spec, device)?;
    let train_precision =
        model.resolve_precision(experiment.train.precision, experiment.train.batch_size, Workload::Training)?;
    let eval_precision = eval_config.precision.unwrap_or_default();
    let eval_precision = model.resolve_precision(eval_precision, eval_config.batch_size, Workload::Inference)?;

    // `train` runs while step * batch < training_iters, so `k * batch + 1` gives k steps.
    let with_steps = |k: i64| trainer::TrainConfig {
        training_iters: Some(k * experiment.train.batch_size + 1),
        epochs: None,
        ..experiment.train.clone()
    };
    let mut sink = std::io::sink();
    if args.warmup > 0 {
        trainer::train(&model, &data.train, None, &with_steps(args.warmup), &mut sink, trainer::Options::default())?;
    }
    let summary =
        trainer::train(&model, &data.train, None, &with_steps(args.steps), &mut sink, trainer::Options::default())?;

    eval::evaluate(&model, &data.test, &eval_config)?;
    let start = Instant::now();
    let mut samples = 0;
    for _ in 0..args.eval_repeats {
        samples += eval::evaluate(&model, &data.test, &eval_config)?.samples;
    }
    let eval_seconds = start.elapsed().as_secs_f64();

    println!(
        "{}",
        json!({
            "mkldnn": tch::utils::has_mkldnn(),
            "device": format!("{device:?}"),
            "train_precision": train_precision.name(),
            "eval_precision": eval_precision.name(),
            "threads": tch::get_num_threads(),
            "interop_threads": tch::get_num_interop_threads(),
            "load_seconds": load_seconds,
            "train_samples_per_second": summary.samples_per_second,
            "eval_samples_per_second": samples as f64 / eval_seconds.max(1e-9),
            "vm_hwm_kib": vm_hwm_kib(),
            "openmp_defaults": format!("{:?}", crate::openmp::defaults()),
            "openmp_env": crate::openmp::openmp_env(),
        })
    );
    Ok(())
}
