//! Metric records and where they go: a [`MetricsSink`] receives every
//! record; [`JsonlSink`] writes them as JSON lines (`metrics.jsonl`).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// One metric record: a displayed training step or a validation (one line of `metrics.jsonl`).
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

/// Receives the trainer's metric records as they are made.
///
/// `start` is called once before the first step, with the step the run
/// resumes after (if it does), so that a sink continuing an earlier session
/// can drop what that session recorded after its last checkpoint.
pub trait MetricsSink {
    /// Called once before training starts.
    fn start(&mut self, resumed_after: Option<i64>) -> Result<(), TrainError> {
        let _ = resumed_after;
        Ok(())
    }
    /// Records one displayed step or validation.
    fn record(&mut self, record: &MetricRecord) -> Result<(), TrainError>;
    /// Called after a checkpoint of step `step` was written to `dir`.
    fn on_checkpoint(&mut self, step: i64, dir: &Path) -> Result<(), TrainError> {
        let _ = (step, dir);
        Ok(())
    }
    /// Called once when training ends without an error.
    fn finish(&mut self) -> Result<(), TrainError> {
        Ok(())
    }
}

fn metrics_error(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Metrics { path: path.to_owned(), source: Box::new(source) }
}

fn parse_lines<'t>(path: &Path, lines: impl Iterator<Item = &'t str>) -> Result<Vec<MetricRecord>, TrainError> {
    lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| TrainError::Metrics {
                path: path.to_owned(),
                source: format!("line {}: {e}", i + 1).into(),
            })
        })
        .collect()
}

/// Reads every record of a JSON-lines metrics file.
pub fn read(path: &Path) -> Result<Vec<MetricRecord>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(metrics_error(path))?;
    parse_lines(path, text.lines())
}

/// Reads the records of a metrics file to continue it on resume. A killed
/// run may have left a torn last line (one not ended by a newline), and a
/// line may have been damaged or edited: such lines are dropped with a
/// warning naming the line (the checkpoint, not this log, is what a resumed
/// run continues from), and the file is rewritten without them.
fn read_after_crash(path: &Path) -> Result<Vec<MetricRecord>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(metrics_error(path))?;
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    if complete.len() < text.len() {
        tracing::warn!(path = %path.display(), "dropping a torn last line left by an interrupted run");
    }
    let mut records = Vec::new();
    for (i, line) in complete.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(e) => {
                let shown: String = line.chars().take(80).collect();
                tracing::warn!(
                    path = %path.display(),
                    line = i + 1,
                    content = %shown,
                    "dropping a line that is not a metrics record ({e}); the run continues from its checkpoint"
                );
            }
        }
    }
    Ok(records)
}

/// Appends records to a JSON-lines file (`metrics.jsonl`), one line each.
///
/// A fresh run starts the file afresh; a resumed one keeps the records up to
/// the checkpoint's step and drops later ones, written after it.
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl JsonlSink {
    /// A sink writing to `path` (created or rewritten by [`MetricsSink::start`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), file: None }
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn to_line(path: &Path, record: &MetricRecord) -> Result<String, TrainError> {
    let mut line = serde_json::to_string(record)
        .map_err(|e| TrainError::Metrics { path: path.to_owned(), source: Box::new(e) })?;
    line.push('\n');
    Ok(line)
}

impl MetricsSink for JsonlSink {
    fn start(&mut self, resumed_after: Option<i64>) -> Result<(), TrainError> {
        let path = &self.path;
        let kept = match resumed_after {
            Some(step) if path.is_file() => read_after_crash(path)?.into_iter().filter(|r| r.step() <= step).collect(),
            _ => Vec::new(),
        };
        let mut text = String::new();
        for record in &kept {
            text.push_str(&to_line(path, record)?);
        }
        atomic_file::write(path, text).map_err(metrics_error(path))?;
        self.file = Some(std::fs::OpenOptions::new().append(true).open(path).map_err(metrics_error(path))?);
        Ok(())
    }

    fn record(&mut self, record: &MetricRecord) -> Result<(), TrainError> {
        let line = to_line(&self.path, record)?;
        let Some(file) = &mut self.file else {
            return Err(TrainError::Metrics { path: self.path.clone(), source: "record before start".into() });
        };
        file.write_all(line.as_bytes()).map_err(metrics_error(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train_record(step: i64) -> MetricRecord {
        MetricRecord::Train {
            step,
            samples: step * 10,
            loss: 1.0,
            accuracy: 0.5,
            lr: 0.1,
            samples_per_second: 1.0,
            elapsed: 1.0,
        }
    }

    /// On resume, a damaged line and a torn last line are dropped, the good
    /// records up to the resumed step are kept and the file is rewritten.
    #[test]
    fn resume_drops_bad_and_torn_lines_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let line = |step| to_line(&path, &train_record(step)).unwrap();
        let text = format!("{}{{\"kind\": \"train\", garbage\n{}{}{{\"kind\":", line(1), line(2), line(3));
        std::fs::write(&path, text).unwrap();
        let mut sink = JsonlSink::new(&path);
        sink.start(Some(2)).unwrap();
        assert_eq!(read(&path).unwrap(), vec![train_record(1), train_record(2)]);
    }
}
