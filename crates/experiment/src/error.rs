//! Why a run could not be set up, trained or saved.

use std::path::{Path, PathBuf};

use crate::config::ConfigError;
use crate::data::DataLoadError;

/// Why a run could not be set up, trained or saved; [`ExperimentError::is_config`]
/// says whether the user's config or command line is at fault.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The config file or a `--set` is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `device` is `"cuda"` on a machine without a usable GPU.
    #[error("config `device` = \"cuda\" but no CUDA GPU is usable here: use \"auto\" or \"cpu\"")]
    NoCuda,
    /// The run folder (or another argument) cannot be used; the message says why and what to do.
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
    /// A file of a run folder cannot be used.
    #[error("{}: {message}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl ExperimentError {
    /// Whether the user is at fault: the config, its files or the run folder
    /// asked for (exit status 2 in the bin), rather than the data, a file or
    /// libtorch (1). Each crate's error says so itself through its own `is_config`.
    pub fn is_config(&self) -> bool {
        match self {
            ExperimentError::Config(_) | ExperimentError::NoCuda | ExperimentError::Usage(_) => true,
            ExperimentError::Data(e) => e.is_config(),
            ExperimentError::Model(e) => e.is_config(),
            ExperimentError::Train(e) => e.is_config(),
            ExperimentError::Eval(e) => e.is_config(),
            ExperimentError::Io { .. } | ExperimentError::BadFile { .. } => false,
        }
    }
}

/// Maps an I/O error on `path` to an [`ExperimentError`].
pub fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ExperimentError + '_ {
    move |source| ExperimentError::Io { path: path.to_owned(), source }
}
