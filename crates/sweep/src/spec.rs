//! The sweep file: what it may hold, parsed with unknown keys refused.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JSON object whose keys keep the order of the file (grid keys name the
/// trial folders in that order).
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> Ordered<V> {
    /// Whether the object has no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys, in the file's order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Visit<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of dotted config keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, V)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    if out.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom(format!("key `{key}` is given twice")));
                    }
                    out.push((key, value));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// `base`: a config file (relative to the sweep file, or absolute) or an inline config object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Base {
    /// Path of a config file.
    Path(String),
    /// The config itself.
    Inline(serde_json::Map<String, Value>),
}

/// A distribution of the `random` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// `{"uniform": [low, high]}`: a float, uniform in [low, high).
    Uniform([f64; 2]),
    /// `{"log_uniform": [low, high]}`: a float whose logarithm is uniform; low > 0.
    LogUniform([f64; 2]),
    /// `{"int_uniform": [low, high]}`: an integer in low..=high, each equally likely.
    IntUniform([i64; 2]),
    /// `{"choice": [a, b, ...]}`: one of the values, each equally likely.
    Choice(Vec<Value>),
}

/// The `slurm` section: options of the job array (`#SBATCH` lines).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmSection {
    /// `--partition`. Default: the cluster's default partition.
    pub partition: Option<String>,
    /// `--time`, the limit of each trial, e.g. `"01:00:00"`. Default: the partition's.
    pub time: Option<String>,
    /// `--cpus-per-task`; also the trial's libtorch threads. Default: Slurm's (1).
    pub cpus_per_task: Option<u32>,
    /// `--mem`, e.g. `"8G"`. Default: the partition's.
    pub mem: Option<String>,
    /// `--gres`, e.g. `"gpu:1"`. Default: none.
    pub gres: Option<String>,
    /// Trials running at once: the `%P` of `--array`. Default: no limit.
    pub max_parallel: Option<u32>,
    /// Further lines copied into the script as they are, e.g. `"#SBATCH --account=abc"`.
    pub extra: Vec<String>,
    /// Seconds before the time limit at which Slurm sends SIGTERM, so that the
    /// trial writes a checkpoint and is requeued. Default 120.
    pub signal_seconds: Option<u32>,
}

/// A sweep file, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// The sweep's name; its folder is `runs/<name>/`. Default: the file's stem.
    #[serde(default)]
    pub name: Option<String>,
    /// The config every trial starts from.
    pub base: Base,
    /// Dotted config keys set in every trial, e.g. `{"train.max_steps": 2000}`.
    #[serde(default)]
    pub set: Ordered<Value>,
    /// Dotted config keys and their values: the trials are the cartesian product.
    #[serde(default)]
    pub grid: Ordered<Vec<Value>>,
    /// Every point is repeated with each seed (setting `train.seed` and `model.seed`).
    #[serde(default)]
    pub seeds: Vec<u64>,
    /// Dotted config keys drawn at random, `trials` times.
    #[serde(default)]
    pub random: Ordered<Distribution>,
    /// Number of random draws (needs `random`).
    #[serde(default)]
    pub trials: Option<usize>,
    /// Seed of the random draws. Default 0.
    #[serde(default)]
    pub search_seed: u64,
    /// Options of the Slurm job array (`--backend slurm`).
    #[serde(default)]
    pub slurm: SlurmSection,
    /// How trials are run: `"all"` (default: every trial to its end) or
    /// `{"asha": {...}}` (asynchronous successive halving).
    #[serde(default, skip_serializing_if = "Search::is_all")]
    pub search: Search,
}

/// The `search` section: which trials run, and for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Search {
    /// `"all"`: every trial runs to its end (grid, random, seeds). The default.
    #[default]
    All,
    /// `{"asha": {...}}`: asynchronous successive halving over the trials.
    Asha(AshaConfig),
}

impl Search {
    /// Whether this is the default, [`Search::All`].
    pub fn is_all(&self) -> bool {
        *self == Search::All
    }
}

/// `"search": {"asha": {"min_steps": r, "max_steps": R, "eta": 3, "metric": "validation.accuracy"}}`:
/// every trial first runs `min_steps` steps (rung 0); a trial in the top
/// `1/eta` of its rung's results is promoted to the next rung (`eta` times
/// as many steps) by resuming its run folder, until `max_steps`. Every
/// trial's run is planned for `max_steps` from step 0 (`train.max_steps` is
/// set to it), so a trial promoted to the last rung equals an uninterrupted run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AshaConfig {
    /// Steps of the first rung, r (at least 1).
    pub min_steps: i64,
    /// Steps of the last rung, R; must be `min_steps × eta^k` for some k ≥ 0.
    pub max_steps: i64,
    /// The reduction factor (at least 2). Default 3.
    #[serde(default = "default_eta")]
    pub eta: i64,
    /// What ranks trials at a rung: `"validation.accuracy"` (higher is
    /// better) or `"validation.loss"` (lower is better), measured at the
    /// rung's last step. Default `"validation.accuracy"`.
    #[serde(default = "default_metric")]
    pub metric: String,
}

fn default_eta() -> i64 {
    3
}

fn default_metric() -> String {
    "validation.accuracy".into()
}
