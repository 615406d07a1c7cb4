//! `lstm-mnist explain`: what the model believes after each step (row) of
//! each image — the class probabilities after every step, the step from which
//! its answer no longer changes, and a picture of both.

use std::io::Write;
use std::path::{Path, PathBuf};

use eval::explain::{explain, explain_png, read_order, ExplainPicture, Explanation};
use inference::{Batch, Predictor};
use lstm_model::Sequence;
use serde::Serialize;

use super::predict::{open_inputs, open_predictor, ModelInput, PredictError};
use crate::Failure;

/// Images per forward pass.
const BATCH: usize = 500;

/// Arguments of `lstm-mnist explain`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// The model and the images, as for `predict`.
    #[command(flatten)]
    pub input: ModelInput,
    /// Write one picture per image (PNG) into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON list (file, index, class, name, probability, steps, decided_at) instead of text tables.
    #[arg(long)]
    pub json: bool,
}

/// One image's explanation, as printed with `--json`.
#[derive(Debug, Serialize)]
struct Row<'a> {
    file: String,
    /// Position of the image in an IDX file; absent for a PNG.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    #[serde(flatten)]
    explanation: &'a Explanation,
}

/// The picture's file name for image `index` of `file`.
fn picture_name(file: &Path, index: Option<usize>) -> String {
    let stem = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    let stem = stem.trim_end_matches(".gz").trim_end_matches(".png").trim_end_matches(".ts").to_owned();
    match index {
        Some(i) => format!("{stem}-{i:05}.png"),
        None => format!("{stem}.png"),
    }
}

/// A compact text table of one explanation: the most probable class after
/// each step (at most 28 rows; longer sequences are sampled).
fn text_block(label: &str, e: &Explanation, unit: &str, names: &[String]) -> String {
    let steps = e.steps.len();
    let mut out =
        format!("{label}: {} ({:.4}), decided at {unit} {} of {steps}\n", e.name, e.probability, e.decided_at);
    let rows = steps.min(28);
    let width = names.iter().map(String::len).max().unwrap_or(1).min(16);
    for r in 1..=rows {
        let step = (r * steps).div_ceil(rows);
        let p = &e.steps[step - 1];
        let best = p.iter().enumerate().fold(0, |b, (i, &v)| if v > p[b] { i } else { b });
        let bar = "#".repeat((p[best] * 20.0).round() as usize);
        let mark = if step == e.decided_at { "  <- decided" } else { "" };
        let name: String = names.get(best).map_or(best.to_string(), |n| n.chars().take(width).collect());
        out.push_str(&format!("  {unit} {step:>3}  {name:<width$}  {:.3}  {bar:<20}{mark}\n", p[best]));
    }
    out
}

/// Explains every image of `args.files` with the model of `args.model`: a
/// text table per image, or one JSON list with `--json` (written element by
/// element), and with `--out` one PNG per image there. Every file is checked
/// before anything is printed; IDX files are read a batch at a time, so
/// memory stays that of one batch whatever the number of images.
pub fn run(args: &ExplainArgs, out: &mut impl Write) -> Result<(), Failure> {
    let ExplainArgs { input: ModelInput { model, files, invert, precision }, out: out_dir, json } = args;
    if files.is_empty() {
        return Err(PredictError::NoFiles.into());
    }
    let predictor = open_predictor(model, *precision)?;
    let series = matches!(predictor.input(), data_core::InputSpec::Sequence(_));
    let inputs = if series { Vec::new() } else { open_inputs(&predictor, files, *invert)? };
    let series_inputs = if series { super::series::open_all(files)? } else { Vec::new() };
    if let Some(d) = out_dir {
        // Pictures are named after the inputs (errors.png, ...): never into a training run's folder.
        crate::run_folder::check_output_folder(d, "explain", "explained")?;
        std::fs::create_dir_all(d).map_err(crate::io_error(d))?;
    }
    let class_names = predictor.model().spec().class_names.clone();
    let mut writer = Writer { out, json: *json, rows: 0, names: Names::default(), dir: out_dir.clone(), class_names };
    for input in series_inputs {
        super::series::explain(&predictor, input, &mut |file, index, e, png| writer.emit(file, index, e, "step", png))?;
    }
    for mut input in inputs {
        while let Some(batch) = input.next_batch(BATCH).map_err(PredictError::from)? {
            let tensor = predictor.tensor(&batch.pixels).map_err(PredictError::from)?;
            let explained = explain(predictor.model(), &tensor, predictor.compute()).map_err(PredictError::from)?;
            for (i, e) in explained.into_iter().enumerate() {
                writer.write(&predictor, input.path(), &batch, i, &e)?;
            }
        }
    }
    writer.finish()
}

/// Unique picture names within one `--out` folder: `a/x.png` and `b/x.png`
/// become `x.png` and `x-2.png` (with a note), never one file for both.
#[derive(Default)]
struct Names(std::collections::HashSet<String>);

impl Names {
    /// The name for image `index` of `file`, made unique.
    fn unique(&mut self, file: &Path, index: Option<usize>) -> String {
        let wanted = picture_name(file, index);
        let mut name = wanted.clone();
        let mut n = 1;
        while !self.0.insert(name.clone()) {
            n += 1;
            name = format!("{}-{n}.png", wanted.trim_end_matches(".png"));
        }
        if n > 1 {
            eprintln!("note: {}: its picture is {name}, as {wanted} is another input's", file.display());
        }
        name
    }
}

/// Where the explanations go: text tables or the elements of one JSON list,
/// written as they come, and the pictures.
struct Writer<'a, W: Write> {
    out: &'a mut W,
    json: bool,
    rows: usize,
    names: Names,
    dir: Option<PathBuf>,
    class_names: Vec<String>,
}

impl<W: Write> Writer<'_, W> {
    /// Writes the explanation `e` of image `i` of `batch` (from `file`).
    fn write(&mut self, p: &Predictor, file: &Path, batch: &Batch, i: usize, e: &Explanation) -> Result<(), Failure> {
        let spec = p.model().spec();
        let unit = if spec.config.sequence == Sequence::Rows { "row" } else { "step" };
        let picture = || {
            let (h, w) = (spec.image_height as usize, spec.image_width as usize);
            let pixels: Vec<f32> =
                batch.pixels[i * h * w..(i + 1) * h * w].iter().map(|&b| f32::from(b) / 255.0).collect();
            let read_at = read_order(p.model());
            let picture = ExplainPicture {
                pixels: &pixels,
                shape: (h, w),
                read_at: &read_at,
                explanation: e,
                class_names: &spec.class_names,
                truth: None,
                unit,
            };
            Ok(explain_png(&picture)?)
        };
        self.emit(file, batch.index(i), e, unit, &picture)
    }

    /// Writes the explanation `e` of input `index` of `file`: its picture
    /// (made by `png`) into `--out`, and its text table or JSON element.
    fn emit(
        &mut self,
        file: &Path,
        index: Option<usize>,
        e: &Explanation,
        unit: &str,
        png: &dyn Fn() -> Result<Vec<u8>, PredictError>,
    ) -> Result<(), Failure> {
        if let Some(d) = &self.dir {
            let path = d.join(self.names.unique(file, index));
            atomic_file::write(&path, png()?).map_err(crate::io_error(&path))?;
        }
        let write_err = |source| PredictError::Io { path: PathBuf::from("stdout"), source };
        if !self.json {
            let label = format!("{}{}", file.display(), index.map(|i| format!("[{i}]")).unwrap_or_default());
            let block = text_block(&label, e, unit, &self.class_names);
            return Ok(write!(self.out, "{block}").map_err(write_err)?);
        }
        let row = Row { file: file.display().to_string(), index, explanation: e };
        let text = serde_json::to_string_pretty(&row).expect("explanations serialise");
        // Exactly what pretty-printing the whole list gives: each element indented by two spaces.
        let sep = if self.rows == 0 { "[\n" } else { ",\n" };
        let indented: Vec<String> = text.lines().map(|l| format!("  {l}")).collect();
        self.rows += 1;
        Ok(write!(self.out, "{sep}{}", indented.join("\n")).map_err(write_err)?)
    }

    /// Closes the JSON list.
    fn finish(&mut self) -> Result<(), Failure> {
        let done = match (self.json, self.rows) {
            (false, _) => Ok(()),
            (true, 0) => writeln!(self.out, "[]"),
            (true, _) => writeln!(self.out, "\n]"),
        };
        Ok(done.map_err(|source| PredictError::Io { path: PathBuf::from("stdout"), source })?)
    }
}
