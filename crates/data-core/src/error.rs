//! The crate's one error type.

/// What can go wrong in the data core: a config value that cannot be used,
/// training values that cannot be standardised, a split of the wrong shape,
/// or a libtorch operation.
#[derive(Debug, thiserror::Error)]
pub enum DataCoreError {
    /// A config value cannot be used (the shared [`config_error::InvalidConfig`]:
    /// the dotted key, the value, what would fix it).
    #[error(transparent)]
    InvalidConfig(#[from] config_error::InvalidConfig),
    /// Every training value is the same, so there is no standard deviation
    /// to divide by (global standardisation of pictures).
    #[error(
        "every training value is the same ({value}), so the data cannot be standardised; use data.normalize \"scale\""
    )]
    Constant {
        /// The one value.
        value: f64,
    },
    /// A split's tensors do not fit together (`[N, T, F]` features, `[N]`
    /// labels, `[N]` lengths in `1..=T`).
    #[error("{what}: {detail}")]
    BadSplit {
        /// Which split (`training`, `test`, ...).
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// libtorch refused an operation (the message's first line: libtorch
    /// appends C++ stack frames, which say nothing to a user).
    #[error("libtorch error: {}", config_error::first_line(.0))]
    Torch(#[from] tch::TchError),
}

impl DataCoreError {
    /// An [`InvalidConfig`](Self::InvalidConfig) error for the dotted config key `key`.
    pub fn invalid_config(key: impl Into<String>, value: impl ToString, hint: impl Into<String>) -> Self {
        DataCoreError::InvalidConfig(config_error::InvalidConfig::new(key, value, hint))
    }

    /// Whether a config value is at fault (exit status 2 in the bin) rather
    /// than the data or libtorch (1).
    pub fn is_config(&self) -> bool {
        matches!(self, DataCoreError::InvalidConfig(_) | DataCoreError::Constant { .. })
    }
}
