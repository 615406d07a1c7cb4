//! `lstm-mnist predict`: classifies PNG images and IDX image files with a
//! saved model, printing the class and its probability for each image.

use std::io::{Read, Write};
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

/// The largest PNG file read (64 MiB).
pub const MAX_IMAGE_BYTES: u64 = 64 << 20;

/// Where the results go: one line per image, or the elements of one JSON
/// array written as they come (memory does not grow with the number of images).
struct Output<'a, W: Write> {
    out: &'a mut W,
    json: bool,
    rows: usize,
}

impl<W: Write> Output<'_, W> {
    fn write(&mut self, file: &Path, index: Option<usize>, prediction: &Prediction) -> std::io::Result<()> {
        if !self.json {
            let at = index.map(|i| format!("[{i}]")).unwrap_or_default();
            return writeln!(self.out, "{}{at}: {} ({:.4})", file.display(), prediction.name, prediction.probability);
        }
        let row = Row { file: file.display().to_string(), index, prediction };
        let text = serde_json::to_string_pretty(&row).expect("predictions serialise");
        // Exactly what pretty-printing the whole array gives: each element indented by two spaces.
        let sep = if self.rows == 0 { "[\n" } else { ",\n" };
        let indented: Vec<String> = text.lines().map(|l| format!("  {l}")).collect();
        self.rows += 1;
        write!(self.out, "{sep}{}", indented.join("\n"))
    }

    fn finish(&mut self) -> std::io::Result<()> {
        match (self.json, self.rows) {
            (false, _) => Ok(()),
            (true, 0) => writeln!(self.out, "[]"),
            (true, _) => writeln!(self.out, "\n]"),
        }
    }
}

/// An input file, opened and its header checked.
enum Input {
    /// A decoded PNG image.
    Png(image::DynamicImage),
    /// An IDX image file, read a batch at a time.
    Idx(mnist_data::idx::ImageStream),
}

/// Opens one input: a PNG (detected by its signature, at most
/// [`MAX_IMAGE_BYTES`]) is decoded; anything else is opened as an IDX image
/// file. Only regular files are read.
fn open_input(path: &Path) -> Result<Input, PredictError> {
    let io = |source| PredictError::Io { path: path.to_owned(), source };
    let mut file = mnist_data::idx::open_regular(path)?;
    let mut magic = Vec::new();
    Read::by_ref(&mut file).take(PNG_MAGIC.len() as u64).read_to_end(&mut magic).map_err(io)?;
    if magic != PNG_MAGIC {
        return Ok(Input::Idx(mnist_data::idx::ImageStream::open(path)?));
    }
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_IMAGE_BYTES {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{len} bytes: larger than the 64 MiB a PNG image may have here"),
        )));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .map_err(|source| PredictError::Image { path: path.to_owned(), source })?;
    Ok(Input::Png(image))
}

/// Classifies the images of one file, an IDX file `BATCH` images at a
/// time, so memory stays flat whatever the number of images.
fn classify_file<W: Write>(
    model: &LstmClassifier,
    path: &Path,
    (invert, compute): (bool, tch::Kind),
    out: &mut Output<W>,
) -> Result<(), PredictError> {
    let (height, width) = (model.spec().image_height, model.spec().image_width);
    let write_err = |source| PredictError::Io { path: PathBuf::from("stdout"), source };
    let mut stream = match open_input(path)? {
        Input::Png(image) => {
            let pixels = fit(image.to_luma8(), width as u32, height as u32, invert);
            let prediction = model.predict_with(&lstm_model::images_from_bytes(&pixels, height, width)?, compute)?;
            return out.write(path, None, &prediction[0]).map_err(write_err);
        }
        Input::Idx(stream) => stream,
    };
    let (rows, cols) = (stream.rows as u32, stream.cols as u32);
    let mut index = 0;
    while let Some(batch) = stream.next_batch(BATCH)? {
        let mut pixels = Vec::with_capacity(batch.len() / (stream.rows * stream.cols) * (width * height) as usize);
        for raw in batch.chunks(stream.rows * stream.cols) {
            let image = GrayImage::from_raw(cols, rows, raw.to_vec()).expect("IDX image of rows x cols bytes");
            pixels.extend(fit(image, width as u32, height as u32, invert));
        }
        for prediction in model.predict_with(&lstm_model::images_from_bytes(&pixels, height, width)?, compute)? {
            out.write(path, Some(index), &prediction).map_err(write_err)?;
            index += 1;
        }
    }
    Ok(())
}

/// Classifies every image of `args.files` with the model of `args.model`,
/// writing one line per image (or one JSON array with `--json`) to `out`.
/// Every file is opened and its header checked before anything is printed;
/// IDX files are then read a batch at a time.
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
    for file in files {
        open_input(file)?;
    }
    let mut output = Output { out, json, rows: 0 };
    for file in files {
        classify_file(&model, file, (invert, compute), &mut output)?;
    }
    output.finish().map_err(|source| PredictError::Io { path: PathBuf::from("stdout"), source })?;
    Ok(())
}
