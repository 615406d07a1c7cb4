//! `lstm-mnist train`: config -> data -> model -> trainer -> eval -> run folder.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use lstm_model::{LstmClassifier, ModelSpec, Workload};
use serde_json::json;
use tch::Device;

use crate::config::Experiment;
use crate::data::LoadedData;
use crate::run_folder::{self, write_curves, write_json, write_report, write_test_pictures, RunFolder};
use crate::runtime::{choose_device, set_threads};
use crate::{io_error, Failure};

/// Exit status after Ctrl-C (128 + SIGINT), once the checkpoint is written.
pub const INTERRUPTED: u8 = crate::signals::INTERRUPTED;

/// Arguments of `lstm-mnist train`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// The experiment config (JSON), for example configs/seed.json.
    #[arg(long, short, required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// Override a config value by its dotted key, with a JSON value
    /// (a bare string is taken as a string): --set train.batch_size=64
    /// With --resume, only keys that leave the checkpoint valid are allowed:
    /// the run length (to extend a finished run), display_step,
    /// checkpoint_every, keep_checkpoints, validate_every, patience, eval.*, threads.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// The run folder. Default: runs/<config name>/, or runs/<name>-2/, -3, ...
    /// when that holds something (without --force).
    #[arg(long, conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run in RUN_DIR from its newest checkpoint, with its own
    /// config.json (and the --set changes allowed there); the steps taken are
    /// those of an uninterrupted run.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "config")]
    pub resume: Option<PathBuf>,
    /// Train into an existing run folder (one marked by .lstm-mnist-run),
    /// replacing its run (config.json, report.json, metrics.jsonl, model/,
    /// checkpoints/, pictures); the earlier run is kept aside in
    /// .previous-<pid>/ until the new one is saved, and restored if it fails.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
}

/// Config keys (dotted; a key stands for everything under it) that
/// `train --resume --set` may change: they leave what a checkpoint holds
/// (model, data order, optimiser state) valid.
pub const RESUME_KEYS: &[&str] = &[
    "train.training_iters",
    "train.epochs",
    "train.max_steps",
    "train.display_step",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.validate_every",
    "train.patience",
    "eval",
    "threads",
];

/// Whether `key` is one of [`RESUME_KEYS`] or under one.
pub fn resume_may_change(key: &str) -> bool {
    RESUME_KEYS.iter().any(|k| key == *k || key.strip_prefix(k).is_some_and(|rest| rest.starts_with('.')))
}

/// The first config key whose value differs between `old` and `new` and
/// may not change on resume.
fn forbidden_change(old: &Experiment, new: &Experiment) -> Option<String> {
    let flat = |e: &Experiment| crate::compare::flatten(&serde_json::to_value(e).unwrap_or_default());
    let (a, b) = (flat(old), flat(new));
    a.keys().chain(b.keys()).find(|k| a.get(*k) != b.get(*k) && !resume_may_change(k)).cloned()
}

/// `runs/<name>` when free (missing or empty), else the first free of `runs/<name>-2`, `-3`, ...
pub fn default_run_dir(name: &str) -> PathBuf {
    let free = run_folder::is_free;
    let first = Path::new("runs").join(name);
    if free(&first) {
        return first;
    }
    (2..).map(|i| Path::new("runs").join(format!("{name}-{i}"))).find(|d| free(d)).unwrap_or(first)
}

/// The experiment and run folder the arguments name: the run's own
/// config.json with `--resume` (plus the allowed `--set` changes), else
/// `--config` with `--set` overrides.
fn resolve(args: &TrainArgs) -> Result<(Experiment, RunFolder), Failure> {
    match (&args.resume, &args.config) {
        (Some(dir), _) => {
            let run = RunFolder::new(dir);
            if !run.config().is_file() {
                return Err(Failure::Usage(format!(
                    "--resume {}: no config.json there; give the folder of a run started with `lstm-mnist train`",
                    dir.display()
                )));
            }
            let saved = Experiment::load(&run.config(), &[])?;
            let experiment = Experiment::load(&run.config(), &args.sets)?;
            if let Some(key) = forbidden_change(&saved, &experiment) {
                return Err(Failure::Usage(format!(
                    "--resume --set: `{key}` cannot change when resuming: the checkpoint holds a model, data order \
                     and optimiser state made with the old value. With --resume, --set may change {}; \
                     for `{key}` start a new run with --config",
                    RESUME_KEYS.join(", ")
                )));
            }
            Ok((experiment, run))
        }
        (None, Some(path)) => {
            let experiment = Experiment::load(path, &args.sets)?;
            let name = experiment.name.clone().unwrap_or_else(|| "run".to_owned());
            let dir = match (&args.out, args.force) {
                (Some(out), _) => out.clone(),
                (None, true) => Path::new("runs").join(&name),
                (None, false) => default_run_dir(&name),
            };
            if args.out.is_none() {
                eprintln!("run folder: {}", dir.display());
            }
            Ok((experiment, RunFolder::new(dir)))
        }
        (None, None) => Err(Failure::Usage("give --config FILE or --resume RUN_DIR".into())),
    }
}

/// On resume: the run length must not end before the newest checkpoint's
/// step. A run that goes on past it is no longer finished, so an earlier
/// report.json is removed (the new one is written at the end).
fn check_resume_length(run: &RunFolder, experiment: &Experiment, examples: i64) -> Result<(), Failure> {
    let Some(dir) = trainer::checkpoint::latest(&run.checkpoints())? else { return Ok(()) };
    let meta = trainer::checkpoint::read_meta(&dir)?;
    trainer::checkpoint::check_position(&dir, &meta, examples, experiment.train.batch_size)?;
    let total = experiment.train.steps(examples);
    if total < meta.step {
        let key = experiment.train.length_key()?;
        return Err(Failure::Usage(format!(
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

/// Loads the data and builds a fresh model fitting it.
fn data_and_model(experiment: &Experiment, device: Device) -> Result<(LoadedData, LstmClassifier), Failure> {
    let data = crate::data::load(&experiment.data)?;
    tracing::info!(
        train = data.train.1.size()[0],
        validation = data.validation.as_ref().map_or(0, |v| v.1.size()[0]),
        test = data.test.1.size()[0],
        classes = ?data.class_names,
        "data ready"
    );
    for (split, n) in [("training", data.train.1.size()[0]), ("test", data.test.1.size()[0])] {
        if n == 0 {
            return Err(Failure::Usage(format!(
                "the {split} split is empty: check the data folder (`data.dir`) and `data.validation`"
            )));
        }
    }
    let size = data.train.0.size();
    let spec = ModelSpec::new(experiment.model.clone(), size[1], size[2], data.class_names.clone());
    spec.validate()?;
    experiment.train.validate_for(size[0])?;
    crate::memory::check_training_fits(&spec, experiment.train.batch_size, crate::memory::available_bytes())?;
    let model = LstmClassifier::new(spec, device)?;
    Ok((data, model))
}

/// Trains from `--config` (or continues the run of `--resume`); returns the exit status.
///
/// Everything that can be checked is checked before the run folder is touched:
/// the config, the device, the output folder (writable, and not holding an
/// earlier run unless `--force`), the data and the model. Only then is the
/// folder created, locked and marked (with `--force`, the earlier run is set
/// aside until the new one is saved) and config.json written.
pub fn run(args: &TrainArgs) -> Result<u8, Failure> {
    let (experiment, run) = resolve(args)?;
    train_experiment(experiment, &run, (args.resume.is_some(), args.force), None)
}

/// Trains `experiment` into `run` (continuing its newest checkpoint with
/// `resume`, replacing an earlier run's files with `force`); returns the exit
/// status. On resume, a config that differs from the run's config.json (in
/// keys [`RESUME_KEYS`] allows; the caller checks) is written there before
/// training continues. `held` is the run folder's lock when the caller has
/// taken it already (a sweep trial); else it is taken here, once every
/// up-front check has passed, and held until the run is saved.
///
/// With `force`, the earlier run's files are set aside, not deleted: they are
/// deleted once the new run has saved its model and report, or once it has
/// written a checkpoint when interrupted (then it is a run that `--resume`
/// continues); they are moved back when the new run fails, or when it is
/// interrupted before its first checkpoint.
pub fn train_experiment(
    experiment: Experiment,
    run: &RunFolder,
    (resume, force): (bool, bool),
    held: Option<&run_folder::RunLock>,
) -> Result<u8, Failure> {
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
        check_resume_length(run, &experiment, data.train.1.size()[0])?;
        if Experiment::load(&run.config(), &[])? != experiment {
            write_json(&run.config(), &experiment)?;
            tracing::info!(config = %run.config().display(), "config.json updated with the --set changes");
        }
        (lock, None)
    } else {
        run_folder::prepare_new_run(run.dir(), force, held.is_some())?
    };
    let setup = Setup { experiment: &experiment, run, resume, device, threads, eval_config: &eval_config };
    let result = train_and_save(&setup, &data, &model);
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
    eval_config: &'a eval::EvalConfig,
}

/// After a `--force` run: deletes the earlier run set aside when the new one
/// was saved (or interrupted after writing a checkpoint), else moves it back.
fn settle(run: &RunFolder, aside: run_folder::Aside, result: &Result<u8, Failure>) -> Result<(), Failure> {
    let keep_new = match result {
        Ok(0) => true,
        Ok(_) => trainer::checkpoint::latest(&run.checkpoints()).is_ok_and(|c| c.is_some()),
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
/// and saves the model, report, pictures and page; returns the exit status.
fn train_and_save(setup: &Setup, data: &LoadedData, model: &LstmClassifier) -> Result<u8, Failure> {
    let (experiment, run) = (setup.experiment, setup.run);
    if !setup.resume {
        write_json(&run.config(), experiment)?;
    }
    crate::signals::install();
    let tensorboard = crate::tensorboard::TensorBoard::new(run.dir());
    let mut options = trainer::Options {
        stop: Some(&crate::signals::STOP),
        // Validation computes in fp32, whatever eval.precision says.
        validation: eval::EvalConfig { batch_size: experiment.eval.batch_size, ..Default::default() },
        progress_bar: std::io::stderr().is_terminal(),
        ..run.trainer_options(setup.resume)
    };
    options.sinks.push(Box::new(tensorboard.sink()));
    let train_split = trainer::Split { images: &data.train.0, labels: &data.train.1, lengths: None };
    let validation = data.validation.as_ref().map(|(images, labels)| trainer::Split { images, labels, lengths: None });
    let mut stdout = std::io::stdout().lock();
    let summary = trainer::train(model, train_split, validation, &experiment.train, &mut stdout, options)?;
    if summary.stop == trainer::Stop::Interrupted {
        let checkpoint = summary.checkpoint.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        eprintln!(
            "{} after step {} of {}; checkpoint {checkpoint}; continue with: lstm-mnist train --resume {}",
            crate::signals::name(),
            summary.steps,
            summary.total_steps,
            run.dir().display()
        );
        return Ok(crate::signals::exit_status());
    }
    crate::signals::training_done();
    writeln!(stdout, "Optimization Finished!").map_err(io_error(Path::new("stdout")))?;
    let evaluation = eval::evaluate_with_predictions(model, &data.test.0, &data.test.1, setup.eval_config)?;
    writeln!(stdout, "Testing Accuracy: {}", evaluation.report.accuracy).map_err(io_error(Path::new("stdout")))?;
    drop(stdout);
    tracing::info!("test report\n{}", evaluation.report.table());
    save_results(setup, model, &summary, &evaluation, data, &tensorboard)?;
    tracing::info!(
        run = %run.dir().display(),
        train_seconds = summary.seconds,
        samples_per_second = summary.samples_per_second,
        "run saved"
    );
    Ok(0)
}

/// The model, report.json, curves, test pictures, TensorBoard test results and report.html.
fn save_results(
    setup: &Setup,
    model: &LstmClassifier,
    summary: &trainer::TrainSummary,
    evaluation: &eval::Evaluation,
    data: &LoadedData,
    tensorboard: &crate::tensorboard::TensorBoard,
) -> Result<(), Failure> {
    let (experiment, run, device) = (setup.experiment, setup.run, setup.device);
    model.save(run.model())?;
    let extra = json!({ "train": summary, "device": format!("{device:?}"), "threads": setup.threads });
    write_report(run, evaluation, extra)?;
    write_curves(run)?;
    write_test_pictures(run, evaluation, &data.test.0, &data.test.1)?;
    let confusion = eval::explain::png_bytes(&eval::plots::confusion_picture(&evaluation.report))?;
    let pictures = [("test/errors", std::fs::read(run.errors()).unwrap_or_default()), ("test/confusion", confusion)];
    tensorboard
        .test_results(summary.steps, &evaluation.report, &pictures)
        .map_err(|e| Failure::Train(crate::tensorboard::sink_error(e)))?;
    let title = experiment.name.clone().unwrap_or_else(|| run.dir().display().to_string());
    let subtitle = format!("training run {}", run.dir().display());
    let precision = setup.eval_config.precision.unwrap_or_default();
    let compute =
        (model, model.resolve_precision(precision, setup.eval_config.batch_size, Workload::Inference)?.kind());
    run_folder::write_page(run, (&title, &subtitle), None, compute, evaluation, (&data.test.0, &data.test.1))
}
