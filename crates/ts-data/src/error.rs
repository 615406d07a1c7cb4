use std::path::PathBuf;

/// Everything that can go wrong reading a `.ts` problem.
#[derive(Debug, thiserror::Error)]
pub enum TsError {
    /// A config value cannot be used (the shared [`config_error::InvalidConfig`]:
    /// the dotted key, the value, what would fix it).
    #[error(transparent)]
    InvalidConfig(#[from] config_error::InvalidConfig),

    /// Reading a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A `.ts` file is malformed.
    #[error("{}:{line}: {detail}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        detail: String,
    },

    /// A missing value (`?` or `NaN`) where `data.missing` refuses them.
    #[error(
        "{}:{line}: missing value at dimension {dimension}, point {point}; set data.missing to \"zero\" or \
         \"previous\" to fill missing values",
        path.display()
    )]
    MissingValue {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// The dimension (1-based).
        dimension: usize,
        /// The time point (1-based).
        point: usize,
    },

    /// The training and test files of a problem disagree.
    #[error("{} and {}: {detail}", train.display(), test.display())]
    Mismatch {
        /// The training file.
        train: PathBuf,
        /// The test file.
        test: PathBuf,
        /// What differs.
        detail: String,
    },

    /// The data core refused the dataset.
    #[error(transparent)]
    Core(#[from] data_core::DataCoreError),

    /// libtorch refused an operation.
    #[error("libtorch error: {}", config_error::first_line(.0))]
    Torch(#[from] tch::TchError),
}

impl TsError {
    /// An [`InvalidConfig`](Self::InvalidConfig) error for the dotted config key `key`.
    pub fn invalid_config(key: impl Into<String>, value: impl ToString, hint: impl Into<String>) -> Self {
        TsError::InvalidConfig(config_error::InvalidConfig::new(key, value, hint))
    }

    /// Whether a config value is at fault (exit status 2) rather than a file
    /// or libtorch (1).
    pub fn is_config(&self) -> bool {
        match self {
            TsError::InvalidConfig(_) => true,
            TsError::Core(e) => e.is_config(),
            _ => false,
        }
    }
}

impl data_core::SourceError for TsError {
    fn is_config(&self) -> bool {
        TsError::is_config(self)
    }
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, TsError>;
