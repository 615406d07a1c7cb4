//! The layout of a run folder, in one place: which file holds what
//! ([`RunFolder`]), checking and clearing a folder for a new run, and writing
//! config.json and report.json (the pictures and the page are the `report`
//! crate's).

use std::path::{Path, PathBuf};

use eval::Evaluation;
use serde_json::Value;

use crate::{io_error, ExperimentError};

mod guard;
mod read;
pub use guard::{
    check_eval_out, check_new_run_dir, check_output_file, check_output_folder, is_free, lock, mark, prepare_new_run,
    resumable, warn_previous, Aside, RunLock,
};
pub use read::{BestValidation, RunReport, TrainReport};

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
pub const PAGE: &str = "report.html";
/// TensorBoard's event files (a folder).
pub const TENSORBOARD: &str = "tb";

/// What a sweep writes into each trial folder before the trial runs:
/// `{"sweep", "id", "overrides"}`.
pub const TRIAL_FILE: &str = "trial.json";
/// A sweep folder's list of trials and their states.
pub const SWEEP_FILE: &str = "sweep.json";

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

/// Files and folders a training run writes into its run folder (besides
/// temporary names, [`MARKER`] and [`LOCK`]); `--force` sets exactly these
/// aside before a new run.
pub const RUN_FILES: &[&str] =
    &[CONFIG, REPORT, METRICS, MODEL, CHECKPOINTS, CURVES, CONFUSION, ERRORS, DECISION, PAGE, TENSORBOARD];

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
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), ExperimentError> {
    let mut text = serde_json::to_string_pretty(value).expect("config and report types serialise");
    text.push('\n');
    atomic_file::write(path, text).map_err(io_error(path))
}

/// report.json: the evaluation's numbers at the top level (`accuracy`,
/// `samples`, `correct`, `loss`, `macro_f1`, `classes`, `confusion`,
/// `most_confused`) plus the `extra` fields.
pub fn write_report(run: &RunFolder, evaluation: &Evaluation, extra: Value) -> Result<(), ExperimentError> {
    let mut report = serde_json::to_value(&evaluation.report).expect("reports serialise");
    if let (Value::Object(map), Value::Object(extra)) = (&mut report, extra) {
        map.extend(extra);
    }
    write_json(&run.report(), &report)
}
