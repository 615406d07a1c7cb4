//! `lstm-mnist predict`: classifies pictures (PNG, JPEG) and IDX image files
//! with a saved model, printing the class, its name and its probability for
//! each image. The `inference` crate's `Predictor` does the work: pictures are
//! prepared as the model's `model.json` says (size, invert policy,
//! standardisation), as its run prepared its training pictures.

use std::io::Write;
use std::path::{Path, PathBuf};

use data_core::InputSpec;
use image_folder_data::picture::Invert;
use inference::{ImageBatches, Predictor};
use lstm_model::{Prediction, SPEC_FILE};
use serde::Serialize;
use tch::Device;

use crate::Failure;

/// Images per forward pass when classifying a large IDX file.
const BATCH: usize = inference::BATCH;

/// The model and the images `predict` and `explain` run it on.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelInput {
    /// The run folder (holding model/) or the model folder itself.
    #[arg(long, short)]
    pub model: PathBuf,
    /// PNG and JPEG pictures and IDX image files (gzipped or raw); for a
    /// model of series, UCR/UEA `.ts` files (labels optional).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Invert pixels first (255 - value): `auto` inverts pictures whose border
    /// is mostly bright (dark drawings on light paper) and says so; `yes`
    /// (or `--invert` alone) inverts every image, IDX ones too; `no` none.
    /// Default: the model's policy (model.json; `auto` unless its run's
    /// image folder said otherwise).
    #[arg(long, value_name = "auto|yes|no", num_args = 0..=1, require_equals = true, default_missing_value = "yes")]
    pub invert: Option<Invert>,
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
    #[error("no images given: pass one or more PNG, JPEG or IDX files (.ts files for a model of series) after --model RUN_DIR")]
    NoFiles,
    /// A `.ts` file could not be read.
    #[error(transparent)]
    Series(#[from] ts_data::TsError),
    /// The model could not be opened or an input not read or classified.
    #[error(transparent)]
    Inference(#[from] inference::InferenceError),
    /// An input file could not be read, or the output not written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file at fault (`stdout` for the output).
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
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
            PredictError::Inference(e) => e.is_config(),
            PredictError::Model(e) => e.is_config(),
            PredictError::Explain(e) => e.is_config(),
            PredictError::Series(e) => e.is_config(),
            PredictError::Io { .. } => false,
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
    /// Whether the image was inverted before classifying; absent for a series.
    #[serde(skip_serializing_if = "Option::is_none")]
    inverted: Option<bool>,
    /// The class the input file gives a series (`.ts` labels), when it gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
}

/// One output line: `FILE[INDEX]: CLASS NAME (PROBABILITY)`, the name left out
/// when it is only the class index.
fn line(file: &Path, index: Option<usize>, p: &Prediction) -> String {
    let at = index.map(|i| format!("[{i}]")).unwrap_or_default();
    let class = p.class.to_string();
    let name = if p.name == class { String::new() } else { format!(" {}", p.name) };
    format!("{}{at}: {class}{name} ({:.4})", file.display(), p.probability)
}

/// Where the results go: one line per image, or the elements of one JSON
/// array written as they come (memory does not grow with the number of images).
pub(crate) struct Output<'a, W: Write> {
    out: &'a mut W,
    json: bool,
    rows: usize,
}

impl<W: Write> Output<'_, W> {
    /// Writes one input's class: `inverted` for pictures, `label` for a
    /// series whose file gives its class.
    pub(crate) fn write(
        &mut self,
        file: &Path,
        index: Option<usize>,
        prediction: &Prediction,
        (inverted, label): (Option<bool>, Option<&str>),
    ) -> Result<(), PredictError> {
        let write_err = |source| PredictError::Io { path: PathBuf::from("stdout"), source };
        if !self.json {
            return writeln!(self.out, "{}", line(file, index, prediction)).map_err(write_err);
        }
        let row = Row { file: file.display().to_string(), index, prediction, inverted, label };
        let text = serde_json::to_string_pretty(&row).expect("predictions serialise");
        // Exactly what pretty-printing the whole array gives: each element indented by two spaces.
        let sep = if self.rows == 0 { "[\n" } else { ",\n" };
        let indented: Vec<String> = text.lines().map(|l| format!("  {l}")).collect();
        self.rows += 1;
        write!(self.out, "{sep}{}", indented.join("\n")).map_err(write_err)
    }

    /// Ends the output (closes the JSON array).
    pub(crate) fn finish(&mut self) -> Result<(), PredictError> {
        let done = match (self.json, self.rows) {
            (false, _) => Ok(()),
            (true, 0) => writeln!(self.out, "[]"),
            (true, _) => writeln!(self.out, "\n]"),
        };
        done.map_err(|source| PredictError::Io { path: PathBuf::from("stdout"), source })
    }
}

/// Opens the model of `--model` in the precision asked for (or the run's).
pub(crate) fn open_predictor(model: &Path, precision: Option<lstm_model::Precision>) -> Result<Predictor, Failure> {
    if inference::find_model_dir(model).is_none() {
        return Err(PredictError::NoModel(model.to_owned()).into());
    }
    let precision = crate::precision::model_precision(model, precision, Device::Cpu)?;
    let predictor = Predictor::open(model, Device::Cpu, precision).map_err(PredictError::from)?;
    let (height, width) = (predictor.model().spec().image_height, predictor.model().spec().image_width);
    tracing::info!(model = %predictor.dir().display(), height, width, "model loaded");
    Ok(predictor)
}

/// Checks and opens every input before anything is printed: regular files
/// (a FIFO, a folder or a device is an error, not a hang), pictures of at
/// most 64 MiB, IDX image files with a valid header.
pub(crate) fn open_inputs(
    predictor: &Predictor,
    files: &[PathBuf],
    invert: Option<Invert>,
) -> Result<Vec<ImageBatches>, PredictError> {
    files.iter().map(|file| Ok(predictor.images(file, invert)?)).collect()
}

/// Says so when a picture was inverted by the `auto` rule.
pub(crate) fn note_inverted(path: &Path, policy: Invert) {
    if policy == Invert::Auto {
        eprintln!(
            "note: {}: inverted (its border is mostly bright: a dark drawing on a light background); \
             pass --invert=no to classify it as it is",
            path.display()
        );
    }
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
    let predictor = open_predictor(model, *precision)?;
    let mut output = Output { out, json: *json, rows: 0 };
    if let InputSpec::Sequence(_) = predictor.input() {
        super::series::predict(&predictor, files, &mut output)?;
        return Ok(output.finish()?);
    }
    let inputs = open_inputs(&predictor, files, *invert)?;
    let policy = predictor.invert_policy(*invert);
    for mut input in inputs {
        while let Some(batch) = input.next_batch(BATCH).map_err(PredictError::from)? {
            let predictions = predictor.classify_pixels(&batch.pixels).map_err(PredictError::from)?;
            for (i, prediction) in predictions.iter().enumerate() {
                if batch.first_index.is_none() && batch.inverted[i] {
                    note_inverted(input.path(), policy);
                }
                output.write(input.path(), batch.index(i), prediction, (Some(batch.inverted[i]), None))?;
            }
        }
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
