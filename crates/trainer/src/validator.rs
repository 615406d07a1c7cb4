//! How the trainer validates: a [`Validator`] measures the model on the
//! validation split (the experiment crate passes one built on `eval`).

use lstm_model::LstmClassifier;

use crate::{Split, TrainError};

/// What one validation pass measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Validation {
    /// Mean softmax cross-entropy over the split.
    pub loss: f64,
    /// Share of the split classified correctly, 0 to 1.
    pub accuracy: f64,
}

/// Measures the model on the validation split, on the model's device (lengths
/// on the CPU), without updating it. Closures
/// `FnMut(&LstmClassifier, &Split) -> Result<Validation, TrainError>` are validators.
///
/// A validator's own errors go into [`TrainError::Validation`]
/// ([`TrainError::validation`]), which keeps whether the user's config is at fault.
pub trait Validator {
    /// Loss and accuracy of `model` on `split`.
    fn validate(&mut self, model: &LstmClassifier, split: &Split) -> Result<Validation, TrainError>;
}

impl<F> Validator for F
where
    F: FnMut(&LstmClassifier, &Split) -> Result<Validation, TrainError>,
{
    fn validate(&mut self, model: &LstmClassifier, split: &Split) -> Result<Validation, TrainError> {
        self(model, split)
    }
}
