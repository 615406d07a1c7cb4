//! The body of the `model` fuzz target (`fuzz/`), here so that the fuzzer
//! and the regression tests (`tests/fuzz_regressions.rs`) run the same code.

use std::path::Path;

use tch::{Device, Kind, Tensor};

use crate::{LstmClassifier, ModelError, ModelSpec, SPEC_FILE, WEIGHTS_FILE};

/// Parameters above which [`model`] only parses the description: the
/// library's own limits are far larger, and one load of a model at those
/// limits takes seconds and gigabytes (slow, not wrong).
pub const MAX_PARAMETERS: u64 = 1 << 20;
/// Sequence steps above which [`model`] only parses the description.
pub const MAX_STEPS: i64 = 4096;

/// Splits a fuzz input into `model.json` and `model.safetensors` bytes at
/// the first NUL byte (all of it is `model.json` when there is none).
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Writes the two halves of a fuzz input ([`split`]) into `folder` as a
/// model folder, loads it with [`LstmClassifier::load`] and classifies one
/// black image (a model that loads must predict). `None` when the description parses but is above
/// [`MAX_PARAMETERS`] or [`MAX_STEPS`] (not loaded).
///
/// A panic is a bug, except a failure to write into `folder`; `Ok` or a
/// typed error are both fine.
pub fn model(data: &[u8], folder: &Path) -> Option<Result<LstmClassifier, ModelError>> {
    let (json, weights) = split(data);
    if let Ok(spec) = ModelSpec::from_json(Path::new(SPEC_FILE), json) {
        if spec.parameter_count().is_none_or(|n| n > MAX_PARAMETERS) || spec.steps > MAX_STEPS {
            return None;
        }
    }
    std::fs::write(folder.join(SPEC_FILE), json).expect("the fuzz folder takes model.json");
    std::fs::write(folder.join(WEIGHTS_FILE), weights).expect("the fuzz folder takes model.safetensors");
    Some(LstmClassifier::load(folder, Device::Cpu).inspect(|model| {
        let s = model.spec();
        let images = Tensor::zeros([1, s.image_height, s.image_width], (Kind::Float, Device::Cpu));
        let predictions = model.predict(&images).expect("a loaded model predicts");
        assert_eq!(predictions.len(), 1, "one prediction per image");
    }))
}
