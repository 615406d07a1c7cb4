//! `lstm-mnist compare`: several runs side by side.
//!
//! [`compare`] reads run folders (or sweep folders, meaning their trials):
//! `config.json` for what differs between them, `report.json` for the test
//! accuracy and the training summary, `metrics.jsonl` for the curves. The
//! result, [`Comparison`], is plain serialisable data: the command prints it
//! as a table, JSON or CSV, and draws `compare.svg` from it; HTML pages can
//! take it as it is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use experiment::run_folder::RunFolder;
use serde::Serialize;
use serde_json::Value;
use trainer::MetricRecord;

/// Columns that `--sort` takes besides the dotted config keys.
pub const SORT_KEYS: &[&str] =
    &["dir", "test_accuracy", "best_validation_accuracy", "final_train_loss", "steps", "seconds", "samples_per_second"];

/// Config keys never shown as differences: every run has its own name.
const IGNORED_KEYS: &[&str] = &["name"];

/// Config keys left out by default (a key and everything below it): they do
/// not change what a run learns (libtorch threads, progress and checkpoint
/// cadence, the evaluation batch size). `--keys` shows them when asked.
pub const NON_SEMANTIC_KEYS: &[&str] =
    &["threads", "train.display_step", "train.checkpoint_every", "train.keep_checkpoints", "eval.batch_size"];

/// Whether `key` is one of [`NON_SEMANTIC_KEYS`] or below one.
pub fn is_non_semantic(key: &str) -> bool {
    NON_SEMANTIC_KEYS.iter().any(|k| key == *k || key.strip_prefix(k).is_some_and(|rest| rest.starts_with('.')))
}

/// A config value as compared: missing, `null` and `false` mean the same
/// (an option left out, or set off).
fn semantic(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null() && **v != Value::Bool(false))
}

/// Which config keys `compare` shows and groups by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyChoice {
    /// Exactly these keys, in this order (`--keys`); `None`: every key whose
    /// values differ, leaving out [`NON_SEMANTIC_KEYS`].
    pub keys: Option<Vec<String>>,
    /// Keys left out (`--hide`).
    pub hide: Vec<String>,
}

/// Why runs cannot be compared; names the path at fault.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A path holds no run and no sweep.
    #[error("{}: holds no run (config.json) and no sweep (sweep.json, or run folders inside); give run or sweep folders", .0.display())]
    NoRuns(PathBuf),
    /// A file or folder cannot be read or written.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A run's JSON file does not parse.
    #[error("{}: not valid JSON: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Where and why parsing failed.
        source: serde_json::Error,
    },
    /// compare.svg cannot be drawn.
    #[error("{}: cannot draw: {message}", path.display())]
    Plot {
        /// The picture.
        path: PathBuf,
        /// What the plotting library said.
        message: String,
    },
    /// A run folder's file cannot be used.
    #[error(transparent)]
    Run(#[from] experiment::ExperimentError),
    /// A sweep's list (`sweep.json`) is not a regular file or is too large.
    #[error("{}: {why}", path.display())]
    NotAFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// `--out` (or a path given) names something that is not a folder.
    #[error("{what} {}: {why}", path.display())]
    NotAFolder {
        /// What the path was given as (`--out`, or `compare` for a path to compare).
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// What it is instead, and the fix.
        why: String,
    },
    /// `--keys` or `--hide` names a key no run's config has.
    #[error("--{option} {key}: no run's config has this key; use dotted keys such as {known}")]
    UnknownKey {
        /// `keys` or `hide`.
        option: &'static str,
        /// The key given.
        key: String,
        /// Keys that differ between the runs (or a few config keys).
        known: String,
    },
    /// `--sort` names no column (the text given).
    #[error("--sort {0}: not a column; use one of {allowed} or a config key that differs between the runs (prefix - for descending)", allowed = SORT_KEYS.join(", "))]
    BadSort(String),
}

impl CompareError {
    /// Whether the command was called wrongly (exit status 2: no runs in the
    /// folders given, an unknown `--sort`) rather than failing on a file (1).
    pub fn is_config(&self) -> bool {
        // A run folder's damaged file (`Run`) is not the command line's fault.
        matches!(
            self,
            CompareError::NoRuns(_)
                | CompareError::BadSort(_)
                | CompareError::NotAFolder { .. }
                | CompareError::UnknownKey { .. }
        )
    }
}

/// One curve point: `(step, value)`.
pub type Point = (f64, f64);

/// The curves of one run, from its `metrics.jsonl`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunCurves {
    /// Training minibatch loss at each displayed step.
    pub train_loss: Vec<Point>,
    /// Validation accuracy at each validation.
    pub validation_accuracy: Vec<Point>,
}

impl RunCurves {
    /// Whether there is no point at all.
    pub fn is_empty(&self) -> bool {
        self.train_loss.is_empty() && self.validation_accuracy.is_empty()
    }
}

/// One run of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    /// The run folder.
    pub dir: String,
    /// Its config's `name`.
    pub name: Option<String>,
    /// The config keys that differ between the runs (dotted), with this run's values.
    pub differs: BTreeMap<String, Value>,
    /// Index into [`Comparison::groups`].
    pub group: usize,
    /// Whether `report.json` is there (the run finished).
    pub finished: bool,
    /// Test accuracy, 0 to 1.
    pub test_accuracy: Option<f64>,
    /// Best validation accuracy, when the run had a validation split.
    pub best_validation_accuracy: Option<f64>,
    /// Loss of the last displayed training minibatch.
    pub final_train_loss: Option<f64>,
    /// Optimisation steps taken.
    pub steps: Option<i64>,
    /// Training seconds (over all sessions).
    pub seconds: Option<f64>,
    /// Training samples per second over the whole run.
    pub samples_per_second: Option<f64>,
    /// Curves for plots; left out of JSON when empty.
    #[serde(skip_serializing_if = "RunCurves::is_empty")]
    pub curves: RunCurves,
}

/// Count, mean, sample standard deviation, minimum and maximum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// How many values.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1); null for a single value.
    pub std: Option<f64>,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// Standard error of the mean (std / sqrt(n)); null for a single value.
    pub sem: Option<f64>,
    /// 95% confidence interval of the mean, `[low, high]`, from Student's t
    /// with n - 1 degrees of freedom; null for a single value.
    pub ci95: Option<[f64; 2]>,
}

/// Student's t at 0.975 for 1 to 30 degrees of freedom (beyond: 1.96).
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

impl Stats {
    /// Statistics of the values; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Stats> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = (n > 1).then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sem = std.map(|s| s / (n as f64).sqrt());
        let t = T975.get(n.saturating_sub(2)).copied().unwrap_or(1.96);
        let ci95 = sem.map(|e| [mean - t * e, mean + t * e]);
        Some(Stats { n, mean, std, min, max, sem, ci95 })
    }
}

/// Runs that differ only in their seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// What the group's runs have in common among the differing keys (seed keys left out).
    pub differs: BTreeMap<String, Value>,
    /// Runs in the group.
    pub n: usize,
    /// Indices into [`Comparison::runs`].
    pub runs: Vec<usize>,
    /// Over the group's finished runs.
    pub test_accuracy: Option<Stats>,
    /// Best validation accuracies over the group's runs that validated.
    pub best_validation_accuracy: Option<Stats>,
    /// Final training losses over the group's runs.
    pub final_train_loss: Option<Stats>,
}

/// The comparison of a set of runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Dotted config keys whose values differ between the runs, sorted.
    pub keys: Vec<String>,
    /// One row per run, in the order given (or sorted).
    pub runs: Vec<RunRow>,
    /// The runs grouped by everything but their seeds.
    pub groups: Vec<Group>,
    /// The run chosen on validation (never on test): the highest best
    /// validation accuracy, test accuracy beside it; null when no run has a
    /// validation split (`best_missing` says so).
    pub best: Option<Best>,
    /// Why there is no `best`, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_missing: Option<String>,
    /// For each differing key (seeds left out), the runs grouped by its value alone.
    pub marginals: Vec<Marginal>,
}

/// The runs grouped by the values of one key alone (a per-factor, marginal view).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marginal {
    /// The dotted config key.
    pub key: String,
    /// One level per value, best mean first (validation, else test accuracy).
    pub levels: Vec<Level>,
}

/// The runs with one value of a key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Level {
    /// The value.
    pub value: Value,
    /// How many runs have it.
    pub n: usize,
    /// Their best validation accuracies.
    pub best_validation_accuracy: Option<Stats>,
    /// Their test accuracies.
    pub test_accuracy: Option<Stats>,
}

/// The mean a group or level is ranked by: best validation accuracy when
/// `on_validation`, else test accuracy; `None` ranks last.
fn rank_mean(validation: Option<Stats>, test: Option<Stats>, on_validation: bool) -> Option<f64> {
    if on_validation {
        validation.map(|s| s.mean)
    } else {
        test.map(|s| s.mean)
    }
}

/// Descending by `mean`, `None` last, stable.
fn by_mean_descending(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// The marginal of each non-seed key with at least two values.
fn marginals(keys: &[String], runs: &[RunRow], on_validation: bool) -> Vec<Marginal> {
    let mut out = Vec::new();
    for key in keys.iter().filter(|k| !is_seed_key(k)) {
        let mut values: Vec<Value> = Vec::new();
        for run in runs {
            let v = run.differs.get(key).cloned().unwrap_or(Value::Null);
            if !values.contains(&v) {
                values.push(v);
            }
        }
        if values.len() < 2 {
            continue;
        }
        let mut levels: Vec<Level> = values
            .into_iter()
            .map(|value| {
                let of = |r: &&RunRow| r.differs.get(key).unwrap_or(&Value::Null) == &value;
                let members: Vec<&RunRow> = runs.iter().filter(of).collect();
                let pick =
                    |f: fn(&RunRow) -> Option<f64>| -> Vec<f64> { members.iter().filter_map(|r| f(r)).collect() };
                Level {
                    n: members.len(),
                    best_validation_accuracy: Stats::of(&pick(|r| r.best_validation_accuracy)),
                    test_accuracy: Stats::of(&pick(|r| r.test_accuracy)),
                    value,
                }
            })
            .collect();
        levels.sort_by(|a, b| {
            by_mean_descending(
                rank_mean(a.best_validation_accuracy, a.test_accuracy, on_validation),
                rank_mean(b.best_validation_accuracy, b.test_accuracy, on_validation),
            )
        });
        out.push(Marginal { key: key.clone(), levels });
    }
    out
}

/// The keys to show: `choice.keys` when given (each must be in some
/// config), else the keys whose values differ (missing, `null` and `false`
/// alike), leaving out names and [`NON_SEMANTIC_KEYS`]; then `choice.hide` removed.
fn chosen_keys(configs: &[BTreeMap<String, Value>], choice: &KeyChoice) -> Result<Vec<String>, CompareError> {
    let all_keys: std::collections::BTreeSet<&String> = configs.iter().flat_map(|c| c.keys()).collect();
    let differing: Vec<String> = all_keys
        .iter()
        .filter(|k| !IGNORED_KEYS.contains(&k.as_str()))
        .filter(|k| configs.windows(2).any(|w| semantic(w[0].get(**k)) != semantic(w[1].get(**k))))
        .map(|k| (*k).clone())
        .collect();
    let known = || {
        let shown: Vec<&str> = differing.iter().filter(|k| !is_non_semantic(k)).map(String::as_str).collect();
        let list = if shown.is_empty() { all_keys.iter().take(5).map(|k| k.as_str()).collect() } else { shown };
        list.join(", ")
    };
    let check = |option: &'static str, key: &String| {
        if all_keys.contains(key) {
            Ok(())
        } else {
            Err(CompareError::UnknownKey { option, key: key.clone(), known: known() })
        }
    };
    for key in &choice.hide {
        check("hide", key)?;
    }
    let keys = match &choice.keys {
        Some(keys) => {
            for key in keys {
                check("keys", key)?;
            }
            keys.clone()
        }
        None => differing.iter().filter(|k| !is_non_semantic(k)).cloned().collect(),
    };
    Ok(keys.into_iter().filter(|k| !choice.hide.contains(k)).collect())
}

/// The best run, chosen on validation accuracy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Best {
    /// Its folder.
    pub dir: String,
    /// The metric it was chosen on: `best_validation_accuracy`.
    pub metric: &'static str,
    /// Its best validation accuracy.
    pub validation_accuracy: f64,
    /// Its test accuracy, shown beside (not used to choose).
    pub test_accuracy: Option<f64>,
}

/// The run with the highest best validation accuracy (the first on ties),
/// or why there is none.
fn best_on_validation(runs: &[RunRow]) -> (Option<Best>, Option<String>) {
    let best = runs.iter().filter_map(|r| r.best_validation_accuracy.map(|v| (r, v))).fold(
        None::<(&RunRow, f64)>,
        |acc, (r, v)| match acc {
            Some((_, b)) if b >= v => acc,
            _ => Some((r, v)),
        },
    );
    match best {
        Some((r, v)) => (
            Some(Best {
                dir: r.dir.clone(),
                metric: "best_validation_accuracy",
                validation_accuracy: v,
                test_accuracy: r.test_accuracy,
            }),
            None,
        ),
        None => (None, Some("no run has a validation split (set data.validation), so none is chosen".into())),
    }
}

/// Reads a run's JSON file with the config guards: a regular file (after
/// links) of at most 16 MiB, so that a FIFO or `/dev/zero` is an error.
fn read_json(path: &Path) -> Result<Value, CompareError> {
    use experiment::config::ConfigError;
    let text = experiment::config::read_small_file(path).map_err(|e| match e {
        ConfigError::Read { source, .. } => CompareError::Read { path: path.to_owned(), source },
        other => CompareError::NotAFile { path: path.to_owned(), why: not_a_file_reason(&other) },
    })?;
    serde_json::from_str(&text).map_err(|source| CompareError::Json { path: path.to_owned(), source })
}

/// The reason of a config-guard error, without its "cannot read config" prefix.
fn not_a_file_reason(error: &experiment::config::ConfigError) -> String {
    match error {
        experiment::config::ConfigError::NotAFile { why, .. } => why.clone(),
        other => other.to_string(),
    }
}

/// The run folders a path stands for: itself when it holds `config.json`; a
/// sweep folder's trials in `sweep.json` order; else the run folders directly
/// inside it, by name.
pub fn run_dirs(path: &Path) -> Result<Vec<PathBuf>, CompareError> {
    if RunFolder::new(path).holds_run() {
        return Ok(vec![path.to_owned()]);
    }
    let sweep = path.join(experiment::run_folder::SWEEP_FILE);
    if sweep.exists() {
        let value = read_json(&sweep)?;
        let trials = value.get("trials").and_then(Value::as_array).cloned().unwrap_or_default();
        let dirs: Vec<PathBuf> = trials
            .iter()
            .filter_map(|t| t.get("dir").and_then(Value::as_str))
            .map(|d| path.join(d))
            .filter(|d| RunFolder::new(d).holds_run())
            .collect();
        if !dirs.is_empty() {
            return Ok(dirs);
        }
    }
    let entries = std::fs::read_dir(path).map_err(|source| CompareError::Read { path: path.to_owned(), source })?;
    let mut dirs: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| RunFolder::new(p).holds_run()).collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(CompareError::NoRuns(path.to_owned()));
    }
    Ok(dirs)
}

/// Flattens a config into dotted keys; arrays and scalars are leaves.
pub fn flatten(value: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
            other => {
                out.insert(prefix.to_owned(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", value, &mut out);
    out
}

/// Whether a dotted key is a seed (runs differing only in seeds form a group).
pub fn is_seed_key(key: &str) -> bool {
    key == "seed" || key.ends_with(".seed")
}

/// What a run's metrics.jsonl says: its curves, last step, training time so far and best validation accuracy.
#[derive(Default)]
struct Progress {
    curves: RunCurves,
    last_step: Option<i64>,
    last_elapsed: Option<f64>,
    best_seen: Option<f64>,
}

/// The [`Progress`] of a run, from its metrics.jsonl.
fn read_progress(run: &RunFolder) -> Result<Progress, CompareError> {
    let mut curves = RunCurves::default();
    let (mut last_step, mut last_elapsed, mut best_seen) = (None, None, None::<f64>);
    // A metrics.jsonl that cannot be read (not a regular file, damaged)
    // leaves the curves out; the run is still compared.
    let records = run.read_metrics().unwrap_or_else(|e| {
        tracing::warn!(run = %run.dir().display(), "curves left out: {e}");
        Vec::new()
    });
    for record in records {
        last_step = Some(record.step());
        match record {
            MetricRecord::Train { step, loss, elapsed, .. } => {
                last_elapsed = Some(elapsed);
                curves.train_loss.push((step as f64, loss));
            }
            MetricRecord::Validation { step, accuracy, elapsed, .. } => {
                last_elapsed = Some(elapsed);
                curves.validation_accuracy.push((step as f64, accuracy));
                best_seen = Some(best_seen.map_or(accuracy, |b| b.max(accuracy)));
            }
        }
    }
    Ok(Progress { curves, last_step, last_elapsed, best_seen })
}

/// Everything a run folder says about the run, except what differs.
fn read_run(dir: &Path) -> Result<(BTreeMap<String, Value>, RunRow), CompareError> {
    let run = RunFolder::new(dir);
    let config = flatten(&run.read_config_json()?);
    let report = run.read_report()?;
    let train = report.as_ref().and_then(|r| r.train.clone()).unwrap_or_default();
    let Progress { curves, last_step, last_elapsed, best_seen } = read_progress(&run)?;
    let seconds = train.seconds.or(last_elapsed);
    let row = RunRow {
        dir: dir.display().to_string(),
        name: config.get("name").and_then(Value::as_str).map(str::to_owned),
        differs: BTreeMap::new(),
        group: 0,
        finished: report.is_some(),
        test_accuracy: report.as_ref().map(|r| r.accuracy),
        best_validation_accuracy: train.best_validation.as_ref().map(|b| b.accuracy).or(best_seen),
        final_train_loss: curves.train_loss.last().map(|p| p.1).or(train.last_loss),
        steps: train.steps.or(last_step),
        seconds,
        samples_per_second: match (train.samples, seconds) {
            (Some(n), Some(s)) if s > 0.0 => Some(n / s),
            _ => None,
        },
        curves,
    };
    Ok((config, row))
}

/// Compares the runs under `paths` (run folders, or sweep folders meaning their trials).
/// A run with a damaged or unreadable `config.json` or `report.json` is
/// left out with a warning naming the run and the file (the others are
/// compared); when no run is left, that is an error.
pub fn compare(paths: &[PathBuf]) -> Result<Comparison, CompareError> {
    compare_with(paths, &KeyChoice::default())
}

/// As [`compare`], showing and grouping by the keys `choice` picks; the
/// groups are sorted by their mean (best validation accuracy, or test
/// accuracy when no run validated), best first, and each key gets its
/// [`Marginal`].
pub fn compare_with(paths: &[PathBuf], choice: &KeyChoice) -> Result<Comparison, CompareError> {
    let mut configs = Vec::new();
    let mut runs = Vec::new();
    let mut skipped = None;
    for path in paths {
        check_path(path)?;
        for dir in run_dirs(path)? {
            match read_run(&dir) {
                Ok((config, row)) => {
                    configs.push(config);
                    runs.push(row);
                }
                Err(e) => {
                    tracing::warn!(run = %dir.display(), "run skipped: {e}");
                    skipped = Some(e);
                }
            }
        }
    }
    if let (true, Some(e)) = (runs.is_empty(), skipped) {
        return Err(e);
    }
    let keys = chosen_keys(&configs, choice)?;
    let mut groups: Vec<Group> = Vec::new();
    for (i, (config, row)) in configs.iter().zip(runs.iter_mut()).enumerate() {
        row.differs = keys.iter().map(|k| (k.clone(), config.get(k).cloned().unwrap_or(Value::Null))).collect();
        let common: BTreeMap<String, Value> =
            row.differs.iter().filter(|(k, _)| !is_seed_key(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        row.group = match groups.iter().position(|g| g.differs == common) {
            Some(g) => g,
            None => {
                groups.push(Group {
                    differs: common,
                    n: 0,
                    runs: Vec::new(),
                    test_accuracy: None,
                    best_validation_accuracy: None,
                    final_train_loss: None,
                });
                groups.len() - 1
            }
        };
        groups[row.group].runs.push(i);
    }
    for group in &mut groups {
        let pick =
            |f: fn(&RunRow) -> Option<f64>| -> Vec<f64> { group.runs.iter().filter_map(|&i| f(&runs[i])).collect() };
        group.n = group.runs.len();
        group.test_accuracy = Stats::of(&pick(|r| r.test_accuracy));
        group.best_validation_accuracy = Stats::of(&pick(|r| r.best_validation_accuracy));
        group.final_train_loss = Stats::of(&pick(|r| r.final_train_loss));
    }
    let on_validation = runs.iter().any(|r| r.best_validation_accuracy.is_some());
    sort_groups(&mut groups, &mut runs, on_validation);
    let (best, best_missing) = best_on_validation(&runs);
    let marginals = marginals(&keys, &runs, on_validation);
    Ok(Comparison { keys, runs, groups, best, best_missing, marginals })
}

/// Sorts the groups by their mean, best first (ties keep their order), and
/// renumbers the runs' `group`.
fn sort_groups(groups: &mut Vec<Group>, runs: &mut [RunRow], on_validation: bool) {
    let mut order: Vec<usize> = (0..groups.len()).collect();
    let mean = |g: &Group| rank_mean(g.best_validation_accuracy, g.test_accuracy, on_validation);
    order.sort_by(|&a, &b| by_mean_descending(mean(&groups[a]), mean(&groups[b])));
    let sorted: Vec<Group> = order.iter().map(|&i| groups[i].clone()).collect();
    for run in runs.iter_mut() {
        run.group = order.iter().position(|&i| i == run.group).unwrap_or(run.group);
    }
    *groups = sorted;
}

/// A path to compare must be a folder: anything else is a usage error.
fn check_path(path: &Path) -> Result<(), CompareError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(CompareError::NotAFolder {
            what: "compare",
            path: path.to_owned(),
            why: "is a file, not a folder; give run folders or sweep folders".into(),
        }),
        Err(e) => Err(CompareError::NotAFolder {
            what: "compare",
            path: path.to_owned(),
            why: format!("{e}; give run folders or sweep folders"),
        }),
    }
}

/// Checks `compare --out DIR` before any work: DIR, or the nearest part of
/// it that exists, must be a folder (`/dev/full` or a regular file is "a
/// file, not a folder").
pub fn check_out(dir: &Path) -> Result<(), CompareError> {
    let mut existing = dir;
    loop {
        match std::fs::metadata(existing) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(CompareError::NotAFolder {
                    what: "--out",
                    path: dir.to_owned(),
                    why: format!(
                        "{} is a file, not a folder; give a folder for summary.json, summary.csv and compare.svg",
                        existing.display()
                    ),
                })
            }
            Err(_) => match existing.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
                _ => return Ok(()),
            },
        }
    }
}

impl Comparison {
    /// Sorts the runs by a column of [`SORT_KEYS`] or a differing config key,
    /// ascending (descending with a leading `-`); runs without a value go last.
    pub fn sort(&mut self, key: &str) -> Result<(), CompareError> {
        let (descending, column) = match key.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, key),
        };
        if !SORT_KEYS.contains(&column) && !self.keys.iter().any(|k| k == column) {
            return Err(CompareError::BadSort(key.to_owned()));
        }
        let value = |r: &RunRow| -> Value {
            match column {
                "dir" => Value::from(r.dir.clone()),
                "test_accuracy" => r.test_accuracy.map_or(Value::Null, Value::from),
                "best_validation_accuracy" => r.best_validation_accuracy.map_or(Value::Null, Value::from),
                "final_train_loss" => r.final_train_loss.map_or(Value::Null, Value::from),
                "steps" => r.steps.map_or(Value::Null, Value::from),
                "seconds" => r.seconds.map_or(Value::Null, Value::from),
                "samples_per_second" => r.samples_per_second.map_or(Value::Null, Value::from),
                k => r.differs.get(k).cloned().unwrap_or(Value::Null),
            }
        };
        let mut order: Vec<usize> = (0..self.runs.len()).collect();
        order.sort_by(|&a, &b| {
            let (va, vb) = (value(&self.runs[a]), value(&self.runs[b]));
            match (va.is_null(), vb.is_null()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if descending => compare_values(&vb, &va),
                _ => compare_values(&va, &vb),
            }
        });
        let runs: Vec<RunRow> = order.iter().map(|&i| self.runs[i].clone()).collect();
        for group in &mut self.groups {
            group.runs = group.runs.iter().map(|r| order.iter().position(|o| o == r).unwrap_or(*r)).collect();
            group.runs.sort_unstable();
        }
        self.runs = runs;
        Ok(())
    }

    /// The JSON of `--json` and `summary.json`: runs and groups, without the curves.
    pub fn summary_json(&self) -> Value {
        let mut plain = self.clone();
        for run in &mut plain.runs {
            run.curves = RunCurves::default();
        }
        serde_json::to_value(&plain).unwrap_or(Value::Null)
    }
}

fn compare_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => short(a).cmp(&short(b)),
    }
}

/// A value as shown in tables and CSV: strings bare, everything else as JSON.
pub fn short(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A group's label: its differing values, `key=value` joined by spaces (`all runs` when none).
pub fn group_label(group: &Group) -> String {
    if group.differs.is_empty() {
        return "all runs".into();
    }
    group.differs.iter().map(|(k, v)| format!("{}={}", k, short(v))).collect::<Vec<_>>().join(" ")
}

mod output;
pub use output::{csv, table, write_outputs, write_svg};

#[cfg(test)]
mod tests;
