//! `lstm-mnist`: trains, evaluates and saves LSTM classifiers of MNIST-family
//! images from JSON experiment configs. This binary only wires the library
//! crates together: data from `mnist-data`, the model from `lstm-model`, the
//! loop from `trainer` and the reports from `eval`.

mod bench;
mod evaluate;
mod predict;
mod run_folder;
mod train;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use config::{ConfigError, DeviceChoice};
use lstm_mnist::{config, data};
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
        #[arg(long, short, required_unless_present = "resume")]
        config: Option<PathBuf>,
        /// Override a config value by its dotted key, with a JSON value
        /// (a bare string is taken as a string): --set train.batch_size=64
        #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "resume")]
        sets: Vec<String>,
        /// The run folder. Default: runs/<config name>/
        #[arg(long, conflicts_with = "resume")]
        out: Option<PathBuf>,
        /// Continue the run in RUN_DIR from its newest checkpoint, with its own
        /// config.json; the steps taken are those of an uninterrupted run.
        #[arg(long, value_name = "RUN_DIR", conflicts_with = "config")]
        resume: Option<PathBuf>,
        /// Train into an existing run folder, replacing its run (config.json,
        /// report.json, metrics.jsonl, model/, checkpoints/, pictures).
        #[arg(long, conflicts_with = "resume")]
        force: bool,
    },
    /// Evaluate a saved model on the test split of a dataset: a table on stdout.
    Eval {
        /// A run folder (its model/ is used) or a model folder (model.json + model.safetensors).
        #[arg(long, value_name = "RUN_DIR")]
        model: PathBuf,
        /// The config giving the data (and device); default: the run folder's config.json.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Override a config value by its dotted key: --set data.dir=/usr/share/datasets/fashion-mnist
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Also write report.json, confusion.svg and errors.png into this folder.
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
        /// Compute precision: fp32, bf16 or auto (bf16 where the CPU runs it fast).
        /// Default: the run's eval.precision, else its train.precision, else fp32.
        #[arg(long, value_name = "PRECISION", value_parser = parse_precision)]
        precision: Option<lstm_model::Precision>,
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

/// A `--precision` value: `fp32`, `bf16`, `fp16` or `auto`, as in the config.
fn parse_precision(text: &str) -> Result<lstm_model::Precision, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("`{text}` is not a precision: use fp32, bf16, fp16 or auto"))
}

/// Why the program stopped; the exit status says which kind.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("config `device` = \"cuda\" but no CUDA GPU is usable here: use \"auto\" or \"cpu\"")]
    NoCuda,
    #[error("{0}")]
    Usage(String),
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
            Failure::Config(_) | Failure::NoCuda | Failure::Usage(_) => 2,
            Failure::Data(err) if err.is_config() => 2,
            Failure::Train(trainer::TrainError::InvalidConfig { .. })
            | Failure::Eval(eval::EvalError::InvalidBatchSize(_))
            | Failure::Model(lstm_model::ModelError::InvalidConfig { .. }) => 2,
            Failure::Predict(e) if e.is_usage() => 2,
            _ => 1,
        }
    }
}

pub fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |source| Failure::Io { path: path.to_owned(), source }
}

pub fn choose_device(choice: DeviceChoice) -> Result<Device, Failure> {
    let device = match choice {
        DeviceChoice::Cpu => Device::Cpu,
        DeviceChoice::Auto => Device::cuda_if_available(),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Device::Cuda(0),
        DeviceChoice::Cuda => return Err(Failure::NoCuda),
    };
    tracing::info!(?device, cuda_devices = tch::Cuda::device_count(), "device chosen");
    Ok(device)
}

/// Sets libtorch's CPU threads; returns the number.
pub fn set_threads(threads: Option<usize>) -> usize {
    let threads = threads.unwrap_or_else(num_cpus::get_physical);
    tch::set_num_threads(threads as i32);
    tracing::info!(threads, "libtorch threads");
    lstm_mnist::openmp::log_settings();
    threads
}

/// libc's `getenv` for this process, with one default added: libgomp reads
/// `GOMP_SPINCOUNT` through it when it loads, before `main` (see `lstm_mnist::openmp`).
/// The build script exports this symbol, so shared libraries bind to it.
///
/// # Safety
/// As libc's `getenv`: `name` is NULL or NUL-terminated, and no other thread
/// changes the environment meanwhile.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[no_mangle]
pub unsafe extern "C" fn getenv(name: *const std::ffi::c_char) -> *mut std::ffi::c_char {
    // SAFETY: the caller passes a NUL-terminated string, as for libc's getenv.
    unsafe { lstm_mnist::openmp::getenv(name) }
}

fn main() -> ExitCode {
    // libtorch's errors carry C++ stack frames unless told not to; only their first line is shown anyway.
    std::env::set_var("TORCH_SHOW_CPP_STACKTRACES", "0");
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Train { config, sets, out, resume, force } => train::run(config.as_deref(), &sets, out, resume, force),
        Command::Eval { model, config, sets, out } => {
            evaluate::run(&model, config.as_deref(), &sets, out.as_deref()).map(|()| 0)
        }
        Command::Predict { model, files, invert, json, precision } => {
            let options = predict::Options { invert, json, precision };
            predict::run(&model, &files, options, &mut std::io::stdout().lock()).map(|()| 0)
        }
        Command::Bench { config, sets, args } => bench::bench(&config, &sets, args).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
