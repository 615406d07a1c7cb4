//! What a run folder holds besides the model and checkpoints: report.json and
//! the pictures.

use std::path::Path;

use eval::plots::{self, CurvePoint};
use eval::Evaluation;
use serde_json::Value;
use tch::Tensor;
use trainer::MetricRecord;

use crate::{io_error, Failure};

/// Misclassified images shown in errors.png.
const ERRORS_SHOWN: usize = 48;

/// Writes `value` as pretty JSON through a temporary file and a rename.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(value).expect("config and report types serialise");
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_error(path))
}

/// report.json: the evaluation's numbers at the top level (`accuracy`,
/// `samples`, `correct`, `loss`, `macro_f1`, `classes`, `confusion`,
/// `most_confused`) plus the `extra` fields.
pub fn write_report(dir: &Path, evaluation: &Evaluation, extra: Value) -> Result<(), Failure> {
    let mut report = serde_json::to_value(&evaluation.report).expect("reports serialise");
    if let (Value::Object(map), Value::Object(extra)) = (&mut report, extra) {
        map.extend(extra);
    }
    write_json(&dir.join("report.json"), &report)
}

/// confusion.svg and errors.png for a test split.
pub fn write_test_pictures(dir: &Path, evaluation: &Evaluation, images: &Tensor, labels: &Tensor) -> Result<(), Failure> {
    plots::confusion_svg(&dir.join("confusion.svg"), &evaluation.report)?;
    let size = images.size();
    let pixels = Vec::<f32>::try_from(images.reshape([-1]).to_kind(tch::Kind::Float)).map_err(eval::EvalError::from)?;
    let truth = Vec::<i64>::try_from(labels).map_err(eval::EvalError::from)?;
    let shape = (size[1] as usize, size[2] as usize);
    plots::errors_png(&dir.join("errors.png"), &pixels, shape, &truth, &evaluation.predictions, ERRORS_SHOWN)?;
    Ok(())
}

/// curves.svg from the run's metrics.jsonl.
pub fn write_curves(dir: &Path) -> Result<(), Failure> {
    let records = trainer::metrics::read(&dir.join(trainer::metrics::METRICS_FILE))?;
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for record in records {
        match record {
            MetricRecord::Train { step, loss, accuracy, .. } => train.push(CurvePoint { step: step as f64, loss, accuracy }),
            MetricRecord::Validation { step, loss, accuracy, .. } => {
                validation.push(CurvePoint { step: step as f64, loss, accuracy })
            }
        }
    }
    plots::curves_svg(&dir.join("curves.svg"), &train, &validation)?;
    Ok(())
}
