//! `lstm-mnist predict`: classifies pictures (PNG, JPEG) and IDX image files
//! with a saved model, printing the class, its name and its probability for
//! each image. Pictures are prepared by `image_folder_data::picture`, as the
//! image-folder data source prepares training pictures.

use std::io::Write;
use std::path::{Path, PathBuf};

use image::GrayImage;
use image_folder_data::picture::{self, Invert, PictureError};
use lstm_model::{LstmClassifier, Prediction, Workload, SPEC_FILE};
use serde::Serialize;
use tch::Device;

use crate::run_folder::find_model_dir;
use crate::Failure;

/// Images per forward pass when classifying a large IDX file.
const BATCH: usize = eval::DEFAULT_BATCH_SIZE as usize;

/// The model and the images `predict` and `explain` run it on.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelInput {
    /// The run folder (holding model/) or the model folder itself.
    #[arg(long, short)]
    pub model: PathBuf,
    /// PNG and JPEG pictures and IDX image files (gzipped or raw).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Invert pixels first (255 - value): `auto` inverts pictures whose border
    /// is mostly bright (dark drawings on light paper) and says so; `yes`
    /// (or `--invert` alone) inverts every image, IDX ones too; `no` none.
    #[arg(
        long,
        value_name = "auto|yes|no",
        num_args = 0..=1,
        require_equals = true,
        default_value = "auto",
        default_missing_value = "yes"
    )]
    pub invert: Invert,
    /// Compute precision: fp32, bf16 or auto (the faster of the two, measured).
    /// Default: the run's eval.precision, else its train.precision, else fp32.
    #[arg(long, value_name = "PRECISION", value_parser = parse_precision)]
    pub precision: Option<lstm_model::Precision>,
}

/// Arguments of `lstm-mnist predict`.
#[derive(Debug, Clone, clap::Args)]
pub struct PredictArgs {
    /// The model and the images.
    #[command(flatten)]
    pub input: ModelInput,
    /// Print one JSON array with every class probability instead of one line per image.
    #[arg(long)]
    pub json: bool,
}

/// A `--precision` value: `fp32`, `bf16`, `fp16` or `auto`, as in the config.
pub(crate) fn parse_precision(text: &str) -> Result<lstm_model::Precision, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("`{text}` is not a precision: use fp32, bf16, fp16 or auto"))
}

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
    #[error("no images given: pass one or more PNG, JPEG or IDX files after --model RUN_DIR")]
    NoFiles,
    /// A picture could not be read or decoded.
    #[error(transparent)]
    Picture(#[from] PictureError),
    /// An input file could not be read.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// An IDX file is malformed.
    #[error(transparent)]
    Data(#[from] mnist_data::DataError),
    /// The model could not be loaded or run.
    #[error(transparent)]
    Model(#[from] lstm_model::ModelError),
    /// A per-step explanation or its picture failed.
    #[error(transparent)]
    Explain(#[from] eval::EvalError),
}

impl PredictError {
    /// Whether the error is in how the command was called or configured (exit
    /// status 2) rather than in a file, the model or libtorch (1).
    pub fn is_config(&self) -> bool {
        match self {
            PredictError::NoModel(_) | PredictError::NoFiles => true,
            PredictError::Data(e) => e.is_config(),
            PredictError::Model(e) => e.is_config(),
            PredictError::Explain(e) => e.is_config(),
            PredictError::Picture(_) | PredictError::Io { .. } => false,
        }
    }
}

/// The class of one image, as printed with `--json`.
#[derive(Debug, Serialize)]
struct Row<'a> {
    file: String,
    /// Position of the image in an IDX file; absent for a picture.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    #[serde(flatten)]
    prediction: &'a Prediction,
    /// Whether the image was inverted before classifying.
    inverted: bool,
}

/// The images of one input file, ready for the model.
pub(crate) struct Images {
    /// Whether the file is a picture (one image) rather than an IDX file.
    pub picture: bool,
    /// `height × width` bytes per image.
    pub pixels: Vec<Vec<u8>>,
}

/// Reads one input file into images of `width × height` bytes: a PNG or JPEG
/// (recognised by content) is one image, prepared by [`picture::load`] (so
/// with [`Invert::Auto`] a dark drawing on a light background is inverted);
/// anything else is read as an IDX image file, inverted only with [`Invert::Yes`].
pub(crate) fn read_images(path: &Path, width: u32, height: u32, invert: Invert) -> Result<Images, PredictError> {
    if picture::is_picture_file(path)? {
        let prepared = picture::load(path, width, height, invert)?;
        return Ok(Images { picture: true, pixels: vec![prepared.pixels] });
    }
    let idx = mnist_data::idx::read_images(path)?;
    let size = idx.rows * idx.cols;
    let invert = if invert == Invert::Yes { Invert::Yes } else { Invert::No };
    let pixels: Vec<Vec<u8>> = (0..idx.count)
        .map(|i| {
            let pixels = idx.pixels[i * size..(i + 1) * size].to_vec();
            let image =
                GrayImage::from_raw(idx.cols as u32, idx.rows as u32, pixels).expect("IDX image of rows x cols bytes");
            picture::prepare(image, width, height, invert).pixels
        })
        .collect();
    Ok(Images { picture: false, pixels })
}

/// One output line: `FILE[INDEX]: CLASS NAME (PROBABILITY)`, the name left out
/// when it is only the class index.
fn line(file: &Path, index: Option<usize>, p: &Prediction) -> String {
    let at = index.map(|i| format!("[{i}]")).unwrap_or_default();
    let class = p.class.to_string();
    let name = if p.name == class { String::new() } else { format!(" {}", p.name) };
    format!("{}{at}: {class}{name} ({:.4})", file.display(), p.probability)
}

/// The largest picture file read (64 MiB).
pub const MAX_PICTURE_BYTES: u64 = 64 << 20;

/// Where the results go: one line per image, or the elements of one JSON
/// array written as they come (memory does not grow with the number of images).
struct Output<'a, W: Write> {
    out: &'a mut W,
    json: bool,
    rows: usize,
}

impl<W: Write> Output<'_, W> {
    fn write(
        &mut self,
        file: &Path,
        index: Option<usize>,
        prediction: &Prediction,
        inverted: bool,
    ) -> Result<(), PredictError> {
        let write_err = |source| PredictError::Io { path: PathBuf::from("stdout"), source };
        if !self.json {
            return writeln!(self.out, "{}", line(file, index, prediction)).map_err(write_err);
        }
        let row = Row { file: file.display().to_string(), index, prediction, inverted };
        let text = serde_json::to_string_pretty(&row).expect("predictions serialise");
        // Exactly what pretty-printing the whole array gives: each element indented by two spaces.
        let sep = if self.rows == 0 { "[\n" } else { ",\n" };
        let indented: Vec<String> = text.lines().map(|l| format!("  {l}")).collect();
        self.rows += 1;
        write!(self.out, "{sep}{}", indented.join("\n")).map_err(write_err)
    }

    fn finish(&mut self) -> Result<(), PredictError> {
        let done = match (self.json, self.rows) {
            (false, _) => Ok(()),
            (true, 0) => writeln!(self.out, "[]"),
            (true, _) => writeln!(self.out, "\n]"),
        };
        done.map_err(|source| PredictError::Io { path: PathBuf::from("stdout"), source })
    }
}

/// Checks one input before anything is printed: a regular file (after
/// following links; a FIFO or a device is an error, not a hang), a picture
/// of at most [`MAX_PICTURE_BYTES`], or an IDX image file with a valid header.
fn check_input(path: &Path) -> Result<(), PredictError> {
    let file = mnist_data::idx::open_regular(path)?;
    if picture::is_picture_file(path)? {
        let len = file.metadata().map_err(|source| PredictError::Io { path: path.to_owned(), source })?.len();
        if len > MAX_PICTURE_BYTES {
            return Err(PredictError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{len} bytes: larger than the 64 MiB a picture may have here"),
                ),
            });
        }
        return Ok(());
    }
    mnist_data::idx::ImageStream::open(path)?;
    Ok(())
}

/// How images become the model's input and how the model runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InputSettings {
    /// Which images to invert.
    pub invert: Invert,
    /// The precision of the recurrent layers.
    pub compute: tch::Kind,
    /// `(mean, std)` of a run trained on standardised pixels.
    pub standardization: Option<(f64, f64)>,
}

impl InputSettings {
    /// Pixel bytes of `[N, height, width]` images as the model's input:
    /// `pixel / 255`, then the run's standardisation if it trained with one.
    pub fn tensor(&self, pixels: &[u8], height: i64, width: i64) -> Result<tch::Tensor, PredictError> {
        let tensor = lstm_model::images_from_bytes(pixels, height, width)?;
        match self.standardization {
            Some((mean, std)) => {
                Ok(tensor.f_sub_scalar(mean).and_then(|t| t.f_div_scalar(std)).map_err(lstm_model::ModelError::from)?)
            }
            None => Ok(tensor),
        }
    }
}

/// Classifies the images of one input file: a picture is one image; an IDX
/// file is read `BATCH` images at a time, so memory stays flat whatever the
/// number of images.
fn classify_file<W: Write>(
    model: &LstmClassifier,
    path: &Path,
    settings: InputSettings,
    out: &mut Output<W>,
) -> Result<(), PredictError> {
    let InputSettings { invert, compute, .. } = settings;
    let (height, width) = (model.spec().image_height, model.spec().image_width);
    if picture::is_picture_file(path)? {
        let prepared = picture::load(path, width as u32, height as u32, invert)?;
        if prepared.inverted && invert == Invert::Auto {
            eprintln!(
                "note: {}: inverted (its border is mostly bright: a dark drawing on a light background); \
                 pass --invert=no to classify it as it is",
                path.display()
            );
        }
        let prediction = model.predict_with(&settings.tensor(&prepared.pixels, height, width)?, compute)?;
        return out.write(path, None, &prediction[0], prepared.inverted);
    }
    let mut stream = mnist_data::idx::ImageStream::open(path)?;
    let invert = if invert == Invert::Yes { Invert::Yes } else { Invert::No };
    let (rows, cols) = (stream.rows, stream.cols);
    let mut index = 0;
    while let Some(batch) = stream.next_batch(BATCH)? {
        let mut pixels = Vec::with_capacity(batch.len() / (rows * cols) * (width * height) as usize);
        for raw in batch.chunks(rows * cols) {
            let image =
                GrayImage::from_raw(cols as u32, rows as u32, raw.to_vec()).expect("IDX image of rows x cols bytes");
            pixels.extend(picture::prepare(image, width as u32, height as u32, invert).pixels);
        }
        for prediction in model.predict_with(&settings.tensor(&pixels, height, width)?, compute)? {
            out.write(path, Some(index), &prediction, invert == Invert::Yes)?;
            index += 1;
        }
    }
    Ok(())
}

/// Classifies every image of `args.files` with the model of `args.model`,
/// writing one line per image (or one JSON array with `--json`) to `out`.
/// Every file is checked before anything is printed; IDX files are then read
/// a batch at a time and the JSON array written element by element.
pub fn run(args: &PredictArgs, out: &mut impl Write) -> Result<(), Failure> {
    let PredictArgs { input: ModelInput { model, files, invert, precision }, json } = args;
    if files.is_empty() {
        return Err(PredictError::NoFiles.into());
    }
    let dir = find_model_dir(model).ok_or_else(|| PredictError::NoModel(model.clone()))?;
    let precision = crate::precision::model_precision(model, *precision, Device::Cpu)?;
    let model = LstmClassifier::load(&dir, Device::Cpu)?;
    let compute = model.resolve_precision(precision, eval::DEFAULT_BATCH_SIZE, Workload::Inference)?.kind();
    let (height, width) = (model.spec().image_height, model.spec().image_width);
    tracing::info!(model = %dir.display(), height, width, "model loaded");
    for file in files {
        check_input(file)?;
    }
    let standardization = super::export::run_standardization(&dir)?;
    let settings = InputSettings { invert: *invert, compute, standardization };
    let mut output = Output { out, json: *json, rows: 0 };
    for file in files {
        classify_file(&model, file, settings, &mut output)?;
    }
    output.finish()?;
    Ok(())
}

/// Joins `--invert VALUE` into `--invert=VALUE` when VALUE is one of the
/// invert words, so that both spellings work while a bare `--invert` before a
/// file name keeps meaning `--invert=yes`.
pub fn join_invert_values(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let words = ["auto", "yes", "no", "true", "false"];
    let mut out: Vec<std::ffi::OsString> = Vec::new();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        if arg == "--invert" {
            if let Some(word) = args.peek().and_then(|w| w.to_str()).filter(|w| words.contains(w)) {
                out.push(format!("--invert={word}").into());
                args.next();
                continue;
            }
        }
        out.push(arg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invert_values_join_only_the_invert_words() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let joined = join_invert_values(args(&["predict", "--invert", "no", "a.png", "--invert", "b.png"]));
        assert_eq!(joined, args(&["predict", "--invert=no", "a.png", "--invert", "b.png"]));
        assert_eq!(join_invert_values(args(&["x", "--invert"])), args(&["x", "--invert"]));
    }

    #[test]
    fn lines_show_the_name_unless_it_is_the_index() {
        let p = |class: usize, name: &str| Prediction {
            class,
            name: name.into(),
            probability: 0.98,
            probabilities: vec![],
        };
        assert_eq!(line(Path::new("a.png"), None, &p(7, "seven")), "a.png: 7 seven (0.9800)");
        assert_eq!(line(Path::new("t.idx"), Some(3), &p(7, "7")), "t.idx[3]: 7 (0.9800)");
    }
}
