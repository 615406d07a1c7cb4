//! Raw sequences as the model reads them: `points_per_step` consecutive
//! points of a series (all its dimensions) become one time step
//! (issue 25), as the notebook reads 28 pixels of a row as one step.
//!
//! A series of `T` points of `F` dimensions becomes `ceil(T / k)` steps of
//! `k × F` features: step `s` holds points `s·k .. s·k + k`, point after
//! point (`[p0 d0, p0 d1, ..., p1 d0, ...]`). A last partial step is padded
//! with zeros and counted in the length: a series of length `l` has
//! `ceil(l / k)` steps. With `k = 1` the input is unchanged.

use data_core::{InputSpec, SequenceInput};
use tch::{Kind, Tensor};

use crate::{LstmClassifier, ModelError, Result};

/// Sequences `x` `[N, T, F]` with `k` consecutive points per step:
/// `[N, ceil(T / k), k × F]` (zeros after each series' last point: after
/// `lengths[i]` points when lengths are given, whatever `x` holds there), and
/// `lengths` (`[N]`, any integer kind) as `ceil(length / k)` (`i64`).
///
/// ```
/// use lstm_model::tch::Tensor;
/// let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0]).reshape([1, 5, 1]);
/// let (grouped, lengths) = lstm_model::group_points(&x, Some(&Tensor::from_slice(&[3i64])), 2)?;
/// assert_eq!(grouped.size(), [1, 3, 2]);
/// // Points after the length (3) read as zeros.
/// assert_eq!(Vec::<f32>::try_from(grouped.flatten(0, -1))?, [1.0, 2.0, 3.0, 0.0, 0.0, 0.0]);
/// assert_eq!(Vec::<i64>::try_from(lengths.unwrap())?, [2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn group_points(x: &Tensor, lengths: Option<&Tensor>, k: i64) -> Result<(Tensor, Option<Tensor>)> {
    let size = x.size();
    if k < 1 || size.len() != 3 {
        return Err(ModelError::BadLengths {
            detail: format!("cannot group sequences of shape {size:?} by {k} points per step"),
        });
    }
    if k == 1 {
        return Ok((x.shallow_clone(), lengths.map(Tensor::shallow_clone)));
    }
    let (n, t, f) = (size[0], size[1], size[2]);
    let steps = (t + k - 1) / k;
    // A last partial step holds zeros after the series' end, whatever the
    // batch's padding holds: a series reads the same alone or in any batch.
    let x = match lengths {
        None => x.shallow_clone(),
        Some(l) => {
            let l = l.f_to_device(x.device())?.f_to_kind(Kind::Int64)?.f_view([-1, 1])?;
            let real = Tensor::f_arange(t, (Kind::Int64, x.device()))?.f_view([1, -1])?.f_lt_tensor(&l)?;
            x.f_mul(&real.f_unsqueeze(-1)?.f_to_kind(x.kind())?)?
        }
    };
    let padded = if steps * k == t { x } else { x.f_constant_pad_nd([0, 0, 0, steps * k - t])? };
    let grouped = padded.f_reshape([n, steps, k * f])?;
    let lengths = match lengths {
        None => None,
        Some(l) => Some(l.f_to_kind(Kind::Int64)?.f_add_scalar(k - 1)?.f_div_scalar_mode(k, "floor")?),
    };
    Ok((grouped, lengths))
}

/// The points per step a series model of `input` groups (`None` for pictures).
pub(crate) fn sequence_input(input: Option<&InputSpec>) -> Option<SequenceInput> {
    match input {
        Some(InputSpec::Sequence(s)) => Some(*s),
        _ => None,
    }
}

impl LstmClassifier {
    /// For a series model (`model.json` input `sequence`): raw sequences
    /// `[N, T, features]` of any `T` (already standardised) and their lengths
    /// as the recurrent layers read them, `points_per_step` points per step
    /// ([`group_points`]). `None` for a picture model.
    pub fn series_input(&self, x: &Tensor, lengths: Option<&Tensor>) -> Result<Option<(Tensor, Option<Tensor>)>> {
        let Some(s) = sequence_input(self.spec.input.as_ref()) else { return Ok(None) };
        let size = x.size();
        if size.len() != 3 || size[2] != i64::from(s.features) || size[1] < 1 {
            return Err(ModelError::BadSequences { got: size, features: i64::from(s.features) });
        }
        group_points(x, lengths, i64::from(s.points_per_step.max(1))).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use data_core::{InputSpec, SequenceInput};
    use tch::{Device, Kind, Tensor};

    use super::group_points;
    use crate::{LstmClassifier, ModelConfig, ModelSpec};

    #[test]
    fn points_are_grouped_in_time_order_with_the_last_step_padded() {
        // Two series of 2 dimensions, 5 points: value = 10 * point + dimension.
        let x = (Tensor::arange(5, (Kind::Float, Device::Cpu)).view([1, 5, 1]) * 10.0
            + Tensor::arange(2, (Kind::Float, Device::Cpu)).view([1, 1, 2]))
        .repeat([2, 1, 1]);
        let (g, l) = group_points(&x, Some(&Tensor::from_slice(&[5i32, 3])), 2).unwrap();
        assert_eq!(g.size(), [2, 3, 4]);
        let first: Vec<f32> = Vec::try_from(g.get(0).flatten(0, -1)).unwrap();
        assert_eq!(first, [0.0, 1.0, 10.0, 11.0, 20.0, 21.0, 30.0, 31.0, 40.0, 41.0, 0.0, 0.0]);
        assert_eq!(Vec::<i64>::try_from(l.unwrap()).unwrap(), [3, 2]);
        let (same, none) = group_points(&x, None, 1).unwrap();
        assert!(same.equal(&x) && none.is_none());
        let (even, _) = group_points(&x.narrow(1, 0, 4), None, 4).unwrap();
        assert_eq!(even.size(), [2, 1, 8]);
        assert!(group_points(&x, None, 0).is_err());
    }

    #[test]
    fn a_series_model_reads_any_length_grouped_and_alone_equals_in_a_batch() {
        let input = InputSpec::Sequence(SequenceInput { features: 2, points_per_step: 3 });
        let config = ModelConfig { hidden: 5, ..Default::default() };
        let spec = ModelSpec::for_input(config, &input, 7, vec!["a".into(), "b".into()], None);
        assert_eq!((spec.steps, spec.features), (3, 6));
        let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
        let x = Tensor::randn([3, 11, 2], (Kind::Float, Device::Cpu));
        let lengths = Tensor::from_slice(&[11i64, 4, 7]);
        let batch = tch::no_grad(|| model.forward_input_t(&x, Some(&lengths), false, Kind::Float)).unwrap();
        for (i, len) in [11i64, 4, 7].into_iter().enumerate() {
            let alone = model.forward(&x.narrow(0, i as i64, 1).narrow(1, 0, len)).unwrap();
            let diff = f64::try_from((alone - batch.get(i as i64)).abs().max()).unwrap();
            assert!(diff < 1e-5, "series {i}: {diff}");
        }
        let err = model.forward(&Tensor::zeros([1, 4, 3], (Kind::Float, Device::Cpu))).unwrap_err();
        assert!(err.to_string().contains("[batch, steps >= 1, 2]"), "{err}");
    }
}
