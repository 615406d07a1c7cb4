//! The exported graph, run by ONNX Runtime (Python, `scripts/onnx_run.py`),
//! gives libtorch's logits within 1e-4 on the shipped test digits, for every
//! cell, depth, direction, layout and readout.
//!
//! Needs a Python with `onnxruntime`, `onnx` and `numpy`: `$LSTM_MNIST_PYTHON`,
//! else the project's venv (`make test` installs them there). The tests are
//! `#[ignore = "needs onnxruntime"]` and fail when no such Python is found.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use lstm_model::{images_from_bytes, Cell, Init, LstmClassifier, ModelConfig, ModelSpec, Readout, Sequence};
use lstm_onnx::ExportOptions;
use tch::{Device, Tensor};

const TOLERANCE: f32 = 1e-4;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A Python that imports onnxruntime, onnx and numpy; fails the test when there is none.
fn python() -> PathBuf {
    let venv = std::env::var_os("LSTM_MNIST_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/lstm-mnist")))
        .map(|c| c.join("venv/bin/python"));
    let candidates = [std::env::var_os("LSTM_MNIST_PYTHON").map(PathBuf::from), venv];
    let found = candidates.into_iter().flatten().find(|p| {
        Command::new(p).args(["-c", "import onnxruntime, onnx, numpy"]).output().is_ok_and(|o| o.status.success())
    });
    found.unwrap_or_else(|| {
        panic!(
            "needs onnxruntime: no Python with onnxruntime, onnx and numpy ($LSTM_MNIST_PYTHON or the project's \
             venv); install the test tools with scripts/setup-test-tools.sh (`make test` runs it)"
        )
    })
}

/// The first `limit` shipped test digits as model input, and their IDX file.
fn test_digits(limit: usize) -> (Tensor, PathBuf) {
    let path = root().join("data/mnist-sample/t10k-images-idx3-ubyte.gz");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()).read_to_end(&mut bytes).unwrap();
    let pixels = &bytes[16..16 + limit * 28 * 28];
    (images_from_bytes(pixels, 28, 28).unwrap(), path)
}

/// Exports `config`'s model (random weights), runs it in ONNX Runtime and
/// compares with libtorch; returns the largest absolute difference.
fn compare(python: &Path, config: ModelConfig, limit: usize, options: &ExportOptions) -> f32 {
    let names = (0..10).map(|d| d.to_string()).collect();
    let model = LstmClassifier::new(ModelSpec::new(config.clone(), 28, 28, names), Device::Cpu).unwrap();
    let (images, idx) = test_digits(limit);
    let input = match options.standardization {
        Some((mean, std)) => (&images - mean) / std,
        None => images.shallow_clone(),
    };
    let expected = Vec::<f32>::try_from(model.forward(&input).unwrap().flatten(0, -1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (onnx, logits) = (dir.path().join("model.onnx"), dir.path().join("logits.f32"));
    lstm_onnx::write(&model, options, &onnx).unwrap();
    let out = Command::new(python)
        .arg(root().join("scripts/onnx_run.py"))
        .args([onnx.as_os_str(), idx.as_os_str()])
        .args(["--check", "--limit", &limit.to_string(), "--logits"])
        .arg(&logits)
        .output()
        .unwrap();
    assert!(out.status.success(), "{config:?}: {}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<f32> =
        std::fs::read(&logits).unwrap().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(got.len(), expected.len(), "{config:?}");
    let diff = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    let scale = expected.iter().map(|v| v.abs()).fold(0.0, f32::max);
    assert!(scale > 0.1, "{config:?}: logits too small ({scale}) for the comparison to mean anything");
    // The logits must differ between images, or the comparison would not see the input.
    let classes = 10;
    let spread = (0..classes)
        .map(|c| {
            let column = expected.iter().skip(c).step_by(classes);
            column.clone().fold(f32::MIN, |a, &b| a.max(b)) - column.fold(f32::MAX, |a, &b| a.min(b))
        })
        .fold(0.0, f32::max);
    assert!(spread > 0.01, "{config:?}: every image gets the same logits (spread {spread})");
    assert!(diff <= TOLERANCE, "{config:?}: ONNX Runtime differs from libtorch by {diff} (logits up to {scale})");
    diff
}

#[test]
#[ignore = "needs onnxruntime"]
fn lstm_and_gru_of_every_depth_direction_and_layout_match_libtorch() {
    let python = python();
    for cell in [Cell::Lstm, Cell::Gru] {
        for layers in [1, 2] {
            for bidirectional in [false, true] {
                for (sequence, limit) in [(Sequence::Rows, 2000), (Sequence::Pixels, 100)] {
                    let init = if layers == 1 { Init::Tensorflow } else { Init::Pytorch };
                    // After 784 steps the last output of a random network no longer
                    // depends on the image; the mean over steps does.
                    let readout = if sequence == Sequence::Pixels { Readout::Mean } else { Readout::Last };
                    let seed = (layers * 10 + i64::from(bidirectional)) as u64;
                    let config = ModelConfig {
                        hidden: 12,
                        layers,
                        bidirectional,
                        cell,
                        sequence,
                        readout,
                        init,
                        seed,
                        ..Default::default()
                    };
                    let diff = compare(&python, config, limit, &ExportOptions::default());
                    eprintln!("{cell:?} layers={layers} bidirectional={bidirectional} {sequence:?}: {readout:?}: max |diff| {diff:e}");
                }
            }
        }
    }
}

#[test]
#[ignore = "needs onnxruntime"]
fn permuted_pixels_mean_readout_and_standardization_match_libtorch() {
    let python = python();
    // Permuted pixels end on scattered pixels, so the last step still sees the image.
    let permuted =
        ModelConfig { hidden: 10, sequence: Sequence::PermutedPixels, permutation_seed: 7, ..Default::default() };
    compare(&python, permuted, 100, &ExportOptions::default());
    let pixels_last = ModelConfig { hidden: 10, sequence: Sequence::Pixels, ..Default::default() };
    compare(&python, pixels_last, 100, &ExportOptions::default());
    let gru_mean =
        ModelConfig { hidden: 16, cell: Cell::Gru, bidirectional: true, readout: Readout::Mean, ..Default::default() };
    compare(&python, gru_mean.clone(), 500, &ExportOptions::default());
    compare(&python, gru_mean, 500, &ExportOptions { standardization: Some((0.1307, 0.3081)) });
}

/// A model of series: raw `sequences` `[N, T, F]` and int32 `lengths` in,
/// the per-dimension standardisation and `points_per_step` in the graph. On
/// a batch mixing lengths 7 and 29 (garbage after each length), ONNX
/// Runtime gives libtorch's logits within 1e-4 for every cell, direction,
/// readout and 1 or 3 points per step.
#[test]
#[ignore = "needs onnxruntime"]
fn series_models_with_lengths_7_and_29_match_libtorch() {
    use data_core::{InputSpec, SequenceInput, Standardization};
    let python = python();
    let (n, t, f) = (6i64, 29i64, 12i64);
    tch::manual_seed(3);
    let x = Tensor::randn([n, t, f], (tch::Kind::Float, Device::Cpu)) * 2.0 + 0.5;
    let lengths = Tensor::from_slice(&[7i64, 29, 7, 29, 7, 29]);
    let st = Standardization { mean: (0..f).map(|i| 0.5 + 0.01 * i as f64).collect(), std: vec![2.0; f as usize] };
    let dir = tempfile::tempdir().unwrap();
    let (raw, lens) = (dir.path().join("x.f32"), dir.path().join("lengths.i32"));
    let values = Vec::<f32>::try_from(x.flatten(0, -1)).unwrap();
    std::fs::write(&raw, values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    std::fs::write(&lens, [7i32, 29, 7, 29, 7, 29].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    for cell in [Cell::Lstm, Cell::Gru] {
        for bidirectional in [false, true] {
            for readout in [Readout::Last, Readout::Mean] {
                for k in [1u32, 3] {
                    let config = ModelConfig {
                        hidden: 10,
                        cell,
                        bidirectional,
                        readout,
                        init: Init::Pytorch,
                        ..Default::default()
                    };
                    let input = InputSpec::Sequence(SequenceInput { features: f as u32, points_per_step: k });
                    let names = (0..4).map(|c| c.to_string()).collect();
                    let spec = ModelSpec::for_input(config.clone(), &input, t, names, Some(st.clone()));
                    let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
                    let standardized = st.apply(&x).unwrap();
                    let logits =
                        tch::no_grad(|| model.forward_input_t(&standardized, Some(&lengths), false, tch::Kind::Float))
                            .unwrap();
                    let expected = Vec::<f32>::try_from(logits.flatten(0, -1)).unwrap();
                    let (onnx, out) = (dir.path().join("series.onnx"), dir.path().join("logits.f32"));
                    let options = lstm_onnx::ExportOptions::for_model(&model).unwrap();
                    lstm_onnx::write(&model, &options, &onnx).unwrap();
                    let run = Command::new(&python)
                        .arg(root().join("scripts/onnx_run_series.py"))
                        .arg(&onnx)
                        .arg("--check")
                        .arg("--raw")
                        .args([raw.as_os_str(), lens.as_os_str()])
                        .args([n.to_string(), t.to_string(), f.to_string()])
                        .arg("--logits")
                        .arg(&out)
                        .output()
                        .unwrap();
                    assert!(run.status.success(), "{config:?} k={k}: {}", String::from_utf8_lossy(&run.stderr));
                    let got: Vec<f32> = std::fs::read(&out)
                        .unwrap()
                        .chunks(4)
                        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                        .collect();
                    assert_eq!(got.len(), expected.len());
                    let diff = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
                    // Series of length 7 and 29 must get different logits, or the lengths would not be seen.
                    let spread = (expected[0] - expected[4]).abs().max((expected[1] - expected[5]).abs());
                    assert!(spread > 1e-3, "{config:?} k={k}: lengths 7 and 29 give the same logits");
                    assert!(diff <= TOLERANCE, "{config:?} k={k}: ONNX Runtime differs from libtorch by {diff}");
                    eprintln!("series {cell:?} bidirectional={bidirectional} {readout:?} k={k}: max |diff| {diff:e}");
                }
            }
        }
    }
}
