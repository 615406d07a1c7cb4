//! The layout of a run folder, in one place: which file holds what
//! ([`RunFolder`]), checking and clearing a folder for a new run, and writing
//! report.json and the pictures.

use std::path::{Path, PathBuf};

use eval::plots::{self, CurvePoint};
use eval::Evaluation;
use serde_json::Value;
use tch::Tensor;
use trainer::MetricRecord;

use crate::{io_error, Failure};

mod guard;
pub use guard::{
    check_eval_out, check_new_run_dir, check_output_folder, is_free, lock, mark, prepare_new_run, resumable,
    warn_previous, Aside, RunLock,
};

/// Misclassified images shown in errors.png.
const ERRORS_SHOWN: usize = 48;

/// The resolved experiment config.
pub const CONFIG: &str = "config.json";
/// The test report.
pub const REPORT: &str = "report.json";
/// One JSON line per displayed step and validation.
pub const METRICS: &str = "metrics.jsonl";
/// The saved model (`model.json`, `model.safetensors`).
pub const MODEL: &str = "model";
/// The trainer's checkpoints (`step-NNNNNN/`).
pub const CHECKPOINTS: &str = "checkpoints";
/// Loss and accuracy curves.
pub const CURVES: &str = "curves.svg";
/// The confusion matrix.
pub const CONFUSION: &str = "confusion.svg";
/// Misclassified test images.
pub const ERRORS: &str = "errors.png";
/// When the predictions were decided, step by step.
pub const DECISION: &str = "decision.svg";
/// The run's page: everything above on one self-contained HTML page.
pub const PAGE: &str = crate::html::REPORT_HTML;

/// The file that marks a folder as a run folder of this program: written
/// first, before anything else, when a run folder is created. `--force`
/// replaces only runs in folders that hold it.
pub const MARKER: &str = ".lstm-mnist-run";
/// The lock file: a process writing into the run folder holds an exclusive
/// `flock` on it (and has written its PID into it).
pub const LOCK: &str = ".lock";
/// Prefix of the folder `--force` moves the earlier run's files into until
/// the new run has saved its results.
pub const PREVIOUS: &str = ".previous-";

/// Test images explained on report.html: this many classified right and this many wrong.
const EXPLAINED: usize = 3;

/// Files and folders a training run writes into its run folder (besides
/// temporary names, [`MARKER`] and [`LOCK`]); `--force` sets exactly these
/// aside before a new run.
pub const RUN_FILES: &[&str] = &[
    CONFIG,
    REPORT,
    METRICS,
    MODEL,
    CHECKPOINTS,
    CURVES,
    CONFUSION,
    ERRORS,
    DECISION,
    PAGE,
    crate::tensorboard::TB_DIR,
];

/// A run folder: where each of its files lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFolder {
    dir: PathBuf,
}

impl RunFolder {
    /// The run folder `dir` (nothing is created).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.dir.join(CONFIG)
    }

    /// `report.json`.
    pub fn report(&self) -> PathBuf {
        self.dir.join(REPORT)
    }

    /// `metrics.jsonl`.
    pub fn metrics(&self) -> PathBuf {
        self.dir.join(METRICS)
    }

    /// `model/`.
    pub fn model(&self) -> PathBuf {
        self.dir.join(MODEL)
    }

    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.dir.join(CHECKPOINTS)
    }

    /// `curves.svg`.
    pub fn curves(&self) -> PathBuf {
        self.dir.join(CURVES)
    }

    /// `confusion.svg`.
    pub fn confusion(&self) -> PathBuf {
        self.dir.join(CONFUSION)
    }

    /// `errors.png`.
    pub fn errors(&self) -> PathBuf {
        self.dir.join(ERRORS)
    }

    /// `decision.svg`.
    pub fn decision(&self) -> PathBuf {
        self.dir.join(DECISION)
    }

    /// `report.html`.
    pub fn page(&self) -> PathBuf {
        self.dir.join(PAGE)
    }

    /// The trainer's files here: checkpoints in `checkpoints/`, records in
    /// `metrics.jsonl` (more sinks can be pushed onto the result).
    pub fn trainer_options<'a>(&self, resume: bool) -> trainer::Options<'a> {
        trainer::Options {
            checkpoints: Some(self.checkpoints()),
            resume,
            sinks: vec![Box::new(trainer::JsonlSink::new(self.metrics()))],
            ..Default::default()
        }
    }
}

/// The model folder `path` names: `path/model/` for a run folder, else
/// `path` itself if it holds a model; `None` when neither does.
pub fn find_model_dir(path: &Path) -> Option<PathBuf> {
    [path.join(MODEL), path.to_owned()].into_iter().find(|d| d.join(lstm_model::SPEC_FILE).is_file())
}

/// Writes `value` as pretty JSON, atomically: `path` holds either the old
/// or the new complete file, never a part.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(value).expect("config and report types serialise");
    text.push('\n');
    atomic_file::write(path, text).map_err(io_error(path))
}

/// report.json: the evaluation's numbers at the top level (`accuracy`,
/// `samples`, `correct`, `loss`, `macro_f1`, `classes`, `confusion`,
/// `most_confused`) plus the `extra` fields.
pub fn write_report(run: &RunFolder, evaluation: &Evaluation, extra: Value) -> Result<(), Failure> {
    let mut report = serde_json::to_value(&evaluation.report).expect("reports serialise");
    if let (Value::Object(map), Value::Object(extra)) = (&mut report, extra) {
        map.extend(extra);
    }
    write_json(&run.report(), &report)
}

/// confusion.svg, errors.png and (when computed) decision.svg for a test split.
pub fn write_test_pictures(
    run: &RunFolder,
    evaluation: &Evaluation,
    images: &Tensor,
    labels: &Tensor,
) -> Result<(), Failure> {
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
pub fn write_curves(run: &RunFolder) -> Result<(), Failure> {
    let records = trainer::metrics::read(&run.metrics())?;
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
) -> Result<Vec<(String, Vec<u8>)>, Failure> {
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
    let spec = model.spec();
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
) -> Result<(), Failure> {
    let explains = explain_pictures(model, evaluation, images, labels)?;
    crate::html::write_run_page(run.dir(), title, subtitle, config, explains).map_err(io_error(run.dir()))?;
    Ok(())
}
