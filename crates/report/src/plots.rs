//! The pictures and the page of a run folder (or an evaluation's folder):
//! curves.svg from metrics.jsonl, confusion.svg, errors.png and decision.svg
//! from a test evaluation, and report.html with a few test images explained.

use eval::plots::{self, CurvePoint};
use eval::Evaluation;
use experiment::run_folder::RunFolder;
use experiment::{io_error, ExperimentError};
use serde_json::Value;
use tch::Tensor;
use trainer::MetricRecord;

/// Misclassified images shown in errors.png.
const ERRORS_SHOWN: usize = 48;

/// Test images explained on report.html: this many classified right and this many wrong.
const EXPLAINED: usize = 3;

/// confusion.svg, errors.png and (when computed) decision.svg for a test split.
pub fn write_test_pictures(
    run: &RunFolder,
    evaluation: &Evaluation,
    images: &Tensor,
    labels: &Tensor,
) -> Result<(), ExperimentError> {
    plots::confusion_svg(&run.confusion(), &evaluation.report)?;
    let size = images.size();
    if let Some(decision) = &evaluation.report.decision {
        let unit = if decision.steps as i64 == size[1] { "rows" } else { "steps" };
        plots::decision_svg(&run.decision(), decision, unit)?;
    }
    let pixels = Vec::<f32>::try_from(images.reshape([-1]).to_kind(tch::Kind::Float)).map_err(eval::EvalError::from)?;
    let truth = Vec::<i64>::try_from(labels).map_err(eval::EvalError::from)?;
    let shape = (size[1] as usize, size[2] as usize);
    let names: Vec<String> = evaluation.report.classes.iter().map(|c| c.class.clone()).collect();
    let labels = (truth.as_slice(), evaluation.predictions.as_slice());
    plots::errors_png(&run.errors(), &pixels, shape, labels, &names, ERRORS_SHOWN)?;
    Ok(())
}

/// curves.svg from the run's metrics.jsonl.
pub fn write_curves(run: &RunFolder) -> Result<(), ExperimentError> {
    let records = run.read_metrics()?;
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for record in records {
        match record {
            MetricRecord::Train { step, loss, accuracy, .. } => {
                train.push(CurvePoint { step: step as f64, loss, accuracy })
            }
            MetricRecord::Validation { step, loss, accuracy, .. } => {
                validation.push(CurvePoint { step: step as f64, loss, accuracy })
            }
        }
    }
    plots::curves_svg(&run.curves(), &train, &validation)?;
    Ok(())
}

/// Explain pictures of a few test images for report.html: the first
/// [`EXPLAINED`] classified right and the first [`EXPLAINED`] classified wrong.
fn explain_pictures(
    (model, compute): (&lstm_model::LstmClassifier, tch::Kind),
    evaluation: &Evaluation,
    images: &Tensor,
    labels: &Tensor,
) -> Result<Vec<(String, Vec<u8>)>, ExperimentError> {
    let spec = model.spec();
    if images.size()[1..] != [spec.image_height, spec.image_width] {
        // Sequences of another length than the model's nominal one (a
        // variable-length series): the explain pictures draw pictures only.
        tracing::info!(shape = ?images.size(), "no explain pictures: the test inputs are sequences, not pictures");
        return Ok(Vec::new());
    }
    let truth = Vec::<i64>::try_from(labels).map_err(eval::EvalError::from)?;
    let right = (0..truth.len()).filter(|&i| truth[i] == evaluation.predictions[i]).take(EXPLAINED);
    let wrong = (0..truth.len()).filter(|&i| truth[i] != evaluation.predictions[i]).take(EXPLAINED);
    let chosen: Vec<usize> = right.chain(wrong).collect();
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let index = Tensor::from_slice(&chosen.iter().map(|&i| i as i64).collect::<Vec<_>>());
    let picked = images.index_select(0, &index).to_kind(tch::Kind::Float);
    let explained = eval::explain::explain(model, &picked, compute)?;
    let (h, w) = (spec.image_height as usize, spec.image_width as usize);
    let pixels = Vec::<f32>::try_from(picked.reshape([-1])).map_err(eval::EvalError::from)?;
    let read_at = eval::explain::read_order(model);
    let unit = if spec.config.sequence == lstm_model::Sequence::Rows { "row" } else { "step" };
    let mut pictures = Vec::new();
    for (k, (&i, e)) in chosen.iter().zip(&explained).enumerate() {
        let picture = eval::explain::ExplainPicture {
            pixels: &pixels[k * h * w..(k + 1) * h * w],
            shape: (h, w),
            read_at: &read_at,
            explanation: e,
            class_names: &spec.class_names,
            truth: Some(truth[i] as usize),
            unit,
        };
        let name = |c: usize| spec.class_names.get(c).cloned().unwrap_or_else(|| c.to_string());
        let caption = format!("test image {i}: true {}, predicted {}", name(truth[i] as usize), e.name);
        pictures.push((caption, eval::explain::explain_png(&picture)?));
    }
    Ok(pictures)
}

/// report.html in the run folder, from the files already there (and
/// `config` when given, else `config.json`) plus explain pictures of a few
/// test images by `model` computing in the given precision.
pub fn write_page(
    run: &RunFolder,
    (title, subtitle): (&str, &str),
    config: Option<Value>,
    model: (&lstm_model::LstmClassifier, tch::Kind),
    evaluation: &Evaluation,
    (images, labels): (&Tensor, &Tensor),
) -> Result<(), ExperimentError> {
    let explains = explain_pictures(model, evaluation, images, labels)?;
    crate::html::write_run_page(run.dir(), title, subtitle, config, explains).map_err(io_error(run.dir()))?;
    Ok(())
}
