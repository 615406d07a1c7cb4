use super::*;
use std::path::Path;

fn spec(config: ModelConfig) -> ModelSpec {
    ModelSpec::new(config, 5, 3, vec!["a".into(), "b".into(), "c".into()])
}

/// Deterministic images, without touching libtorch's global generator (which
/// the dropout tests rely on, and tests run in parallel).
fn images(n: i64) -> Tensor {
    let values: Vec<f32> = (0..n * 15).map(|i| ((i * 37 + 11) % 101) as f32 / 100.0).collect();
    Tensor::from_slice(&values).reshape([n, 5, 3])
}

#[test]
fn logits_have_one_column_per_class_and_parameters_pytorch_names() {
    let model = LstmClassifier::new(spec(ModelConfig { hidden: 8, ..Default::default() }), Device::Cpu).unwrap();
    assert_eq!(model.forward(&images(4)).unwrap().size(), [4, 3]);
    let mut names: Vec<String> = model.var_store().variables().into_keys().collect();
    names.sort();
    let expected =
        ["lstm.bias_hh_l0", "lstm.bias_ih_l0", "lstm.weight_hh_l0", "lstm.weight_ih_l0", "out.bias", "out.weight"];
    assert_eq!(names, expected);
    let shapes: Vec<Vec<i64>> = expected.iter().map(|n| model.var_store().variables()[*n].size()).collect();
    assert_eq!(shapes, [vec![32], vec![32], vec![32, 8], vec![32, 3], vec![3], vec![3, 8]]);
}

#[test]
fn forget_bias_initialises_the_forget_gate_only() {
    let model = LstmClassifier::new(spec(ModelConfig { hidden: 4, ..Default::default() }), Device::Cpu).unwrap();
    let b_ih = Vec::<f32>::try_from(&model.var_store().variables()["lstm.bias_ih_l0"]).unwrap();
    assert_eq!(b_ih, [0., 0., 0., 0., 1., 1., 1., 1., 0., 0., 0., 0., 0., 0., 0., 0.]);
    let pt = ModelConfig { hidden: 4, forget_bias: 0.0, init: Init::Pytorch, ..Default::default() };
    let model = LstmClassifier::new(spec(pt), Device::Cpu).unwrap();
    let w = model.var_store().variables()["lstm.weight_hh_l0"].abs().max().double_value(&[]);
    assert!(w <= 0.5 && w > 0.0, "U(-1/sqrt(4), 1/sqrt(4)) drew {w}");
}

#[test]
fn same_seed_same_model() {
    let a = LstmClassifier::new(spec(ModelConfig::default()), Device::Cpu).unwrap();
    let b = LstmClassifier::new(spec(ModelConfig::default()), Device::Cpu).unwrap();
    let c = LstmClassifier::new(spec(ModelConfig { seed: 1, ..Default::default() }), Device::Cpu).unwrap();
    let x = images(2);
    assert!(a.forward(&x).unwrap().equal(&b.forward(&x).unwrap()));
    assert!(!a.forward(&x).unwrap().equal(&c.forward(&x).unwrap()));
}

#[test]
fn save_then_load_gives_identical_logits() {
    let dir = tempfile::tempdir().unwrap();
    let model =
        LstmClassifier::new(spec(ModelConfig { hidden: 6, seed: 3, ..Default::default() }), Device::Cpu).unwrap();
    model.save(dir.path()).unwrap();
    let loaded = LstmClassifier::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(loaded.spec(), model.spec());
    let x = images(3);
    assert!(model.forward(&x).unwrap().equal(&loaded.forward(&x).unwrap()));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "only the two model files remain: {leftovers:?}");
}

#[test]
fn wrong_input_shape_is_an_error() {
    let model = LstmClassifier::new(spec(ModelConfig { hidden: 4, ..Default::default() }), Device::Cpu).unwrap();
    let err = model.forward(&Tensor::zeros([2, 3, 5], (Kind::Float, Device::Cpu))).unwrap_err();
    assert!(matches!(err, ModelError::BadInput { .. }), "{err}");
    assert!(model.forward(&Tensor::zeros([15], (Kind::Float, Device::Cpu))).is_err());
}

#[test]
fn class_names_too_long_or_with_control_characters_are_refused() {
    let named = |name: String| ModelSpec::new(ModelConfig::default(), 5, 3, vec!["a".into(), name]);
    for bad in ["x".repeat(100_000), "x".repeat(MAX_CLASS_NAME_BYTES + 1), "a\nb".into(), "\u{1b}[31mred".into()] {
        let err = named(bad.clone()).validate().unwrap_err();
        let msg = err.to_string();
        assert!(matches!(&err, ModelError::InvalidConfig(c) if c.key == "class_names"), "{msg}");
        assert!(msg.len() < 600 && msg.contains("class 1"), "the message quotes the name shortly: {msg}");
    }
    named("x".repeat(MAX_CLASS_NAME_BYTES)).validate().unwrap();
    named("T-shirt/top \u{e9}".into()).validate().unwrap();
}

#[test]
fn invalid_configs_are_rejected() {
    let err = LstmClassifier::new(spec(ModelConfig { hidden: 0, ..Default::default() }), Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("model.hidden"), "{err}");
    let one_class = ModelSpec::new(ModelConfig::default(), 5, 3, vec!["a".into()]);
    assert!(LstmClassifier::new(one_class, Device::Cpu).is_err());
    for (config, key) in [
        (ModelConfig { layers: 0, ..Default::default() }, "model.layers"),
        (ModelConfig { dropout: 1.0, ..Default::default() }, "model.dropout"),
        (ModelConfig { dropout: -0.1, ..Default::default() }, "model.dropout"),
        (ModelConfig { forget_bias: f64::NAN, ..Default::default() }, "model.forget_bias"),
    ] {
        let err = LstmClassifier::new(spec(config), Device::Cpu).unwrap_err();
        assert!(matches!(err, ModelError::InvalidConfig(_)) && err.to_string().contains(key), "{err}");
        assert!(err.is_config(), "{err}");
    }
    // A spec whose sequence shape contradicts its layout.
    let mut inconsistent = spec(ModelConfig::default());
    inconsistent.config.sequence = Sequence::Pixels;
    let err = LstmClassifier::new(inconsistent, Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("steps/features"), "{err}");
}

#[test]
fn bad_saved_models_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = LstmClassifier::new(spec(ModelConfig { hidden: 4, ..Default::default() }), Device::Cpu).unwrap();
    model.save(dir.path()).unwrap();
    let weights = dir.path().join(WEIGHTS_FILE);
    let good = std::fs::read(&weights).unwrap();

    std::fs::write(&weights, &good[..good.len() / 2]).unwrap();
    assert!(LstmClassifier::load(dir.path(), Device::Cpu).is_err());
    std::fs::write(&weights, b"garbage").unwrap();
    assert!(LstmClassifier::load(dir.path(), Device::Cpu).is_err());

    // Weights of another shape.
    std::fs::write(&weights, &good).unwrap();
    let spec_path = dir.path().join(SPEC_FILE);
    let text = std::fs::read_to_string(&spec_path).unwrap();
    std::fs::write(&spec_path, text.replace("\"hidden\": 4", "\"hidden\": 5")).unwrap();
    let err = LstmClassifier::load(dir.path(), Device::Cpu).unwrap_err();
    assert!(matches!(err, ModelError::WeightsMismatch { .. }), "{err}");

    std::fs::write(&spec_path, text.replace("\"format_version\": 3", "\"format_version\": 99")).unwrap();
    let err = LstmClassifier::load(dir.path(), Device::Cpu).unwrap_err();
    assert!(matches!(err, ModelError::UnsupportedVersion { found: 99, .. }), "{err}");

    std::fs::write(&spec_path, "{").unwrap();
    assert!(matches!(LstmClassifier::load(dir.path(), Device::Cpu), Err(ModelError::BadSpec { .. })));
    std::fs::remove_file(&spec_path).unwrap();
    assert!(matches!(LstmClassifier::load(dir.path(), Device::Cpu), Err(ModelError::Io { .. })));
}

fn small(config: ModelConfig) -> ModelConfig {
    ModelConfig { hidden: 4, init: Init::Pytorch, ..config }
}

/// Every option combination: the parameters PyTorch would have, and logits of the right shape.
#[test]
fn every_option_builds_pytorch_parameters_and_logits() {
    for cell in [Cell::Lstm, Cell::Gru] {
        for layers in [1, 2] {
            for bidirectional in [false, true] {
                for readout in [Readout::Last, Readout::Mean] {
                    for sequence in [Sequence::Rows, Sequence::Pixels, Sequence::PermutedPixels] {
                        let config = small(ModelConfig {
                            cell,
                            layers,
                            bidirectional,
                            readout,
                            sequence,
                            dropout: 0.2,
                            ..Default::default()
                        });
                        let model = LstmClassifier::new(spec(config.clone()), Device::Cpu).unwrap();
                        let what = format!("{config:?}");
                        assert_eq!(model.forward(&images(2)).unwrap().size(), [2, 3], "{what}");
                        assert_eq!(model.forward_t(&images(2), true).unwrap().size(), [2, 3], "{what}");
                        let vars = model.var_store().variables();
                        let dirs = if bidirectional { 2 } else { 1 };
                        let g = cell.gates() * 4;
                        assert_eq!(vars.len(), (4 * layers * dirs + 2) as usize, "{what}");
                        let features = if sequence == Sequence::Rows { 3 } else { 1 };
                        let p = cell.name();
                        assert_eq!(vars[&format!("{p}.weight_ih_l0")].size(), [g, features], "{what}");
                        assert_eq!(vars[&format!("{p}.weight_hh_l0")].size(), [g, 4], "{what}");
                        if layers == 2 {
                            assert_eq!(vars[&format!("{p}.weight_ih_l1")].size(), [g, 4 * dirs], "{what}");
                        }
                        if bidirectional {
                            assert_eq!(vars[&format!("{p}.bias_hh_l{}_reverse", layers - 1)].size(), [g], "{what}");
                        }
                        assert_eq!(vars["out.weight"].size(), [3, 4 * dirs], "{what}");
                        assert_eq!(
                            (model.spec().steps, model.spec().features),
                            if features == 3 { (5, 3) } else { (15, 1) }
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn dropout_is_random_in_training_and_off_in_evaluation() {
    let config = small(ModelConfig { layers: 2, dropout: 0.5, hidden: 16, ..Default::default() });
    let model = LstmClassifier::new(spec(config.clone()), Device::Cpu).unwrap();
    let x = images(4);
    let eval_a = model.forward(&x).unwrap();
    assert!(eval_a.equal(&model.forward(&x).unwrap()), "evaluation is deterministic");
    let eval_t = model.forward_t(&x, false).unwrap();
    assert!(eval_t.equal(&model.forward_t(&x, false).unwrap()), "with gradients too");
    assert!(eval_a.allclose(&eval_t, 1e-6, 1e-6, false));
    let train_a = model.forward_t(&x, true).unwrap();
    let train_b = model.forward_t(&x, true).unwrap();
    assert!(!train_a.equal(&train_b), "training draws new dropout masks");
    assert!(!train_a.equal(&eval_a));
    // Evaluation ignores the dropout probability entirely: same weights, no dropout, same logits.
    let plain = LstmClassifier::new(spec(ModelConfig { dropout: 0.0, ..config }), Device::Cpu).unwrap();
    assert!(eval_a.allclose(&plain.forward(&x).unwrap(), 0.0, 0.0, false));
    // With one layer, the dropout before the readout still acts in training.
    let one =
        LstmClassifier::new(spec(small(ModelConfig { dropout: 0.5, hidden: 16, ..Default::default() })), Device::Cpu)
            .unwrap();
    assert!(!one.forward_t(&x, true).unwrap().equal(&one.forward_t(&x, true).unwrap()));
    assert!(one.forward(&x).unwrap().equal(&one.forward(&x).unwrap()));
}

#[test]
fn forget_bias_applies_to_every_lstm_layer_and_direction_and_not_to_gru() {
    let model = LstmClassifier::new(
        spec(ModelConfig { hidden: 2, layers: 2, bidirectional: true, ..Default::default() }),
        Device::Cpu,
    )
    .unwrap();
    let vars = model.var_store().variables();
    for name in ["bias_ih_l0", "bias_ih_l0_reverse", "bias_ih_l1", "bias_ih_l1_reverse"] {
        assert_eq!(
            Vec::<f32>::try_from(&vars[&format!("lstm.{name}")]).unwrap(),
            [0., 0., 1., 1., 0., 0., 0., 0.],
            "{name}"
        );
        assert_eq!(Vec::<f32>::try_from(&vars[&format!("lstm.{}", name.replace("ih", "hh"))]).unwrap(), [0.; 8]);
    }
    let gru = LstmClassifier::new(spec(ModelConfig { hidden: 2, cell: Cell::Gru, ..Default::default() }), Device::Cpu)
        .unwrap();
    assert_eq!(Vec::<f32>::try_from(&gru.var_store().variables()["gru.bias_ih_l0"]).unwrap(), [0.; 6]);
}

#[test]
fn permuted_pixels_reads_pixels_in_the_seeded_order() {
    let order = pixel_permutation(7, 15);
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, (0..15).collect::<Vec<i64>>(), "a permutation");
    assert_eq!(order, pixel_permutation(7, 15), "fixed by its seed");
    assert_ne!(order, pixel_permutation(8, 15));
    assert_ne!(pixel_permutation(0, 784), (0..784).collect::<Vec<i64>>());

    let permuted = small(ModelConfig { sequence: Sequence::PermutedPixels, permutation_seed: 7, ..Default::default() });
    let pixels = ModelConfig { sequence: Sequence::Pixels, ..permuted.clone() };
    let a = LstmClassifier::new(spec(permuted), Device::Cpu).unwrap();
    let b = LstmClassifier::new(spec(pixels), Device::Cpu).unwrap();
    let x = images(2);
    let seq = a.sequences(&x).unwrap();
    assert_eq!(seq.size(), [2, 15, 1]);
    let flat = Vec::<f32>::try_from(x.flatten(0, -1)).unwrap();
    let got = Vec::<f32>::try_from(seq.flatten(0, -1)).unwrap();
    for t in 0..15 {
        assert_eq!(got[t], flat[order[t] as usize], "step {t} reads pixel order[{t}]");
        assert_eq!(got[15 + t], flat[15 + order[t] as usize]);
    }
    // Same weights (same seed): the permuted model on x is the pixel model on pre-permuted x.
    let pre = Tensor::from_slice(&got).reshape([2, 5, 3]);
    assert!(a.forward(&x).unwrap().allclose(&b.forward(&pre).unwrap(), 0.0, 0.0, false));
}

#[test]
fn every_option_survives_save_and_load() {
    for config in [
        small(ModelConfig {
            cell: Cell::Gru,
            layers: 2,
            bidirectional: true,
            readout: Readout::Mean,
            dropout: 0.3,
            ..Default::default()
        }),
        small(ModelConfig { sequence: Sequence::PermutedPixels, permutation_seed: 11, ..Default::default() }),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let model = LstmClassifier::new(spec(config), Device::Cpu).unwrap();
        model.save(dir.path()).unwrap();
        let loaded = LstmClassifier::load(dir.path(), Device::Cpu).unwrap();
        assert_eq!(loaded.spec(), model.spec());
        assert!(model.forward(&images(3)).unwrap().equal(&loaded.forward(&images(3)).unwrap()));
    }
}

#[test]
fn version_1_descriptions_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let model = LstmClassifier::new(spec(ModelConfig { hidden: 4, ..Default::default() }), Device::Cpu).unwrap();
    model.save(dir.path()).unwrap();
    // model.json exactly as the version-1 (foundation) build wrote it.
    let v1 = r#"{
  "format_version": 1,
  "config": { "hidden": 4, "forget_bias": 1.0, "init": "tensorflow", "seed": 0 },
  "steps": 5,
  "features": 3,
  "class_names": ["a", "b", "c"]
}"#;
    std::fs::write(dir.path().join(SPEC_FILE), v1).unwrap();
    let loaded = LstmClassifier::load(dir.path(), Device::Cpu).unwrap();
    let v2 = ModelSpec { format_version: 2, input: None, ..model.spec().clone() };
    assert_eq!(loaded.spec(), &v2, "read as the equivalent version-2 spec");
    assert!(loaded.spec().lacks().unwrap().contains("standardisation"));
    assert_eq!(loaded.spec().input_or_default(), model.spec().input.clone().unwrap());
    assert!(model.forward(&images(2)).unwrap().equal(&loaded.forward(&images(2)).unwrap()));
    let err = ModelSpec::from_json(Path::new("m.json"), br#"{"format_version": 0}"#).unwrap_err();
    assert!(matches!(err, ModelError::UnsupportedVersion { found: 0, .. }), "{err}");
}

#[test]
fn version_3_carries_the_input_and_the_standardisation() {
    use data_core::{InputSpec, Invert, PictureInput, Standardization};
    let dir = tempfile::tempdir().unwrap();
    let st = Standardization { mean: vec![0.13], std: vec![0.31] };
    let input = InputSpec::Picture(PictureInput::new(5, 3, Invert::No));
    let spec = spec(ModelConfig { hidden: 4, ..Default::default() }).with_input(input.clone(), Some(st.clone()));
    LstmClassifier::new(spec, Device::Cpu).unwrap().save(dir.path()).unwrap();
    let text = std::fs::read_to_string(dir.path().join(SPEC_FILE)).unwrap();
    assert!(text.contains("\"format_version\": 3") && text.contains("\"invert\": \"no\""), "{text}");
    let loaded = LstmClassifier::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!((loaded.spec().input.as_ref(), loaded.spec().standardization.as_ref()), (Some(&input), Some(&st)));
    assert_eq!(loaded.spec().lacks(), None);
    // A version-2 file may not carry the new keys; statistics must fit the features.
    let v2 = text.replace("\"format_version\": 3", "\"format_version\": 2");
    let err = ModelSpec::from_json(Path::new("m.json"), v2.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("format_version") && err.contains("m.json"), "{err}");
    let bad = text.replace("0.31", "0.0");
    let err = ModelSpec::from_json(Path::new("m.json"), bad.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("standardization"), "{err}");
    let wrong_size = text.replace("\"height\": 5", "\"height\": 6");
    assert!(ModelSpec::from_json(Path::new("m.json"), wrong_size.as_bytes()).is_err());
}

#[test]
fn predict_gives_classes_names_and_probabilities() {
    let model = LstmClassifier::new(spec(ModelConfig { hidden: 4, ..Default::default() }), Device::Cpu).unwrap();
    let x = images(3);
    let logits = model.forward(&x).unwrap();
    let predictions = model.predict(&x).unwrap();
    assert_eq!(predictions.len(), 3);
    let argmax = Vec::<i64>::try_from(logits.argmax(-1, false)).unwrap();
    let softmax = Vec::<f32>::try_from(logits.softmax(-1, Kind::Float).flatten(0, -1)).unwrap();
    for (i, p) in predictions.iter().enumerate() {
        assert_eq!(p.class as i64, argmax[i]);
        assert_eq!(p.name, ["a", "b", "c"][p.class]);
        assert_eq!(p.probabilities, softmax[i * 3..i * 3 + 3]);
        assert_eq!(p.probability, p.probabilities[p.class]);
        assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn images_from_bytes_scales_and_checks_the_size() {
    let x = images_from_bytes(&[0, 255, 51, 0, 0, 0, 1, 2, 3, 4, 5, 6], 2, 3).unwrap();
    assert_eq!(x.size(), [2, 2, 3]);
    assert_eq!(Vec::<f32>::try_from(x.flatten(0, -1)).unwrap()[..3], [0.0, 1.0, 0.2]);
    assert!(matches!(images_from_bytes(&[0; 7], 2, 3), Err(ModelError::BadPixels { len: 7, .. })));
    assert!(images_from_bytes(&[0; 6], 0, 3).is_err());
}

/// Mixed precision: f32 logits close to the f32 forward's, for the LSTM and
/// the GRU, and gradients that reach the f32 weights through the casts.
#[test]
fn bf16_forward_is_close_to_fp32_and_backpropagates_to_f32_weights() {
    for cell in [Cell::Lstm, Cell::Gru] {
        let model =
            LstmClassifier::new(spec(ModelConfig { hidden: 8, cell, ..Default::default() }), Device::Cpu).unwrap();
        let x = images(6);
        let fp32 = model.forward_t(&x, false).unwrap();
        assert!(model.forward_t_with(&x, false, Kind::Float).unwrap().equal(&fp32));
        let bf16 = model.forward_t_with(&x, false, Kind::BFloat16).unwrap();
        assert_eq!(bf16.kind(), Kind::Float);
        let diff = (&bf16 - &fp32).abs().max().double_value(&[]);
        let scale = fp32.abs().max().double_value(&[]);
        assert!(diff < 0.05 * scale.max(1.0), "{cell:?}: max difference {diff} for logits up to {scale}");
        bf16.sum(Kind::Float).backward();
        let w = &model.var_store().variables()[&format!("{}.weight_ih_l0", cell.name())];
        let grad = w.grad();
        assert_eq!(grad.kind(), Kind::Float);
        assert!(grad.abs().sum(Kind::Float).double_value(&[]) > 0.0, "{cell:?}: no gradient");
    }
}

#[test]
fn parameter_shapes_are_those_the_model_builds() {
    for config in [
        ModelConfig { hidden: 4, ..Default::default() },
        ModelConfig { hidden: 3, layers: 3, bidirectional: true, ..Default::default() },
        ModelConfig { hidden: 5, layers: 2, cell: Cell::Gru, sequence: Sequence::Pixels, ..Default::default() },
    ] {
        let s = spec(config);
        let model = LstmClassifier::new(s.clone(), Device::Cpu).unwrap();
        let mut built: Vec<(String, Vec<i64>)> =
            model.var_store().variables().into_iter().map(|(name, t)| (name, t.size())).collect();
        built.sort();
        let mut listed = s.parameter_shapes();
        listed.sort();
        assert_eq!(built, listed);
        let count: i64 = listed.iter().map(|(_, shape)| shape.iter().product::<i64>()).sum();
        assert_eq!(Some(count as u64), s.parameter_count());
    }
}

/// A model.json claiming a model of gigabytes next to a small weights file is
/// refused from the weights file's header, before the model is built (building
/// it would allocate 6.4 GB of weights).
#[test]
fn a_huge_description_with_small_weights_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let model = LstmClassifier::new(spec(ModelConfig { hidden: 4, ..Default::default() }), Device::Cpu).unwrap();
    model.save(dir.path()).unwrap();
    let spec_path = dir.path().join(SPEC_FILE);
    let text = std::fs::read_to_string(&spec_path).unwrap();
    std::fs::write(&spec_path, text.replace("\"hidden\": 4", "\"hidden\": 20000")).unwrap();
    let err = LstmClassifier::load(dir.path(), Device::Cpu).unwrap_err();
    assert!(matches!(err, ModelError::WeightsMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("model.safetensors") && msg.contains("[80000, 3]"), "{msg}");
}

#[test]
fn non_finite_weights_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let model = LstmClassifier::new(spec(ModelConfig { hidden: 4, ..Default::default() }), Device::Cpu).unwrap();
    let _ = tch::no_grad(|| model.var_store().variables()["out.bias"].shallow_clone().fill_(f64::NAN));
    model.save(dir.path()).unwrap();
    let err = LstmClassifier::load(dir.path(), Device::Cpu).unwrap_err();
    assert!(matches!(&err, ModelError::NonFiniteWeights { name, .. } if name == "out.bias"), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");
}

#[test]
fn bad_values_in_model_json_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let model = LstmClassifier::new(spec(ModelConfig { hidden: 4, ..Default::default() }), Device::Cpu).unwrap();
    model.save(dir.path()).unwrap();
    let spec_path = dir.path().join(SPEC_FILE);
    let text = std::fs::read_to_string(&spec_path).unwrap();
    for (from, to, key) in
        [("\"hidden\": 4", "\"hidden\": 0", "config.hidden"), ("\"steps\": 5", "\"steps\": 6", "steps/features")]
    {
        std::fs::write(&spec_path, text.replace(from, to)).unwrap();
        let err = LstmClassifier::load(dir.path(), Device::Cpu).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ModelError::InvalidSpec { .. }), "{msg}");
        assert!(msg.contains("model.json") && msg.contains(key) && !msg.contains("ModelSpec::new"), "{msg}");
    }
}

#[test]
fn weights_header_is_checked_for_types_offsets_and_special_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let write = |header: &str, data: usize| {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(std::iter::repeat_n(0u8, data));
        std::fs::write(&path, bytes).unwrap();
    };
    write(r#"{"t": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}"#, 24);
    let h = header::read(&path).unwrap();
    assert_eq!(h["t"].shape, vec![2, 3]);
    let expected = vec![("t".to_owned(), vec![2, 3])];
    header::check(&path, &h, &expected).unwrap();
    assert!(header::check(&path, &h, &[("t".to_owned(), vec![3, 2])]).is_err());
    write(r#"{"t": {"dtype": "F64", "shape": [2, 3], "data_offsets": [0, 48]}}"#, 48);
    let err = header::check(&path, &header::read(&path).unwrap(), &expected).unwrap_err();
    assert!(err.to_string().contains("F64"), "{err}");
    write(r#"{"t": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}"#, 10);
    assert!(matches!(header::read(&path), Err(ModelError::BadWeights { .. })));
    write(r#"{"t": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 24]}}"#, 24);
    assert!(matches!(header::read(&path), Err(ModelError::BadWeights { .. })));
    assert!(matches!(header::read(dir.path()), Err(ModelError::Io { .. })));
}

#[test]
fn only_config_values_are_config_errors() {
    let err = ModelError::invalid_config("model.hidden", 0, "use a positive number of hidden units");
    assert!(err.is_config());
    assert_eq!(err.to_string(), "invalid model.hidden = 0: use a positive number of hidden units");
    let io = ModelError::Io { path: "m/model.json".into(), source: std::io::ErrorKind::NotFound.into() };
    assert!(!io.is_config(), "{io}");
    let spec =
        ModelError::InvalidSpec { path: "m".into(), key: "config.hidden".into(), value: "0".into(), hint: "h".into() };
    assert!(!spec.is_config(), "a damaged model file is not the user's config: {spec}");
    let pixels = images_from_bytes(&[0; 7], 2, 3).unwrap_err();
    assert!(!pixels.is_config(), "{pixels}");
}
