//! Why a command stopped, and the exit status that says which kind.

use std::path::{Path, PathBuf};

use crate::commands::export::ExportError;
use crate::commands::predict::PredictError;
use crate::config::ConfigError;
use crate::data::DataLoadError;

/// Why a command stopped; [`Failure::exit_code`] says which kind.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The config file or a `--set` is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `device` is `"cuda"` on a machine without a usable GPU.
    #[error("config `device` = \"cuda\" but no CUDA GPU is usable here: use \"auto\" or \"cpu\"")]
    NoCuda,
    /// The command was called wrongly (arguments, output folder).
    #[error("{0}")]
    Usage(String),
    /// The data could not be loaded.
    #[error(transparent)]
    Data(#[from] DataLoadError),
    /// The model could not be built, loaded or saved.
    #[error(transparent)]
    Model(#[from] lstm_model::ModelError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] trainer::TrainError),
    /// Evaluation or drawing failed.
    #[error(transparent)]
    Eval(#[from] eval::EvalError),
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
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

impl Failure {
    /// 2 for a usage or config error, 1 for anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Config(_) | Failure::NoCuda | Failure::Usage(_) | Failure::Sweep(_) => 2,
            Failure::Compare(crate::compare::CompareError::NoRuns(_) | crate::compare::CompareError::BadSort(_)) => 2,
            Failure::Data(err) if err.is_config() => 2,
            Failure::Train(trainer::TrainError::InvalidConfig { .. } | trainer::TrainError::BadState { .. })
            | Failure::Eval(eval::EvalError::InvalidBatchSize(_))
            | Failure::Model(lstm_model::ModelError::InvalidConfig { .. }) => 2,
            Failure::Predict(e) if e.is_usage() => 2,
            Failure::Export(e) if e.is_usage() => 2,
            _ => 1,
        }
    }
}

/// Maps an I/O error on `path` to a [`Failure`].
pub fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |source| Failure::Io { path: path.to_owned(), source }
}
