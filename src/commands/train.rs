//! `lstm-mnist train`: config -> data -> model -> trainer -> eval -> run folder.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub use experiment::RESUME_KEYS;
use experiment::{default_run_dir, resume_may_change, Outcome, RunHooks, RunIo, SavedRun};

use crate::config::Experiment;
use crate::run_folder::{self, RunFolder};
use crate::Failure;

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

/// The first config key whose value differs between `old` and `new` and
/// may not change on resume.
fn forbidden_change(old: &Experiment, new: &Experiment) -> Option<String> {
    let flat = |e: &Experiment| crate::compare::flatten(&serde_json::to_value(e).unwrap_or_default());
    let (a, b) = (flat(old), flat(new));
    a.keys().chain(b.keys()).find(|k| a.get(*k) != b.get(*k) && !resume_may_change(k)).cloned()
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

/// Trains `experiment` into `run` with [`experiment::train_experiment`]
/// (see there for `resume`, `force` and `held`), its progress lines on
/// stdout, stopped by SIGINT/SIGTERM (the handlers are installed when training
/// starts) and writing every report of [`report::RunReports`]; returns the
/// exit status: 0 when saved, 130 or 143 when a signal stopped it.
pub fn train_experiment(
    experiment: Experiment,
    run: &RunFolder,
    flags: (bool, bool),
    held: Option<&run_folder::RunLock>,
) -> Result<u8, Failure> {
    train_until(experiment, run, flags, held, None)
}

/// As [`train_experiment`], stopping after step `until` with a checkpoint
/// (a sweep's rung; the run stays planned for its whole length): 0 when it
/// stopped there.
pub fn train_until(
    experiment: Experiment,
    run: &RunFolder,
    (resume, force): (bool, bool),
    held: Option<&run_folder::RunLock>,
    until: Option<i64>,
) -> Result<u8, Failure> {
    let mut stdout = std::io::stdout();
    let io = RunIo {
        progress: &mut stdout,
        stop: Some(&crate::signals::STOP),
        progress_bar: std::io::stderr().is_terminal(),
    };
    let mut hooks = CliHooks(report::RunReports::default(), until);
    match experiment::train_experiment(experiment, run, (resume, force), held, io, &mut hooks)? {
        Outcome::Finished { .. } => Ok(0),
        Outcome::Interrupted { summary }
            if until == Some(summary.steps) && !crate::signals::STOP.load(std::sync::atomic::Ordering::SeqCst) =>
        {
            let checkpoint = summary.checkpoint.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            eprintln!(
                "stopped after step {} of {} as asked; checkpoint {checkpoint}",
                summary.steps, summary.total_steps
            );
            Ok(0)
        }
        Outcome::Interrupted { summary } => {
            let checkpoint = summary.checkpoint.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            eprintln!(
                "{} after step {} of {}; checkpoint {checkpoint}; continue with: lstm-mnist train --resume {}",
                crate::signals::name(),
                summary.steps,
                summary.total_steps,
                run.dir().display()
            );
            Ok(crate::signals::exit_status())
        }
    }
}

/// The bin's hooks: the reports, plus the signal handlers installed when
/// training starts and told when it is over, and the step to stop after.
struct CliHooks(report::RunReports, Option<i64>);

impl RunHooks for CliHooks {
    fn sinks(&mut self, run: &RunFolder) -> Vec<Box<dyn trainer::MetricsSink>> {
        crate::signals::install();
        self.0.sinks(run)
    }

    fn stop_after(&self) -> Option<i64> {
        self.1
    }

    fn training_done(&mut self) {
        crate::signals::training_done();
    }

    fn saved(&mut self, saved: &SavedRun<'_>) -> Result<(), experiment::ExperimentError> {
        self.0.saved(saved)
    }
}
