//! Classifying with a saved lstm-mnist model, outside any training run.
//!
//! [`Predictor::open`] reads a model folder (or a run folder holding
//! `model/`): the weights and `model.json`, which (format 3) says how raw
//! input becomes the model's input — picture size, invert policy and resize,
//! or sequence features — and the standardisation statistics of the training
//! split. Nothing else is read: not the training data, not the run's config
//! (except, for an older model folder, to warn that it cannot be used as the
//! run used it). A copied model folder therefore predicts exactly what the
//! run's evaluation reported.
//!
//! * [`Predictor::picture_bytes`] / [`Predictor::picture_file`]: PNG or JPEG,
//!   decoded, grayscale, resized, inverted by the model's policy (auto:
//!   pictures with a mostly bright border), as `lstm-mnist predict` does;
//! * [`Predictor::images`]: any input file (picture or IDX, gzipped or raw),
//!   read a batch at a time ([`ImageBatches`]) with bounded memory;
//! * [`Predictor::sequences`]: raw sequences `[N, T, F]` with optional lengths.
//!
//! ```no_run
//! use inference::Predictor;
//! use lstm_model::{tch::Device, Precision};
//! let predictor = Predictor::open("runs/seed".as_ref(), Device::Cpu, Precision::Fp32)?;
//! let bytes = std::fs::read("digit.png").unwrap();
//! let classified = predictor.picture_bytes(&bytes, "digit.png".as_ref(), None)?;
//! println!("{} ({:.3})", classified.prediction.name, classified.prediction.probability);
//! # Ok::<(), inference::InferenceError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

mod error;
mod images;

use std::path::{Path, PathBuf};

use data_core::{InputSpec, Invert, Standardization};
use image_folder_data::picture;
use lstm_model::{LstmClassifier, Precision, Prediction, Workload, SPEC_FILE};
use tch::{Device, Kind, Tensor};

pub use error::InferenceError;
pub use images::{Batch, ImageBatches};

/// Images per forward pass when classifying a large IDX file.
pub const BATCH: usize = 1000;

/// The model folder of `path`: `path/model` when it holds a model (a run
/// folder), else `path` itself when it does.
pub fn find_model_dir(path: &Path) -> Option<PathBuf> {
    [path.join("model"), path.to_owned()].into_iter().find(|d| d.join(SPEC_FILE).is_file())
}

/// One classified picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// Class index, name, its probability and every class's probability.
    pub prediction: Prediction,
    /// Whether the picture was inverted before classifying.
    pub inverted: bool,
}

/// A loaded model and how to prepare its input.
#[derive(Debug)]
pub struct Predictor {
    model: LstmClassifier,
    dir: PathBuf,
    compute: Kind,
    input: InputSpec,
    standardization: Option<Standardization>,
}

impl Predictor {
    /// Opens the model of `path` (a run folder or a model folder) on
    /// `device`, computing in `precision` (`Auto` is resolved here, by
    /// measuring). A format-3 folder is complete; an older one is used as
    /// pictures of its size, pixel / 255 — unless its run (the folder above)
    /// trained on standardised input, which it cannot reproduce:
    /// [`InferenceError::NoStatistics`].
    pub fn open(path: &Path, device: Device, precision: Precision) -> Result<Self, InferenceError> {
        let dir = find_model_dir(path).ok_or_else(|| InferenceError::NoModel(path.to_owned()))?;
        let model = LstmClassifier::load(&dir, device)?;
        check_older(&dir, model.spec())?;
        let compute = model.resolve_precision(precision, BATCH as i64, Workload::Inference)?.kind();
        let input = model.spec().input_or_default();
        let standardization = model.spec().standardization.clone();
        Ok(Predictor { model, dir, compute, input, standardization })
    }

    /// The model.
    pub fn model(&self) -> &LstmClassifier {
        &self.model
    }

    /// The model folder read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The precision the recurrent layers compute in.
    pub fn compute(&self) -> Kind {
        self.compute
    }

    /// What raw input the model takes.
    pub fn input(&self) -> &InputSpec {
        &self.input
    }

    /// The standardisation applied to the input, if the run used one.
    pub fn standardization(&self) -> Option<&Standardization> {
        self.standardization.as_ref()
    }

    /// One name per class.
    pub fn class_names(&self) -> &[String] {
        &self.model.spec().class_names
    }

    /// `(height, width)` of the model's pictures; an error naming `path` for
    /// a model that takes sequences.
    pub fn picture_size(&self, path: &Path) -> Result<(u32, u32), InferenceError> {
        match &self.input {
            InputSpec::Picture(p) => Ok((p.height, p.width)),
            InputSpec::Sequence(s) => Err(InferenceError::WrongInput {
                path: path.to_owned(),
                detail: format!(
                    "the model takes sequences of {} features, not pictures; pass sequences [N, T, F]",
                    s.features
                ),
            }),
        }
    }

    /// The invert policy: `invert` when given, else the model's (its run's
    /// training pictures were prepared with it).
    pub fn invert_policy(&self, invert: Option<Invert>) -> Invert {
        invert.or(self.input.picture().map(|p| p.invert)).unwrap_or_default()
    }

    /// The images of an input file (a picture or an IDX image file), read a
    /// batch at a time; see [`ImageBatches::open`] for the checks.
    pub fn images(&self, path: &Path, invert: Option<Invert>) -> Result<ImageBatches, InferenceError> {
        let (height, width) = self.picture_size(path)?;
        ImageBatches::open(path, height, width, self.invert_policy(invert))
    }

    /// Prepared pixel bytes (`n × height × width`, from a [`Batch`]) as the
    /// model's input: pixel / 255, then the run's standardisation.
    pub fn tensor(&self, pixels: &[u8]) -> Result<Tensor, InferenceError> {
        let (h, w) = (self.model.spec().image_height, self.model.spec().image_width);
        let x = lstm_model::images_from_bytes(pixels, h, w)?;
        Ok(match &self.standardization {
            Some(st) => st.apply(&x)?,
            None => x,
        })
    }

    /// Classifies prepared pixel bytes (`n × height × width`).
    pub fn classify_pixels(&self, pixels: &[u8]) -> Result<Vec<Prediction>, InferenceError> {
        Ok(self.model.predict_with(&self.tensor(pixels)?.f_to_device(self.model.device())?, self.compute)?)
    }

    /// Classifies a PNG or JPEG held in memory (`name` names it in errors),
    /// prepared as `predict` prepares pictures; `invert` overrides the model's policy.
    pub fn picture_bytes(
        &self,
        bytes: &[u8],
        name: &Path,
        invert: Option<Invert>,
    ) -> Result<Classified, InferenceError> {
        let (height, width) = self.picture_size(name)?;
        let image = picture::decode(bytes, name)?;
        let prepared = picture::prepare(image, width, height, self.invert_policy(invert));
        let prediction = self.classify_pixels(&prepared.pixels)?.remove(0);
        Ok(Classified { prediction, inverted: prepared.inverted })
    }

    /// Classifies a PNG or JPEG file (a regular file of at most 64 MiB).
    pub fn picture_file(&self, path: &Path, invert: Option<Invert>) -> Result<Classified, InferenceError> {
        let (height, width) = self.picture_size(path)?;
        let prepared = picture::load(path, width, height, self.invert_policy(invert))?;
        let prediction = self.classify_pixels(&prepared.pixels)?.remove(0);
        Ok(Classified { prediction, inverted: prepared.inverted })
    }

    /// Raw series `[N, T, F]` as the model reads them: `f32`, with the
    /// model's per-dimension standardisation applied (when its run used one).
    pub fn standardized(&self, features: &Tensor) -> Result<Tensor, InferenceError> {
        Ok(match &self.standardization {
            Some(st) => st.apply(&features.f_to_kind(Kind::Float)?)?,
            None => features.f_to_kind(Kind::Float)?,
        })
    }

    /// Classifies raw sequences `[N, T, F]` (`f32`, before standardisation;
    /// `F` the dimensions of the model's series, any `T`), each read up to
    /// its length when `lengths` `[N]` (`i64`) is given, else all `T` points.
    ///
    /// For a model of series (input `sequence`) this is the whole
    /// preparation: the per-dimension standardisation of `model.json` is
    /// applied here, and the model groups `points_per_step` points per step
    /// itself (lengths become `ceil(length / k)`), so a sequence's
    /// probabilities do not depend on the batch it is in nor on the padding
    /// after it (within 1e-5). A picture model takes `[N, height, width]`
    /// here (lengths need its `"rows"` layout).
    ///
    /// ```no_run
    /// use inference::Predictor;
    /// use lstm_model::{tch::{Device, Kind, Tensor}, Precision};
    /// let predictor = Predictor::open("runs/japanese-vowels".as_ref(), Device::Cpu, Precision::Fp32)?;
    /// let x = Tensor::zeros([2, 29, 12], (Kind::Float, Device::Cpu)); // 2 series, 12 dimensions
    /// let lengths = Tensor::from_slice(&[29i64, 7]);
    /// for p in predictor.sequences(&x, Some(&lengths))? {
    ///     println!("{} ({:.3})", p.name, p.probability);
    /// }
    /// # Ok::<(), inference::InferenceError>(())
    /// ```
    pub fn sequences(&self, features: &Tensor, lengths: Option<&Tensor>) -> Result<Vec<Prediction>, InferenceError> {
        let x = self.standardized(features)?.f_to_device(self.model.device())?;
        let logits = tch::no_grad(|| self.model.forward_input_t(&x, lengths, false, self.compute))?;
        let probs = logits.f_softmax(-1, Kind::Float)?.f_to_device(Device::Cpu)?;
        let flat = Vec::<f32>::try_from(probs.f_flatten(0, -1)?)?;
        let names = self.class_names();
        Ok(flat
            .chunks(names.len().max(1))
            .map(|p| {
                let class = p.iter().enumerate().fold(0, |best, (i, &v)| if v > p[best] { i } else { best });
                Prediction { class, name: names[class].clone(), probability: p[class], probabilities: p.to_vec() }
            })
            .collect())
    }
}

/// For a model folder older than format 3: an error when its run (the
/// folder above) trained on standardised input, else a warning saying what
/// the folder lacks.
fn check_older(dir: &Path, spec: &lstm_model::ModelSpec) -> Result<(), InferenceError> {
    let Some(lacks) = spec.lacks() else { return Ok(()) };
    let model_json = dir.join(SPEC_FILE);
    if let Some(config) = dir.parent().map(|run| run.join("config.json")).filter(|c| c.is_file()) {
        if run_standardized(&config) {
            return Err(InferenceError::NoStatistics { model_json, version: spec.format_version, config });
        }
    }
    tracing::warn!(model = %model_json.display(), version = spec.format_version, "this model folder lacks {lacks}");
    Ok(())
}

/// Whether the run config `config` (JSON, at most 16 MiB) sets `data.normalize` to `"standardize"`.
fn run_standardized(config: &Path) -> bool {
    let small = std::fs::metadata(config).is_ok_and(|m| m.is_file() && m.len() <= 16 << 20);
    let value: Option<serde_json::Value> =
        small.then(|| std::fs::read(config).ok()).flatten().and_then(|b| serde_json::from_slice(&b).ok());
    value.is_some_and(|v| v["data"]["normalize"] == "standardize")
}

#[cfg(test)]
mod tests;
