//! The model behind the server, and the one place that knows how a saved
//! model is loaded and run: everything else sees [`ModelInfo`] (plain data,
//! usable on the async side) and the methods of [`ServedModel`] (called on the
//! inference thread only).
//!
//! Loading and input preparation are the `inference` crate's
//! [`Predictor`], as for `lstm-mnist predict`: the model's `model.json` says
//! what it takes (pictures of a size with an invert policy, or sequences of
//! some features per step) and the standardisation of its training split,
//! and the precision is resolved the same way.

use std::path::Path;

use data_core::{InputSpec, Invert};
use image_folder_data::picture;
use inference::Predictor;
use lstm_model::{Precision, Sequence, StepState};
use tch::{Device, Kind, Tensor};

use crate::error::{ApiError, ServeError};

pub use inference::find_model_dir;

/// The largest picture side `/v1/classify` decodes, in pixels.
pub const MAX_PICTURE_SIDE: u32 = 4096;

/// What a served model takes and gives, as the HTTP side needs it.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// Name of the input tensor in the Open Inference Protocol: `images`
    /// for a picture model, `sequences` for a sequence model.
    pub input_name: String,
    /// Rows of one input: the picture height; 0 for a sequence model, whose
    /// inputs may have any number of time steps.
    pub rows: usize,
    /// Values per row: the picture width, or features per time step.
    pub columns: usize,
    /// The class names, in class order.
    pub class_names: Vec<String>,
    /// Why the model cannot be read row by row, if it cannot.
    pub not_streamable: Option<String>,
    /// The model's input description (`model.json`; pictures for older folders).
    pub input: InputSpec,
}

impl ModelInfo {
    /// Whether the model takes sequences `[N, T, F]` (with optional lengths)
    /// rather than pictures `[N, H, W]`.
    pub fn takes_sequences(&self) -> bool {
        matches!(self.input, InputSpec::Sequence(_))
    }

    /// The invert policy of the model's pictures (`/v1/classify`).
    pub fn invert(&self) -> Invert {
        self.input.picture().map(|p| p.invert).unwrap_or_default()
    }
}

/// The inputs of one request or one batch, as the model takes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// `count × steps × columns` values, input after input (pictures:
    /// pixel / 255; sequences: raw values, before standardisation).
    pub values: Vec<f32>,
    /// How many inputs.
    pub count: usize,
    /// Time steps of each input as sent (the longest, for a batch).
    pub steps: usize,
    /// The real steps of each input (`1..=steps`); `None`: all `steps`.
    pub lengths: Option<Vec<i64>>,
}

impl Inputs {
    /// `count` pictures (or sequences of `steps` steps each, all real).
    pub fn dense(values: Vec<f32>, count: usize, steps: usize) -> Self {
        Inputs { values, count, steps, lengths: None }
    }

    /// The inputs of `parts` as one batch of rows of `columns` values: each
    /// padded with zeros to the longest's steps, the lengths kept (the model
    /// reads real steps only, so padding does not change an answer).
    pub fn concat(parts: &[Inputs], columns: usize) -> Inputs {
        let steps = parts.iter().map(|p| p.steps).max().unwrap_or(0);
        let count = parts.iter().map(|p| p.count).sum();
        let padded = parts.iter().any(|p| p.steps != steps || p.lengths.is_some());
        let mut values = Vec::with_capacity(count * steps * columns);
        let mut lengths = Vec::with_capacity(if padded { count } else { 0 });
        for part in parts {
            if part.steps == steps {
                values.extend_from_slice(&part.values);
            } else {
                for input in part.values.chunks(part.steps * columns) {
                    values.extend_from_slice(input);
                    values.resize(values.len() + (steps - part.steps) * columns, 0.0);
                }
            }
            if padded {
                match &part.lengths {
                    Some(own) => lengths.extend_from_slice(own),
                    None => lengths.extend(std::iter::repeat_n(part.steps as i64, part.count)),
                }
            }
        }
        Inputs { values, count, steps, lengths: padded.then_some(lengths) }
    }
}

/// A loaded model, ready to classify batches and to read inputs row by row.
#[derive(Debug)]
pub struct ServedModel {
    predictor: Predictor,
    info: ModelInfo,
}

/// The name a model is served under by default: the run folder's name (the
/// parent's name for a model folder called `model`).
pub fn default_name(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let folder = if path.file_name().is_some_and(|n| n == "model") && path.join(lstm_model::SPEC_FILE).is_file() {
        path.parent().unwrap_or(&path).to_owned()
    } else {
        path
    };
    folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into())
}

impl ServedModel {
    /// Loads the model of a run folder or model folder onto the CPU with
    /// [`Predictor::open`], to run in `precision` (`Auto` is resolved now).
    pub fn open(path: &Path, precision: Precision) -> Result<Self, ServeError> {
        if find_model_dir(path).is_none() {
            return Err(ServeError::NoModel(path.to_owned()));
        }
        let predictor = Predictor::open(path, Device::Cpu, precision)?;
        let spec = predictor.model().spec();
        let input = predictor.input().clone();
        let not_streamable = match &input {
            _ if spec.config.sequence == Sequence::PermutedPixels => Some(
                "this model reads the pixels in a shuffled order (sequence \"permuted-pixels\"), \
                 so it cannot answer row by row: use /infer"
                    .to_owned(),
            ),
            InputSpec::Sequence(s) if s.points_per_step > 1 => Some(format!(
                "this model reads {} points per step (points_per_step), so it cannot answer point by point: use /infer",
                s.points_per_step
            )),
            _ => None,
        };
        let (input_name, rows, columns) = match &input {
            InputSpec::Picture(p) => ("images", p.height as usize, p.width as usize),
            InputSpec::Sequence(s) => ("sequences", 0, s.features as usize),
        };
        let info = ModelInfo {
            input_name: input_name.into(),
            rows,
            columns,
            class_names: spec.class_names.clone(),
            not_streamable,
            input,
        };
        Ok(Self { predictor, info })
    }

    /// What the model takes and gives.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The model folder it was loaded from.
    pub fn dir(&self) -> &Path {
        self.predictor.dir()
    }

    /// The precision the recurrent layers compute in.
    pub fn compute(&self) -> Kind {
        self.predictor.compute()
    }

    /// Class probabilities (`count × classes`, input after input) of
    /// `inputs`, prepared by the [`Predictor`] (standardised as the run was).
    pub fn classify(&self, inputs: &Inputs) -> Result<Vec<f32>, ApiError> {
        let shape = [inputs.count as i64, inputs.steps as i64, self.info.columns as i64];
        let run = || -> Result<Vec<f32>, inference::InferenceError> {
            let x = Tensor::f_from_slice(&inputs.values)?.f_reshape(shape)?;
            // A sequence model always gets lengths: all real steps read
            // (any T), not the nominal picture shape of its spec.
            let lengths = match (&self.info.input, &inputs.lengths) {
                (InputSpec::Picture(_), _) => None,
                (InputSpec::Sequence(_), Some(own)) => Some(Tensor::f_from_slice(own)?),
                (InputSpec::Sequence(_), None) => {
                    Some(Tensor::f_full([inputs.count as i64], inputs.steps as i64, (Kind::Int64, Device::Cpu))?)
                }
            };
            let predictions = self.predictor.sequences(&x, lengths.as_ref())?;
            Ok(predictions.into_iter().flat_map(|p| p.probabilities).collect())
        };
        run().map_err(|e| ApiError::Inference(config_error::first_line(&e)))
    }

    /// The state before the first row of a stream.
    pub fn start_stream(&self) -> Result<StepState, ApiError> {
        if let Some(why) = &self.info.not_streamable {
            return Err(ApiError::bad(why.clone()));
        }
        self.predictor.model().initial_state(1).map_err(|e| ApiError::Inference(config_error::first_line(&e)))
    }

    /// Reads one more row (`columns` values) of a stream: the new state and
    /// the class probabilities after the rows read so far. A picture row is
    /// one step of a `"rows"` model, `columns` steps of a `"pixels"` one; a
    /// sequence row is one time step. The row is standardised as `/infer` does.
    pub fn stream_row(&self, state: &StepState, row: &[f32]) -> Result<(StepState, Vec<f32>), ApiError> {
        let model = self.predictor.model();
        let features = model.spec().features;
        let run = || -> Result<(StepState, Vec<f32>), inference::InferenceError> {
            let steps = Tensor::f_from_slice(row)?.f_reshape([-1, 1, features])?;
            let steps = match self.predictor.standardization() {
                Some(st) => st.apply(&steps)?,
                None => steps,
            };
            let (mut state, mut logits) = model.step(state, &steps.f_select(0, 0)?)?;
            for t in 1..steps.size()[0] {
                (state, logits) = model.step(&state, &steps.f_select(0, t)?)?;
            }
            let probabilities = logits.f_softmax(-1, Kind::Float)?.f_flatten(0, -1)?;
            Ok((state, Vec::<f32>::try_from(probabilities)?))
        };
        run().map_err(|e| ApiError::Inference(config_error::first_line(&e)))
    }
}

/// A PNG or JPEG (`bytes`) prepared as `predict` prepares pictures
/// ([`picture::decode`] then [`picture::prepare`]: grayscale, resized to the
/// model's size, inverted by its policy): the model's input values
/// (pixel / 255) and whether it was inverted. Pictures larger than
/// [`MAX_PICTURE_SIDE`] a side are refused before they are decoded.
pub fn prepare_picture(bytes: &[u8], info: &ModelInfo) -> Result<(Vec<f32>, bool), ApiError> {
    let Some(size) = info.input.picture() else {
        return Err(ApiError::bad(format!(
            "this model takes sequences, not pictures: POST `sequences` [N, T, {}] to /v2/models/NAME/infer",
            info.columns
        )));
    };
    let name = Path::new("the request body");
    let dimensions = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()
        .filter(|_| picture::is_picture(bytes))
        .and_then(|reader| reader.into_dimensions().ok());
    if let Some((w, h)) = dimensions.filter(|&(w, h)| w.max(h) > MAX_PICTURE_SIDE) {
        return Err(ApiError::bad(format!(
            "the picture is {w}x{h} pixels: pictures up to {MAX_PICTURE_SIDE} pixels a side are read; shrink it first"
        )));
    }
    let image = picture::decode(bytes, name)
        .map_err(|e| ApiError::bad(format!("{e}; POST the bytes of a PNG or JPEG picture as the body")))?;
    let prepared = picture::prepare(image, size.width, size.height, info.invert());
    Ok((prepared.pixels.iter().map(|&p| f32::from(p) / 255.0).collect(), prepared.inverted))
}
