//! TensorBoard event files of a run, in its `tb/` folder: the trainer's
//! records as scalars while it trains ([`TensorBoardSink`]), then the test
//! results and pictures, and for sweep trials (a `trial.json` in the run
//! folder) the hparams plugin's session summaries, so that
//! `tensorboard --logdir runs` shows every run and sweep side by side.
//!
//! | tag | when | step |
//! |---|---|---|
//! | `train/loss`, `train/accuracy`, `train/learning_rate` | every displayed step | the step |
//! | `validation/loss`, `validation/accuracy` | every validation | the step |
//! | `test/accuracy`, `test/loss` | after training | the last step |
//! | `test/errors`, `test/confusion` (images) | after training | the last step |

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use experiment::run_folder::TRIAL_FILE;
use tfevents::{EventWriter, HParam, SessionStatus, TfEventsError};
use trainer::{MetricRecord, MetricsSink, TrainError};

/// The folder of the event files inside a run folder.
pub const TB_DIR: &str = experiment::run_folder::TENSORBOARD;

/// A run's event writer, shared by the trainer's sink and the code that
/// writes the test results after training.
#[derive(Clone, Default)]
pub struct TensorBoard {
    dir: PathBuf,
    writer: Rc<RefCell<Option<EventWriter>>>,
    trial: bool,
}

/// A TensorBoard write error as the trainer reports a sink's errors.
pub fn sink_error(e: TfEventsError) -> TrainError {
    match e {
        // An I/O error already names its file: "path: No space left on device (os error 28)".
        TfEventsError::Io { path, source } => TrainError::File { path, source },
        TfEventsError::Corrupt { ref path, .. } => TrainError::Metrics { path: path.clone(), source: Box::new(e) },
    }
}

/// The hyperparameters of a sweep trial: its `overrides`, each a number,
/// string or boolean (anything else as its JSON text).
pub fn trial_hparams(trial: &serde_json::Value) -> Vec<(String, HParam)> {
    let Some(overrides) = trial["overrides"].as_object() else { return Vec::new() };
    overrides
        .iter()
        .map(|(key, value)| {
            let value = match value {
                serde_json::Value::Number(n) => HParam::Number(n.as_f64().unwrap_or(f64::NAN)),
                serde_json::Value::Bool(b) => HParam::Bool(*b),
                serde_json::Value::String(s) => HParam::Text(s.clone()),
                other => HParam::Text(other.to_string()),
            };
            (key.clone(), value)
        })
        .collect()
}

impl TensorBoard {
    /// The event files of the run in `run_dir` (nothing is written yet).
    pub fn new(run_dir: &Path) -> Self {
        Self { dir: run_dir.join(TB_DIR), writer: Rc::default(), trial: run_dir.join(TRIAL_FILE).is_file() }
    }

    /// The sink to push onto the trainer's options.
    pub fn sink(&self) -> TensorBoardSink {
        TensorBoardSink { tb: self.clone() }
    }

    fn with<T>(&self, f: impl FnOnce(&mut EventWriter) -> Result<T, TfEventsError>) -> Result<T, TfEventsError> {
        let mut slot = self.writer.borrow_mut();
        if slot.is_none() {
            *slot = Some(EventWriter::create(&self.dir)?);
        }
        f(slot.as_mut().expect("writer just created"))
    }

    /// Opens a new event file; for a resumed run, marks the restart so that
    /// readers drop what the earlier session logged after its checkpoint; for
    /// a fresh sweep trial, writes the hparams session start from `trial.json`.
    pub fn start(&self, resumed_after: Option<i64>) -> Result<(), TfEventsError> {
        self.with(|w| match resumed_after {
            Some(step) => w.restart_at(step + 1),
            None if self.trial => {
                let path = self.dir.parent().unwrap_or(Path::new(".")).join(TRIAL_FILE);
                let trial: serde_json::Value =
                    std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
                w.session_start(&trial_hparams(&trial), "")
            }
            None => Ok(()),
        })
    }

    /// One trainer record as scalars.
    pub fn record(&self, record: &MetricRecord) -> Result<(), TfEventsError> {
        self.with(|w| match *record {
            MetricRecord::Train { step, loss, accuracy, lr, .. } => {
                w.add_scalar("train/loss", loss as f32, step)?;
                w.add_scalar("train/accuracy", accuracy as f32, step)?;
                w.add_scalar("train/learning_rate", lr as f32, step)
            }
            MetricRecord::Validation { step, loss, accuracy, .. } => {
                w.add_scalar("validation/loss", loss as f32, step)?;
                w.add_scalar("validation/accuracy", accuracy as f32, step)
            }
        })
    }

    /// The test results at `step`: accuracy and loss, pictures (tag and PNG
    /// bytes; ones that do not decode are left out), and the end of a trial's session.
    pub fn test_results(
        &self,
        step: i64,
        report: &eval::EvalReport,
        pictures: &[(&str, Vec<u8>)],
    ) -> Result<(), TfEventsError> {
        self.with(|w| {
            w.add_scalar("test/accuracy", report.accuracy as f32, step)?;
            w.add_scalar("test/loss", report.loss as f32, step)?;
            for (tag, bytes) in pictures {
                let Ok(img) = image::load_from_memory(bytes) else { continue };
                w.add_png(tag, bytes, (img.width(), img.height()), 3, step)?;
            }
            if self.trial {
                w.session_end(SessionStatus::Success)?;
            }
            w.sync()
        })
    }
}

/// The trainer's [`MetricsSink`] writing TensorBoard scalars as it trains.
pub struct TensorBoardSink {
    tb: TensorBoard,
}

impl MetricsSink for TensorBoardSink {
    fn start(&mut self, resumed_after: Option<i64>) -> Result<(), TrainError> {
        self.tb.start(resumed_after).map_err(sink_error)
    }

    fn record(&mut self, record: &MetricRecord) -> Result<(), TrainError> {
        self.tb.record(record).map_err(sink_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trial_overrides_become_hparams() {
        let trial = serde_json::json!({"sweep": "lr", "id": 2,
            "overrides": {"train.learning_rate": 0.003, "model.cell": "gru", "model.bidirectional": true, "x": [1]}});
        let mut hp = trial_hparams(&trial);
        hp.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            hp,
            [
                ("model.bidirectional".into(), HParam::Bool(true)),
                ("model.cell".into(), HParam::Text("gru".into())),
                ("train.learning_rate".into(), HParam::Number(0.003)),
                ("x".into(), HParam::Text("[1]".into())),
            ]
        );
        assert!(trial_hparams(&serde_json::json!({})).is_empty());
    }
}
