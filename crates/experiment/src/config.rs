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
    /// The config file cannot be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The config file is not valid JSON (or gives a key twice).
    #[error("config {} is not valid JSON: {source}", path.display())]
    Json {
        /// The config file.
        path: PathBuf,
        /// Where and why parsing failed.
        source: serde_json::Error,
    },
    /// A `--set` is not `KEY=VALUE` (the text given).
    #[error("--set {0}: expected KEY=VALUE, for example --set train.batch_size=64")]
    SetSyntax(String),
    /// A `--set` key goes through a value that is not an object.
    #[error("--set {key}: `{prefix}` is not an object, so it has no key `{rest}`")]
    SetPath {
        /// The dotted key given.
        key: String,
        /// The part of it naming a value that is not an object.
        prefix: String,
        /// The rest of the key.
        rest: String,
    },
    /// A key is unknown or its value has the wrong type.
    #[error("config {}: `{key}`: {message}", path.display())]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// The dotted key at fault.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// `threads` is 0 or more than [`MAX_THREADS`] (the value given).
    #[error("config `threads` = {0} is invalid: use a positive number of threads, at most {MAX_THREADS}, or leave it out for one per core")]
    Threads(usize),
    /// `name` is not one plain folder name (the value given).
    #[error("config `name` = {0:?} is invalid: a run name is one folder name of letters, digits and `-_.=,+`, not starting with `.` (use --out for a path)")]
    Name(String),
    /// The config path is not a regular file of at most [`MAX_CONFIG_BYTES`].
    #[error("cannot read config {}: {why}", path.display())]
    NotAFile {
        /// The config path.
        path: PathBuf,
        /// Why it cannot be read.
        why: String,
    },
    /// fp16 asked for off CUDA.
    #[error("`{key}` = \"fp16\" needs a CUDA device: on the CPU use \"fp32\", \"bf16\" or \"auto\"")]
    Fp16OffCuda {
        /// The key that asked for it (`train.precision`, `eval.precision`, `--precision`).
        key: &'static str,
    },
}

impl ConfigError {
    /// Whether the user's config is at fault (exit status 2): always, since
    /// every variant is a config file or `--set` that cannot be used.
    pub fn is_config(&self) -> bool {
        true
    }
}

/// The most libtorch threads a config may ask for.
pub const MAX_THREADS: usize = 1024;

/// The largest config file read (16 MiB).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Parses the value of a `--set`: JSON when it parses, else a bare string.
fn parse_value(text: &str) -> Value {
    parse_json(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Parses JSON text into a value like `serde_json::from_str`, except that a
/// key given twice in one object is an error naming it (serde_json would
/// silently keep the last), and a leading UTF-8 byte-order mark is skipped.
pub fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde::de::DeserializeSeed::deserialize(Strict(""), &mut de)?;
    de.end()?;
    Ok(value)
}

/// A JSON value deserialised with duplicate keys refused; holds the dotted
/// path of the value, for the error.
struct Strict<'a>(&'a str);

impl<'de> serde::de::DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Strict<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict(&format!("{}[{}]", self.0, items.len())))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.0.is_empty() { key.clone() } else { format!("{}.{key}", self.0) };
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "key `{path}` is given twice; remove one (JSON keeps only one value per key)"
                )));
            }
            let value = map.next_value_seed(Strict(&path))?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Whether `name` can name a run folder under `runs/`: one plain path
/// component of ASCII letters, digits, `-`, `_`, `.`, `=`, `,` and `+`
/// (the last three for sweep trial names such as `lr=0.01,cell=gru`), not
/// starting with `.`, at most 255 bytes.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 255
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | ',' | '+'))
}

/// Reads a config or other small text file: only a regular file (after
/// following links) of at most [`MAX_CONFIG_BYTES`], so that a FIFO or
/// `/dev/zero` is an error rather than a hang or an endless read.
pub fn read_small_file(path: &Path) -> Result<String, ConfigError> {
    let read = |source| ConfigError::Read { path: path.to_owned(), source };
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_file() {
        return Err(ConfigError::NotAFile { path: path.to_owned(), why: "not a regular file".into() });
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::NotAFile {
            path: path.to_owned(),
            why: format!("{} bytes is larger than the 16 MiB a config may have", meta.len()),
        });
    }
    let mut text = String::new();
    let file = std::fs::File::open(path).map_err(read)?;
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_CONFIG_BYTES + 1), &mut text).map_err(read)?;
    Ok(text)
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
        Self::from_json_str(&read_small_file(path)?, sets, path)
    }

    /// Parses config text, applies the `--set` overrides in order, and checks
    /// the result, as [`Experiment::load`] does for a file; `origin` names the
    /// source in errors and gives the default `name` (its file stem).
    pub fn from_json_str(text: &str, sets: &[String], origin: &Path) -> Result<Self, ConfigError> {
        let mut value = parse_json(text).map_err(|source| ConfigError::Json { path: origin.to_owned(), source })?;
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
        if let Some(threads) = experiment.threads.filter(|&t| t == 0 || t > MAX_THREADS) {
            return Err(ConfigError::Threads(threads));
        }
        match &experiment.name {
            Some(name) if !is_plain_name(name) => return Err(ConfigError::Name(name.clone())),
            Some(_) => {}
            // The file stem, when it is a plain name; else "run".
            None => {
                let stem = origin.file_stem().map(|s| s.to_string_lossy().into_owned()).filter(|s| is_plain_name(s));
                experiment.name = Some(stem.unwrap_or_else(|| "run".to_owned()));
            }
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

    #[test]
    fn duplicate_keys_are_errors_naming_the_key() {
        let origin = Path::new("c.json");
        let text = r#"{"train": {"batch_size": 3}, "model": {"hidden": 4}, "train": {"batch_size": 5}}"#;
        let err = Experiment::from_json_str(text, &[], origin).unwrap_err().to_string();
        assert!(err.contains("`train` is given twice") && err.contains("c.json"), "{err}");
        let text = r#"{"data": {"validation": 5, "seed": 1, "validation": 6}}"#;
        let err = Experiment::from_json_str(text, &[], origin).unwrap_err().to_string();
        assert!(err.contains("`data.validation` is given twice"), "{err}");
        let text = r#"{"data": {"mirrors": [{"a": 1, "a": 2}]}}"#;
        let err = Experiment::from_json_str(text, &[], origin).unwrap_err().to_string();
        assert!(err.contains("`data.mirrors[0].a` is given twice"), "{err}");
        // The same key in different objects is fine; values parse as serde_json does.
        let text = r#"{"train": {"seed": 1}, "model": {"seed": 2, "dropout": 0.25}}"#;
        let e = Experiment::from_json_str(text, &[], origin).unwrap();
        assert_eq!((e.train.seed, e.model.seed, e.model.dropout), (1, 2, 0.25));
        assert_eq!(
            parse_json(r#"[1, -2, 2.5, "x", null, true, {}]"#).unwrap(),
            json!([1, -2, 2.5, "x", null, true, {}])
        );
        assert!(parse_json("{} x").is_err());
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let e = Experiment::from_json_str("\u{feff}{\"train\": {\"seed\": 7}}", &[], Path::new("bom.json")).unwrap();
        assert_eq!(e.train.seed, 7);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bom.json");
        std::fs::write(&path, b"\xef\xbb\xbf{\"name\": \"x\"}").unwrap();
        assert_eq!(Experiment::load(&path, &[]).unwrap().name.as_deref(), Some("x"));
    }

    #[test]
    fn configs_must_be_small_regular_files() {
        let err = Experiment::load(Path::new("/dev/zero"), &[]).unwrap_err().to_string();
        assert!(err.contains("/dev/zero") && err.contains("not a regular file"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = Experiment::load(dir.path(), &[]).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let big = dir.path().join("big.json");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let err = Experiment::load(&big, &[]).unwrap_err().to_string();
        assert!(err.contains("16 MiB"), "{err}");
    }

    #[test]
    fn run_names_are_one_plain_path_component() {
        let origin = Path::new("c.json");
        for bad in ["../../../tmp/x", "/tmp/x", "", ".", "..", ".hidden", "a/b", "a\\b", "x y", "caf\u{e9}"] {
            let err = Experiment::from_json_str(&json!({ "name": bad }).to_string(), &[], origin).unwrap_err();
            assert!(matches!(err, ConfigError::Name(_)), "{bad}: {err}");
            assert!(err.to_string().contains("`name`"), "{err}");
        }
        for good in ["seed", "fashion-mnist_v2.1", "A9", "lr=0.01,cell=gru+x"] {
            let e = Experiment::from_json_str(&json!({ "name": good }).to_string(), &[], origin).unwrap();
            assert_eq!(e.name.as_deref(), Some(good));
        }
        // A file stem that is not a plain name gives the default name.
        let e = Experiment::from_json_str("{}", &[], Path::new("/tmp/.hidden.json")).unwrap();
        assert_eq!(e.name.as_deref(), Some("run"));
    }

    #[test]
    fn threads_are_bounded() {
        let origin = Path::new("c.json");
        for threads in [0u64, 1025, 2_147_483_648, 10_000] {
            let err = Experiment::from_json_str(&json!({ "threads": threads }).to_string(), &[], origin).unwrap_err();
            assert!(matches!(err, ConfigError::Threads(_)) && err.to_string().contains("threads"), "{err}");
        }
        let e = Experiment::from_json_str(r#"{"threads": 1024}"#, &[], origin).unwrap();
        assert_eq!(e.threads, Some(1024));
    }
}
