//! What the model believes after each step: the class probabilities it would
//! give if it stopped reading the sequence there.

use tch::{Device, Kind, Tensor};

use crate::{LstmClassifier, Readout, Result};

impl LstmClassifier {
    /// Logits `[N, steps, classes]` the model gives after reading only the
    /// first `t` steps of each sequence, for every `t` in `1..=steps`, in
    /// evaluation mode and without recording gradients; the last step's are
    /// [`forward`](Self::forward)'s logits.
    ///
    /// "After reading `t` steps" is meant literally: step `t`'s logits are
    /// what the model computes from the prefix `x[..t]` alone. For a
    /// unidirectional network the top layer's output at step `t` depends on
    /// the prefix only, so one pass gives every step (the readout of the
    /// `"last"` output at `t`, or the mean of the outputs up to `t` for
    /// `"mean"`). A bidirectional network's backward direction starts at the
    /// end of the sequence, so its output at `t` has already seen the whole
    /// image; instead the network is re-run on every prefix, `steps` passes.
    pub fn step_logits(&self, images: &Tensor) -> Result<Tensor> {
        self.step_logits_with(images, Kind::Float)
    }

    /// [`step_logits`](Self::step_logits) with the recurrent layers in
    /// `compute` precision (see [`forward_t_with`](Self::forward_t_with)).
    pub fn step_logits_with(&self, images: &Tensor, compute: Kind) -> Result<Tensor> {
        let x = self.sequences(images)?;
        self.step_logits_of(&x, compute)
    }

    /// [`step_logits_with`](Self::step_logits_with) for sequences already in
    /// the model's input layout, `[N, T, features]` with any `T >= 1` (a
    /// series read up to its own length: pass each one alone, cut to its
    /// real steps, and every step's logits are those of its real prefix).
    pub fn step_logits_sequence(&self, x: &Tensor, compute: Kind) -> Result<Tensor> {
        let size = x.size();
        if size.len() != 3 || size[1] < 1 || size[2] != self.spec.features {
            return Err(crate::ModelError::BadSequences { got: size, features: self.spec.features });
        }
        self.step_logits_of(&x.f_to_kind(Kind::Float)?, compute)
    }

    fn step_logits_of(&self, x: &Tensor, compute: Kind) -> Result<Tensor> {
        tch::no_grad(|| {
            let x = x.shallow_clone();
            let c = &self.spec.config;
            if !c.bidirectional {
                let output = self.recurrent_output(&x, false, compute)?;
                return self.readout_every_prefix(&output);
            }
            let steps = x.size()[1];
            let mut logits = Vec::with_capacity(steps as usize);
            for t in 1..=steps {
                let output = self.recurrent_output(&x.f_narrow(1, 0, t)?, false, compute)?;
                let features = match c.readout {
                    Readout::Last => output.f_select(1, -1)?,
                    Readout::Mean => output.f_mean_dim(1, false, Kind::Float)?,
                };
                logits.push(features.f_linear(&self.out_w, Some(&self.out_b))?);
            }
            Ok(Tensor::f_stack(&logits, 1)?)
        })
    }

    /// The readout applied at every step of a unidirectional output
    /// `[N, steps, hidden]`: the output at `t` (`"last"`) or the mean of the
    /// outputs `1..=t` (`"mean"`).
    fn readout_every_prefix(&self, output: &Tensor) -> Result<Tensor> {
        let features = match self.spec.config.readout {
            Readout::Last => output.shallow_clone(),
            Readout::Mean => {
                let steps = output.size()[1];
                let counts =
                    Tensor::f_arange_start(1, steps + 1, (Kind::Float, output.device()))?.f_reshape([1, steps, 1])?;
                output.f_cumsum(1, Kind::Float)?.f_div(&counts)?
            }
        };
        Ok(features.f_linear(&self.out_w, Some(&self.out_b))?)
    }

    /// Class probabilities after every step, `[N, steps, classes]` on the CPU
    /// (softmax of [`step_logits`](Self::step_logits)); each `[i, t, ..]` sums to 1.
    pub fn step_probabilities(&self, images: &Tensor) -> Result<Tensor> {
        Ok(self.step_logits(images)?.f_softmax(-1, Kind::Float)?.f_to_device(Device::Cpu)?)
    }
}

/// The first step (1-based) from which the most probable class no longer
/// changes, given the most probable class after each step; 0 for no steps.
///
/// ```
/// assert_eq!(lstm_model::decided_at(&[3, 5, 5, 2, 2]), 4);
/// assert_eq!(lstm_model::decided_at(&[7, 7, 7]), 1);
/// ```
pub fn decided_at<T: PartialEq>(classes: &[T]) -> usize {
    match classes.last() {
        None => 0,
        Some(last) => classes.iter().rposition(|c| c != last).map_or(1, |i| i + 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cell, ModelConfig, ModelSpec, Sequence};

    fn model(config: ModelConfig) -> LstmClassifier {
        let spec = ModelSpec::new(config, 5, 4, (0..3).map(|c| c.to_string()).collect());
        LstmClassifier::new(spec, Device::Cpu).unwrap()
    }

    /// Uniform images from a seeded ChaCha8 stream (tests run in parallel,
    /// so none seeds libtorch's global generator).
    fn images(n: i64) -> Tensor {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let values: Vec<f32> = (0..n * 5 * 4).map(|_| rng.random::<f32>()).collect();
        Tensor::from_slice(&values).view([n, 5, 4])
    }

    /// Step t's logits must be what the model gives for the prefix alone:
    /// checked against the full forward pass on the first t steps, for every
    /// cell, depth, direction and readout.
    #[test]
    fn every_step_is_the_forward_pass_on_its_prefix() {
        for cell in [Cell::Lstm, Cell::Gru] {
            for layers in [1, 2] {
                for bidirectional in [false, true] {
                    for readout in [Readout::Last, Readout::Mean] {
                        let config =
                            ModelConfig { hidden: 6, cell, layers, bidirectional, readout, ..Default::default() };
                        let what = format!("{config:?}");
                        let m = model(config);
                        let x = images(3);
                        let steps = m.step_logits(&x).unwrap();
                        assert_eq!(steps.size(), [3, 5, 3], "{what}");
                        let seq = m.sequences(&x).unwrap();
                        for t in 1..=5 {
                            let prefix = seq.narrow(1, 0, t);
                            let out = m.recurrent_output(&prefix, false, Kind::Float).unwrap();
                            let features = match readout {
                                Readout::Last => out.select(1, -1),
                                Readout::Mean => out.mean_dim(1, false, Kind::Float),
                            };
                            let want = features.linear(&m.out_w, Some(&m.out_b));
                            let got = steps.select(1, t - 1);
                            let diff = (got - want).abs().max().double_value(&[]);
                            assert!(diff < 1e-5, "{what} step {t}: {diff}");
                        }
                        let last = (steps.select(1, -1) - m.forward(&x).unwrap()).abs().max().double_value(&[]);
                        assert!(last < 1e-5, "{what}: last step is forward's logits ({last})");
                    }
                }
            }
        }
    }

    /// A series cut to its real length has, at every step, the logits of
    /// the same prefix of the longer sequence: every cell, direction and readout.
    #[test]
    fn a_sequence_cut_to_its_length_keeps_its_prefix_logits() {
        for cell in [Cell::Lstm, Cell::Gru] {
            for bidirectional in [false, true] {
                for readout in [Readout::Last, Readout::Mean] {
                    let config = ModelConfig { hidden: 6, cell, bidirectional, readout, ..Default::default() };
                    let what = format!("{config:?}");
                    let m = model(config);
                    let x = images(2);
                    let full = m.step_logits(&x).unwrap();
                    let cut = m.step_logits_sequence(&x.narrow(1, 0, 3), Kind::Float).unwrap();
                    assert_eq!(cut.size(), [2, 3, 3], "{what}");
                    let diff = (cut - full.narrow(1, 0, 3)).abs().max().double_value(&[]);
                    assert!(diff < 1e-5, "{what}: {diff}");
                }
            }
        }
        let m = model(ModelConfig { hidden: 4, ..Default::default() });
        for bad in
            [Tensor::zeros([1, 3, 5], (Kind::Float, Device::Cpu)), Tensor::zeros([1, 0, 4], (Kind::Float, Device::Cpu))]
        {
            let e = m.step_logits_sequence(&bad, Kind::Float).unwrap_err();
            assert!(matches!(e, crate::ModelError::BadSequences { features: 4, .. }), "{e}");
        }
    }

    #[test]
    fn probabilities_sum_to_one_for_pixel_layouts_too() {
        for sequence in [Sequence::Rows, Sequence::Pixels, Sequence::PermutedPixels] {
            let m = model(ModelConfig { hidden: 4, sequence, ..Default::default() });
            let p = m.step_probabilities(&images(2)).unwrap();
            let steps = if sequence == Sequence::Rows { 5 } else { 20 };
            assert_eq!(p.size(), [2, steps, 3]);
            let sums = p.sum_dim_intlist(-1, false, Kind::Float);
            assert!((sums - 1.0).abs().max().double_value(&[]) < 1e-5);
        }
    }

    #[test]
    fn decided_at_is_the_start_of_the_final_run() {
        assert_eq!(decided_at::<u8>(&[]), 0);
        assert_eq!(decided_at(&[1]), 1);
        assert_eq!(decided_at(&[1, 2]), 2);
        assert_eq!(decided_at(&[2, 2, 1, 2]), 4);
        assert_eq!(decided_at(&[0, 2, 2, 2]), 2);
    }
}
