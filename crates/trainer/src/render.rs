//! Where the trainer's progress goes besides the notebook lines: a
//! [`ProgressRenderer`] (a progress bar on a terminal, say) told about every
//! step, line and validation.

use std::io::Write;

/// Shows a run's progress as it goes: the trainer calls it when training
/// starts, after every step, for every notebook line, after every validation
/// and at the end. Every method has a default, so [`PlainLines`] (the
/// default) only writes the notebook lines.
pub trait ProgressRenderer {
    /// Training starts: `total_samples` training examples in the whole run,
    /// `done_samples` of them seen already (a resumed run).
    fn start(&mut self, total_samples: i64, done_samples: i64) {
        let _ = (total_samples, done_samples);
    }

    /// A step was taken; `done_samples` examples are seen now.
    fn step(&mut self, done_samples: i64) {
        let _ = done_samples;
    }

    /// Writes one notebook line (`Iter 1280, Minibatch Loss= ...`) to `out`,
    /// the progress writer given to [`train`](crate::train). A renderer that
    /// draws on the terminal hides its drawing while the line is written.
    fn line(&mut self, line: &str, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "{line}")
    }

    /// A validation measured `accuracy` (0 to 1).
    fn validation(&mut self, accuracy: f64) {
        let _ = accuracy;
    }

    /// The run stopped on an error (a diverged loss): what is drawn stays as it is.
    fn abandon(&mut self) {}

    /// The run ended (completed, stopped early or interrupted): what is drawn is cleared.
    fn finish(&mut self) {}
}

/// The default renderer: the notebook lines, nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainLines;

impl ProgressRenderer for PlainLines {}
