//! `metrics.jsonl`: one JSON record per line, per displayed step and per validation.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// File name of the metrics log inside a run folder.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MetricRecord {
    /// A displayed training step (the notebook's progress line).
    Train {
        /// Step number (1-based).
        step: i64,
        /// Training examples seen so far.
        samples: i64,
        /// Loss of the step's minibatch, measured after the update as the notebook does.
        loss: f64,
        /// Accuracy of that minibatch, 0 to 1.
        accuracy: f64,
        /// Learning rate of the step.
        lr: f64,
        /// Throughput since the previous record.
        samples_per_second: f64,
        /// Training seconds since the run started (over all sessions).
        elapsed: f64,
    },
    /// A validation.
    Validation {
        /// Step after which it was measured.
        step: i64,
        /// Training examples seen so far.
        samples: i64,
        /// Mean cross-entropy on the validation split.
        loss: f64,
        /// Accuracy on the validation split.
        accuracy: f64,
        /// Whether it is the best so far.
        best: bool,
        /// Training seconds since the run started.
        elapsed: f64,
    },
}

impl MetricRecord {
    /// The step of the record.
    pub fn step(&self) -> i64 {
        match self {
            MetricRecord::Train { step, .. } | MetricRecord::Validation { step, .. } => *step,
        }
    }
}

/// Reads every record of a `metrics.jsonl`.
pub fn read(path: &Path) -> Result<Vec<MetricRecord>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|source| TrainError::File { path: path.to_owned(), source })?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| TrainError::BadCheckpoint(format!("{} line {}: {e}", path.display(), i + 1)))
        })
        .collect()
}

/// Reads the records of a `metrics.jsonl` that a killed run may have left
/// with a torn last line (one not ended by a newline): that line is dropped,
/// any other bad line is an error.
fn read_after_crash(path: &Path) -> Result<Vec<MetricRecord>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|source| TrainError::File { path: path.to_owned(), source })?;
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    if complete.len() < text.len() {
        tracing::warn!(path = %path.display(), "dropping a torn last line left by an interrupted run");
    }
    complete
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| TrainError::BadCheckpoint(format!("{} line {}: {e}", path.display(), i + 1)))
        })
        .collect()
}

/// Appends records to `metrics.jsonl`, line by line.
pub(crate) struct MetricsWriter {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsWriter {
    /// Starts the file afresh, or (resuming after step `keep_upto`) keeps the
    /// records up to that step and drops later ones written after the checkpoint.
    pub fn open(run_dir: &Path, keep_upto: Option<i64>) -> Result<Self, TrainError> {
        let path = run_dir.join(METRICS_FILE);
        let err = |source| TrainError::File { path: path.clone(), source };
        let kept = match keep_upto {
            Some(step) if path.is_file() => read_after_crash(&path)?.into_iter().filter(|r| r.step() <= step).collect(),
            _ => Vec::new(),
        };
        let mut text = String::new();
        for record in &kept {
            text.push_str(&serde_json::to_string(record).map_err(|e| TrainError::BadCheckpoint(e.to_string()))?);
            text.push('\n');
        }
        let tmp = run_dir.join(format!(".{METRICS_FILE}.tmp"));
        std::fs::write(&tmp, text).map_err(|source| TrainError::File { path: tmp.clone(), source })?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        let file = std::fs::OpenOptions::new().append(true).open(&path).map_err(err)?;
        Ok(Self { path, file })
    }

    pub fn write(&mut self, record: &MetricRecord) -> Result<(), TrainError> {
        let mut line = serde_json::to_string(record).map_err(|e| TrainError::BadCheckpoint(e.to_string()))?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(|source| TrainError::File { path: self.path.clone(), source })
    }
}
