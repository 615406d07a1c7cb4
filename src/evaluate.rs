//! `lstm-mnist eval`: a saved model on the test split of any compatible dataset.

use std::path::{Path, PathBuf};

use lstm_model::LstmClassifier;
use serde_json::json;

use crate::run_folder::{write_report, write_test_pictures};
use crate::{choose_device, io_error, set_threads, Failure};
use lstm_mnist::config::Experiment;

/// The model folder of `path`: `path/model/` for a run folder, else `path` itself.
fn model_dir(path: &Path) -> PathBuf {
    let inner = path.join("model");
    if inner.join(lstm_model::SPEC_FILE).is_file() {
        inner
    } else {
        path.to_owned()
    }
}

/// Evaluates the model in `model` on the test split named by the config.
pub fn run(model: &Path, config: Option<&Path>, sets: &[String], out: Option<&Path>) -> Result<(), Failure> {
    let config_path = match config {
        Some(path) => path.to_owned(),
        None => model.join("config.json"),
    };
    if !config_path.is_file() {
        return Err(Failure::Usage(format!(
            "{} not found: give --config FILE to say which data to evaluate on",
            config_path.display()
        )));
    }
    let experiment = Experiment::load(&config_path, sets)?;
    let threads = set_threads(experiment.threads);
    let device = choose_device(experiment.device)?;
    let eval_config = lstm_mnist::precision::eval_config(&experiment, device)?;
    let dir = model_dir(model);
    let classifier = LstmClassifier::load(&dir, device)?;
    let data = lstm_mnist::data::load(&experiment.data)?;
    if data.class_names != classifier.spec().class_names {
        tracing::warn!(model = ?classifier.spec().class_names, data = ?data.class_names, "class names differ");
    }
    let evaluation = eval::evaluate_with_predictions(&classifier, &data.test.0, &data.test.1, &eval_config)?;
    print!("{}", evaluation.report.table());
    if let Some(out) = out {
        std::fs::create_dir_all(out).map_err(io_error(out))?;
        let extra =
            json!({ "model": dir, "data": experiment.data, "device": format!("{device:?}"), "threads": threads });
        write_report(out, &evaluation, extra)?;
        write_test_pictures(out, &evaluation, &data.test.0, &data.test.1)?;
    }
    Ok(())
}
