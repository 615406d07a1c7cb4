//! Input standardisation: [`Normalize`] (the `data.normalize` key) and the
//! [`Standardization`] statistics, fitted on the training split only and
//! saved with the model so that a copied model folder prepares its input
//! exactly as training did.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::{DataCoreError, Split};

/// How input values are preprocessed, once, when loading (`data.normalize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    /// Keep the source's values (pictures: divided by 255, in `[0, 1]`; the notebook's choice).
    #[default]
    Scale,
    /// Then subtract the training split's mean and divide by its standard
    /// deviation: one mean and one deviation for pictures, one per feature
    /// for sequences ([`Scope`]); the same numbers for every split.
    Standardize,
}

/// Over what the statistics of a [`Standardization`] are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One mean and one deviation over every value (pictures: all pixels).
    Global,
    /// One mean and one deviation per feature (the last dimension), over
    /// every real step of every training sequence (padding excluded).
    PerFeature,
}

/// The mean and standard deviation the input is standardised with: one entry
/// (one global value, pictures) or one per feature (sequences). Model input is
/// `(value - mean) / std`.
///
/// ```
/// use data_core::{Scope, Split, Standardization};
/// use tch::Tensor;
/// let train = Split::new(Tensor::from_slice(&[0.0f32, 1.0, 2.0, 3.0]).reshape([2, 2, 1]), Tensor::from_slice(&[0i64, 1]));
/// let st = Standardization::fit(&train, Scope::Global)?;
/// assert_eq!(st.mean, [1.5]);
/// let out = st.apply(&train.features)?;
/// assert!((out.double_value(&[0, 0, 0]) + 1.5 / st.std[0]).abs() < 1e-6);
/// # Ok::<(), data_core::DataCoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standardization {
    /// Mean of the training split's values: 1 entry, or one per feature.
    pub mean: Vec<f64>,
    /// Standard deviation (unbiased) of the same: as many entries as `mean`.
    pub std: Vec<f64>,
}

impl Standardization {
    /// Fits the statistics on `train` (the training split, never another).
    /// [`Scope::Global`] fails with [`DataCoreError::Constant`] when every
    /// value is the same; with [`Scope::PerFeature`] a constant feature is
    /// only centred (its deviation is taken as 1).
    pub fn fit(train: &Split, scope: Scope) -> Result<Self, DataCoreError> {
        match scope {
            Scope::Global => {
                let mean = train.features.f_mean(Kind::Double)?.f_double_value(&[])?;
                let std = train.features.f_std(true)?.f_double_value(&[])?;
                if std.is_nan() || std <= 0.0 {
                    return Err(DataCoreError::Constant { value: mean });
                }
                Ok(Standardization { mean: vec![mean], std: vec![std] })
            }
            Scope::PerFeature => {
                let values = train.real_steps()?.f_to_kind(Kind::Double)?;
                let mean = Vec::<f64>::try_from(values.f_mean_dim(0, false, Kind::Double)?)?;
                let std = Vec::<f64>::try_from(values.f_std_dim(0, true, false)?)?;
                let std = std.into_iter().map(|s| if s.is_nan() || s <= 0.0 { 1.0 } else { s }).collect();
                Ok(Standardization { mean, std })
            }
        }
    }

    /// Number of features the statistics are for: `None` for one global value.
    pub fn features(&self) -> Option<usize> {
        (self.mean.len() != 1).then_some(self.mean.len())
    }

    /// Checks that mean and deviation have the same, non-zero number of
    /// entries, every deviation is positive and every number finite;
    /// `features` is the input's feature count, which per-feature statistics
    /// must match.
    pub fn check(&self, features: i64) -> Result<(), String> {
        if self.mean.is_empty() || self.mean.len() != self.std.len() {
            return Err(format!("{} means for {} deviations", self.mean.len(), self.std.len()));
        }
        if self.mean.len() != 1 && self.mean.len() as i64 != features {
            return Err(format!("{} per-feature statistics for {features} features", self.mean.len()));
        }
        if self.mean.iter().any(|m| !m.is_finite()) || self.std.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err("a mean that is not finite or a deviation that is not positive".into());
        }
        Ok(())
    }

    /// `(features - mean) / std` for `[..., F]` `f32` features: one value
    /// for all, or one per feature (the last dimension).
    pub fn apply(&self, features: &Tensor) -> Result<Tensor, DataCoreError> {
        if let ([mean], [std]) = (self.mean.as_slice(), self.std.as_slice()) {
            return Ok(features.f_sub_scalar(*mean)?.f_div_scalar(*std)?);
        }
        let device = features.device();
        let as_f32 = |v: &[f64]| Tensor::f_from_slice(v)?.f_to_kind(Kind::Float)?.f_to_device(device);
        Ok(features.f_sub(&as_f32(&self.mean)?)?.f_div(&as_f32(&self.std)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_statistics_are_the_training_splits_and_constant_data_is_refused() {
        let x = Tensor::from_slice(&[0.0f32, 0.5, 1.0, 1.0, 0.0, 0.5]).reshape([2, 3, 1]);
        let split = Split::new(x.copy(), Tensor::from_slice(&[0i64, 1]));
        let st = Standardization::fit(&split, Scope::Global).unwrap();
        assert!((st.mean[0] - 0.5).abs() < 1e-12 && (st.std[0] - x.std(true).double_value(&[])).abs() < 1e-9);
        assert_eq!(st.features(), None);
        let out = st.apply(&x).unwrap();
        assert!(out.mean(Kind::Double).double_value(&[]).abs() < 1e-6);
        let flat = Split::new(Tensor::ones([2, 3, 1], (Kind::Float, tch::Device::Cpu)), split.labels.copy());
        assert!(matches!(Standardization::fit(&flat, Scope::Global), Err(DataCoreError::Constant { .. })));
        let json = serde_json::to_string(&st).unwrap();
        assert_eq!(serde_json::from_str::<Standardization>(&json).unwrap(), st, "round trip");
    }

    #[test]
    fn per_feature_statistics_skip_padding_and_keep_constant_features() {
        // Two sequences of 3 steps, 2 features; the second has 1 real step (padding = 100).
        let x = Tensor::from_slice(&[1.0f32, 5.0, 3.0, 5.0, 5.0, 5.0, 2.0, 5.0, 100.0, 100.0, 100.0, 100.0])
            .reshape([2, 3, 2]);
        let split =
            Split { lengths: Some(Tensor::from_slice(&[3i64, 1])), ..Split::new(x, Tensor::from_slice(&[0i64, 1])) };
        let st = Standardization::fit(&split, Scope::PerFeature).unwrap();
        assert_eq!(st.features(), Some(2));
        // Feature 0 over real steps: 1, 3, 5, 2; feature 1 always 5 (std taken as 1).
        assert!((st.mean[0] - 2.75).abs() < 1e-12 && (st.mean[1] - 5.0).abs() < 1e-12, "{st:?}");
        assert_eq!(st.std[1], 1.0);
        let out = st.apply(&split.features).unwrap();
        assert!((out.double_value(&[0, 0, 1])).abs() < 1e-6);
        assert_eq!(st.check(2), Ok(()));
        assert!(st.check(3).unwrap_err().contains("3 features"));
        let bad = Standardization { mean: vec![0.0], std: vec![0.0] };
        assert!(bad.check(1).is_err());
    }
}
