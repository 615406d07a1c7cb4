//! The model behind the server, and the one place that knows how a saved
//! model is loaded and run: everything else sees [`ModelInfo`] (plain data,
//! usable on the async side) and the methods of [`ServedModel`] (called on the
//! inference thread only).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::ImageReader;
use image_folder_data::picture::{self, Invert};
use lstm_model::{LstmClassifier, Precision, Sequence, StepState, Workload, SPEC_FILE};
use tch::{Device, Kind, Tensor};

use crate::error::{ApiError, ServeError};

/// The largest picture side `/v1/classify` decodes, in pixels.
pub const MAX_PICTURE_SIDE: u32 = 4096;

/// What a served model takes and gives, as the HTTP side needs it.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// Name of the input tensor in the Open Inference Protocol (`images`).
    pub input_name: String,
    /// Rows of one input (picture height, or time steps).
    pub rows: usize,
    /// Values per row (picture width, or features per step).
    pub columns: usize,
    /// The class names, in class order.
    pub class_names: Vec<String>,
    /// Why the model cannot be read row by row, if it cannot.
    pub not_streamable: Option<String>,
}

impl ModelInfo {
    /// Values of one input (`rows × columns`).
    pub fn values_per_input(&self) -> usize {
        self.rows * self.columns
    }
}

/// A loaded model, ready to classify batches and to read inputs row by row.
#[derive(Debug)]
pub struct ServedModel {
    model: LstmClassifier,
    info: ModelInfo,
    compute: Kind,
    dir: PathBuf,
}

/// The model folder of `path`: `path` itself when it holds `model.json`,
/// else `path/model` (a run folder).
pub fn find_model_dir(path: &Path) -> Option<PathBuf> {
    [path.to_owned(), path.join("model")].into_iter().find(|dir| dir.join(SPEC_FILE).is_file())
}

/// The name a model is served under by default: the run folder's name (the
/// parent's name for a model folder called `model`).
pub fn default_name(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let folder = if path.file_name().is_some_and(|n| n == "model") && path.join(SPEC_FILE).is_file() {
        path.parent().unwrap_or(&path).to_owned()
    } else {
        path
    };
    folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into())
}

impl ServedModel {
    /// Loads the model of a run folder or model folder onto the CPU, to run
    /// in `precision` (`Auto` is resolved now, for batches of `batch` inputs).
    pub fn open(path: &Path, precision: Precision, batch: i64) -> Result<Self, ServeError> {
        let dir = find_model_dir(path).ok_or_else(|| ServeError::NoModel(path.to_owned()))?;
        let model = LstmClassifier::load(&dir, Device::Cpu)?;
        let compute = model.resolve_precision(precision, batch.max(1), Workload::Inference)?.kind();
        let spec = model.spec();
        let not_streamable = match (spec.config.sequence, spec.config.bidirectional) {
            (Sequence::PermutedPixels, _) => Some(
                "this model reads the pixels in a shuffled order (sequence \"permuted-pixels\"), \
                 so it cannot answer row by row: use /infer"
                    .to_owned(),
            ),
            _ => None,
        };
        let info = ModelInfo {
            input_name: "images".into(),
            rows: spec.image_height as usize,
            columns: spec.image_width as usize,
            class_names: spec.class_names.clone(),
            not_streamable,
        };
        Ok(Self { model, info, compute, dir })
    }

    /// What the model takes and gives.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The model folder it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Class probabilities (`count × classes`, row by row) of `count` inputs
    /// given as `count × rows × columns` values (pictures: pixel / 255).
    pub fn classify(&self, values: &[f32], count: usize) -> Result<Vec<f32>, ApiError> {
        let (rows, columns) = (self.info.rows as i64, self.info.columns as i64);
        let run = || -> Result<Vec<f32>, lstm_model::ModelError> {
            let input = self.standardize(Tensor::f_from_slice(values)?.f_reshape([count as i64, rows, columns])?)?;
            let probabilities = self.model.forward_with(&input, self.compute)?.f_softmax(-1, Kind::Float)?;
            Ok(Vec::<f32>::try_from(probabilities.f_flatten(0, -1)?)?)
        };
        run().map_err(|e| ApiError::Inference(e.to_string()))
    }

    /// `input` as the model was trained on it: standardised with the
    /// training split's statistics stored in `model.json`, when the run
    /// standardised its data; unchanged otherwise.
    fn standardize(&self, input: Tensor) -> Result<Tensor, lstm_model::ModelError> {
        match &self.model.spec().standardization {
            Some(st) => st.apply(&input).map_err(|e| {
                tch::TchError::Convert(format!("standardising the input with model.json's statistics: {e}")).into()
            }),
            None => Ok(input),
        }
    }

    /// The state before the first row of a stream.
    pub fn start_stream(&self) -> Result<StepState, ApiError> {
        if let Some(why) = &self.info.not_streamable {
            return Err(ApiError::bad(why.clone()));
        }
        self.model.initial_state(1).map_err(|e| ApiError::Inference(e.to_string()))
    }

    /// Reads one more row (`columns` values) of a stream: the new state and
    /// the class probabilities after the rows read so far. A picture row is
    /// one step of a `"rows"` model, `columns` steps of a `"pixels"` one.
    pub fn stream_row(&self, state: &StepState, row: &[f32]) -> Result<(StepState, Vec<f32>), ApiError> {
        let features = self.model.spec().features;
        let run = || -> Result<(StepState, Vec<f32>), lstm_model::ModelError> {
            let steps = self.standardize(Tensor::f_from_slice(row)?.f_reshape([-1, 1, features])?)?;
            let (mut state, mut logits) = self.model.step(state, &steps.f_select(0, 0)?)?;
            for t in 1..steps.size()[0] {
                (state, logits) = self.model.step(&state, &steps.f_select(0, t)?)?;
            }
            let probabilities = logits.f_softmax(-1, Kind::Float)?.f_flatten(0, -1)?;
            Ok((state, Vec::<f32>::try_from(probabilities)?))
        };
        run().map_err(|e| ApiError::Inference(e.to_string()))
    }
}

/// A PNG or JPEG prepared as `predict` prepares pictures (grayscale, resized
/// to `width × height`, inverted when its border is mostly bright): the
/// model's input values (pixel / 255) and whether it was inverted.
pub fn prepare_picture(bytes: &[u8], width: usize, height: usize) -> Result<(Vec<f32>, bool), ApiError> {
    if !picture::is_picture(bytes) {
        return Err(ApiError::bad("the body is not a PNG or JPEG picture: POST the picture's bytes as the body"));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PICTURE_SIDE);
    limits.max_image_height = Some(MAX_PICTURE_SIDE);
    limits.max_alloc = Some(256 << 20);
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ApiError::bad(format!("cannot read the picture: {e}")))?;
    reader.limits(limits);
    let image = reader.decode().map_err(|e| {
        ApiError::bad(format!(
            "cannot decode the picture ({e}); pictures up to {MAX_PICTURE_SIDE} pixels a side are read"
        ))
    })?;
    let prepared = picture::prepare(picture::to_gray(image), width as u32, height as u32, Invert::Auto);
    Ok((prepared.pixels.iter().map(|&p| f32::from(p) / 255.0).collect(), prepared.inverted))
}
