//! `lstm-mnist explain`: what the model believes after each step (row) of
//! each image — the class probabilities after every step, the step from which
//! its answer no longer changes, and a picture of both.

use std::io::Write;
use std::path::{Path, PathBuf};

use eval::explain::{explain, explain_png, read_order, ExplainPicture, Explanation};
use lstm_model::{LstmClassifier, Sequence, Workload};
use serde::Serialize;
use tch::Device;

use super::predict::{read_images, InputSettings, ModelInput, PredictError};
use crate::run_folder::find_model_dir;
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
    let stem = stem.trim_end_matches(".gz").trim_end_matches(".png").to_owned();
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
/// text table per image, or one JSON list with `--json`, and with `--out` one
/// PNG per image there.
pub fn run(args: &ExplainArgs, out: &mut impl Write) -> Result<(), Failure> {
    let ExplainArgs { input: ModelInput { model, files, invert, precision }, out: out_dir, json } = args;
    let (invert, json, out_dir) = (*invert, *json, out_dir.as_deref());
    if files.is_empty() {
        return Err(PredictError::NoFiles.into());
    }
    let dir = find_model_dir(model).ok_or_else(|| PredictError::NoModel(model.clone()))?;
    let precision = crate::precision::model_precision(model, *precision, Device::Cpu)?;
    let model = LstmClassifier::load(&dir, Device::Cpu)?;
    let compute = model.resolve_precision(precision, eval::DEFAULT_BATCH_SIZE, Workload::Inference)?.kind();
    let spec = model.spec().clone();
    let (height, width) = (spec.image_height, spec.image_width);
    let unit = if spec.config.sequence == Sequence::Rows { "row" } else { "step" };
    let read_at = read_order(&model);
    let standardization = super::export::run_standardization(&dir)?;
    let settings = InputSettings { invert, compute, standardization };
    if let Some(d) = out_dir {
        // Pictures are named after the inputs (errors.png, ...): never into a training run's folder.
        crate::run_folder::check_output_folder(d, "explain", "explained")?;
        std::fs::create_dir_all(d).map_err(crate::io_error(d))?;
    }
    let write_err = |source| PredictError::Io { path: PathBuf::from("stdout"), source };
    let mut rows = Vec::new();
    for file in files {
        let images = read_images(file, width as u32, height as u32, invert)?;
        let png = images.picture;
        for (chunk_index, chunk) in images.pixels.chunks(BATCH).enumerate() {
            let tensor = settings.tensor(&chunk.concat(), height, width)?;
            let explained = explain(&model, &tensor, compute).map_err(PredictError::from)?;
            for (i, e) in explained.into_iter().enumerate() {
                let index = (!png).then_some(chunk_index * BATCH + i);
                if let Some(d) = out_dir {
                    let pixels: Vec<f32> = chunk[i].iter().map(|&b| f32::from(b) / 255.0).collect();
                    let picture = ExplainPicture {
                        pixels: &pixels,
                        shape: (height as usize, width as usize),
                        read_at: &read_at,
                        explanation: &e,
                        class_names: &spec.class_names,
                        truth: None,
                        unit,
                    };
                    let path = d.join(picture_name(file, index));
                    let bytes = explain_png(&picture).map_err(PredictError::from)?;
                    atomic_file::write(&path, bytes).map_err(crate::io_error(&path))?;
                }
                if json {
                    rows.push((file.display().to_string(), index, e));
                } else {
                    let label = format!("{}{}", file.display(), index.map(|i| format!("[{i}]")).unwrap_or_default());
                    write!(out, "{}", text_block(&label, &e, unit, &spec.class_names)).map_err(write_err)?;
                }
            }
        }
    }
    if json {
        let rows: Vec<Row> =
            rows.iter().map(|(file, index, e)| Row { file: file.clone(), index: *index, explanation: e }).collect();
        let text = serde_json::to_string_pretty(&rows).expect("explanations serialise");
        writeln!(out, "{text}").map_err(write_err)?;
    }
    Ok(())
}
