use super::*;
use crate::{Init, ModelConfig, ModelSpec};

const FEATURES: i64 = 3;
const LENGTHS: [i64; 5] = [4, 9, 1, 6, 9];

/// Every cell, depth, direction and readout, PyTorch's initialisation.
fn configs() -> Vec<ModelConfig> {
    let mut all = Vec::new();
    for cell in [Cell::Lstm, Cell::Gru] {
        for layers in [1, 2] {
            for bidirectional in [false, true] {
                for readout in [Readout::Last, Readout::Mean] {
                    let base = ModelConfig { hidden: 5, init: Init::Pytorch, seed: 7, ..Default::default() };
                    all.push(ModelConfig { cell, layers, bidirectional, readout, dropout: 0.3, ..base });
                }
            }
        }
    }
    all
}

fn model(config: ModelConfig) -> LstmClassifier {
    let spec = ModelSpec::new(config, 9, FEATURES, vec!["a".into(), "b".into(), "c".into()]);
    LstmClassifier::new(spec, Device::Cpu).unwrap()
}

/// `n` sequences of `steps` steps, values from a fixed formula (tests run in
/// parallel: none seeds libtorch's global generator).
fn values(n: i64, steps: i64, salt: i64) -> Tensor {
    let v: Vec<f32> = (0..n * steps * FEATURES).map(|i| ((i * 37 + salt * 11) % 101) as f32 / 50.0 - 1.0).collect();
    Tensor::from_slice(&v).reshape([n, steps, FEATURES])
}

/// The padded batch of `LENGTHS`: the real steps of sequence `i` are
/// `values(1, len, i)`, the padding is large garbage that must not matter.
fn padded_batch() -> (Tensor, Tensor, Vec<Tensor>) {
    let steps = *LENGTHS.iter().max().unwrap();
    let alone: Vec<Tensor> = LENGTHS.iter().zip(0..).map(|(&len, i)| values(1, len, i)).collect();
    let rows: Vec<Tensor> = alone
        .iter()
        .map(|x| {
            let pad = Tensor::full([1, steps - x.size()[1], FEATURES], 1e3, (Kind::Float, Device::Cpu));
            Tensor::cat(&[x, &pad], 1)
        })
        .collect();
    (Tensor::cat(&rows, 0), Tensor::from_slice(&LENGTHS), alone)
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// A sequence's logits are the same alone (unpadded, no lengths; and padded
/// with its own length) as in a padded batch beside longer sequences.
#[test]
fn logits_do_not_depend_on_padding_or_neighbours() {
    let (batch, lengths, alone) = padded_batch();
    for config in configs() {
        let what = format!("{config:?}");
        let m = model(config);
        let logits = m.forward_sequences(&batch, Some(&lengths)).unwrap();
        assert_eq!(logits.size(), [LENGTHS.len() as i64, 3], "{what}");
        for (i, x) in alone.iter().enumerate() {
            let one = m.forward_sequences(x, None).unwrap();
            let d = max_diff(&logits.narrow(0, i as i64, 1), &one);
            assert!(d <= 1e-5, "{what}: sequence {i} (length {}) differs by {d:e}", LENGTHS[i]);
            // Alone but padded to 9 steps, with its length.
            let padded = batch.narrow(0, i as i64, 1);
            let own = Tensor::from_slice(&[LENGTHS[i]]);
            let d = max_diff(&m.forward_sequences(&padded, Some(&own)).unwrap(), &one);
            assert!(d <= 1e-5, "{what}: sequence {i} padded alone differs by {d:e}");
        }
    }
}

/// Lengths that are all the full length take the dense path: exactly the
/// logits of no lengths, and of `forward` on the same images.
#[test]
fn full_lengths_are_the_fixed_length_model() {
    for config in configs() {
        let m = model(config);
        let x = values(4, 9, 3);
        let full = Tensor::from_slice(&[9i64, 9, 9, 9]);
        let with = m.forward_sequences(&x, Some(&full)).unwrap();
        assert!(with.equal(&m.forward_sequences(&x, None).unwrap()));
        assert!(with.equal(&m.forward(&x).unwrap()));
    }
}

/// Training reads no padding step: the gradient with respect to every
/// padding value is exactly zero (dropout on), and real steps get gradients.
#[test]
fn padding_gets_no_gradient() {
    let (batch, lengths, _) = padded_batch();
    for config in configs() {
        let what = format!("{config:?}");
        let m = model(config);
        // Training mode (dropout on): no gradient reaches any padding value.
        // Evaluation mode: every sequence's real steps get some gradient
        // (in training, dropout may by chance zero all of a short one's).
        for train in [true, false] {
            let x = batch.copy().set_requires_grad(true);
            let logits = m.forward_sequences_t(&x, Some(&lengths), train, Kind::Float).unwrap();
            logits.sum(Kind::Float).backward();
            let grad = x.grad();
            for (i, &len) in LENGTHS.iter().enumerate() {
                let row = grad.select(0, i as i64);
                let pad = row.narrow(0, len, 9 - len).abs().sum(Kind::Float).double_value(&[]);
                assert_eq!(pad, 0.0, "{what} train={train}: sequence {i}");
                let real = row.narrow(0, 0, len).abs().sum(Kind::Float).double_value(&[]);
                assert!(train || real > 0.0, "{what}: sequence {i} gets no gradient");
            }
        }
    }
}

#[test]
fn bad_shapes_and_lengths_are_errors() {
    let m = model(configs()[0].clone());
    let x = values(2, 9, 0);
    let cases: [(Tensor, &str); 4] = [
        (Tensor::from_slice(&[3i64]), "one length per sequence"),
        (Tensor::from_slice(&[3i64, 0]), "1..=9"),
        (Tensor::from_slice(&[10i64, 2]), "1..=9"),
        (Tensor::from_slice(&[3i64, 2]).reshape([1, 2]), "one length per sequence"),
    ];
    for (lengths, want) in cases {
        let err = m.forward_sequences(&x, Some(&lengths)).unwrap_err();
        assert!(matches!(err, ModelError::BadLengths { .. }) && err.to_string().contains(want), "{err}");
    }
    // Lengths of another integer type are accepted.
    let int32 = Tensor::from_slice(&[3i32, 9]);
    assert_eq!(m.forward_sequences(&x, Some(&int32)).unwrap().size(), [2, 3]);
    let err = m.forward_sequences(&values(2, 9, 0).narrow(2, 0, 2), None).unwrap_err();
    assert!(matches!(err, ModelError::BadSequences { features: 3, .. }), "{err}");
}

#[test]
fn forward_input_is_forward_without_lengths_and_needs_rows_with_them() {
    let (batch, lengths, _) = padded_batch();
    let m = model(configs()[3].clone());
    let plain = m.forward_input_t(&batch, None, false, Kind::Float).unwrap();
    assert!(plain.equal(&m.forward_t(&batch, false).unwrap()));
    let with = m.forward_input_t(&batch, Some(&lengths), false, Kind::Float).unwrap();
    assert!(with.equal(&m.forward_sequences_t(&batch, Some(&lengths), false, Kind::Float).unwrap()));
    let pixels = ModelSpec::new(
        ModelConfig { hidden: 3, sequence: crate::Sequence::Pixels, ..Default::default() },
        9,
        FEATURES,
        vec!["a".into(), "b".into()],
    );
    let pixels = LstmClassifier::new(pixels, Device::Cpu).unwrap();
    let err = pixels.forward_input_t(&batch, Some(&lengths), false, Kind::Float).unwrap_err();
    assert!(err.to_string().contains("model.sequence = \"rows\""), "{err}");
}
