//! `lstm-mnist eval`: a saved model on the test split of any compatible dataset.

use std::path::{Path, PathBuf};

use lstm_model::{LstmClassifier, Workload};
use serde_json::json;

use crate::commands::predict::PredictError;
use crate::config::Experiment;
use crate::run_folder::{find_model_dir, write_report, RunFolder, CONFIG};
use crate::runtime::{choose_device, set_threads};
use crate::{io_error, Failure};
use report::plots::{write_page, write_test_pictures};

/// Arguments of `lstm-mnist eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// A run folder (its model/ is used) or a model folder (model.json + model.safetensors).
    #[arg(long, value_name = "RUN_DIR")]
    pub model: PathBuf,
    /// The config giving the data (and device); default: the run folder's config.json.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Override a config value by its dotted key: --set data.dir=/usr/share/datasets/fashion-mnist
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Also write report.json, confusion.svg and errors.png into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Evaluates the model of `--model` on the test split named by the config,
/// printing the report's table on stdout.
pub fn run(args: &EvalArgs) -> Result<(), Failure> {
    // A missing model is the real cause, whatever the config says.
    if crate::run_folder::find_model_dir(&args.model).is_none() {
        return Err(super::predict::PredictError::NoModel(args.model.clone()).into());
    }
    let config_path = args.config.clone().unwrap_or_else(|| args.model.join(CONFIG));
    if !config_path.is_file() {
        return Err(Failure::Usage(format!(
            "{} not found: give --config FILE to say which data to evaluate on",
            config_path.display()
        )));
    }
    let experiment = Experiment::load(&config_path, &args.sets)?;
    // The output folder is checked, created and locked before the evaluation runs.
    let _lock = match &args.out {
        Some(out) => Some(claim_out(out, &experiment)?),
        None => None,
    };
    let threads = set_threads(experiment.threads);
    let device = choose_device(experiment.device)?;
    let eval_config = crate::precision::eval_config(&experiment, device)?;
    let dir = find_model_dir(&args.model).ok_or_else(|| PredictError::NoModel(args.model.clone()))?;
    let classifier = LstmClassifier::load(&dir, device)?;
    let mut data = crate::data::load(&experiment.data)?;
    if let Some(map) = class_map(&classifier.spec().class_names, &data.class_names)? {
        eprintln!(
            "note: the data's classes come in another order than the model's; its labels are mapped by class name"
        );
        let torch = |e: tch::TchError| Failure::from(lstm_model::ModelError::from(e));
        let map = tch::Tensor::f_from_slice(&map).map_err(torch)?;
        data.test.labels = map.f_index_select(0, &data.test.labels).map_err(torch)?;
        data.class_names = classifier.spec().class_names.clone();
    }
    let evaluation = eval::evaluate_with_predictions(&classifier, &data.test, &eval_config)?;
    print!("{}", evaluation.report.table());
    if let Some(out) = &args.out {
        let out = RunFolder::new(out);
        let extra =
            json!({ "model": dir, "data": experiment.data, "device": format!("{device:?}"), "threads": threads });
        write_report(&out, &evaluation, extra)?;
        write_test_pictures(&out, &evaluation, &classifier, &data.test)?;
        let title = format!("evaluation of {}", dir.display());
        let subtitle = format!("model {} on the test split of {}", dir.display(), data_name(&experiment));
        let config = serde_json::to_value(&experiment).ok();
        let precision = eval_config.precision.unwrap_or_default();
        let compute = classifier.resolve_precision(precision, eval_config.batch_size, Workload::Inference)?;
        let model = (&classifier, compute.kind());
        write_page(&out, (&title, &subtitle), config, model, &evaluation, &data.test)?;
    }
    Ok(())
}

/// How the data's class indices become the model's: `None` when the class
/// names are the same in the same order; the model's index of each data class
/// when they are the same names in another order; an error (status 2) naming
/// both lists when the names differ — an accuracy over mismatched classes
/// would be meaningless.
fn class_map(model: &[String], data: &[String]) -> Result<Option<Vec<i64>>, Failure> {
    if model == data {
        return Ok(None);
    }
    let position = |name: &String| model.iter().position(|m| m == name);
    let map: Option<Vec<i64>> = data.iter().map(|name| position(name).map(|i| i as i64)).collect();
    let mut seen = map.clone().unwrap_or_default();
    seen.sort_unstable();
    seen.dedup();
    match map {
        Some(map) if data.len() == model.len() && seen.len() == model.len() => Ok(Some(map)),
        _ => Err(Failure::Usage(format!(
            "the model's classes {model:?} are not the data's {data:?}: evaluate on data with the same class \
             names (in any order), e.g. the dataset the model was trained on"
        ))),
    }
}

/// Checks `--out` (a folder, writable, not a training run's folder), creates it and locks it.
fn claim_out(out: &Path, experiment: &Experiment) -> Result<crate::run_folder::RunLock, Failure> {
    let name = data_name(experiment);
    let name = Path::new(&name).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let name = if plain { name } else { "data".to_owned() };
    crate::run_folder::check_eval_out(out, &name)?;
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    let lock = crate::run_folder::lock(out)?;
    // Checked again under the lock: a training run may have started there meanwhile.
    crate::run_folder::check_eval_out(out, &name)?;
    Ok(lock)
}

/// A short name of the data an evaluation ran on: the dataset's name, or its folder.
fn data_name(experiment: &Experiment) -> String {
    let data = serde_json::to_value(&experiment.data).unwrap_or_default();
    ["dataset", "dir", "source"]
        .iter()
        .find_map(|k| data[*k].as_str().map(str::to_owned))
        .unwrap_or_else(|| "the configured data".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn classes_are_mapped_by_name_or_refused_naming_both_lists() {
        let model = names(&["bag", "coat", "dress"]);
        assert_eq!(class_map(&model, &model).unwrap(), None);
        // The data's class 0 is "dress", the model's class 2.
        assert_eq!(class_map(&model, &names(&["dress", "bag", "coat"])).unwrap(), Some(vec![2, 0, 1]));
        for data in [
            names(&["0", "1", "2"]),
            names(&["bag", "coat"]),
            names(&["bag", "coat", "dress", "hat"]),
            names(&["bag", "bag", "coat"]),
        ] {
            let err = class_map(&model, &data).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{err}");
            let text = err.to_string();
            assert!(text.contains("[\"bag\", \"coat\", \"dress\"]") && text.contains(&format!("{data:?}")), "{text}");
        }
    }
}
