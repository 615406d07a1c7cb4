use super::*;

fn spec(config: ModelConfig) -> ModelSpec {
    ModelSpec::new(config, 5, 3, vec!["a".into(), "b".into(), "c".into()])
}

fn images(n: i64) -> Tensor {
    tch::manual_seed(42);
    Tensor::rand([n, 5, 3], (Kind::Float, Device::Cpu))
}

#[test]
fn logits_have_one_column_per_class_and_parameters_pytorch_names() {
    let model = LstmClassifier::new(spec(ModelConfig { hidden: 8, ..Default::default() }), Device::Cpu).unwrap();
    assert_eq!(model.forward(&images(4)).unwrap().size(), [4, 3]);
    let mut names: Vec<String> = model.var_store().variables().into_keys().collect();
    names.sort();
    let expected = ["lstm.bias_hh_l0", "lstm.bias_ih_l0", "lstm.weight_hh_l0", "lstm.weight_ih_l0", "out.bias", "out.weight"];
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
    let model = LstmClassifier::new(spec(ModelConfig { hidden: 6, seed: 3, ..Default::default() }), Device::Cpu).unwrap();
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
fn invalid_configs_are_rejected() {
    let err = LstmClassifier::new(spec(ModelConfig { hidden: 0, ..Default::default() }), Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("model.hidden"), "{err}");
    let one_class = ModelSpec::new(ModelConfig::default(), 5, 3, vec!["a".into()]);
    assert!(LstmClassifier::new(one_class, Device::Cpu).is_err());
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

    std::fs::write(&spec_path, text.replace("\"format_version\": 1", "\"format_version\": 99")).unwrap();
    let err = LstmClassifier::load(dir.path(), Device::Cpu).unwrap_err();
    assert!(matches!(err, ModelError::UnsupportedVersion { found: 99, .. }), "{err}");

    std::fs::write(&spec_path, "{").unwrap();
    assert!(matches!(LstmClassifier::load(dir.path(), Device::Cpu), Err(ModelError::BadSpec { .. })));
    std::fs::remove_file(&spec_path).unwrap();
    assert!(matches!(LstmClassifier::load(dir.path(), Device::Cpu), Err(ModelError::Io { .. })));
}
