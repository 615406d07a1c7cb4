//! `lstm-mnist predict`: classifies PNG images and IDX image files with a
//! saved model, printing the class and its probability for each image.

use std::io::Write;
use std::path::{Path, PathBuf};

use image::{imageops::FilterType, GrayImage};
use lstm_model::{LstmClassifier, Prediction, SPEC_FILE};
use serde::Serialize;
use tch::Device;

use crate::run_folder::find_model_dir;
use crate::Failure;

/// Images per forward pass when classifying a large IDX file.
const BATCH: usize = eval::DEFAULT_BATCH_SIZE as usize;

/// Arguments of `lstm-mnist predict`.
#[derive(Debug, Clone, clap::Args)]
pub struct PredictArgs {
    /// The run folder (holding model/) or the model folder itself.
    #[arg(long, short)]
    pub model: PathBuf,
    /// PNG images and IDX image files (gzipped or raw).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Invert PNG and IDX pixels first, for dark drawings on a light background.
    #[arg(long)]
    pub invert: bool,
    /// Print one JSON array with every class probability instead of one line per image.
    #[arg(long)]
    pub json: bool,
    /// Compute precision: fp32, bf16 or auto (bf16 where the CPU runs it fast).
    /// Default: the run's eval.precision, else its train.precision, else fp32.
    #[arg(long, value_name = "PRECISION", value_parser = parse_precision)]
    pub precision: Option<lstm_model::Precision>,
}

/// A `--precision` value: `fp32`, `bf16`, `fp16` or `auto`, as in the config.
fn parse_precision(text: &str) -> Result<lstm_model::Precision, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("`{text}` is not a precision: use fp32, bf16, fp16 or auto"))
}

/// The first bytes of every PNG file.
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Why `predict` could not classify.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// `--model` names neither a model folder nor a run folder.
    #[error(
        "{}: no saved model here: pass --model a run folder (holding model/{SPEC_FILE}) or a model folder (holding {SPEC_FILE})",
        .0.display()
    )]
    NoModel(PathBuf),
    /// No image files were given.
    #[error("no images given: pass one or more PNG or IDX files after --model RUN_DIR")]
    NoFiles,
    /// A PNG could not be decoded.
    #[error("{}: cannot decode the PNG image: {source}", path.display())]
    Image { path: PathBuf, source: image::ImageError },
    /// An input file could not be read.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// An IDX file is malformed.
    #[error(transparent)]
    Data(#[from] mnist_data::DataError),
    /// The model could not be loaded or run.
    #[error(transparent)]
    Model(#[from] lstm_model::ModelError),
}

impl PredictError {
    /// Whether the error is in how the command was called (exit status 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, PredictError::NoModel(_) | PredictError::NoFiles)
    }
}

/// The class of one image, as printed with `--json`.
#[derive(Debug, Serialize)]
struct Row<'a> {
    file: String,
    /// Position of the image in an IDX file; absent for a PNG.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    #[serde(flatten)]
    prediction: &'a Prediction,
}

/// Converts one grayscale image to the model's input size (box-averaged when
/// shrinking, bilinear when enlarging), as bytes, inverted if asked.
fn fit(image: GrayImage, width: u32, height: u32, invert: bool) -> Vec<u8> {
    let (w, h) = image.dimensions();
    let image = if (w, h) == (width, height) {
        image
    } else if w >= width && h >= height {
        // Box averaging: each source pixel counts towards one target pixel, so
        // a digit drawn at a whole multiple of the model's size comes back exactly.
        image::imageops::thumbnail(&image, width, height)
    } else {
        image::imageops::resize(&image, width, height, FilterType::Triangle)
    };
    let mut pixels = image.into_raw();
    if invert {
        pixels.iter_mut().for_each(|p| *p = 255 - *p);
    }
    pixels
}

/// Reads one input file into images of `width × height` bytes: a PNG (detected
/// by its signature) is one image, anything else is read as an IDX image file.
fn read_images(path: &Path, width: u32, height: u32, invert: bool) -> Result<(bool, Vec<Vec<u8>>), PredictError> {
    let bytes = std::fs::read(path).map_err(|source| PredictError::Io { path: path.to_owned(), source })?;
    if bytes.starts_with(PNG_MAGIC) {
        let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
            .map_err(|source| PredictError::Image { path: path.to_owned(), source })?;
        return Ok((true, vec![fit(image.to_luma8(), width, height, invert)]));
    }
    let idx = mnist_data::idx::read_images(path)?;
    let size = idx.rows * idx.cols;
    let images = (0..idx.count)
        .map(|i| {
            let pixels = idx.pixels[i * size..(i + 1) * size].to_vec();
            let image =
                GrayImage::from_raw(idx.cols as u32, idx.rows as u32, pixels).expect("IDX image of rows x cols bytes");
            fit(image, width, height, invert)
        })
        .collect();
    Ok((false, images))
}

/// Classifies every image of `args.files` with the model of `args.model`,
/// writing one line per image (or one JSON array with `--json`) to `out`.
pub fn run(args: &PredictArgs, out: &mut impl Write) -> Result<(), Failure> {
    let PredictArgs { model, files, invert, json, precision } = args;
    let (invert, json) = (*invert, *json);
    if files.is_empty() {
        return Err(PredictError::NoFiles.into());
    }
    let dir = find_model_dir(model).ok_or_else(|| PredictError::NoModel(model.clone()))?;
    let compute = crate::precision::model_precision(model, *precision, Device::Cpu)?.kind();
    let model = LstmClassifier::load(&dir, Device::Cpu)?;
    let (height, width) = (model.spec().image_height, model.spec().image_width);
    tracing::info!(model = %dir.display(), height, width, "model loaded");
    let write_err = |source| PredictError::Io { path: PathBuf::from("stdout"), source };
    let mut rows = Vec::new();
    for file in files {
        let (png, images) = read_images(file, width as u32, height as u32, invert)?;
        for (chunk_index, chunk) in images.chunks(BATCH).enumerate() {
            let tensor = lstm_model::images_from_bytes(&chunk.concat(), height, width)?;
            for (i, prediction) in
                model.predict_with(&tensor, compute).map_err(PredictError::from)?.into_iter().enumerate()
            {
                let index = (!png).then_some(chunk_index * BATCH + i);
                if json {
                    rows.push((file.display().to_string(), index, prediction));
                } else {
                    let at = index.map(|i| format!("[{i}]")).unwrap_or_default();
                    writeln!(out, "{}{at}: {} ({:.4})", file.display(), prediction.name, prediction.probability)
                        .map_err(write_err)?;
                }
            }
        }
    }
    if json {
        let rows: Vec<Row> = rows
            .iter()
            .map(|(file, index, prediction)| Row { file: file.clone(), index: *index, prediction })
            .collect();
        let text = serde_json::to_string_pretty(&rows).expect("predictions serialise");
        writeln!(out, "{text}").map_err(write_err)?;
    }
    Ok(())
}
