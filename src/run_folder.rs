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

/// Files and folders a training run writes into its run folder (besides
/// temporary names); `--force` removes exactly these before a new run.
pub const RUN_FILES: &[&str] = &[
    "config.json",
    "report.json",
    trainer::metrics::METRICS_FILE,
    "model",
    "checkpoints",
    "curves.svg",
    "confusion.svg",
    "errors.png",
    "decision.svg",
];

/// Writes `value` as pretty JSON through a temporary file, synced, and a
/// rename: `path` holds either the old or the new complete file, never a part.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Failure> {
    use std::io::Write;
    let mut text = serde_json::to_string_pretty(value).expect("config and report types serialise");
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io_error(&tmp))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_error(path))
}

/// Checks, without writing anything there, that a new run may go into
/// `dir`: it must be creatable and writable, and must not already hold a run
/// (or anything else) unless `force` is given.
pub fn check_new_run_dir(dir: &Path, force: bool) -> Result<(), Failure> {
    // The nearest existing ancestor must be a folder we can create files in.
    let mut existing = dir;
    loop {
        match std::fs::metadata(existing) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                return Err(Failure::Usage(format!(
                    "run folder {}: {} is a file, not a folder; choose another --out",
                    dir.display(),
                    existing.display()
                )))
            }
            // Missing (or below a file, which the parent check reports).
            Err(_) => match existing.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
                _ => {
                    existing = Path::new(".");
                    break;
                }
            },
        }
    }
    let probe = existing.join(format!(".lstm-mnist-write-test-{}", std::process::id()));
    let writable = std::fs::OpenOptions::new().write(true).create_new(true).open(&probe);
    match writable {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) => {
            return Err(Failure::Usage(format!(
                "run folder {}: cannot write into {} ({e}); choose another --out",
                dir.display(),
                existing.display()
            )))
        }
    }
    if existing == dir && !force {
        let entries = std::fs::read_dir(dir).map_err(io_error(dir))?;
        if entries.count() > 0 {
            let what = if dir.join("config.json").is_file() { "holds a run" } else { "is not empty" };
            return Err(Failure::Usage(format!(
                "run folder {} already {what}: continue it with `lstm-mnist train --resume {}`, \
                 replace it with --force, or choose another --out",
                dir.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Removes an earlier run's files ([`RUN_FILES`] and their temporary
/// leftovers) from `dir`, leaving anything else there alone.
pub fn clear_run(dir: &Path) -> Result<(), Failure> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let leftover = name.ends_with(".tmp") && RUN_FILES.iter().any(|f| name.trim_start_matches('.').starts_with(f));
        if RUN_FILES.contains(&name.as_str()) || leftover {
            let path = entry.path();
            let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            removed.map_err(io_error(&path))?;
        }
    }
    tracing::info!(run = %dir.display(), "--force: the earlier run's files were removed");
    Ok(())
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

/// confusion.svg, errors.png and (when computed) decision.svg for a test split.
pub fn write_test_pictures(
    dir: &Path,
    evaluation: &Evaluation,
    images: &Tensor,
    labels: &Tensor,
) -> Result<(), Failure> {
    plots::confusion_svg(&dir.join("confusion.svg"), &evaluation.report)?;
    let size = images.size();
    if let Some(decision) = &evaluation.report.decision {
        let unit = if decision.steps as i64 == size[1] { "rows" } else { "steps" };
        plots::decision_svg(&dir.join("decision.svg"), decision, unit)?;
    }
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
            MetricRecord::Train { step, loss, accuracy, .. } => {
                train.push(CurvePoint { step: step as f64, loss, accuracy })
            }
            MetricRecord::Validation { step, loss, accuracy, .. } => {
                validation.push(CurvePoint { step: step as f64, loss, accuracy })
            }
        }
    }
    plots::curves_svg(&dir.join("curves.svg"), &train, &validation)?;
    Ok(())
}
