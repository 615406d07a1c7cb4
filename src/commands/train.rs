//! `lstm-mnist train`: config -> data -> model -> trainer -> eval -> run folder.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use lstm_model::{LstmClassifier, ModelSpec};
use serde_json::json;
use tch::Device;

use crate::config::Experiment;
use crate::data::LoadedData;
use crate::run_folder::{self, write_curves, write_json, write_report, write_test_pictures, RunFolder};
use crate::runtime::{choose_device, set_threads};
use crate::{io_error, Failure};

/// Set by Ctrl-C: the trainer stops after the current step and checkpoints.
static STOP: AtomicBool = AtomicBool::new(false);

/// Exit status after Ctrl-C (128 + SIGINT), once the checkpoint is written.
pub const INTERRUPTED: u8 = 130;

/// Arguments of `lstm-mnist train`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// The experiment config (JSON), for example configs/seed.json.
    #[arg(long, short, required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// Override a config value by its dotted key, with a JSON value
    /// (a bare string is taken as a string): --set train.batch_size=64
    #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "resume")]
    pub sets: Vec<String>,
    /// The run folder. Default: runs/<config name>/
    #[arg(long, conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run in RUN_DIR from its newest checkpoint, with its own
    /// config.json; the steps taken are those of an uninterrupted run.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "config")]
    pub resume: Option<PathBuf>,
    /// Train into an existing run folder, replacing its run (config.json,
    /// report.json, metrics.jsonl, model/, checkpoints/, pictures).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
}

/// The experiment and run folder the arguments name: the run's own
/// config.json with `--resume`, else `--config` with `--set` overrides.
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
            Ok((Experiment::load(&run.config(), &[])?, run))
        }
        (None, Some(path)) => {
            let experiment = Experiment::load(path, &args.sets)?;
            let name = experiment.name.clone().unwrap_or_else(|| "run".to_owned());
            let dir = args.out.clone().unwrap_or_else(|| Path::new("runs").join(&name));
            Ok((experiment, RunFolder::new(dir)))
        }
        (None, None) => Err(Failure::Usage("give --config FILE or --resume RUN_DIR".into())),
    }
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
    let size = data.train.0.size();
    let spec = ModelSpec::new(experiment.model.clone(), size[1], size[2], data.class_names.clone());
    let model = LstmClassifier::new(spec, device)?;
    Ok((data, model))
}

/// The first Ctrl-C asks for a checkpoint and a clean stop; a second one quits at once.
fn install_ctrlc_handler() {
    let handler = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(INTERRUPTED));
        }
        eprintln!("\ninterrupt: stopping after this step and writing a checkpoint (Ctrl-C again to quit at once)");
    });
    if let Err(e) = handler {
        tracing::warn!(error = %e, "Ctrl-C handler not installed: Ctrl-C will stop without a checkpoint");
    }
}

/// Trains from `--config` (or continues the run of `--resume`); returns the exit status.
///
/// Everything that can be checked is checked before the run folder is touched:
/// the config, the device, the output folder (writable, and not holding an
/// earlier run unless `--force`), the data and the model. Only then is the
/// folder created (or, with `--force`, emptied of the earlier run) and
/// config.json written.
pub fn run(args: &TrainArgs) -> Result<u8, Failure> {
    let (experiment, run) = resolve(args)?;
    let resume = args.resume.is_some();
    experiment.train.validate()?;
    let threads = set_threads(experiment.threads);
    let device = choose_device(experiment.device)?;
    if !resume {
        run_folder::check_new_run_dir(run.dir(), args.force)?;
    }
    let (data, model) = data_and_model(&experiment, device)?;
    if !resume {
        if args.force {
            run_folder::clear_run(run.dir())?;
        }
        std::fs::create_dir_all(run.dir()).map_err(io_error(run.dir()))?;
        write_json(&run.config(), &experiment)?;
    }
    install_ctrlc_handler();
    let options = trainer::Options {
        stop: Some(&STOP),
        validation: experiment.eval.clone(),
        progress_bar: std::io::stderr().is_terminal(),
        ..run.trainer_options(resume)
    };
    let train_split = trainer::Split { images: &data.train.0, labels: &data.train.1 };
    let validation = data.validation.as_ref().map(|(images, labels)| trainer::Split { images, labels });
    let mut stdout = std::io::stdout().lock();
    let summary = trainer::train(&model, train_split, validation, &experiment.train, &mut stdout, options)?;
    if summary.stop == trainer::Stop::Interrupted {
        let checkpoint = summary.checkpoint.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        eprintln!(
            "interrupted after step {} of {}; checkpoint {checkpoint}; continue with: lstm-mnist train --resume {}",
            summary.steps,
            summary.total_steps,
            run.dir().display()
        );
        return Ok(INTERRUPTED);
    }
    writeln!(stdout, "Optimization Finished!").map_err(io_error(Path::new("stdout")))?;
    let evaluation = eval::evaluate_with_predictions(&model, &data.test.0, &data.test.1, &experiment.eval)?;
    writeln!(stdout, "Testing Accuracy: {}", evaluation.report.accuracy).map_err(io_error(Path::new("stdout")))?;
    drop(stdout);
    tracing::info!("test report\n{}", evaluation.report.table());

    model.save(run.model())?;
    let extra = json!({ "train": summary, "device": format!("{device:?}"), "threads": threads });
    write_report(&run, &evaluation, extra)?;
    write_curves(&run)?;
    write_test_pictures(&run, &evaluation, &data.test.0, &data.test.1)?;
    tracing::info!(
        run = %run.dir().display(),
        train_seconds = summary.seconds,
        samples_per_second = summary.samples_per_second,
        "run saved"
    );
    Ok(0)
}
