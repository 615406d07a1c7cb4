//! Training an experiment into a run folder: config -> data -> model ->
//! trainer -> eval -> run folder, with the caller's progress writer, stop
//! flag and [`RunHooks`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use eval::{EvalConfig, Evaluation};
use lstm_model::{LstmClassifier, ModelSpec};
use serde_json::json;
use tch::Device;
use trainer::{MetricsSink, TrainSummary};

use crate::config::Experiment;
use crate::run_folder::{self, write_json, write_report, RunFolder};
use crate::runtime::{choose_device, set_threads};
use crate::{io_error, ExperimentError};
use data_core::{Dataset, InputSpec};

/// `runs/<name>` when free (missing or empty), else the first free of `runs/<name>-2`, `-3`, ...
pub fn default_run_dir(name: &str) -> PathBuf {
    let free = run_folder::is_free;
    let first = Path::new("runs").join(name);
    if free(&first) {
        return first;
    }
    (2..).map(|i| Path::new("runs").join(format!("{name}-{i}"))).find(|d| free(d)).unwrap_or(first)
}

/// Where a run's output goes and how it is stopped: the caller's side of
/// the process.
pub struct RunIo<'a> {
    /// The notebook's progress lines, then `Optimization Finished!` and
    /// `Testing Accuracy: ...` (the bin passes stdout).
    pub progress: &'a mut dyn Write,
    /// When set (by a signal handler, say), training stops after the current
    /// step and writes a checkpoint; [`train_experiment`] then returns
    /// [`Outcome::Interrupted`].
    pub stop: Option<&'a AtomicBool>,
    /// Draw a progress bar on stderr ([`TerminalBar`](crate::TerminalBar); only sensible on a terminal).
    pub progress_bar: bool,
}

impl std::fmt::Debug for RunIo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunIo").field("stop", &self.stop).field("progress_bar", &self.progress_bar).finish()
    }
}

/// What a caller plugs into [`train_experiment`]: more metric sinks, a word
/// when training is over, and the reports written once the run is saved.
/// Every method has a default that does nothing.
pub trait RunHooks {
    /// Called once the run folder is claimed (and config.json written), right
    /// before training starts: sinks for the trainer's records besides
    /// `metrics.jsonl` (for example TensorBoard's). The bin also installs its
    /// signal handlers here.
    fn sinks(&mut self, run: &RunFolder) -> Vec<Box<dyn MetricsSink>> {
        let _ = run;
        Vec::new()
    }

    /// Stop as if interrupted right after this step, writing a checkpoint,
    /// while the run stays planned (schedules included) for its whole
    /// length: a sweep's rung, continued later by a resumed run exactly as
    /// if it had not stopped. Default: `None`, train to the end.
    fn stop_after(&self) -> Option<i64> {
        None
    }

    /// Training is over; the test evaluation and the saving of the run follow.
    fn training_done(&mut self) {}

    /// The model and report.json are saved: writes the run's other reports
    /// (curves, pictures, page, ...). An error fails the run.
    fn saved(&mut self, saved: &SavedRun<'_>) -> Result<(), ExperimentError> {
        let _ = saved;
        Ok(())
    }
}

/// Hooks that add nothing: metrics.jsonl, the model and report.json only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl RunHooks for NoHooks {}

/// A run that has just saved its model and report.json, for [`RunHooks::saved`].
#[derive(Debug)]
pub struct SavedRun<'a> {
    /// The experiment it ran.
    pub experiment: &'a Experiment,
    /// Its run folder.
    pub run: &'a RunFolder,
    /// The trained model.
    pub model: &'a LstmClassifier,
    /// What training did.
    pub summary: &'a TrainSummary,
    /// The evaluation on the test split.
    pub evaluation: &'a Evaluation,
    /// The test split (features, lengths when the sequences differ in length, labels).
    pub test: &'a data_core::Split,
    /// The evaluation settings (precision resolved from the config).
    pub eval_config: &'a EvalConfig,
}

/// How a run that did not fail ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Trained to its end, evaluated on the test split and saved.
    Finished {
        /// What training did.
        summary: TrainSummary,
        /// Accuracy on the test split, 0 to 1.
        test_accuracy: f64,
    },
    /// The stop flag was set: training stopped after a step and wrote a
    /// checkpoint (`summary.checkpoint`), which a resumed run continues.
    Interrupted {
        /// What training did up to the stop.
        summary: TrainSummary,
    },
}

/// On resume: the run length must not end before the newest checkpoint's
/// step. A run that goes on past it is no longer finished, so an earlier
/// report.json is removed (the new one is written at the end).
fn check_resume_length(run: &RunFolder, experiment: &Experiment, examples: i64) -> Result<(), ExperimentError> {
    let Some(dir) = trainer::checkpoint::latest(&run.checkpoints())? else { return Ok(()) };
    let meta = trainer::checkpoint::read_meta(&dir)?;
    trainer::checkpoint::check_position(&dir, &meta, examples, experiment.train.batch_size)?;
    let total = experiment.train.steps(examples);
    if total < meta.step {
        let key = experiment.train.length_key()?;
        return Err(ExperimentError::Usage(format!(
            "--resume {}: `{key}` gives {total} steps, but the run has already taken {} (checkpoint {}); \
             give a run length of at least {} steps",
            run.dir().display(),
            meta.step,
            dir.display(),
            meta.step
        )));
    }
    if total > meta.step && run.report().is_file() {
        std::fs::remove_file(run.report()).map_err(io_error(&run.report()))?;
    }
    Ok(())
}

/// The description of a model with `config` for `data`: pictures of the
/// training split's size, or series of any length (nominal steps: the
/// training split's longest series, grouped `points_per_step` points per
/// step), with the data's input description and standardisation.
pub fn model_spec(config: &lstm_model::ModelConfig, data: &Dataset) -> ModelSpec {
    let size = data.train.features.size();
    let names = data.class_names.clone();
    match &data.input {
        InputSpec::Picture(_) => ModelSpec::new(config.clone(), size[1], size[2], names)
            .with_input(data.input.clone(), data.standardization.clone()),
        InputSpec::Sequence(_) => {
            ModelSpec::for_input(config.clone(), &data.input, size[1], names, data.standardization.clone())
        }
    }
}

/// Loads the data and builds a fresh model fitting it.
fn data_and_model(experiment: &Experiment, device: Device) -> Result<(Dataset, LstmClassifier), ExperimentError> {
    let data = crate::data::load(&experiment.data)?;
    tracing::info!(
        train = data.train.len(),
        validation = data.validation.as_ref().map_or(0, |v| v.len()),
        test = data.test.len(),
        classes = ?data.class_names,
        "data ready"
    );
    for (split, n) in [("training", data.train.len()), ("test", data.test.len())] {
        if n == 0 {
            return Err(ExperimentError::Usage(format!(
                "the {split} split is empty: check the data folder (`data.dir`) and `data.validation`"
            )));
        }
    }
    let size = data.train.features.size();
    // model.json records how raw input becomes the model's input, so that the
    // model folder alone predicts as the run evaluated.
    let spec = model_spec(&experiment.model, &data);
    spec.validate()?;
    experiment.train.validate_for(size[0])?;
    crate::memory::check_training_fits(&spec, experiment.train.batch_size, crate::memory::available_bytes())?;
    let model = LstmClassifier::new(spec, device)?;
    Ok((data, model))
}

/// Trains `experiment` into `run` (continuing its newest checkpoint with
/// `resume`, replacing an earlier run's files with `force`), evaluates it on
/// the test split and saves it. On resume, a config that differs from the
/// run's config.json (in keys [`crate::RESUME_KEYS`] allows; the caller checks) is
/// written there before training continues. `held` is the run folder's lock
/// when the caller has taken it already (a sweep trial); else it is taken
/// here, once every up-front check has passed, and held until the run is saved.
///
/// Everything that can be checked is checked before the run folder is
/// touched: the config, the device, the output folder (writable, and not
/// holding an earlier run unless `force`), the data and the model.
///
/// With `force`, the earlier run's files are set aside, not deleted: they are
/// deleted once the new run has saved its model and report, or once it has
/// written a checkpoint when interrupted (then it is a run that a resumed run
/// continues); they are moved back when the new run fails, or when it is
/// interrupted before its first checkpoint.
pub fn train_experiment(
    experiment: Experiment,
    run: &RunFolder,
    (resume, force): (bool, bool),
    held: Option<&run_folder::RunLock>,
    io: RunIo<'_>,
    hooks: &mut dyn RunHooks,
) -> Result<Outcome, ExperimentError> {
    experiment.train.validate()?;
    experiment.eval.validate()?;
    let threads = set_threads(experiment.threads);
    let device = choose_device(experiment.device)?;
    crate::precision::check(experiment.train.precision, "train.precision", device)?;
    let eval_config = crate::precision::eval_config(&experiment, device)?;
    if !resume {
        run_folder::check_new_run_dir(run.dir(), force)?;
    }
    let (data, model) = data_and_model(&experiment, device)?;
    let (_lock, aside) = if resume {
        let lock = if held.is_some() { None } else { Some(run_folder::lock(run.dir())?) };
        run_folder::warn_previous(run.dir());
        run_folder::mark(run.dir())?;
        check_resume_length(run, &experiment, data.train.len() as i64)?;
        if Experiment::load(&run.config(), &[])? != experiment {
            write_json(&run.config(), &experiment)?;
            tracing::info!(config = %run.config().display(), "config.json updated with the --set changes");
        }
        (lock, None)
    } else {
        run_folder::prepare_new_run(run.dir(), force, held.is_some())?
    };
    let setup = Setup { experiment: &experiment, run, resume, device, threads, eval_config: &eval_config };
    let result = train_and_save(&setup, &data, &model, io, hooks);
    if let Some(aside) = aside {
        settle(run, aside, &result)?;
    }
    result
}

/// What a run was set up with.
struct Setup<'a> {
    experiment: &'a Experiment,
    run: &'a RunFolder,
    resume: bool,
    device: Device,
    threads: usize,
    eval_config: &'a EvalConfig,
}

/// After a `--force` run: deletes the earlier run set aside when the new one
/// was saved (or interrupted after writing a checkpoint), else moves it back.
fn settle(
    run: &RunFolder,
    aside: run_folder::Aside,
    result: &Result<Outcome, ExperimentError>,
) -> Result<(), ExperimentError> {
    let keep_new = match result {
        Ok(Outcome::Finished { .. }) => true,
        Ok(Outcome::Interrupted { .. }) => trainer::checkpoint::latest(&run.checkpoints()).is_ok_and(|c| c.is_some()),
        Err(_) => false,
    };
    let path = aside.path().to_owned();
    let settled = if keep_new { aside.discard() } else { aside.restore() };
    if let Err(e) = &settled {
        eprintln!("error: {e}; the earlier run's files are in {}", path.display());
    }
    settled
}

/// Writes config.json (for a new run), trains, evaluates on the test split
/// and saves the model and report; then the hooks write the other reports.
fn train_and_save(
    setup: &Setup,
    data: &Dataset,
    model: &LstmClassifier,
    io: RunIo<'_>,
    hooks: &mut dyn RunHooks,
) -> Result<Outcome, ExperimentError> {
    let (experiment, run) = (setup.experiment, setup.run);
    if !setup.resume {
        write_json(&run.config(), experiment)?;
    }
    let mut options = trainer::Options {
        stop: io.stop,
        // Validation computes in fp32, whatever eval.precision says.
        validator: Some(Box::new(crate::EvalValidator::new(experiment.eval.batch_size))),
        renderer: io
            .progress_bar
            .then(|| Box::new(crate::TerminalBar::default()) as Box<dyn trainer::ProgressRenderer>),
        stop_after: hooks.stop_after(),
        ..run.trainer_options(setup.resume)
    };
    options.sinks.extend(hooks.sinks(run));
    let out = io.progress;
    let summary = trainer::train(model, &data.train, data.validation.as_ref(), &experiment.train, out, options)?;
    if summary.stop == trainer::Stop::Interrupted {
        return Ok(Outcome::Interrupted { summary });
    }
    hooks.training_done();
    let progress = Path::new("progress output");
    writeln!(out, "Optimization Finished!").map_err(io_error(progress))?;
    let evaluation = eval::evaluate_with_predictions(model, &data.test, setup.eval_config)?;
    writeln!(out, "Testing Accuracy: {}", evaluation.report.accuracy).map_err(io_error(progress))?;
    out.flush().map_err(io_error(progress))?;
    tracing::info!("test report\n{}", evaluation.report.table());
    model.save(run.model())?;
    let extra = json!({ "train": summary, "device": format!("{:?}", setup.device), "threads": setup.threads });
    write_report(run, &evaluation, extra)?;
    let saved = SavedRun {
        experiment,
        run,
        model,
        summary: &summary,
        evaluation: &evaluation,
        test: &data.test,
        eval_config: setup.eval_config,
    };
    hooks.saved(&saved)?;
    tracing::info!(
        run = %run.dir().display(),
        train_seconds = summary.seconds,
        samples_per_second = summary.samples_per_second,
        "run saved"
    );
    Ok(Outcome::Finished { test_accuracy: evaluation.report.accuracy, summary })
}
