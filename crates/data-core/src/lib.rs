//! The one dataset type of lstm-mnist, shared by every data crate and by
//! the trainer and the evaluator, which never depend on a data crate.
//!
//! * [`Split`]: features `[N, T, F]` `f32`, optional per-sequence lengths
//!   `[N]` `i64` (`None`: every sequence has all `T` steps), labels `[N]` `i64`.
//!   Pictures are `[N, height, width]`: each row a time step, each pixel of
//!   the row a feature.
//! * [`Dataset`]: training, optional validation and test splits, the class
//!   names, the [`InputSpec`] (what the raw input is and how it is prepared)
//!   and the [`Standardization`] applied, if any.
//! * [`Normalize`] and [`Standardization`]: fitted on the training split only,
//!   one global value for pictures or one per feature for sequences,
//!   serialisable (a model saves it in `model.json`).
//! * [`ValidationSize`] and [`holdout::stratified_holdout`]: the validation
//!   hold-out every source shares.
//! * [`DataSource`]: what a data crate implements; the bin registers each
//!   source with one line.
//!
//! ```
//! use data_core::{Dataset, InputSpec, Invert, PictureInput, Scope, Split};
//! use tch::{Kind, Tensor};
//! let split = |n| Split::new(Tensor::rand([n, 4, 4], (Kind::Float, tch::Device::Cpu)), Tensor::zeros([n], (Kind::Int64, tch::Device::Cpu)));
//! let mut data = Dataset {
//!     train: split(8),
//!     validation: None,
//!     test: split(2),
//!     class_names: vec!["only".into()],
//!     input: InputSpec::Picture(PictureInput::new(4, 4, Invert::Auto)),
//!     standardization: None,
//! };
//! data.standardize(Scope::Global)?;
//! assert!(data.train.features.mean(Kind::Double).double_value(&[]).abs() < 1e-5);
//! assert_eq!(data.standardization.unwrap().mean.len(), 1);
//! # Ok::<(), data_core::DataCoreError>(())
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

mod error;
pub mod holdout;
mod input;
pub mod memory;
mod normalize;
mod source;
mod validation;

use tch::{Kind, Tensor};

pub use error::DataCoreError;
pub use holdout::{stratified_holdout, Holdout};
pub use input::{InputSpec, Invert, PictureInput, Resize, SequenceInput};
pub use normalize::{Normalize, Scope, Standardization};
pub use source::{DataSource, Locations, SourceError};
pub use validation::{short_float, ValidationSize};

/// One split as tensors: features `[N, T, F]` `f32`, optional lengths `[N]`
/// `i64` (each in `1..=T`; `None` = all `T` steps real), labels `[N]` `i64`.
#[derive(Debug)]
pub struct Split {
    /// Input values `[N, T, F]`; steps past a sequence's length are padding.
    pub features: Tensor,
    /// Real steps of each sequence `[N]`, or `None` when all are `T` long.
    pub lengths: Option<Tensor>,
    /// Class indices `[N]`.
    pub labels: Tensor,
}

impl Split {
    /// A split of equal-length sequences (or pictures).
    pub fn new(features: Tensor, labels: Tensor) -> Self {
        Split { features, lengths: None, labels }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.size().first().copied().unwrap_or(0) as usize
    }

    /// Whether the split holds no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The examples at `index` (in that order), lengths included.
    pub fn select(&self, index: &[i64]) -> Result<Split, DataCoreError> {
        let index = Tensor::f_from_slice(index)?;
        Ok(Split {
            features: self.features.f_index_select(0, &index)?,
            lengths: self.lengths.as_ref().map(|l| l.f_index_select(0, &index)).transpose()?,
            labels: self.labels.f_index_select(0, &index)?,
        })
    }

    /// A shallow copy sharing the same tensors.
    pub fn shallow_clone(&self) -> Split {
        Split {
            features: self.features.shallow_clone(),
            lengths: self.lengths.as_ref().map(Tensor::shallow_clone),
            labels: self.labels.shallow_clone(),
        }
    }

    /// Checks the shapes and kinds: features `[N, T, F]` `f32` with `T, F > 0`,
    /// labels `[N]` `i64`, lengths (if any) `[N]` `i64` in `1..=T`. `what`
    /// names the split in the message (`training split`).
    pub fn check(&self, what: &str) -> Result<(), DataCoreError> {
        let bad = |detail: String| DataCoreError::BadSplit { what: what.to_owned(), detail };
        let (f, l) = (self.features.size(), self.labels.size());
        if f.len() != 3 || l.len() != 1 || f[0] != l[0] || f[1] == 0 || f[2] == 0 {
            return Err(bad(format!("{f:?} features for {l:?} labels; expected [N, T, F] and [N], T and F > 0")));
        }
        if self.features.kind() != Kind::Float || self.labels.kind() != Kind::Int64 {
            let kinds = (self.features.kind(), self.labels.kind());
            return Err(bad(format!("{kinds:?} features and labels; expected Float and Int64")));
        }
        if let Some(lengths) = &self.lengths {
            if lengths.size() != [l[0]] || lengths.kind() != Kind::Int64 {
                return Err(bad(format!(
                    "lengths {:?} {:?}; expected [{}] Int64",
                    lengths.size(),
                    lengths.kind(),
                    l[0]
                )));
            }
            if l[0] > 0 {
                let (lo, hi) = (lengths.f_min()?.f_int64_value(&[])?, lengths.f_max()?.f_int64_value(&[])?);
                if lo < 1 || hi > f[1] {
                    return Err(bad(format!("lengths from {lo} to {hi}; each must be in 1..={}", f[1])));
                }
            }
        }
        Ok(())
    }

    /// The values of every real step, `[M, F]` (padding left out).
    pub(crate) fn real_steps(&self) -> Result<Tensor, DataCoreError> {
        let size = self.features.size();
        let (steps, features) = (size[1], size[2]);
        let Some(lengths) = &self.lengths else {
            return Ok(self.features.f_reshape([-1, features])?);
        };
        let positions = Tensor::f_arange(steps, (Kind::Int64, self.features.device()))?.f_unsqueeze(0)?;
        let real = positions.f_lt_tensor(&lengths.f_unsqueeze(1)?)?;
        Ok(self.features.f_index(&[Some(real)])?)
    }
}

/// A dataset as every data source returns it and as the trainer and the
/// evaluator take it.
#[derive(Debug)]
pub struct Dataset {
    /// Training split (without any validation examples held out of it).
    pub train: Split,
    /// Validation split, when asked for.
    pub validation: Option<Split>,
    /// Test split.
    pub test: Split,
    /// One name per class index.
    pub class_names: Vec<String>,
    /// What the raw input is and how it is prepared.
    pub input: InputSpec,
    /// The statistics every split was standardised with, if it was.
    pub standardization: Option<Standardization>,
}

impl Dataset {
    /// Standardises every split with statistics fitted on the training split
    /// (`data.normalize: "standardize"`), and records them.
    pub fn standardize(&mut self, scope: Scope) -> Result<(), DataCoreError> {
        let st = Standardization::fit(&self.train, scope)?;
        for split in self.splits_mut() {
            split.features = st.apply(&split.features)?;
        }
        self.standardization = Some(st);
        Ok(())
    }

    /// [`Dataset::standardize`] when `normalize` says so.
    pub fn normalize(&mut self, normalize: Normalize, scope: Scope) -> Result<(), DataCoreError> {
        match normalize {
            Normalize::Scale => Ok(()),
            Normalize::Standardize => self.standardize(scope),
        }
    }

    /// The training, validation (if any) and test splits.
    pub fn splits_mut(&mut self) -> impl Iterator<Item = &mut Split> {
        std::iter::once(&mut self.train).chain(self.validation.as_mut()).chain(std::iter::once(&mut self.test))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(n: i64, steps: i64) -> Split {
        let features = Tensor::arange(n * steps * 2, (Kind::Float, tch::Device::Cpu)).reshape([n, steps, 2]);
        Split::new(features, Tensor::arange(n, (Kind::Int64, tch::Device::Cpu)))
    }

    #[test]
    fn select_keeps_lengths_and_order() {
        let mut s = split(4, 3);
        s.lengths = Some(Tensor::from_slice(&[1i64, 2, 3, 1]));
        let picked = s.select(&[2, 0]).unwrap();
        assert_eq!(Vec::<i64>::try_from(&picked.labels).unwrap(), [2, 0]);
        assert_eq!(Vec::<i64>::try_from(picked.lengths.as_ref().unwrap()).unwrap(), [3, 1]);
        assert_eq!(picked.features.size(), [2, 3, 2]);
        assert_eq!(picked.len(), 2);
        picked.check("picked").unwrap();
    }

    #[test]
    fn check_names_the_split_and_the_problem() {
        let mut s = split(2, 3);
        s.lengths = Some(Tensor::from_slice(&[0i64, 4]));
        let err = s.check("training split").unwrap_err().to_string();
        assert!(err.starts_with("training split:") && err.contains("1..=3"), "{err}");
        let flat = Split::new(Tensor::zeros([2, 3], (Kind::Float, tch::Device::Cpu)), s.labels.copy());
        assert!(flat.check("test split").unwrap_err().to_string().contains("[N, T, F]"));
        let ints = Split::new(s.features.to_kind(Kind::Int64), s.labels.copy());
        assert!(ints.check("x").unwrap_err().to_string().contains("Float"));
    }

    #[test]
    fn standardize_fits_on_training_only() {
        let mut data = Dataset {
            train: split(2, 2),
            validation: Some(split(1, 2)),
            test: split(1, 2),
            class_names: vec!["a".into(), "b".into()],
            input: InputSpec::Sequence(SequenceInput { features: 2, points_per_step: 1 }),
            standardization: None,
        };
        let before = data.test.features.copy();
        data.normalize(Normalize::Standardize, Scope::PerFeature).unwrap();
        let st = data.standardization.clone().unwrap();
        assert_eq!(st.mean, [3.0, 4.0]);
        let expected = (before.double_value(&[0, 1, 1]) - 4.0) / st.std[1];
        assert!((data.test.features.double_value(&[0, 1, 1]) - expected).abs() < 1e-5);
        assert_eq!(data.splits_mut().count(), 3);
    }
}
