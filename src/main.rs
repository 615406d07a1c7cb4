//! `lstm-mnist`: trains, evaluates and saves LSTM classifiers of MNIST-family
//! images from JSON experiment configs. This binary only wires the library
//! crates together: data from `mnist-data`, the model from `lstm-model`, the
//! loop from `trainer` and the test from `eval`.

mod bench;
mod predict;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lstm_mnist::{config, data};
use config::{ConfigError, DeviceChoice, Experiment};
use lstm_model::{LstmClassifier, ModelSpec};
use serde_json::json;
use tch::Device;

#[derive(Parser)]
#[command(name = "lstm-mnist", version, about = "LSTM sequence classifiers of MNIST-family images, on libtorch")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model from a JSON experiment config, then evaluate it on the test split.
    Train {
        /// The experiment config (JSON), for example configs/seed.json.
        #[arg(long, short)]
        config: PathBuf,
        /// Override a config value by its dotted key, with a JSON value
        /// (a bare string is taken as a string): --set train.batch_size=64
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// The run folder. Default: runs/<config name>/
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Classify PNG images (any size; white digit on black, as MNIST) and IDX
    /// image files with a saved model.
    Predict {
        /// The run folder (holding model/) or the model folder itself.
        #[arg(long, short)]
        model: PathBuf,
        /// PNG images and IDX image files (gzipped or raw).
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Invert PNG and IDX pixels first, for dark drawings on a light background.
        #[arg(long)]
        invert: bool,
        /// Print one JSON array with every class probability instead of one line per image.
        #[arg(long)]
        json: bool,
    },
    /// Time data loading, training steps and evaluation for a config (one JSON line; `make bench`).
    Bench {
        /// The experiment config (JSON), for example configs/seed.json.
        #[arg(long, short)]
        config: PathBuf,
        /// Override a config value by its dotted key, as for `train`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        #[command(flatten)]
        args: bench::BenchArgs,
    },
}

/// Why the program stopped; the exit status says which kind.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("config `device` = \"cuda\" but no CUDA GPU is usable here: use \"auto\" or \"cpu\"")]
    NoCuda,
    #[error(transparent)]
    Data(#[from] data::DataLoadError),
    #[error(transparent)]
    Model(#[from] lstm_model::ModelError),
    #[error(transparent)]
    Train(#[from] trainer::TrainError),
    #[error(transparent)]
    Eval(#[from] eval::EvalError),
    #[error(transparent)]
    Predict(#[from] predict::PredictError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

impl Failure {
    /// 2 for a usage or config error, 1 for anything else.
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Config(_) | Failure::NoCuda => 2,
            Failure::Data(err) if err.is_config() => 2,
            Failure::Train(trainer::TrainError::InvalidConfig { .. })
            | Failure::Eval(eval::EvalError::InvalidBatchSize(_))
            | Failure::Model(lstm_model::ModelError::InvalidConfig { .. }) => 2,
            Failure::Predict(e) if e.is_usage() => 2,
            _ => 1,
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |source| Failure::Io { path: path.to_owned(), source }
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(value).expect("config and report types serialise");
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_error(path))
}

fn choose_device(choice: DeviceChoice) -> Result<Device, Failure> {
    let device = match choice {
        DeviceChoice::Cpu => Device::Cpu,
        DeviceChoice::Auto => Device::cuda_if_available(),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Device::Cuda(0),
        DeviceChoice::Cuda => return Err(Failure::NoCuda),
    };
    tracing::info!(?device, cuda_devices = tch::Cuda::device_count(), "device chosen");
    Ok(device)
}

fn train(config_path: &Path, sets: &[String], out: Option<PathBuf>) -> Result<(), Failure> {
    let experiment = Experiment::load(config_path, sets)?;
    experiment.train.validate()?;
    let threads = experiment.threads.unwrap_or_else(num_cpus::get_physical);
    tch::set_num_threads(threads as i32);
    tracing::info!(threads, "libtorch threads");
    let device = choose_device(experiment.device)?;

    let name = experiment.name.clone().unwrap_or_else(|| "run".to_owned());
    let run_dir = out.unwrap_or_else(|| Path::new("runs").join(&name));
    std::fs::create_dir_all(&run_dir).map_err(io_error(&run_dir))?;
    write_json(&run_dir.join("config.json"), &experiment)?;

    let data = data::load(&experiment.data)?;
    tracing::info!(
        train = data.train.1.size()[0],
        validation = data.validation.as_ref().map_or(0, |v| v.1.size()[0]),
        test = data.test.1.size()[0],
        classes = ?data.class_names,
        "data ready"
    );
    let size = data.train.0.size();
    let spec = ModelSpec::new(experiment.model.clone(), size[1], size[2], data.class_names.clone());
    let model = LstmClassifier::new(spec, device)?;

    let mut stdout = std::io::stdout().lock();
    let summary = trainer::train(&model, &data.train.0, &data.train.1, &experiment.train, &mut stdout)?;
    writeln!(stdout, "Optimization Finished!").map_err(io_error(Path::new("stdout")))?;
    let report = eval::evaluate(&model, &data.test.0, &data.test.1, &experiment.eval)?;
    writeln!(stdout, "Testing Accuracy: {}", report.accuracy).map_err(io_error(Path::new("stdout")))?;

    model.save(run_dir.join("model"))?;
    write_json(
        &run_dir.join("report.json"),
        &json!({
            "accuracy": report.accuracy,
            "samples": report.samples,
            "correct": report.correct,
            "loss": report.loss,
            "train": summary,
            "device": format!("{device:?}"),
            "threads": threads,
        }),
    )?;
    tracing::info!(
        run = %run_dir.display(),
        train_seconds = summary.seconds,
        samples_per_second = summary.samples_per_second,
        "run saved"
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Train { config, sets, out } => train(&config, &sets, out),
        Command::Predict { model, files, invert, json } => {
            predict::run(&model, &files, invert, json, &mut std::io::stdout().lock()).map_err(Failure::from)
        }
        Command::Bench { config, sets, args } => bench::bench(&config, &sets, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
