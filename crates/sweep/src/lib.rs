//! Sweeps of `lstm-mnist` runs as a library, usable by any binary.
//!
//! A sweep file ([`spec::SweepFile`]) names a base config, keys `set` in every
//! trial, a `grid` (cartesian product), `random` draws, `seeds` and a `search`
//! strategy. [`Sweep::load`] expands it deterministically into candidate
//! [`Trial`]s, each with a readable, filesystem-safe folder name made from its
//! varied values and a complete, checked config; nothing runs before every
//! trial's config is valid. What runs next is decided by a
//! [`strategy::SearchStrategy`] from the results so far: every trial to its end
//! ([`strategy::Exhaustive`], grid/random/seeds) or asynchronous successive
//! halving ([`asha::Asha`], which promotes a trial by resuming its run folder).
//! Decisions and results are appended to the sweep folder's [`journal`], so a
//! rerun after a crash makes the same decisions. [`status`] derives each
//! trial's state from its own folder; [`worker`] runs one unit of work in the
//! calling process, with the caller's stop flag and hooks.
//!
//! Nothing here parses arguments, installs signal handlers or chooses an exit
//! status: that is the binary's.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

pub mod asha;
pub mod folder;
pub mod journal;
pub mod spec;
pub mod status;
pub mod strategy;
pub mod worker;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use serde_json::Value;

use experiment::config::{is_plain_name, read_small_file, set_dotted_value, ConfigError, Experiment};
pub use spec::{AshaConfig, Base, Distribution, Search, SlurmSection, SweepFile};

pub use experiment::run_folder::{SWEEP_FILE, TRIAL_FILE};
/// The copy of the sweep file (with its base config inlined) in the sweep folder.
pub const SWEEP_COPY: &str = "sweep-config.json";
/// Longest trial folder name; longer ones are cut and end with a hash.
const MAX_NAME: usize = 64;
/// The most trials one sweep may have (grid points × random draws × seeds);
/// a larger sweep is refused before anything is built, naming the key that
/// took it over the limit.
pub const MAX_TRIALS: u64 = 100_000;

/// A sweep that cannot be used or run; names the file, the trial and the key.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The sweep file cannot be read.
    #[error("cannot read sweep file {}: {source}", path.display())]
    Read {
        /// The sweep file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The sweep file is not a regular file of at most 16 MiB.
    #[error("cannot read sweep file {}: {why}; give a sweep file (JSON) of at most 16 MiB", path.display())]
    NotAFile {
        /// The sweep file.
        path: PathBuf,
        /// Why it cannot be used.
        why: String,
    },
    /// A key of the sweep file has a value that cannot be used.
    #[error("sweep file {}: `{key}`: {message}", path.display())]
    Invalid {
        /// The sweep file.
        path: PathBuf,
        /// The dotted key, e.g. `random.train.learning_rate`.
        key: String,
        /// What is wrong and what would fix it.
        message: String,
    },
    /// The base config file cannot be used.
    #[error("sweep file {}: base config {}: {source}", path.display(), base.display())]
    Base {
        /// The sweep file.
        path: PathBuf,
        /// The base config file.
        base: PathBuf,
        /// Why it cannot be used.
        source: Box<ConfigError>,
    },
    /// One trial's config is invalid.
    #[error("sweep file {}: trial {id} ({name}): {message}", path.display())]
    Trial {
        /// The sweep file.
        path: PathBuf,
        /// The trial's id.
        id: usize,
        /// The trial's folder name.
        name: String,
        /// The key and what is wrong with it.
        message: String,
    },
    /// The sweep file differs from the one the sweep folder holds.
    #[error(
        "sweep file {} does not match the sweep in {} (its {}): changed: {}; {hint}",
        path.display(), dir.display(), SWEEP_COPY, keys.join(", ")
    )]
    Changed {
        /// The sweep file given.
        path: PathBuf,
        /// The sweep folder.
        dir: PathBuf,
        /// The keys that changed.
        keys: Vec<String>,
        /// What to do.
        hint: String,
    },
    /// The sweep folder cannot be used.
    #[error("sweep folder {}: {message}", dir.display())]
    Folder {
        /// The sweep folder.
        dir: PathBuf,
        /// Why, and what to do.
        message: String,
    },
    /// The sweep folder's journal cannot be read or appended to.
    #[error("sweep journal {}: {message}", path.display())]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// What is wrong (with the line number) and what to do.
        message: String,
    },
    /// A run folder or one of its files cannot be used (the experiment crate's error).
    #[error(transparent)]
    Run(#[from] experiment::ExperimentError),
}

impl SweepError {
    /// Whether the user's config or command line is at fault (exit status 2 in
    /// the bin): a sweep file or folder that cannot be used; for a run's error,
    /// what the experiment crate says.
    pub fn is_config(&self) -> bool {
        match self {
            SweepError::Run(e) => e.is_config(),
            SweepError::Journal { .. } => false,
            _ => true,
        }
    }
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Index in the expansion, from 0.
    pub id: usize,
    /// Its folder's name inside the sweep folder, e.g. `lr=0.003,cell=gru,seed=1`.
    pub name: String,
    /// The dotted keys this trial varies and their values (plus `train.seed`
    /// and `model.seed` when `seeds` is used), in sweep-file order.
    pub overrides: Vec<(String, Value)>,
    /// The trial's complete, checked config.
    pub experiment: Experiment,
}

impl Trial {
    /// The overrides as a JSON object (what `trial.json` and `sweep.json` hold).
    pub fn overrides_json(&self) -> Value {
        Value::Object(self.overrides.iter().cloned().collect())
    }
}

/// A loaded, expanded sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The sweep file as given.
    pub file: SweepFile,
    /// Where it was read from.
    pub path: PathBuf,
    /// The sweep's name (`name`, else the file's stem).
    pub name: String,
    /// The base config with `set` applied, as JSON.
    pub base: Value,
    /// Every trial, in order.
    pub trials: Vec<Trial>,
}

impl Sweep {
    /// Reads, expands and checks a sweep file: every trial's config is built
    /// and validated; the first bad one is an error naming the trial and key.
    pub fn load(path: &Path) -> Result<Self, SweepError> {
        let text = read_small_file(path).map_err(|e| match e {
            ConfigError::Read { source, .. } => SweepError::Read { path: path.to_owned(), source },
            ConfigError::NotAFile { why, .. } => SweepError::NotAFile { path: path.to_owned(), why },
            other => SweepError::Invalid { path: path.to_owned(), key: ".".into(), message: other.to_string() },
        })?;
        Self::from_json_str(&text, path)
    }

    /// As [`Sweep::load`], for the text of a sweep file read from `path`.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self, SweepError> {
        let invalid = |key: String, message: String| SweepError::Invalid { path: path.to_owned(), key, message };
        let mut de = serde_json::Deserializer::from_str(text);
        let file: SweepFile = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| invalid(e.path().to_string(), e.inner().to_string()))?;
        de.end().map_err(|e| invalid(".".into(), e.to_string()))?;
        let name = sweep_name(&file, path).map_err(|message| invalid("name".into(), message))?;
        let mut base = match &file.base {
            Base::Inline(map) => Value::Object(map.clone()),
            Base::Path(p) => read_base(path, p)?,
        };
        for (key, value) in &file.set.0 {
            set_dotted_value(&mut base, key, value.clone())
                .map_err(|e| invalid(format!("set.{key}"), e.to_string()))?;
        }
        if let Search::Asha(config) = &file.search {
            asha::check(config, &mut base).map_err(|(key, message)| invalid(key, message))?;
        }
        check_sections(&file).map_err(|(key, message)| invalid(key, message))?;
        count_trials(&file).map_err(|(key, message)| invalid(key, message))?;
        let points = expand(&file);
        let names = trial_names(&points, &HashSet::new());
        let mut trials = Vec::with_capacity(points.len());
        for (id, (overrides, name)) in points.into_iter().zip(names).enumerate() {
            let experiment = trial_experiment(&base, &overrides, &name, path).map_err(|message| SweepError::Trial {
                path: path.to_owned(),
                id,
                name: name.clone(),
                message,
            })?;
            trials.push(Trial { id, name, overrides, experiment });
        }
        Ok(Self { file, path: path.to_owned(), name, base, trials })
    }

    /// The sweep file with its base config inlined (and `set` kept), so that it
    /// can be copied into the sweep folder and read from anywhere.
    pub fn self_contained(&self) -> SweepFile {
        let mut file = self.file.clone();
        let base = match &self.file.base {
            Base::Inline(map) => map.clone(),
            Base::Path(_) => {
                // The base before `set` (set is kept as a section of its own).
                let mut base = self.base.clone();
                for (key, _) in &self.file.set.0 {
                    remove_dotted(&mut base, key);
                }
                base.as_object().cloned().unwrap_or_default()
            }
        };
        file.base = Base::Inline(base);
        file.name = Some(self.name.clone());
        file
    }
}

/// Removes the dotted key `key` from `root`, if present.
fn remove_dotted(root: &mut Value, key: &str) {
    let mut node = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let Value::Object(map) = node else { return };
        if i + 1 == parts.len() {
            map.remove(*part);
            return;
        }
        let Some(next) = map.get_mut(*part) else { return };
        node = next;
    }
}

/// The sweep's name: `name` when given, else the file's stem; either must
/// be a plain run name (letters, digits and `-_.=,+`, not starting with `.`,
/// at most 255 bytes), as a run's `name` must.
fn sweep_name(file: &SweepFile, path: &Path) -> Result<String, String> {
    if let Some(name) = &file.name {
        if !is_plain_name(name) {
            return Err(format!(
                "{name:?} cannot name a sweep folder: use one folder name of letters, digits and `-_.=,+`, not \
                 starting with `.`, at most 255 characters (use --out for a path)"
            ));
        }
        return Ok(name.clone());
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if is_plain_name(&stem) {
        Ok(stem)
    } else {
        Err(format!(
            "the file name's stem {stem:?} cannot name a sweep folder; give the sweep a `name` of letters, digits \
             and `-_.=,+`"
        ))
    }
}

/// The number of trials the file expands to, counted before anything is
/// built; more than [`MAX_TRIALS`] is an error naming the key that took the
/// count over the limit.
pub fn count_trials(file: &SweepFile) -> Result<u64, (String, String)> {
    let mut factors: Vec<(String, u64)> =
        file.grid.0.iter().map(|(key, values)| (format!("grid.{key}"), values.len() as u64)).collect();
    if let Some(trials) = file.trials.filter(|_| !file.random.is_empty()) {
        factors.push(("trials".into(), trials as u64));
    }
    if !file.seeds.is_empty() {
        factors.push(("seeds".into(), file.seeds.len() as u64));
    }
    let mut count: u64 = 1;
    for (key, factor) in &factors {
        match count.checked_mul(*factor) {
            Some(n) if n <= MAX_TRIALS => count = n,
            n => {
                let shown = n.map_or_else(|| "more than 2^64".to_owned(), |n| n.to_string());
                let product = factors.iter().map(|(k, f)| format!("{f} ({k})")).collect::<Vec<_>>().join(" x ");
                return Err((
                    key.clone(),
                    format!(
                        "the sweep would have {shown} trials ({product}), more than the {MAX_TRIALS} one sweep may \
                         have; use fewer values here, or split the sweep into several files"
                    ),
                ));
            }
        }
    }
    Ok(count)
}

fn read_base(sweep_path: &Path, base: &str) -> Result<Value, SweepError> {
    let base_path = sweep_path.parent().unwrap_or(Path::new("")).join(base);
    let err =
        |source| SweepError::Base { path: sweep_path.to_owned(), base: base_path.clone(), source: Box::new(source) };
    // Only a regular file of at most 16 MiB, as for `--config`.
    let text = read_small_file(&base_path).map_err(err)?;
    let value: Value =
        serde_json::from_str(&text).map_err(|source| err(ConfigError::Json { path: base_path.clone(), source }))?;
    if !value.is_object() {
        return Err(SweepError::Invalid {
            path: sweep_path.to_owned(),
            key: "base".into(),
            message: format!("{} does not hold a JSON object", base_path.display()),
        });
    }
    Ok(value)
}

/// Checks what serde cannot: sizes, ranges, keys given twice across sections.
fn check_sections(file: &SweepFile) -> Result<(), (String, String)> {
    for (key, values) in &file.grid.0 {
        if values.is_empty() {
            return Err((format!("grid.{key}"), "an empty list gives no trials; give at least one value".into()));
        }
        if file.random.keys().any(|k| k == key) {
            return Err((format!("grid.{key}"), "is also in `random`; vary a key in one of them".into()));
        }
    }
    let seed_keys = ["train.seed", "model.seed"];
    if !file.seeds.is_empty() {
        if let Some(k) = file.grid.keys().chain(file.random.keys()).find(|k| seed_keys.contains(k)) {
            return Err((k.to_owned(), "is set by `seeds`; remove it from `grid`/`random` or drop `seeds`".into()));
        }
    }
    match (file.random.is_empty(), file.trials) {
        (false, None) => return Err(("trials".into(), "`random` needs `trials`, the number of draws".into())),
        (false, Some(0)) => return Err(("trials".into(), "use at least 1 draw".into())),
        (true, Some(_)) => {
            return Err(("trials".into(), "`trials` counts `random` draws; add a `random` section".into()))
        }
        _ => {}
    }
    for (key, dist) in &file.random.0 {
        let bad = match dist {
            Distribution::Uniform([a, b]) if !(a.is_finite() && b.is_finite() && a <= b) => {
                "needs [low, high], low <= high"
            }
            Distribution::LogUniform([a, b]) if !(a.is_finite() && b.is_finite() && *a > 0.0 && a <= b) => {
                "needs [low, high] with 0 < low <= high"
            }
            Distribution::IntUniform([a, b]) if a > b => "needs [low, high], low <= high",
            Distribution::Choice(v) if v.is_empty() => "needs at least one value",
            _ => continue,
        };
        return Err((format!("random.{key}"), bad.into()));
    }
    if file.slurm.max_parallel == Some(0) {
        return Err(("slurm.max_parallel".into(), "use at least 1, or leave it out for no limit".into()));
    }
    Ok(())
}

/// The trials' overrides, in order: grid points (first key slowest) × random
/// draws × seeds (fastest).
pub fn expand(file: &SweepFile) -> Vec<Vec<(String, Value)>> {
    let mut points: Vec<Vec<(String, Value)>> = vec![Vec::new()];
    for (key, values) in &file.grid.0 {
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut p = p.clone();
                    p.push((key.clone(), v.clone()));
                    p
                })
            })
            .collect();
    }
    if let Some(trials) = file.trials.filter(|_| !file.random.is_empty()) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(file.search_seed);
        let draws: Vec<Vec<(String, Value)>> =
            (0..trials).map(|_| file.random.0.iter().map(|(k, d)| (k.clone(), draw(d, &mut rng))).collect()).collect();
        points = points.into_iter().flat_map(|p| draws.iter().map(move |d| [p.clone(), d.clone()].concat())).collect();
    }
    if !file.seeds.is_empty() {
        points = points
            .into_iter()
            .flat_map(|p| {
                file.seeds.iter().map(move |&s| {
                    let mut p = p.clone();
                    p.push(("train.seed".into(), Value::from(s)));
                    p.push(("model.seed".into(), Value::from(s)));
                    p
                })
            })
            .collect();
    }
    points
}

fn draw(dist: &Distribution, rng: &mut impl Rng) -> Value {
    match dist {
        Distribution::Uniform([a, b]) => Value::from(a + (b - a) * rng.random::<f64>()),
        Distribution::LogUniform([a, b]) => Value::from((a.ln() + (b.ln() - a.ln()) * rng.random::<f64>()).exp()),
        Distribution::IntUniform([a, b]) => Value::from(rng.random_range(*a..=*b)),
        Distribution::Choice(values) => values[rng.random_range(0..values.len())].clone(),
    }
}

fn trial_experiment(
    base: &Value,
    overrides: &[(String, Value)],
    name: &str,
    path: &Path,
) -> Result<Experiment, String> {
    let mut config = base.clone();
    for (key, value) in overrides {
        set_dotted_value(&mut config, key, value.clone()).map_err(|e| format!("`{key}`: {e}"))?;
    }
    set_dotted_value(&mut config, "name", Value::from(name)).map_err(|e| e.to_string())?;
    let experiment = Experiment::from_value(config, path).map_err(|e| match e {
        ConfigError::Invalid { key, message, .. } => format!("`{key}`: {message}"),
        e => e.to_string(),
    })?;
    experiment.train.validate().map_err(|e| e.to_string())?;
    experiment.eval.validate().map_err(|e| e.to_string())?;
    // The model's own values (sizes, dropout, ...) with a stand-in input: the
    // data's shape is known only when the trial runs.
    let names = vec!["a".to_owned(), "b".to_owned()];
    lstm_model::ModelSpec::new(experiment.model.clone(), 1, 1, names).validate().map_err(|e| e.to_string())?;
    Ok(experiment)
}

/// The short label of a dotted key in folder names: its last part
/// (`learning_rate` as `lr`), or the whole key when two varied keys share it.
fn label(key: &str, keys: &[&str]) -> String {
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_owned();
    let short = last(key);
    let clash = keys.iter().any(|k| *k != key && last(k) == short && !(short == "seed" && is_seed_pair(k, key)));
    match (clash, short.as_str()) {
        (true, _) => key.to_owned(),
        (false, "learning_rate") => "lr".into(),
        _ => short,
    }
}

fn is_seed_pair(a: &str, b: &str) -> bool {
    let pair = ["train.seed", "model.seed"];
    pair.contains(&a) && pair.contains(&b)
}

/// A value as written in a folder name: strings bare, floats with at most 4
/// significant digits when their shortest form is long (random draws).
fn format_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => {
            let text = n.to_string();
            match n.as_f64() {
                Some(x) if text.len() > 8 && x != 0.0 => {
                    // Four significant digits, trailing zeros dropped.
                    let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
                    let short = format!("{x:.decimals$}");
                    if short.contains('.') {
                        short.trim_end_matches('0').trim_end_matches('.').to_owned()
                    } else {
                        short
                    }
                }
                _ => text,
            }
        }
        other => other.to_string(),
    }
}

/// Keeps letters, digits and `._,=+-`; anything else becomes `_`.
fn filesystem_safe(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || "._,=+-".contains(c) { c } else { '_' }).collect()
}

/// FNV-1a, 64 bits: a stable hash for shortened names.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The folder name of each trial: `key=value` pairs joined by `,` (the seed
/// pair once, as `seed=`), made filesystem-safe; names longer than 64
/// characters are cut and end with a hash of the whole. Names are unique
/// among themselves and never one of `taken`: a name that two trials would
/// share (or that is taken) gets `-<id>` appended, and `-<id>-2`, ... when
/// that is taken as well. Linear in the number of trials.
pub fn trial_names(points: &[Vec<(String, Value)>], taken: &HashSet<String>) -> Vec<String> {
    let names: Vec<String> = points.iter().map(|overrides| trial_name(overrides)).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for name in &names {
        *counts.entry(name.as_str()).or_default() += 1;
    }
    // Names given once keep their plain form; the others are made unique after.
    let mut used: HashSet<String> = taken.clone();
    used.extend(names.iter().filter(|n| counts[n.as_str()] == 1 && !taken.contains(*n)).cloned());
    let mut out = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if counts[name.as_str()] == 1 && !taken.contains(name) {
            out.push(name.clone());
            continue;
        }
        let mut candidate = format!("{name}-{i}");
        let mut k = 2;
        while used.contains(&candidate) {
            candidate = format!("{name}-{i}-{k}");
            k += 1;
        }
        used.insert(candidate.clone());
        out.push(candidate);
    }
    out
}

/// One trial's folder name before it is made unique (see [`trial_names`]).
fn trial_name(overrides: &[(String, Value)]) -> String {
    let keys: Vec<&str> = overrides.iter().map(|(k, _)| k.as_str()).collect();
    let parts: Vec<String> = overrides
        .iter()
        .filter(|(k, _)| !(k == "model.seed" && keys.contains(&"train.seed")))
        .map(|(k, v)| format!("{}={}", label(k, &keys), format_value(v)))
        .collect();
    let name = filesystem_safe(&parts.join(","));
    let name = if name.is_empty() || name.starts_with('.') { format!("trial{name}") } else { name };
    if name.len() > MAX_NAME {
        format!("{}-{:016x}", &name[..MAX_NAME - 17], fnv1a(&name))
    } else {
        name
    }
}

#[cfg(test)]
mod tests;
