//! A second data source for lstm-mnist: a generated, labelled
//! sequence-classification dataset, as libtorch tensors.
//!
//! Each example is a sequence of `steps` time steps of `features` values in
//! `[0, 1]`: a noisy travelling wave whose number of cycles over the sequence
//! is its class (class `k` makes `k + 1` cycles), with a random phase and
//! amplitude. Telling the classes apart needs the whole sequence, which is
//! what an LSTM reads. The output is data-core's one [`Dataset`] — features
//! `[N, steps, features]` `f32` and labels `[N]` `i64` — so the bin can swap
//! this crate in for `mnist-data` with no change to `trainer`, `eval` or
//! `lstm-model`. [`SynthConfig`] is a [`data_core::DataSource`].
//!
//! ```no_run
//! let data = synth_data::generate(&synth_data::SynthConfig::default())?;
//! assert_eq!(data.train.features.size(), [2000, 28, 28]);
//! assert_eq!(data.class_names[0], "1 cycle");
//! # Ok::<(), synth_data::SynthError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

use data_core::{Dataset, InputSpec, SequenceInput, Split};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// What can go wrong while generating.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A config value cannot be used (the shared [`config_error::InvalidConfig`]:
    /// the dotted key, the value, what would fix it).
    #[error(transparent)]
    InvalidConfig(#[from] config_error::InvalidConfig),
    /// libtorch refused an operation (the message's first line: libtorch
    /// appends C++ stack frames, which say nothing to a user).
    #[error("libtorch error: {}", config_error::first_line(.0))]
    Torch(#[from] tch::TchError),
}

impl SynthError {
    /// An [`InvalidConfig`](Self::InvalidConfig) error for the dotted config key `key`.
    pub fn invalid_config(key: impl Into<String>, value: impl ToString, hint: impl Into<String>) -> Self {
        SynthError::InvalidConfig(config_error::InvalidConfig::new(key, value, hint))
    }

    /// Whether a config value is at fault (exit status 2 in the bin) rather than libtorch (1).
    pub fn is_config(&self) -> bool {
        matches!(self, SynthError::InvalidConfig(_))
    }
}

/// The generated dataset's settings (the `data` section with `"source": "synth"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthConfig {
    /// Number of classes, 2 to `steps / 2`. Default: `4`.
    pub classes: usize,
    /// Time steps per sequence (the model's steps). Default: `28`.
    pub steps: usize,
    /// Values per step (the model's features). Default: `28`.
    pub features: usize,
    /// Training examples. Default: `2000`.
    pub train: usize,
    /// Validation examples (generated apart from the training ones). Default: `0`.
    pub validation: usize,
    /// Test examples. Default: `500`.
    pub test: usize,
    /// Standard deviation of the Gaussian noise added to each value. Default: `0.1`.
    pub noise: f64,
    /// Seed; each split has its own stream. Default: `0`.
    pub seed: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self { classes: 4, steps: 28, features: 28, train: 2000, validation: 0, test: 500, noise: 0.1, seed: 0 }
    }
}

/// The most steps (and the most features) a generated sequence may have.
pub const MAX_LENGTH: usize = 4096;
/// The most examples of one split.
pub const MAX_EXAMPLES: usize = 10_000_000;
/// The most values (examples × steps × features) of one split: 2^28, 1 GiB of `f32`.
pub const MAX_SPLIT_VALUES: usize = 1 << 28;

impl SynthConfig {
    /// Checks every value, including the size limits [`MAX_LENGTH`],
    /// [`MAX_EXAMPLES`] and [`MAX_SPLIT_VALUES`]; the error names the key.
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |key: &str, value: &dyn ToString, hint: String| {
            Err(SynthError::invalid_config(format!("data.{key}"), value.to_string(), hint))
        };
        if self.steps == 0 || self.features == 0 {
            let key = if self.steps == 0 { "steps" } else { "features" };
            return bad(key, &0, "`steps` and `features` must be at least 1".into());
        }
        if self.classes < 2 || self.classes > self.steps / 2 {
            return bad(
                "classes",
                &self.classes,
                format!("use 2 to steps / 2 = {} (a class is a number of cycles over the sequence)", self.steps / 2),
            );
        }
        if self.steps > MAX_LENGTH || self.features > MAX_LENGTH {
            let (key, value) =
                if self.steps > MAX_LENGTH { ("steps", self.steps) } else { ("features", self.features) };
            return bad(key, &value, format!("too large: use at most {MAX_LENGTH}"));
        }
        if self.train == 0 || self.test == 0 {
            let key = if self.train == 0 { "train" } else { "test" };
            return bad(key, &0, "`train` and `test` must be at least 1 example".into());
        }
        for (key, n) in [("train", self.train), ("validation", self.validation), ("test", self.test)] {
            let values = n.checked_mul(self.steps * self.features);
            if n > MAX_EXAMPLES || values.is_none_or(|v| v > MAX_SPLIT_VALUES) {
                return bad(
                    key,
                    &n,
                    format!(
                        "too many examples of {}x{} values: a split may have at most {MAX_EXAMPLES} examples \
                         and 2^28 values (1 GiB)",
                        self.steps, self.features
                    ),
                );
            }
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return bad("noise", &self.noise, "not a standard deviation: use a number >= 0".into());
        }
        Ok(())
    }

    /// One split of `n` examples from the random stream `stream`. Labels cycle
    /// through the classes, so every split is balanced.
    fn split(&self, n: usize, stream: u64) -> Result<Split, SynthError> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream);
        let noise = Normal::new(0.0, self.noise)
            .map_err(|e| SynthError::invalid_config("data.noise", self.noise, e.to_string()))?;
        let (steps, features) = (self.steps, self.features);
        let mut values = Vec::with_capacity(n * steps * features);
        let mut labels = Vec::with_capacity(n);
        let tau = std::f64::consts::TAU;
        for i in 0..n {
            let class = i % self.classes;
            let cycles = (class + 1) as f64;
            let phase = rng.random_range(0.0..tau);
            let amplitude = rng.random_range(0.25..0.45);
            for t in 0..steps {
                for j in 0..features {
                    let angle = tau * cycles * t as f64 / steps as f64 + phase + tau * j as f64 / features as f64;
                    let v = 0.5 + amplitude * angle.sin() + noise.sample(&mut rng);
                    values.push(v.clamp(0.0, 1.0) as f32);
                }
            }
            labels.push(class as i64);
        }
        let images = Tensor::f_from_slice(&values)?.f_reshape([n as i64, steps as i64, features as i64])?;
        Ok(Split::new(images, Tensor::f_from_slice(&labels)?))
    }
}

/// Generates the dataset described by `config`; the same config always gives
/// the same tensors.
pub fn generate(config: &SynthConfig) -> Result<Dataset, SynthError> {
    config.validate()?;
    let train = config.split(config.train, 0)?;
    let validation = if config.validation > 0 { Some(config.split(config.validation, 1)?) } else { None };
    let test = config.split(config.test, 2)?;
    let class_names =
        (1..=config.classes).map(|k| if k == 1 { "1 cycle".to_owned() } else { format!("{k} cycles") }).collect();
    tracing::info!(
        train = config.train,
        validation = config.validation,
        test = config.test,
        steps = config.steps,
        features = config.features,
        classes = config.classes,
        "generated synthetic dataset"
    );
    let input = InputSpec::Sequence(SequenceInput { features: config.features as u32, points_per_step: 1 });
    Ok(Dataset { train, validation, test, class_names, input, standardization: None })
}

impl data_core::SourceError for SynthError {
    fn is_config(&self) -> bool {
        SynthError::is_config(self)
    }
}

/// Generates the dataset the config describes (see [`generate`]).
impl data_core::DataSource for SynthConfig {
    type Error = SynthError;

    fn check(&self) -> Result<(), SynthError> {
        self.validate()
    }

    fn load(&self, _: &data_core::Locations) -> Result<Dataset, SynthError> {
        generate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn small() -> SynthConfig {
        SynthConfig { classes: 3, steps: 12, features: 5, train: 30, validation: 6, test: 9, ..Default::default() }
    }

    #[test]
    fn shapes_kinds_range_and_balance() {
        let data = generate(&small()).unwrap();
        assert_eq!(data.train.features.size(), [30, 12, 5]);
        assert_eq!(data.train.features.kind(), Kind::Float);
        assert_eq!(data.train.labels.kind(), Kind::Int64);
        assert_eq!(data.validation.as_ref().unwrap().features.size(), [6, 12, 5]);
        assert_eq!(data.test.labels.size(), [9]);
        assert!(
            data.train.features.min().double_value(&[]) >= 0.0 && data.train.features.max().double_value(&[]) <= 1.0
        );
        let counts = data.train.labels.bincount(None::<Tensor>, 3);
        assert_eq!(Vec::<i64>::try_from(&counts).unwrap(), vec![10, 10, 10]);
        assert_eq!(data.class_names, vec!["1 cycle", "2 cycles", "3 cycles"]);
    }

    #[test]
    fn seeded_and_splits_differ() {
        let a = generate(&small()).unwrap();
        let b = generate(&small()).unwrap();
        assert!(a.train.features.equal(&b.train.features) && a.test.features.equal(&b.test.features));
        assert!(!a.train.features.narrow(0, 0, 9).equal(&a.test.features), "test is not a copy of train");
        let c = generate(&SynthConfig { seed: 1, ..small() }).unwrap();
        assert!(!a.train.features.equal(&c.train.features));
        assert!(generate(&SynthConfig { validation: 0, ..small() }).unwrap().validation.is_none());
    }

    #[test]
    fn classes_are_told_apart_by_their_frequency() {
        // Without noise, the number of crossings of 0.5 along time in feature 0
        // is twice the number of cycles: the label is in the sequence.
        let config = SynthConfig { noise: 0.0, steps: 40, classes: 4, train: 8, ..small() };
        let Split { features: x, labels: y, .. } = generate(&config).unwrap().train;
        for i in 0..8 {
            let seq: Vec<f32> = Vec::try_from(x.get(i).select(1, 0)).unwrap();
            let crossings = seq.windows(2).filter(|w| (w[0] - 0.5).signum() != (w[1] - 0.5).signum()).count() as i64;
            let label = y.int64_value(&[i]);
            assert!((crossings - 2 * (label + 1)).abs() <= 1, "example {i}: label {label}, {crossings} crossings");
        }
    }

    #[test]
    fn invalid_values_name_their_key() {
        for (config, key) in [
            (SynthConfig { classes: 1, ..small() }, "classes"),
            (SynthConfig { classes: 7, ..small() }, "classes"),
            (SynthConfig { steps: 0, ..small() }, "steps"),
            (SynthConfig { train: 0, ..small() }, "train"),
            (SynthConfig { noise: -1.0, ..small() }, "noise"),
            (SynthConfig { train: 1_000_000_000, ..small() }, "train"),
            (SynthConfig { validation: 1_000_000_000, ..small() }, "validation"),
            (SynthConfig { test: usize::MAX, ..small() }, "test"),
            (SynthConfig { steps: 1_000_000_000, ..small() }, "steps"),
            (SynthConfig { features: 1_000_000_000, ..small() }, "features"),
            (SynthConfig { train: 2_000_000, steps: 400, features: 400, ..small() }, "train"),
        ] {
            let err = generate(&config).unwrap_err();
            assert!(matches!(&err, SynthError::InvalidConfig(c) if c.key == format!("data.{key}")), "{err}");
            assert!(err.to_string().contains(&format!("data.{key}")) && err.is_config(), "{err}");
        }
        let parsed: Result<SynthConfig, _> = serde_json::from_str(r#"{"clases": 3}"#);
        assert!(parsed.unwrap_err().to_string().contains("unknown field"));
    }
}
