//! Reading a sequence one step at a time, the recurrent state kept between
//! steps: what a streaming server needs to answer after each row.

use tch::{Kind, Tensor};

use crate::{Cell, LstmClassifier, ModelError, Readout, Result};

/// The recurrent state of a batch of sequences read step by step with
/// [`LstmClassifier::step`]; [`LstmClassifier::initial_state`] gives the
/// state before the first step.
///
/// For a unidirectional network it is the hidden (and, for an LSTM, cell)
/// state of every layer, plus the running sum of the top layer's outputs for
/// the `"mean"` readout. A bidirectional network's backward direction starts
/// at the end of the sequence, so no fixed-size state summarises a prefix:
/// its state is the prefix read so far, and each step re-reads it.
#[derive(Debug)]
pub struct StepState {
    /// Hidden state `[layers, N, hidden]` (unidirectional only).
    hidden: Option<Tensor>,
    /// Cell state `[layers, N, hidden]` (unidirectional LSTM only).
    cell: Option<Tensor>,
    /// Sum of the top layer's outputs `[N, hidden]` so far (`"mean"` readout).
    output_sum: Option<Tensor>,
    /// The steps read so far `[N, steps, features]` (bidirectional only).
    prefix: Option<Tensor>,
    /// Number of steps read.
    steps: i64,
    /// Number of sequences in the batch.
    batch: i64,
}

impl StepState {
    /// The number of steps read so far.
    pub fn steps(&self) -> i64 {
        self.steps
    }
}

impl LstmClassifier {
    /// The state before the first step of `batch` sequences (zeros, as
    /// [`forward`](Self::forward) starts from).
    pub fn initial_state(&self, batch: i64) -> Result<StepState> {
        let c = &self.spec.config;
        let device = self.device();
        let zeros = || Tensor::f_zeros([c.layers, batch, c.hidden], (Kind::Float, device));
        let unidirectional = !c.bidirectional;
        Ok(StepState {
            hidden: if unidirectional { Some(zeros()?) } else { None },
            cell: if unidirectional && c.cell == Cell::Lstm { Some(zeros()?) } else { None },
            output_sum: None,
            prefix: None,
            steps: 0,
            batch,
        })
    }

    /// Reads one more step `x` `[N, features]` (`f32`, on the model's
    /// device) of the sequences whose state is `state`, in evaluation mode
    /// and `f32`: the new state and the logits `[N, classes]` the model gives
    /// after the steps read so far. After the last step of a sequence the
    /// logits are [`forward`](Self::forward)'s (up to rounding).
    pub fn step(&self, state: &StepState, x: &Tensor) -> Result<(StepState, Tensor)> {
        let size = x.size();
        if size.len() != 2 || size[0] != state.batch || size[1] != self.spec.features {
            return Err(ModelError::BadStep { got: size, batch: state.batch, features: self.spec.features });
        }
        tch::no_grad(|| {
            if self.spec.config.bidirectional {
                self.step_by_rereading(state, x)
            } else {
                self.step_unidirectional(state, x)
            }
        })
    }

    /// One step of a unidirectional network from its hidden (and cell) state.
    fn step_unidirectional(&self, state: &StepState, x: &Tensor) -> Result<(StepState, Tensor)> {
        let c = &self.spec.config;
        let input = x.f_unsqueeze(1)?;
        let params: Vec<&Tensor> = self.rnn.iter().collect();
        let hidden = state.hidden.as_ref().ok_or(ModelError::StepStateMismatch)?;
        let (output, hidden, cell) = match c.cell {
            Cell::Lstm => {
                let cell = state.cell.as_ref().ok_or(ModelError::StepStateMismatch)?;
                let (output, h, c_n) =
                    input.f_lstm(&[hidden, cell], &params, true, c.layers, 0.0, false, false, true)?;
                (output, h, Some(c_n))
            }
            Cell::Gru => {
                let (output, h) = input.f_gru(hidden, &params, true, c.layers, 0.0, false, false, true)?;
                (output, h, None)
            }
        };
        let top = output.f_select(1, 0)?;
        let steps = state.steps + 1;
        let (features, output_sum) = match c.readout {
            Readout::Last => (top, None),
            Readout::Mean => {
                let sum = match &state.output_sum {
                    Some(sum) => sum.f_add(&top)?,
                    None => top,
                };
                (sum.f_div_scalar(steps as f64)?, Some(sum))
            }
        };
        let logits = features.f_linear(&self.out_w, Some(&self.out_b))?;
        let next = StepState { hidden: Some(hidden), cell, output_sum, prefix: None, steps, batch: state.batch };
        Ok((next, logits))
    }

    /// One step of a bidirectional network: the prefix grows by `x` and is
    /// read again whole (see [`StepState`]).
    fn step_by_rereading(&self, state: &StepState, x: &Tensor) -> Result<(StepState, Tensor)> {
        let x = x.f_unsqueeze(1)?;
        let prefix = match &state.prefix {
            Some(prefix) => Tensor::f_cat(&[prefix, &x], 1)?,
            None => x,
        };
        let output = self.recurrent_output(&prefix, false, Kind::Float)?;
        let features = match self.spec.config.readout {
            Readout::Last => output.f_select(1, -1)?,
            Readout::Mean => output.f_mean_dim(1, false, Kind::Float)?,
        };
        let logits = features.f_linear(&self.out_w, Some(&self.out_b))?;
        let steps = state.steps + 1;
        let next =
            StepState { hidden: None, cell: None, output_sum: None, prefix: Some(prefix), steps, batch: state.batch };
        Ok((next, logits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelConfig, ModelSpec, Sequence};
    use tch::Device;

    fn images(n: i64) -> Tensor {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let values: Vec<f32> = (0..n * 5 * 4).map(|_| rng.random::<f32>()).collect();
        Tensor::from_slice(&values).view([n, 5, 4])
    }

    /// Reading step by step gives, after every step, the logits of
    /// `step_logits` (the forward pass on the prefix), for every cell,
    /// depth, direction, readout and pixel layout.
    #[test]
    fn stepping_matches_the_forward_pass_on_every_prefix() {
        for cell in [Cell::Lstm, Cell::Gru] {
            for (layers, bidirectional) in [(1, false), (2, false), (2, true)] {
                for readout in [Readout::Last, Readout::Mean] {
                    for sequence in [Sequence::Rows, Sequence::Pixels] {
                        let config = ModelConfig {
                            hidden: 6,
                            cell,
                            layers,
                            bidirectional,
                            readout,
                            sequence,
                            ..Default::default()
                        };
                        let what = format!("{config:?}");
                        let spec = ModelSpec::new(config, 5, 4, (0..3).map(|c| c.to_string()).collect());
                        let m = LstmClassifier::new(spec, Device::Cpu).unwrap();
                        let x = images(2);
                        let want = m.step_logits(&x).unwrap();
                        let seq = m.sequences(&x).unwrap();
                        let mut state = m.initial_state(2).unwrap();
                        for t in 0..seq.size()[1] {
                            let (next, logits) = m.step(&state, &seq.select(1, t)).unwrap();
                            state = next;
                            let diff = (logits - want.select(1, t)).abs().max().double_value(&[]);
                            assert!(diff < 1e-5, "{what} step {t}: {diff}");
                        }
                        assert_eq!(state.steps(), seq.size()[1]);
                    }
                }
            }
        }
    }

    #[test]
    fn a_step_of_the_wrong_shape_is_an_error() {
        let spec = ModelSpec::new(ModelConfig { hidden: 4, ..Default::default() }, 5, 4, vec!["a".into(), "b".into()]);
        let m = LstmClassifier::new(spec, Device::Cpu).unwrap();
        let state = m.initial_state(1).unwrap();
        let err = m.step(&state, &Tensor::zeros([1, 5], (Kind::Float, Device::Cpu))).unwrap_err();
        assert!(err.to_string().contains("[1, 4]"), "{err}");
    }
}
