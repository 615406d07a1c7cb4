//! The experiment config: one JSON file composed of each crate's own section,
//! with `--set KEY=VALUE` overrides applied before it is checked.

use std::path::{Path, PathBuf};

use eval::EvalConfig;
use lstm_model::ModelConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trainer::TrainConfig;

use crate::data::DataSection;

/// Which device to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// CUDA when a GPU is usable, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// The first CUDA GPU; an error when there is none.
    Cuda,
}

/// A whole experiment. Every section has defaults; the defaults are the notebook's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Name of the run; its folder is `runs/<name>/`. Default: the config file's stem.
    #[serde(default)]
    pub name: Option<String>,
    /// `"auto"` (default), `"cpu"` or `"cuda"`.
    #[serde(default)]
    pub device: DeviceChoice,
    /// CPU threads for libtorch. Default: the number of physical cores.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Where the data comes from: `source` `"idx"` (default; MNIST-family
    /// IDX files) or `"synth"` (generated sequences), and that source's keys.
    #[serde(default)]
    pub data: DataSection,
    /// The model.
    #[serde(default)]
    pub model: ModelConfig,
    /// The training loop.
    #[serde(default)]
    pub train: TrainConfig,
    /// The evaluation.
    #[serde(default)]
    pub eval: EvalConfig,
}

/// A config that cannot be used; always names the file or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config {} is not valid JSON: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("--set {0}: expected KEY=VALUE, for example --set train.batch_size=64")]
    SetSyntax(String),
    #[error("--set {key}: `{prefix}` is not an object, so it has no key `{rest}`")]
    SetPath { key: String, prefix: String, rest: String },
    #[error("config {}: `{key}`: {message}", path.display())]
    Invalid { path: PathBuf, key: String, message: String },
    #[error("config `threads` = 0 is invalid: use a positive number of threads or leave it out")]
    Threads,
    #[error("`{key}` = \"fp16\" needs a CUDA device: on the CPU use \"fp32\", \"bf16\" or \"auto\"")]
    Fp16OffCuda { key: &'static str },
}

/// Parses the value of a `--set`: JSON when it parses, else a bare string.
fn parse_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Sets `root[a][b]...` = `value` for the dotted key `a.b...`, creating objects as needed.
pub fn set_dotted(root: &mut Value, assignment: &str) -> Result<(), ConfigError> {
    let (key, text) = assignment.split_once('=').ok_or_else(|| ConfigError::SetSyntax(assignment.to_owned()))?;
    if key.trim().split('.').any(|p| p.is_empty()) {
        return Err(ConfigError::SetSyntax(assignment.to_owned()));
    }
    set_dotted_value(root, key.trim(), parse_value(text))
}

/// Sets `root[a][b]...` = `value` for the dotted key `a.b...` (a JSON value,
/// as sweep files give them), creating objects as needed.
pub fn set_dotted_value(root: &mut Value, key: &str, value: Value) -> Result<(), ConfigError> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::SetSyntax(format!("{key}={value}")));
    }
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        let Value::Object(map) = node else {
            return Err(ConfigError::SetPath {
                key: key.to_owned(),
                prefix: parts[..i].join("."),
                rest: parts[i..].join("."),
            });
        };
        if i + 1 == parts.len() {
            map.insert((*part).to_owned(), value);
            return Ok(());
        }
        node = map.entry((*part).to_owned()).or_insert_with(|| Value::Object(Default::default()));
    }
    Ok(())
}

impl Experiment {
    /// Reads `path`, applies the `--set` overrides in order, and checks the result.
    pub fn load(path: &Path, sets: &[String]) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_json_str(&text, sets, path)
    }

    /// Parses config text, applies the `--set` overrides in order, and checks
    /// the result, as [`Experiment::load`] does for a file; `origin` names the
    /// source in errors and gives the default `name` (its file stem).
    pub fn from_json_str(text: &str, sets: &[String], origin: &Path) -> Result<Self, ConfigError> {
        let mut value: Value =
            serde_json::from_str(text).map_err(|source| ConfigError::Json { path: origin.to_owned(), source })?;
        for set in sets {
            set_dotted(&mut value, set)?;
        }
        Self::from_value(value, origin)
    }

    /// Builds and checks an experiment from a config as a JSON value;
    /// `origin` names its source in errors and gives the default `name`.
    pub fn from_value(value: Value, origin: &Path) -> Result<Self, ConfigError> {
        let mut experiment: Self = serde_path_to_error::deserialize(value).map_err(|err| ConfigError::Invalid {
            path: origin.to_owned(),
            key: err.path().to_string(),
            message: err.inner().to_string(),
        })?;
        if experiment.threads == Some(0) {
            return Err(ConfigError::Threads);
        }
        if experiment.name.is_none() {
            experiment.name = origin.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        Ok(experiment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_parses_json_and_bare_strings_and_creates_objects() {
        let mut v = json!({"train": {"batch_size": 128}});
        set_dotted(&mut v, "train.batch_size=64").unwrap();
        set_dotted(&mut v, "data.dir=/usr/share/datasets/fashion-mnist").unwrap();
        set_dotted(&mut v, "name=\"x=y\"").unwrap();
        assert_eq!(
            v,
            json!({"train": {"batch_size": 64}, "data": {"dir": "/usr/share/datasets/fashion-mnist"}, "name": "x=y"})
        );
        assert!(matches!(set_dotted(&mut v, "train.batch_size.x=1"), Err(ConfigError::SetPath { .. })));
        assert!(matches!(set_dotted(&mut v, "novalue"), Err(ConfigError::SetSyntax(_))));
        assert!(matches!(set_dotted(&mut v, "a..b=1"), Err(ConfigError::SetSyntax(_))));
    }

    #[test]
    fn unknown_and_mistyped_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, r#"{"train": {"batch_sise": 3}}"#).unwrap();
        let err = Experiment::load(&path, &[]).unwrap_err().to_string();
        assert!(err.contains("train.batch_sise") && err.contains("unknown field"), "{err}");
        std::fs::write(&path, "{}").unwrap();
        let err = Experiment::load(&path, &["train.batch_size=\"big\"".into()]).unwrap_err().to_string();
        assert!(err.contains("train.batch_size"), "{err}");
        let e = Experiment::load(&path, &[]).unwrap();
        assert_eq!(e.name.as_deref(), Some("c"));
        assert_eq!(e.train, TrainConfig::default());
    }
}
