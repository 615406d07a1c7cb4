//! Why a command stopped, and the exit status that says which kind.

use std::path::{Path, PathBuf};

use crate::commands::export::ExportError;
use crate::commands::predict::PredictError;
use crate::config::ConfigError;
use crate::data::DataLoadError;

/// Why a command stopped; [`Failure::exit_code`] says which kind. The run
/// pipeline's failures (config, data, model, training, evaluation, run
/// folder) are [`experiment::ExperimentError`]'s, wrapped as they are.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The command line is wrong (arguments, trial ids, a sweep's tools).
    #[error("{0}")]
    Usage(String),
    /// The run pipeline failed: the config, the data, the model, training,
    /// evaluation or a run folder.
    #[error(transparent)]
    Experiment(#[from] experiment::ExperimentError),
    /// `predict` failed.
    #[error(transparent)]
    Predict(#[from] PredictError),
    /// A sweep file is invalid.
    #[error(transparent)]
    Sweep(#[from] crate::sweep::SweepError),
    /// Runs could not be compared.
    #[error(transparent)]
    Compare(#[from] crate::compare::CompareError),
    /// `export` or `env` failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// `serve` could not start or stopped with an error.
    #[error(transparent)]
    Serve(#[from] serve::ServeError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// `?` on the errors [`experiment::ExperimentError`] wraps gives a [`Failure::Experiment`].
macro_rules! through_experiment {
    ($($error:ty),*) => {$(
        impl From<$error> for Failure {
            fn from(e: $error) -> Self {
                Failure::Experiment(e.into())
            }
        }
    )*};
}

/// `text` without the C++ stack frames libtorch may append to its errors
/// (`frame #0: ...`, `Exception raised from ...`): a libtorch error is shown
/// by its first line only, the rest of the message as it is.
pub fn without_cpp_frames(text: &str) -> String {
    let mut lines = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("frame #") || trimmed.starts_with("Exception raised from") {
            break;
        }
        lines.push(line);
    }
    lines.join("\n")
}

through_experiment!(ConfigError, DataLoadError, lstm_model::ModelError, trainer::TrainError, eval::EvalError);

impl Failure {
    /// Whether the user is at fault: the command line, the config or its files
    /// (exit status 2), rather than the data, a file or libtorch (1). Each
    /// crate's error says so itself through its own `is_config`.
    pub fn is_config(&self) -> bool {
        match self {
            Failure::Usage(_) => true,
            Failure::Experiment(e) => e.is_config(),
            Failure::Predict(e) => e.is_config(),
            Failure::Sweep(e) => e.is_config(),
            Failure::Compare(e) => e.is_config(),
            Failure::Export(e) => e.is_config(),
            Failure::Serve(e) => e.is_config(),
            Failure::Io { .. } => false,
        }
    }

    /// 2 for a usage or config error, 1 for anything else.
    pub fn exit_code(&self) -> u8 {
        if self.is_config() {
            2
        } else {
            1
        }
    }
}

/// Maps an I/O error on `path` to a [`Failure`].
pub fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |source| Failure::Io { path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpp_stack_frames_are_never_shown() {
        let torch = "Internal torch error: [enforce fail at alloc_cpu.cpp:127] data. DefaultCPUAllocator: \
                     not enough memory: you tried to allocate 41 GB.\nframe #0: c10::ThrowEnforceNotMet(...) + 0x5c\n\
                     frame #1: <unknown function> + 0x1d3 (0x7f in libc10.so)\nException raised from x at y";
        let shown = without_cpp_frames(torch);
        assert_eq!(shown, "Internal torch error: [enforce fail at alloc_cpu.cpp:127] data. DefaultCPUAllocator: not enough memory: you tried to allocate 41 GB.");
        let plain = "run folder x: first line\nsecond line of the message";
        assert_eq!(without_cpp_frames(plain), plain);
    }

    #[test]
    fn exit_status_follows_each_crates_is_config() {
        let config = trainer::TrainError::invalid_config("train.batch_size", 0, "use a positive batch size");
        assert_eq!(Failure::from(config).exit_code(), 2);
        let nested = trainer::TrainError::Model(lstm_model::ModelError::invalid_config("model.hidden", 0, "h"));
        assert_eq!(Failure::from(nested).exit_code(), 2);
        assert_eq!(Failure::from(trainer::TrainError::NoCheckpoint("runs/x/checkpoints".into())).exit_code(), 1);
        let edited = trainer::TrainError::BadState {
            path: "state.json".into(),
            field: "step".into(),
            value: "-1".into(),
            hint: "h".into(),
        };
        assert_eq!(Failure::from(edited).exit_code(), 2);
        let missing = DataLoadError::new(mnist_data::DataError::MissingDir("nowhere".into()));
        assert_eq!(Failure::from(missing).exit_code(), 2);
        let damaged = mnist_data::DataError::BadSize { path: "a.idx".into(), detail: "truncated".into() };
        assert_eq!(Failure::from(DataLoadError::new(damaged)).exit_code(), 1);
        assert_eq!(Failure::from(eval::EvalError::invalid_config("eval.batch_size", 0, "h")).exit_code(), 2);
        assert_eq!(Failure::Usage("no --config".into()).exit_code(), 2);
        let io = Failure::Io { path: "runs/x".into(), source: std::io::ErrorKind::PermissionDenied.into() };
        assert_eq!(io.exit_code(), 1);
    }
}
