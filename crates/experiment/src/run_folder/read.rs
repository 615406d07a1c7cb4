//! Reading a run folder's files, typed, in one place: [`RunFolder::read_config`],
//! [`RunFolder::read_report`] and [`RunFolder::read_metrics`], used by
//! compare, sweeps, the pages and anything new. Only regular files are read
//! (a FIFO or a link to `/dev/zero` is an error, not a hang).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use trainer::MetricRecord;

use super::RunFolder;
use crate::config::{read_small_file, ConfigError, Experiment};
use crate::{io_error, ExperimentError};

/// `report.json` of a training run (or of `eval --out`): the fields readers
/// use, typed. Other fields (`classes`, `confusion`, ...) are in
/// [`RunFolder::read_report_json`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunReport {
    /// Test accuracy, 0 to 1.
    pub accuracy: f64,
    /// Mean test loss.
    #[serde(default)]
    pub loss: Option<f64>,
    /// The training summary; `None` in an evaluation's report.
    #[serde(default)]
    pub train: Option<TrainReport>,
}

/// The `train` object of report.json (trainer's `TrainSummary`); every
/// field optional, so that reports of older versions still read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TrainReport {
    /// Steps completed.
    #[serde(default)]
    pub steps: Option<i64>,
    /// Training examples seen.
    #[serde(default)]
    pub samples: Option<f64>,
    /// Training seconds over all sessions.
    #[serde(default)]
    pub seconds: Option<f64>,
    /// Loss of the last displayed minibatch.
    #[serde(default)]
    pub last_loss: Option<f64>,
    /// The best validation, when the run had a validation split.
    #[serde(default)]
    pub best_validation: Option<BestValidation>,
}

/// The best validation of a run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BestValidation {
    /// Step after which it was measured.
    #[serde(default)]
    pub step: Option<i64>,
    /// Validation accuracy, 0 to 1.
    pub accuracy: f64,
}

/// Refuses anything but a regular file (after following links).
fn check_regular(path: &Path) -> Result<(), ExperimentError> {
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    if meta.is_file() {
        Ok(())
    } else {
        Err(ExperimentError::BadFile { path: path.to_owned(), message: "not a regular file".into() })
    }
}

impl RunFolder {
    /// Whether the folder holds a run (its `config.json`).
    pub fn holds_run(&self) -> bool {
        self.config().is_file()
    }

    /// The run's `config.json`, loaded and checked as `--config` is.
    pub fn read_config(&self) -> Result<Experiment, ExperimentError> {
        Ok(Experiment::load(&self.config(), &[])?)
    }

    /// The run's `config.json` as JSON, as written (keys a hand-written
    /// config leaves out stay out; [`RunFolder::read_config`] fills in the defaults).
    pub fn read_config_json(&self) -> Result<Value, ExperimentError> {
        let path = self.config();
        let text = read_small_file(&path)?;
        Ok(crate::config::parse_json(&text).map_err(|source| ConfigError::Json { path, source })?)
    }

    /// `report.json` as JSON, every field; `None` when the run has none (it did not finish).
    pub fn read_report_json(&self) -> Result<Option<Value>, ExperimentError> {
        let path = self.report();
        if !path.exists() {
            return Ok(None);
        }
        let text = read_small_file(&path)?;
        let value = serde_json::from_str(&text)
            .map_err(|e| ExperimentError::BadFile { path: path.clone(), message: format!("not valid JSON: {e}") })?;
        Ok(Some(value))
    }

    /// `report.json`, typed; `None` when the run has none (it did not finish).
    pub fn read_report(&self) -> Result<Option<RunReport>, ExperimentError> {
        let Some(value) = self.read_report_json()? else { return Ok(None) };
        let report = serde_json::from_value(value).map_err(|e| ExperimentError::BadFile {
            path: self.report(),
            message: format!("not a report of lstm-mnist: {e}"),
        })?;
        Ok(Some(report))
    }

    /// The records of `metrics.jsonl` (empty when there is none). A line
    /// that is not a record (a torn last line of a run still writing, or a
    /// damaged line) is skipped.
    pub fn read_metrics(&self) -> Result<Vec<MetricRecord>, ExperimentError> {
        let path = self.metrics();
        if !path.exists() {
            return Ok(Vec::new());
        }
        check_regular(&path)?;
        let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
        Ok(text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_folder_reads_back_typed() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunFolder::new(dir.path());
        assert!(!run.holds_run());
        assert_eq!(run.read_report().unwrap(), None);
        assert!(run.read_metrics().unwrap().is_empty());
        std::fs::write(run.config(), r#"{"name": "x", "train": {"seed": 3}}"#).unwrap();
        assert_eq!(run.read_config().unwrap().train.seed, 3);
        assert_eq!(run.read_config_json().unwrap(), serde_json::json!({"name": "x", "train": {"seed": 3}}));
        std::fs::write(run.report(), r#"{"accuracy": 0.5, "classes": [], "train": {"steps": 7}}"#).unwrap();
        let report = run.read_report().unwrap().unwrap();
        assert_eq!((report.accuracy, report.train.unwrap().steps), (0.5, Some(7)));
        let line = r#"{"kind":"train","step":10,"samples":20,"loss":1.5,"accuracy":0.5,"lr":0.1,"samples_per_second":1.0,"elapsed":2.0}"#;
        std::fs::write(run.metrics(), format!("{line}\n{{\"kind\":\"tr")).unwrap();
        let records = run.read_metrics().unwrap();
        assert_eq!(records.len(), 1, "the torn last line is skipped");
        assert_eq!(records[0].step(), 10);
    }

    #[test]
    fn special_files_and_damaged_reports_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunFolder::new(dir.path());
        std::os::unix::fs::symlink("/dev/zero", run.metrics()).unwrap();
        let err = run.read_metrics().unwrap_err().to_string();
        assert!(err.contains("metrics.jsonl") && err.contains("not a regular file"), "{err}");
        std::fs::write(run.report(), "{\"accuracy\": ").unwrap();
        let err = run.read_report().unwrap_err().to_string();
        assert!(err.contains("report.json") && err.contains("not valid JSON"), "{err}");
        std::fs::write(run.report(), r#"{"accuracy": "high"}"#).unwrap();
        let err = run.read_report().unwrap_err().to_string();
        assert!(err.contains("report.json") && err.contains("not a report"), "{err}");
    }
}
