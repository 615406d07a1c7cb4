//! The pictures and the page of a run folder (or an evaluation's folder):
//! curves.svg from metrics.jsonl, confusion.svg, errors.png and decision.svg
//! from a test evaluation (series plotted as channels), and report.html with
//! a few test images or series explained.

use data_core::Split;
use eval::plots::{self, CurvePoint};
use eval::Evaluation;
use experiment::run_folder::RunFolder;
use experiment::{io_error, ExperimentError};
use lstm_model::LstmClassifier;
use serde_json::Value;
use tch::Tensor;
use trainer::MetricRecord;

/// Misclassified images shown in errors.png.
const ERRORS_SHOWN: usize = 48;

/// Test images explained on report.html: this many classified right and this many wrong.
const EXPLAINED: usize = 3;

/// Whether `test` holds series rather than pictures: sequences with their
/// own lengths, a model that reads sequences (model.json's `input`), or
/// inputs of another shape than the model's picture.
pub fn is_series(model: &LstmClassifier, test: &Split) -> bool {
    let spec = model.spec();
    test.lengths.is_some()
        || matches!(spec.input, Some(data_core::InputSpec::Sequence(_)))
        || test.features.size()[1..] != [spec.image_height, spec.image_width]
}

/// confusion.svg, errors.png and (when computed) decision.svg for a test
/// split; errors.png plots the channels of misclassified series when the
/// split holds series ([`is_series`]), else shows the misclassified pictures.
pub fn write_test_pictures(
    run: &RunFolder,
    evaluation: &Evaluation,
    model: &LstmClassifier,
    test: &Split,
) -> Result<(), ExperimentError> {
    plots::confusion_svg(&run.confusion(), &evaluation.report)?;
    let size = test.features.size();
    if let Some(decision) = &evaluation.report.decision {
        let unit = if decision.steps as i64 == size[1] { "rows" } else { "steps" };
        plots::decision_svg(&run.decision(), decision, unit)?;
    }
    let values = floats(&test.features)?;
    let truth = Vec::<i64>::try_from(&test.labels).map_err(eval::EvalError::from)?;
    let names: Vec<String> = evaluation.report.classes.iter().map(|c| c.class.clone()).collect();
    let labels = (truth.as_slice(), evaluation.predictions.as_slice());
    let (steps, features) = (size[1] as usize, size[2] as usize);
    if is_series(model, test) {
        let lengths = lengths_of(test)?;
        eval::series::series_errors_png(
            &run.errors(),
            (&values, steps, features),
            &lengths,
            labels,
            &names,
            ERRORS_SHOWN,
        )?;
    } else {
        plots::errors_png(&run.errors(), &values, (steps, features), labels, &names, ERRORS_SHOWN)?;
    }
    Ok(())
}

/// A tensor's values as `f32`, row-major.
fn floats(x: &Tensor) -> Result<Vec<f32>, ExperimentError> {
    Ok(Vec::<f32>::try_from(x.reshape([-1]).to_kind(tch::Kind::Float)).map_err(eval::EvalError::from)?)
}

/// Each sequence's real length (all `T` for a split without lengths).
fn lengths_of(split: &Split) -> Result<Vec<i64>, ExperimentError> {
    let size = split.features.size();
    Ok(match &split.lengths {
        Some(l) => Vec::<i64>::try_from(l.to_kind(tch::Kind::Int64)).map_err(eval::EvalError::from)?,
        None => vec![size[1]; size[0] as usize],
    })
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

/// The test examples explained on report.html: the first [`EXPLAINED`]
/// classified right and the first [`EXPLAINED`] classified wrong.
struct Picked {
    /// Their positions in the test split.
    chosen: Vec<usize>,
    /// The true class of every test example.
    truth: Vec<i64>,
    /// Their inputs, `f32`.
    features: Tensor,
    /// Their lengths, when the split has them.
    lengths: Option<Tensor>,
}

/// [`Picked`] from a test split, `None` when there is nothing to explain.
fn pick(evaluation: &Evaluation, test: &Split) -> Result<Option<Picked>, ExperimentError> {
    let truth = Vec::<i64>::try_from(&test.labels).map_err(eval::EvalError::from)?;
    let right = (0..truth.len()).filter(|&i| truth[i] == evaluation.predictions[i]).take(EXPLAINED);
    let wrong = (0..truth.len()).filter(|&i| truth[i] != evaluation.predictions[i]).take(EXPLAINED);
    let chosen: Vec<usize> = right.chain(wrong).collect();
    if chosen.is_empty() {
        return Ok(None);
    }
    let index = Tensor::from_slice(&chosen.iter().map(|&i| i as i64).collect::<Vec<_>>());
    let features = test.features.index_select(0, &index).to_kind(tch::Kind::Float);
    let lengths = test.lengths.as_ref().map(|l| l.index_select(0, &index));
    Ok(Some(Picked { chosen, truth, features, lengths }))
}

/// Explain pictures of a few test images for report.html ([`pick`]).
fn explain_pictures(
    (model, compute): (&LstmClassifier, tch::Kind),
    evaluation: &Evaluation,
    test: &Split,
) -> Result<Vec<(String, Vec<u8>)>, ExperimentError> {
    if is_series(model, test) {
        return explain_series_pictures((model, compute), evaluation, test);
    }
    let spec = model.spec();
    let Some(Picked { chosen, truth, features: picked, .. }) = pick(evaluation, test)? else { return Ok(Vec::new()) };
    let explained = eval::explain::explain(model, &picked, compute)?;
    let (h, w) = (spec.image_height as usize, spec.image_width as usize);
    let pixels = floats(&picked)?;
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
        let caption = caption(spec, "image", i, truth[i], e);
        pictures.push((caption, eval::explain::explain_png(&picture)?));
    }
    Ok(pictures)
}

/// "test image 7: true Bag, predicted Coat" (`what` = image or series).
fn caption(spec: &lstm_model::ModelSpec, what: &str, i: usize, truth: i64, e: &eval::explain::Explanation) -> String {
    let name = |c: i64| usize::try_from(c).ok().and_then(|c| spec.class_names.get(c)).cloned();
    let truth = name(truth).unwrap_or_else(|| truth.to_string());
    format!("test {what} {i}: true {truth}, predicted {}", e.name)
}

/// The explain pictures of a few test series, each read over its real
/// steps: its channels beside the probabilities after each step.
fn explain_series_pictures(
    (model, compute): (&LstmClassifier, tch::Kind),
    evaluation: &Evaluation,
    test: &Split,
) -> Result<Vec<(String, Vec<u8>)>, ExperimentError> {
    let spec = model.spec();
    let Some(Picked { chosen, truth, features: picked, lengths }) = pick(evaluation, test)? else {
        return Ok(Vec::new());
    };
    // A series model reads raw points, grouped `points_per_step` to a step.
    let explained = match model.series_input(&picked, lengths.as_ref())? {
        Some((x, steps)) => eval::series::explain_sequences(model, &x, steps.as_ref(), compute)?,
        None if picked.size()[2] == spec.features => {
            eval::series::explain_sequences(model, &picked, lengths.as_ref(), compute)?
        }
        None => return Ok(Vec::new()),
    };
    let (points, features) = (picked.size()[1] as usize, picked.size()[2] as usize);
    let real = lengths.as_ref().map_or(Ok(vec![points as i64; chosen.len()]), Vec::<i64>::try_from);
    let real = real.map_err(eval::EvalError::from)?;
    let values = floats(&picked)?;
    let mut pictures = Vec::new();
    for (k, (&i, e)) in chosen.iter().zip(&explained).enumerate() {
        let real = (real[k].max(1) as usize).min(points);
        let picture = eval::series::SeriesPicture {
            values: &values[k * points * features..(k * points + real) * features],
            features,
            explanation: e,
            class_names: &spec.class_names,
            truth: Some(truth[i] as usize),
        };
        pictures.push((caption(spec, "series", i, truth[i], e), eval::series::series_png(&picture)?));
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
    model: (&LstmClassifier, tch::Kind),
    evaluation: &Evaluation,
    test: &Split,
) -> Result<(), ExperimentError> {
    let explains = explain_pictures(model, evaluation, test)?;
    let series = is_series(model.0, test);
    crate::html::write_run_page(run.dir(), title, subtitle, config, explains, series).map_err(io_error(run.dir()))?;
    Ok(())
}
