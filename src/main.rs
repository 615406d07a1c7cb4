//! `lstm-mnist`: trains, evaluates and saves LSTM classifiers of MNIST-family
//! images from JSON experiment configs. This file only parses the command
//! line and dispatches to the commands of the library (`lstm_mnist::commands`).
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lstm_mnist::commands::output::QuietWhenClosed;
use lstm_mnist::commands::{bench, compare, evaluate, explain, export, predict, serve, sweep, train};

#[derive(Parser)]
#[command(name = "lstm-mnist", version, about = "LSTM sequence classifiers of MNIST-family images, on libtorch")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model from a JSON experiment config, then evaluate it on the test split.
    Train(train::TrainArgs),
    /// Evaluate a saved model on the test split of a dataset: a table on stdout.
    Eval(evaluate::EvalArgs),
    /// Classify PNG and JPEG pictures (any size, either way round) and IDX
    /// image files with a saved model.
    Predict(predict::PredictArgs),
    /// Show what the model believes after each row (step) of each image: the
    /// class probabilities after every step and the step it decides at.
    Explain(explain::ExplainArgs),
    /// Time data loading, training steps and evaluation for a config (one JSON line; `make bench`).
    Bench(bench::BenchArgs),
    /// Run every trial of a sweep file (grid, random search, seeds), here or as a Slurm job array.
    Sweep(sweep::SweepArgs),
    /// Compare runs side by side: what differs in their configs, accuracies, losses, speed; grouped by seed.
    Compare(compare::CompareArgs),
    /// Write a saved model as a standard ONNX file (LSTM/GRU nodes, layout and readout built in).
    Export(export::ExportArgs),
    /// Serve a saved model over HTTP: KServe v2 JSON, dynamic batching, row-by-row streaming,
    /// Prometheus metrics and a draw-a-digit page at /.
    Serve(serve::ServeArgs),
    /// Show the libtorch this build uses; --cargo-config prints the .cargo/config.toml
    /// with which a crate depending on lstm-model builds with plain `cargo build`.
    Env(export::EnvArgs),
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
    let cli = Cli::parse_from(predict::join_invert_values(std::env::args_os()));
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match &cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => evaluate::run(args).map(|()| 0),
        Command::Predict(args) => predict::run(args, &mut QuietWhenClosed::new(std::io::stdout().lock())).map(|()| 0),
        Command::Explain(args) => explain::run(args, &mut QuietWhenClosed::new(std::io::stdout().lock())).map(|()| 0),
        Command::Bench(args) => bench::run(args).map(|()| 0),
        Command::Sweep(args) => sweep::run(args),
        Command::Compare(args) => compare::run(args).map(|()| 0),
        Command::Export(args) => export::run(args).map(|()| 0),
        Command::Serve(args) => serve::run(args).map(|()| 0),
        Command::Env(args) => export::run_env(args, &mut QuietWhenClosed::new(std::io::stdout().lock())).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {}", lstm_mnist::without_cpp_frames(&failure.to_string()));
            ExitCode::from(failure.exit_code())
        }
    }
}
