//! The crate's one error type.

use std::path::PathBuf;

use image_folder_data::picture::PictureError;

/// Why a model could not be opened or an input classified. Every variant
/// names the file or folder at fault and says what would fix it.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// The path names neither a model folder nor a run folder.
    #[error(
        "{}: no saved model here: give a run folder (holding model/{}) or a model folder (holding {})",
        .0.display(), lstm_model::SPEC_FILE, lstm_model::SPEC_FILE
    )]
    NoModel(PathBuf),
    /// An older model folder whose run standardised its input: its
    /// `model.json` lacks the statistics, so predictions would be wrong.
    #[error(
        "{}: format version {version} records no standardisation statistics, but its run trained with \
         data.normalize = \"standardize\" ({}): predictions would be wrong. Retrain the run with this version \
         (model.json format 3 carries the statistics)",
        model_json.display(), config.display()
    )]
    NoStatistics {
        /// The model's `model.json`.
        model_json: PathBuf,
        /// Its format version.
        version: u32,
        /// The run's `config.json` that says the input was standardised.
        config: PathBuf,
    },
    /// The model takes sequences, not pictures (or the other way round).
    #[error("{}: {detail}", path.display())]
    WrongInput {
        /// The input at fault.
        path: PathBuf,
        /// What the model takes instead.
        detail: String,
    },
    /// A picture could not be read or decoded.
    #[error(transparent)]
    Picture(#[from] PictureError),
    /// An IDX file is malformed.
    #[error(transparent)]
    Idx(#[from] mnist_data::DataError),
    /// The model could not be loaded or run.
    #[error(transparent)]
    Model(#[from] lstm_model::ModelError),
    /// The input could not be standardised.
    #[error(transparent)]
    Data(#[from] data_core::DataCoreError),
}

impl InferenceError {
    /// Whether the way the program was called is at fault (exit status 2 in
    /// the bin: no model there, an old model that cannot be used as asked,
    /// the wrong kind of input) rather than a file, the model or libtorch (1).
    pub fn is_config(&self) -> bool {
        match self {
            InferenceError::NoModel(_) | InferenceError::NoStatistics { .. } | InferenceError::WrongInput { .. } => {
                true
            }
            InferenceError::Idx(e) => e.is_config(),
            InferenceError::Model(e) => e.is_config(),
            _ => false,
        }
    }
}

impl From<tch::TchError> for InferenceError {
    fn from(e: tch::TchError) -> Self {
        InferenceError::Model(e.into())
    }
}
