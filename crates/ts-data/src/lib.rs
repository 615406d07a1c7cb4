//! Reads UCR/UEA time-series classification problems — `.ts` files,
//! univariate or multivariate, of equal or unequal lengths — into the one
//! [`Dataset`] of `data-core`: features `[N, T, F]` (`F` dimensions, `T` the
//! longest series of the split, shorter ones padded with zeros at the end),
//! lengths `[N]` when the series differ in length, labels `[N]`, the class
//! names of `@classLabel`.
//!
//! A problem `NAME` is `DIR/NAME/NAME_TRAIN.ts` and `DIR/NAME/NAME_TEST.ts`
//! (the layout of the UCR/UEA archive and of the aeon wheel's
//! `datasets/data/`), or the same two files directly in `DIR`. In an
//! experiment config:
//!
//! ```json
//! "data": {"source": "ts", "dir": "~/.cache/lstm-mnist/data", "problem": "JapaneseVowels",
//!          "validation": 0.1, "normalize": "standardize", "seed": 0, "points_per_step": 1}
//! ```
//!
//! ```no_run
//! use data_core::{DataSource, Locations};
//! let config = ts_data::TsConfig::new("JapaneseVowels");
//! let places = Locations { default_dir: None, cache_dir: Some("/home/me/.cache/lstm-mnist/data".into()) };
//! let data = config.load(&places)?;
//! assert_eq!(data.class_names.len(), 9);
//! # Ok::<(), ts_data::TsError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

mod batches;
mod error;
pub mod parse;
mod points;

use std::path::{Path, PathBuf};

use data_core::{
    stratified_holdout, DataSource, Dataset, InputSpec, Locations, Normalize, Scope, SequenceInput, Split,
    ValidationSize,
};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

pub use batches::{SeriesBatch, SeriesBatches, BATCH_SERIES, BATCH_VALUES};
pub use error::{Result, TsError};
pub use parse::{Labels, Missing, TsFile};
pub use points::{PointsPerStep, MAX_POINTS_PER_STEP};

/// The `data` section of an experiment reading a `.ts` problem
/// (`"source": "ts"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsConfig {
    /// The folder holding the problem (`DIR/NAME/NAME_TRAIN.ts`, or
    /// `DIR/NAME_TRAIN.ts`; a leading `~/` is the home folder). Default: the
    /// application's folder of datasets ([`Locations::cache_dir`]; for
    /// lstm-mnist `~/.cache/lstm-mnist/data`, where `scripts/setup-ts-data.sh`
    /// puts the aeon wheel's problems).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The problem's name, for example `"JapaneseVowels"`. Required.
    pub problem: String,
    /// Training series held out for validation, stratified by class: a
    /// count (`27`) or a fraction (`0.1`). Default: none.
    #[serde(default)]
    pub validation: Option<ValidationSize>,
    /// `"standardize"`: subtract the training split's mean and divide by its
    /// standard deviation, per dimension (the statistics are saved with the
    /// model); `"scale"`: keep the file's values. Default `"standardize"`.
    #[serde(default = "standardize")]
    pub normalize: Normalize,
    /// Missing values (`?`, `NaN`): `"refuse"` (an error naming the file and
    /// line), `"zero"` or `"previous"`. Default `"refuse"`.
    #[serde(default)]
    pub missing: Missing,
    /// Seed of the validation hold-out. Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Consecutive points (all dimensions) the model reads as one time step:
    /// a whole number, or `"auto"` (about the square root of the training
    /// series' median length, preferring whole steps; see [`PointsPerStep`]).
    /// Saved in the model.
    /// Default `1`.
    #[serde(default, skip_serializing_if = "is_one_point")]
    pub points_per_step: PointsPerStep,
}

fn is_one_point(p: &PointsPerStep) -> bool {
    *p == PointsPerStep::Fixed(1)
}

fn standardize() -> Normalize {
    Normalize::Standardize
}

impl TsConfig {
    /// The problem `problem` in the default folder, standardised, no validation.
    pub fn new(problem: impl Into<String>) -> Self {
        TsConfig {
            dir: None,
            problem: problem.into(),
            validation: None,
            normalize: Normalize::Standardize,
            missing: Missing::Refuse,
            seed: 0,
            points_per_step: PointsPerStep::Fixed(1),
        }
    }

    /// The training and test files of the problem: the first pair that
    /// exists of `DIR/NAME/NAME_{TRAIN,TEST}.ts` and `DIR/NAME_{TRAIN,TEST}.ts`.
    pub fn files(&self, locations: &Locations) -> Result<(PathBuf, PathBuf)> {
        self.check()?;
        let dir = match (&self.dir, &locations.cache_dir) {
            (Some(dir), _) => expand_home(dir),
            (None, Some(dir)) => dir.clone(),
            (None, None) => {
                return Err(TsError::invalid_config("data.dir", "(none)", "name the folder holding the .ts problems"))
            }
        };
        let name = &self.problem;
        let pair = |base: &Path| (base.join(format!("{name}_TRAIN.ts")), base.join(format!("{name}_TEST.ts")));
        let candidates = [pair(&dir.join(name)), pair(&dir)];
        if let Some(found) = candidates.iter().find(|(train, test)| train.is_file() && test.is_file()) {
            return Ok(found.clone());
        }
        let (key, value) =
            if dir.is_dir() { ("data.problem", name.clone()) } else { ("data.dir", dir.display().to_string()) };
        Err(TsError::invalid_config(
            key,
            value,
            format!(
                "found neither {} nor {}; check data.dir and data.problem (scripts/setup-ts-data.sh puts the \
                 aeon wheel's problems in ~/.cache/lstm-mnist/data)",
                candidates[0].0.display(),
                candidates[1].0.display()
            ),
        ))
    }
}

/// `~/x` with the home folder's path; other paths as they are.
fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_owned(),
    }
}

impl DataSource for TsConfig {
    type Error = TsError;

    fn check(&self) -> Result<()> {
        let name = &self.problem;
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(TsError::invalid_config(
                "data.problem",
                format!("{name:?}"),
                "give a problem's name, like \"JapaneseVowels\" (the folder goes in data.dir)",
            ));
        }
        Ok(())
    }

    fn load(&self, locations: &Locations) -> Result<Dataset> {
        let (train_path, test_path) = self.files(locations)?;
        let train = parse::read(&train_path, Labels::Required, self.missing)?;
        let test = parse::read(&test_path, Labels::Required, self.missing)?;
        let mismatch =
            |detail: String| TsError::Mismatch { train: train_path.clone(), test: test_path.clone(), detail };
        if train.header.class_names != test.header.class_names {
            return Err(mismatch(format!(
                "different class names ({} and {})",
                train.header.class_names.join(" "),
                test.header.class_names.join(" ")
            )));
        }
        if train.header.dimensions != test.header.dimensions {
            let dims = (train.header.dimensions, test.header.dimensions);
            return Err(mismatch(format!("{} and {} dimensions", dims.0, dims.1)));
        }
        if train.cases.is_empty() || test.cases.is_empty() {
            return Err(mismatch("a file holds no case".into()));
        }
        let features = u32::try_from(train.header.dimensions).unwrap_or(u32::MAX);
        let lengths: Vec<usize> = train.cases.iter().map(|c| c.length).collect();
        let points_per_step = self.points_per_step.resolve(&lengths);
        let full = split_of(&train)?;
        let (train_split, validation) = self.hold_out(full, &train)?;
        let mut data = Dataset {
            train: train_split,
            validation,
            test: split_of(&test)?,
            class_names: train.header.class_names.clone(),
            input: InputSpec::Sequence(SequenceInput { features, points_per_step }),
            standardization: None,
        };
        data.normalize(self.normalize, Scope::PerFeature)?;
        let (lo, hi) = train.cases.iter().fold((usize::MAX, 0), |(lo, hi), c| (lo.min(c.length), hi.max(c.length)));
        tracing::info!(
            problem = %self.problem,
            train = train.cases.len(),
            test = test.cases.len(),
            dimensions = features,
            shortest = lo,
            longest = hi,
            "read .ts problem"
        );
        tracing::info!(
            points_per_step,
            steps = hi.div_ceil(points_per_step as usize),
            features_per_step = points_per_step * features,
            rule = %self.points_per_step,
            "series read {points_per_step} points per step"
        );
        Ok(data)
    }
}

impl TsConfig {
    /// Splits the training file's split into training and validation as
    /// `validation` says (stratified, seeded).
    fn hold_out(&self, full: Split, file: &TsFile) -> Result<(Split, Option<Split>)> {
        let Some(size) = self.validation else { return Ok((full, None)) };
        let count = size.count(full.len())?;
        let labels: Vec<u32> = file.cases.iter().map(|c| c.label.unwrap_or(0) as u32).collect();
        let h = stratified_holdout(&labels, count, self.seed);
        Ok((tighten(full.select(&h.train)?)?, Some(tighten(full.select(&h.validation)?)?)))
    }
}

/// The split of a file's cases: features `[N, T, F]` with `T` the longest
/// case (zeros after each shorter one), lengths when they differ, labels.
pub fn split_of(file: &TsFile) -> Result<Split> {
    let dims = file.header.dimensions.max(1);
    let steps = file.cases.iter().map(|c| c.length).max().unwrap_or(0);
    let mut values = vec![0f32; file.cases.len() * steps * dims];
    for (i, case) in file.cases.iter().enumerate() {
        let start = i * steps * dims;
        values[start..start + case.values.len()].copy_from_slice(&case.values);
    }
    let n = file.cases.len() as i64;
    let features = Tensor::f_from_slice(&values)?.f_reshape([n, steps as i64, dims as i64])?;
    let labels: Vec<i64> = file.cases.iter().map(|c| c.label.map_or(-1, |l| l as i64)).collect();
    let lengths: Vec<i64> = file.cases.iter().map(|c| c.length as i64).collect();
    let equal = lengths.iter().all(|&l| l == steps as i64);
    let lengths = if equal { None } else { Some(Tensor::f_from_slice(&lengths)?) };
    Ok(Split { features, lengths, labels: Tensor::f_from_slice(&labels)? })
}

/// The split with its padding cut to its own longest sequence, and no lengths
/// when all are equal (after a hold-out took the longest ones away).
fn tighten(split: Split) -> Result<Split> {
    let Some(lengths) = &split.lengths else { return Ok(split) };
    if split.is_empty() {
        return Ok(split);
    }
    let (lo, hi) = (lengths.f_min()?.f_int64_value(&[])?, lengths.f_max()?.f_int64_value(&[])?);
    let features = split.features.f_narrow(1, 0, hi)?;
    let lengths = if lo == hi { None } else { Some(lengths.f_to_kind(Kind::Int64)?) };
    Ok(Split { features, lengths, labels: split.labels })
}

#[cfg(test)]
mod tests;
