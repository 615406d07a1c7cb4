//! Sequences of different lengths in one batch: the recurrent layers read
//! each sequence only up to its real length (PyTorch's packed sequences), and
//! the readout takes each sequence's last real step or the mean over its real
//! steps.
//!
//! A batch `[N, T, F]` holds sequences padded at the end to `T` steps;
//! `lengths` `[N]` (`i64`, on any device) says how many steps of each are
//! real (`1..=T`). With lengths, the batch is sorted by length, packed
//! (`at::_pack_padded_sequence`), run through `at::lstm`/`at::gru` on the
//! packed data — so the backward direction of a bidirectional model starts at
//! each sequence's real end and no layer ever reads a padding step — then
//! unpacked and put back in the caller's order. Without lengths (or when
//! every length is `T`) the dense path of fixed-length inputs runs, unchanged.

use tch::{Device, Kind, Tensor};

use crate::{Cell, LstmClassifier, ModelError, Readout, Result, Sequence};

impl LstmClassifier {
    /// Logits `[N, classes]` for sequences `x` `[N, T, features]` (any `T`),
    /// each sequence real up to `lengths[i]` steps (`None`: all `T` steps),
    /// with the recurrent layers in `compute` precision; `train` as in
    /// [`forward_t`](Self::forward_t). A sequence's logits do not depend on
    /// the padding after it nor on the other sequences of the batch.
    ///
    /// This is the input [`sequences`](Self::sequences) makes of images; for
    /// data that already are sequences (time series), pass them directly.
    pub fn forward_sequences_t(
        &self,
        x: &Tensor,
        lengths: Option<&Tensor>,
        train: bool,
        compute: Kind,
    ) -> Result<Tensor> {
        let c = &self.spec.config;
        let lengths = self.check_sequences(x, lengths)?;
        let features = match &lengths {
            None => {
                let output = self.recurrent_output(x, train, compute)?;
                match c.readout {
                    Readout::Last => output.f_select(1, -1)?,
                    Readout::Mean => output.f_mean_dim(1, false, Kind::Float)?,
                }
            }
            Some(lengths) => {
                let output = self.packed_output(x, lengths, train, compute)?;
                masked_readout(&output, lengths, c.readout)?
            }
        };
        let features = if train && c.dropout > 0.0 { features.f_dropout(c.dropout, true)? } else { features };
        Ok(features.f_linear(&self.out_w, Some(&self.out_b))?)
    }

    /// Logits for a batch as a data split holds it — `input` images or
    /// sequences, `lengths` the real steps of each (`None`: all) — with the
    /// recurrent layers in `compute` precision. Without lengths this is
    /// exactly [`forward_t_with`](Self::forward_t_with); with lengths the
    /// input must be sequences `[N, T, features]` read one row per step (the
    /// `"rows"` layout), of any `T`. A series model (input `sequence`) takes
    /// raw sequences `[N, T, F]` and groups them `points_per_step` points per
    /// step first (lengths too: `ceil(length / k)`).
    pub fn forward_input_t(
        &self,
        input: &Tensor,
        lengths: Option<&Tensor>,
        train: bool,
        compute: Kind,
    ) -> Result<Tensor> {
        if let Some((x, lengths)) = self.series_input(input, lengths)? {
            return self.forward_sequences_t(&x, lengths.as_ref(), train, compute);
        }
        match lengths {
            None => self.forward_t_with(input, train, compute),
            Some(_) if self.spec.config.sequence != Sequence::Rows => Err(ModelError::BadLengths {
                detail: format!(
                    "sequence lengths need model.sequence = \"rows\" (one input row per step), not {:?}",
                    self.spec.config.sequence
                ),
            }),
            Some(lengths) => self.forward_sequences_t(input, Some(lengths), train, compute),
        }
    }

    /// [`forward_sequences_t`](Self::forward_sequences_t) in evaluation mode,
    /// in `f32`, without recording gradients.
    pub fn forward_sequences(&self, x: &Tensor, lengths: Option<&Tensor>) -> Result<Tensor> {
        tch::no_grad(|| self.forward_sequences_t(x, lengths, false, Kind::Float))
    }

    /// Checks the shapes of `x` and `lengths`; returns the lengths on the CPU
    /// as `i64`, or `None` when there are none or all equal `T` (the dense
    /// path then gives the same result, faster).
    fn check_sequences(&self, x: &Tensor, lengths: Option<&Tensor>) -> Result<Option<Tensor>> {
        let size = x.size();
        if size.len() != 3 || size[2] != self.spec.features || size[1] < 1 {
            return Err(ModelError::BadSequences { got: size, features: self.spec.features });
        }
        let Some(lengths) = lengths else { return Ok(None) };
        let (n, steps) = (size[0], size[1]);
        let bad = |detail: String| Err(ModelError::BadLengths { detail });
        if lengths.size() != [n] {
            return bad(format!(
                "lengths of shape {:?} for a batch of {n} sequences: give one length per sequence",
                lengths.size()
            ));
        }
        let lengths = lengths.f_to_device(Device::Cpu)?.f_to_kind(Kind::Int64)?;
        if n == 0 {
            return Ok(None);
        }
        let (min, max) = (lengths.f_min()?.int64_value(&[]), lengths.f_max()?.int64_value(&[]));
        if min < 1 || max > steps {
            return bad(format!(
                "lengths from {min} to {max} in a batch of {steps} steps: every length must be in 1..={steps}"
            ));
        }
        Ok(if min == steps { None } else { Some(lengths) })
    }

    /// The top layer's output `[N, max length, hidden × directions]` (`f32`,
    /// zeros after each sequence's end) for sequences `x` with `lengths`
    /// (`i64` on the CPU, each in `1..=T`), the layers reading real steps only.
    fn packed_output(&self, x: &Tensor, lengths: &Tensor, train: bool, compute: Kind) -> Result<Tensor> {
        let c = &self.spec.config;
        let device = x.device();
        // _pack_padded_sequence needs lengths sorted longest first.
        let (sorted, order) = lengths.f_sort(0, true)?;
        let (x, params) = self.in_precision(x, compute)?;
        let x = x.f_index_select(0, &order.f_to_device(device)?)?;
        let (data, batch_sizes) = x.f_internal_pack_padded_sequence(&sorted, true)?;
        let params: Vec<&Tensor> = params.iter().collect();
        let state = Tensor::f_zeros([c.layers * c.directions(), x.size()[0], c.hidden], (compute, device))?;
        let packed = match c.cell {
            Cell::Lstm => {
                let hx = [&state, &state];
                Tensor::f_lstm_data(
                    &data,
                    &batch_sizes,
                    &hx,
                    &params,
                    true,
                    c.layers,
                    c.dropout,
                    train,
                    c.bidirectional,
                )?
                .0
            }
            Cell::Gru => {
                Tensor::f_gru_data(
                    &data,
                    &batch_sizes,
                    &state,
                    &params,
                    true,
                    c.layers,
                    c.dropout,
                    train,
                    c.bidirectional,
                )?
                .0
            }
        };
        let max = batch_sizes.size()[0];
        let (padded, _) = Tensor::f_internal_pad_packed_sequence(&packed, &batch_sizes, true, 0.0, max)?;
        let unsort = order.f_argsort(0, false)?.f_to_device(device)?;
        Ok(padded.f_index_select(0, &unsort)?.f_to_kind(Kind::Float)?)
    }

    /// The input and the recurrent weights in `compute` precision: as they
    /// are for `f32`, else cast inside the graph (gradients flow back to the
    /// `f32` variables through the casts).
    pub(crate) fn in_precision(&self, x: &Tensor, compute: Kind) -> Result<(Tensor, Vec<Tensor>)> {
        if compute == Kind::Float {
            return Ok((x.shallow_clone(), self.rnn.iter().map(Tensor::shallow_clone).collect()));
        }
        let cast = self.rnn.iter().map(|w| w.f_to_kind(compute)).collect::<std::result::Result<_, _>>()?;
        Ok((x.f_to_kind(compute)?, cast))
    }
}

/// The readout's input `[N, hidden × directions]` from a padded output
/// `[N, S, hidden × directions]` (zeros after each end) and `lengths` (`i64`
/// on the CPU): the output at each sequence's last real step, or the mean of
/// its real steps.
fn masked_readout(output: &Tensor, lengths: &Tensor, readout: Readout) -> Result<Tensor> {
    let lengths = lengths.f_to_device(output.device())?;
    let width = output.size()[2];
    Ok(match readout {
        Readout::Last => {
            let index = lengths.f_sub_scalar(1)?.f_view([-1, 1, 1])?.f_expand([-1, 1, width], false)?;
            output.f_gather(1, &index, false)?.f_squeeze_dim(1)?
        }
        Readout::Mean => {
            let sum = output.f_sum_dim_intlist(1, false, Kind::Float)?;
            sum.f_div(&lengths.f_to_kind(Kind::Float)?.f_unsqueeze(1)?)?
        }
    })
}

#[cfg(test)]
mod tests;
