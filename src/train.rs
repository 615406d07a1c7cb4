//! `lstm-mnist train`: config -> data -> model -> trainer -> eval -> run folder.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use lstm_model::{LstmClassifier, ModelSpec};
use serde_json::json;

use crate::run_folder::{self, write_curves, write_json, write_report, write_test_pictures};
use crate::{choose_device, io_error, set_threads, Failure};
use lstm_mnist::config::Experiment;

/// Set by Ctrl-C: the trainer stops after the current step and checkpoints.
static STOP: AtomicBool = AtomicBool::new(false);

/// Exit status after Ctrl-C (128 + SIGINT), once the checkpoint is written.
const INTERRUPTED: u8 = 130;

/// Trains from `config` (or continues the run in `resume`), returns the exit status.
///
/// Everything that can be checked is checked before the run folder is touched:
/// the config, the device, the output folder (writable, and not holding an
/// earlier run unless `force`), the data and the model. Only then is the
/// folder created (or, with `force`, emptied of the earlier run) and
/// config.json written.
pub fn run(
    config: Option<&Path>,
    sets: &[String],
    out: Option<PathBuf>,
    resume: Option<PathBuf>,
    force: bool,
) -> Result<u8, Failure> {
    let (experiment, run_dir) = match (&resume, config) {
        (Some(dir), _) => {
            let path = dir.join("config.json");
            if !path.is_file() {
                return Err(Failure::Usage(format!(
                    "--resume {}: no config.json there; give the folder of a run started with `lstm-mnist train`",
                    dir.display()
                )));
            }
            (Experiment::load(&path, &[])?, dir.clone())
        }
        (None, Some(path)) => {
            let experiment = Experiment::load(path, sets)?;
            let name = experiment.name.clone().unwrap_or_else(|| "run".to_owned());
            (experiment, out.unwrap_or_else(|| Path::new("runs").join(&name)))
        }
        (None, None) => return Err(Failure::Usage("give --config FILE or --resume RUN_DIR".into())),
    };
    experiment.train.validate()?;
    experiment.eval.validate()?;
    let threads = set_threads(experiment.threads);
    let device = choose_device(experiment.device)?;
    trainer::training_precision(experiment.train.precision, device)?;
    let eval_config = lstm_mnist::precision::eval_config(&experiment, device)?;
    if resume.is_none() {
        run_folder::check_new_run_dir(&run_dir, force)?;
    }

    let data = lstm_mnist::data::load(&experiment.data)?;
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
    lstm_mnist::memory::check_training_fits(&spec, experiment.train.batch_size, lstm_mnist::memory::available_bytes())?;
    let model = LstmClassifier::new(spec, device)?;

    if resume.is_none() {
        if force {
            run_folder::clear_run(&run_dir)?;
        }
        std::fs::create_dir_all(&run_dir).map_err(io_error(&run_dir))?;
        write_json(&run_dir.join("config.json"), &experiment)?;
    }

    // The first Ctrl-C asks for a checkpoint and a clean stop; a second one quits at once.
    let handler = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(INTERRUPTED));
        }
        eprintln!("\ninterrupt: stopping after this step and writing a checkpoint (Ctrl-C again to quit at once)");
    });
    if let Err(e) = handler {
        tracing::warn!(error = %e, "Ctrl-C handler not installed: Ctrl-C will stop without a checkpoint");
    }
    let options = trainer::Options {
        run_dir: Some(&run_dir),
        resume: resume.is_some(),
        stop: Some(&STOP),
        stop_after: None,
        progress_bar: std::io::stderr().is_terminal(),
    };
    let train_split = trainer::Split { images: &data.train.0, labels: &data.train.1 };
    let validation = data.validation.as_ref().map(|(images, labels)| trainer::Split { images, labels });
    let mut stdout = std::io::stdout().lock();
    let summary = trainer::train(&model, train_split, validation, &experiment.train, &mut stdout, &options)?;
    if summary.stop == trainer::Stop::Interrupted {
        let checkpoint = summary.checkpoint.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        eprintln!(
            "interrupted after step {} of {}; checkpoint {checkpoint}; continue with: lstm-mnist train --resume {}",
            summary.steps,
            summary.total_steps,
            run_dir.display()
        );
        return Ok(INTERRUPTED);
    }
    writeln!(stdout, "Optimization Finished!").map_err(io_error(Path::new("stdout")))?;
    let evaluation = eval::evaluate_with_predictions(&model, &data.test.0, &data.test.1, &eval_config)?;
    writeln!(stdout, "Testing Accuracy: {}", evaluation.report.accuracy).map_err(io_error(Path::new("stdout")))?;
    drop(stdout);
    tracing::info!("test report\n{}", evaluation.report.table());

    model.save(run_dir.join("model"))?;
    let extra = json!({ "train": summary, "device": format!("{device:?}"), "threads": threads });
    write_report(&run_dir, &evaluation, extra)?;
    write_curves(&run_dir)?;
    write_test_pictures(&run_dir, &evaluation, &data.test.0, &data.test.1)?;
    tracing::info!(
        run = %run_dir.display(),
        train_seconds = summary.seconds,
        samples_per_second = summary.samples_per_second,
        "run saved"
    );
    Ok(0)
}
