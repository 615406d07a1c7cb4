//! Which precision evaluation, `predict` and `explain` compute in.
//!
//! `eval.precision` when set, else `train.precision`. `"auto"` stays `Auto`
//! here: it is resolved where the model is at hand, by measuring
//! ([`lstm_model::LstmClassifier::resolve_precision`]). The default stays
//! fp32, which is bit-exact reproducible.

use std::path::{Path, PathBuf};

use eval::EvalConfig;
use lstm_model::Precision;
use serde_json::Value;
use tch::Device;

use crate::config::{ConfigError, Experiment};
use crate::run_folder::RunFolder;

/// The config key that decides: `eval.precision`, or `train.precision` when that is unset.
fn deciding_key(eval: Option<Precision>) -> &'static str {
    if eval.is_some() {
        "eval.precision"
    } else {
        "train.precision"
    }
}

/// Checks `requested` (read from `key`) for `device`: fp16 off CUDA is an
/// error naming `key`. `"auto"` is returned as it is (resolved later, on the model).
pub fn check(requested: Precision, key: &'static str, device: Device) -> Result<Precision, ConfigError> {
    if requested == Precision::Fp16 && !device.is_cuda() {
        return Err(ConfigError::Fp16OffCuda { key });
    }
    Ok(requested)
}

/// The precision evaluation, `predict` and `explain` use for `experiment` on
/// `device`: `eval.precision`, else `train.precision` (`"auto"` unresolved:
/// commands that run the model outside `eval::evaluate` resolve it with
/// `LstmClassifier::resolve_precision` and pass `.kind()` to `forward_with`,
/// `forward_t_with` or `predict_with`).
pub fn eval_precision(experiment: &Experiment, device: Device) -> Result<Precision, ConfigError> {
    let eval = experiment.eval.precision;
    check(eval.unwrap_or(experiment.train.precision), deciding_key(eval), device)
}

/// The experiment's `eval` section with [`eval_precision`] filled in, for `eval::evaluate`.
pub fn eval_config(experiment: &Experiment, device: Device) -> Result<EvalConfig, ConfigError> {
    Ok(EvalConfig { precision: Some(eval_precision(experiment, device)?), ..experiment.eval.clone() })
}

/// The run's `config.json` for a run folder or its `model/` folder, if there is one.
pub fn run_config_path(model: &Path) -> Option<PathBuf> {
    let parent = model.parent().map(|p| RunFolder::new(p).config());
    std::iter::once(RunFolder::new(model).config()).chain(parent).find(|p| p.is_file())
}

/// The precision to run the model of `model` (a run folder or its `model/`
/// folder) in on `device`: `requested` when given, else the run's
/// `config.json` `eval.precision` / `train.precision` (only those two keys are
/// read), else fp32; checked as [`eval_precision`], `"auto"` left unresolved.
pub fn model_precision(model: &Path, requested: Option<Precision>, device: Device) -> Result<Precision, ConfigError> {
    if let Some(requested) = requested {
        return check(requested, "--precision", device);
    }
    let Some(path) = run_config_path(model) else {
        return Ok(Precision::Fp32);
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
    let value: Value =
        serde_json::from_str(&text).map_err(|source| ConfigError::Json { path: path.clone(), source })?;
    let read = |section: &str| -> Result<Option<Precision>, ConfigError> {
        match value.get(section).and_then(|s| s.get("precision")) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|err| ConfigError::Invalid {
                path: path.clone(),
                key: format!("{section}.precision"),
                message: err.to_string(),
            }),
        }
    };
    let eval = read("eval")?;
    check(eval.or(read("train")?).unwrap_or_default(), deciding_key(eval), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment(sets: &[&str]) -> Experiment {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Experiment::from_json_str("{}", &sets, Path::new("t.json")).unwrap()
    }

    #[test]
    fn eval_precision_follows_training_unless_set() {
        let cpu = Device::Cpu;
        assert_eq!(eval_precision(&experiment(&[]), cpu).unwrap(), Precision::Fp32);
        assert_eq!(eval_precision(&experiment(&["train.precision=bf16"]), cpu).unwrap(), Precision::Bf16);
        let both = experiment(&["train.precision=bf16", "eval.precision=fp32"]);
        assert_eq!(eval_precision(&both, cpu).unwrap(), Precision::Fp32);
        let auto = eval_precision(&experiment(&["eval.precision=auto"]), cpu).unwrap();
        assert_eq!(auto, Precision::Auto, "auto is resolved on the model, not here");
        let config = eval_config(&experiment(&["train.precision=bf16", "eval.batch_size=7"]), cpu).unwrap();
        assert_eq!((config.batch_size, config.precision), (7, Some(Precision::Bf16)));
    }

    #[test]
    fn fp16_on_the_cpu_names_the_deciding_key() {
        let err = eval_precision(&experiment(&["train.precision=fp16"]), Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("train.precision") && err.contains("fp16"), "{err}");
        let err = eval_precision(&experiment(&["eval.precision=fp16"]), Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("eval.precision"), "{err}");
    }

    #[test]
    fn model_precision_reads_the_run_config() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path();
        std::fs::create_dir(run.join("model")).unwrap();
        let cpu = Device::Cpu;
        assert_eq!(model_precision(run, None, cpu).unwrap(), Precision::Fp32);
        std::fs::write(run.join("config.json"), r#"{"train": {"precision": "bf16"}, "eval": {"precision": null}}"#)
            .unwrap();
        assert_eq!(model_precision(run, None, cpu).unwrap(), Precision::Bf16);
        assert_eq!(model_precision(&run.join("model"), None, cpu).unwrap(), Precision::Bf16);
        assert_eq!(model_precision(run, Some(Precision::Fp32), cpu).unwrap(), Precision::Fp32);
        std::fs::write(run.join("config.json"), r#"{"train": {"precision": "bf16"}, "eval": {"precision": "fp32"}}"#)
            .unwrap();
        assert_eq!(model_precision(run, None, cpu).unwrap(), Precision::Fp32);
        std::fs::write(run.join("config.json"), r#"{"eval": {"precision": "fp8"}}"#).unwrap();
        let err = model_precision(run, None, cpu).unwrap_err().to_string();
        assert!(err.contains("eval.precision") && err.contains("config.json"), "{err}");
    }
}
