//! Reports of `lstm-mnist` runs as a library, usable by any binary: the
//! run folder's pictures and page ([`plots`], [`html`]), several runs
//! side by side ([`compare`]), TensorBoard event files ([`tensorboard`]),
//! and [`RunReports`], the [`experiment::RunHooks`] that writes all of a
//! training run's reports.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

pub mod compare;
pub mod html;
pub mod plots;
pub mod tensorboard;

use experiment::run_folder::RunFolder;
use experiment::{ExperimentError, RunHooks, SavedRun};
use lstm_model::Workload;
use trainer::MetricsSink;

/// The reports of a training run: TensorBoard scalars while it trains, then
/// curves.svg, the test pictures, TensorBoard's test results and report.html.
#[derive(Default)]
pub struct RunReports {
    tensorboard: Option<tensorboard::TensorBoard>,
}

impl std::fmt::Debug for RunReports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunReports").field("tensorboard", &self.tensorboard.is_some()).finish()
    }
}

impl RunHooks for RunReports {
    fn sinks(&mut self, run: &RunFolder) -> Vec<Box<dyn MetricsSink>> {
        let tensorboard = tensorboard::TensorBoard::new(run.dir());
        let sink = tensorboard.sink();
        self.tensorboard = Some(tensorboard);
        vec![Box::new(sink)]
    }

    fn saved(&mut self, saved: &SavedRun<'_>) -> Result<(), ExperimentError> {
        let (run, evaluation) = (saved.run, saved.evaluation);
        plots::write_curves(run)?;
        plots::write_test_pictures(run, evaluation, saved.model, saved.test)?;
        let confusion = eval::explain::png_bytes(&eval::plots::confusion_picture(&evaluation.report))?;
        let pictures =
            [("test/errors", std::fs::read(run.errors()).unwrap_or_default()), ("test/confusion", confusion)];
        let tensorboard = self.tensorboard.get_or_insert_with(|| tensorboard::TensorBoard::new(run.dir()));
        tensorboard
            .test_results(saved.summary.steps, &evaluation.report, &pictures)
            .map_err(|e| ExperimentError::Train(tensorboard::sink_error(e)))?;
        let title = saved.experiment.name.clone().unwrap_or_else(|| run.dir().display().to_string());
        let subtitle = format!("training run {}", run.dir().display());
        let precision = saved.eval_config.precision.unwrap_or_default();
        let model = saved.model;
        let compute =
            (model, model.resolve_precision(precision, saved.eval_config.batch_size, Workload::Inference)?.kind());
        plots::write_page(run, (&title, &subtitle), None, compute, evaluation, saved.test)
    }
}
