//! What [`train_experiment`](crate::train_experiment) plugs into the trainer:
//! validation through `eval` and, on a terminal, a progress bar on stderr.

use eval::EvalConfig;
use indicatif::{ProgressBar, ProgressStyle};
use lstm_model::LstmClassifier;
use trainer::{ProgressRenderer, Split, TrainError, Validation, Validator};

/// Validates with `eval`'s batched loss and accuracy, in fp32 whatever
/// `eval.precision` says, in batches of `eval.batch_size`.
#[derive(Debug, Clone)]
pub struct EvalValidator {
    /// The evaluation settings of the validation passes.
    pub config: EvalConfig,
}

impl EvalValidator {
    /// A validator computing in fp32 in batches of `batch_size`.
    pub fn new(batch_size: i64) -> Self {
        EvalValidator { config: EvalConfig { batch_size, ..Default::default() } }
    }
}

impl Validator for EvalValidator {
    fn validate(&mut self, model: &LstmClassifier, split: &Split) -> Result<Validation, TrainError> {
        let (x, lengths, y) = (&split.features, split.lengths.as_ref(), &split.labels);
        let (loss, accuracy) = eval::loss_and_accuracy_sequences(model, x, lengths, y, &self.config).map_err(|e| {
            let config = e.is_config();
            TrainError::validation(e, config)
        })?;
        Ok(Validation { loss, accuracy })
    }
}

/// A progress bar on stderr (samples, throughput, ETA, last validation
/// accuracy); the notebook lines are written above it. Meant for a terminal.
#[derive(Debug, Default)]
pub struct TerminalBar {
    /// The bar, once training has started.
    bar: Option<ProgressBar>,
}

impl ProgressRenderer for TerminalBar {
    fn start(&mut self, total_samples: i64, done_samples: i64) {
        let bar = ProgressBar::new(total_samples as u64);
        let style =
            ProgressStyle::with_template("{bar:30} {human_pos}/{human_len} samples  {per_sec}  ETA {eta}  {msg}");
        if let Ok(style) = style {
            bar.set_style(style);
        }
        bar.set_position(done_samples as u64);
        bar.reset_eta();
        self.bar = Some(bar);
    }

    fn step(&mut self, done_samples: i64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done_samples as u64);
        }
    }

    fn line(&mut self, line: &str, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match &self.bar {
            Some(bar) => bar.suspend(|| writeln!(out, "{line}")),
            None => writeln!(out, "{line}"),
        }
    }

    fn validation(&mut self, accuracy: f64) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("val acc {accuracy:.4}"));
        }
    }

    fn abandon(&mut self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
