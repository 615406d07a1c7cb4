use super::*;
use data_core::PictureInput;
use lstm_model::{ModelConfig, ModelSpec};

/// A run folder `dir/run` with a small model of 4x3 pictures saved in model/.
fn saved(dir: &Path, st: Option<Standardization>) -> PathBuf {
    let input = InputSpec::Picture(PictureInput::new(4, 3, Invert::Auto));
    let spec = ModelSpec::new(ModelConfig { hidden: 5, ..Default::default() }, 4, 3, vec!["a".into(), "b".into()])
        .with_input(input, st);
    let run = dir.join("run");
    LstmClassifier::new(spec, Device::Cpu).unwrap().save(run.join("model")).unwrap();
    run
}

#[test]
fn the_model_folder_alone_gives_the_standardised_input() {
    let tmp = tempfile::tempdir().unwrap();
    let st = Standardization { mean: vec![0.25], std: vec![0.5] };
    let run = saved(tmp.path(), Some(st));
    let p = Predictor::open(&run, Device::Cpu, Precision::Fp32).unwrap();
    assert_eq!(p.dir(), run.join("model"));
    let x = p.tensor(&[255u8; 12]).unwrap();
    assert!((x.double_value(&[0, 0, 0]) - 1.5).abs() < 1e-6, "(1 - 0.25) / 0.5");
    let direct = p.model().predict(&x).unwrap();
    assert_eq!(p.classify_pixels(&[255u8; 12]).unwrap(), direct);
    // Sequences go through the same statistics.
    let raw = Tensor::ones([1, 4, 3], (Kind::Float, Device::Cpu));
    assert_eq!(p.sequences(&raw, None).unwrap(), direct);
}

#[test]
fn an_older_folder_of_a_standardised_run_is_refused_naming_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let run = saved(tmp.path(), None);
    let spec_path = run.join("model").join(SPEC_FILE);
    let text = std::fs::read_to_string(&spec_path).unwrap();
    let start = text.find("  \"input\"").unwrap();
    let v2 = format!("{}\n}}\n", text[..start].trim_end().trim_end_matches(','))
        .replace("\"format_version\": 3", "\"format_version\": 2");
    std::fs::write(&spec_path, v2).unwrap();
    // Without a run config saying "standardize": usable (with a warning).
    assert!(Predictor::open(&run, Device::Cpu, Precision::Fp32).is_ok());
    std::fs::write(run.join("config.json"), r#"{"data": {"normalize": "standardize"}}"#).unwrap();
    let err = Predictor::open(&run, Device::Cpu, Precision::Fp32).unwrap_err();
    let text = err.to_string();
    assert!(err.is_config() && text.contains("model.json") && text.contains("config.json"), "{text}");
    assert!(text.contains("format version 2") && text.contains("Retrain"), "{text}");
}

#[test]
fn special_files_and_other_formats_are_named_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Predictor::open(&saved(tmp.path(), None), Device::Cpu, Precision::Fp32).unwrap();
    let fifo = tmp.path().join("f.png");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let err = p.images(&fifo, None).unwrap_err().to_string();
    assert!(err.contains("FIFO") && err.contains("f.png"), "{err}");
    let err = p.picture_file(&fifo, None).unwrap_err().to_string();
    assert!(err.contains("FIFO"), "{err}");
    let err = p.images(tmp.path(), None).unwrap_err().to_string();
    assert!(err.contains("a folder"), "{err}");
    let text = tmp.path().join("notes.png");
    std::fs::write(&text, "hello, not a picture").unwrap();
    let err = p.images(&text, None).unwrap_err().to_string();
    assert!(err.contains("not a PNG or JPEG") && !err.contains("IDX"), "{err}");
    let gif = tmp.path().join("anim.gif");
    std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
    let err = p.images(&gif, None).unwrap_err().to_string();
    assert!(err.contains("not a PNG or JPEG") && err.contains("gif"), "{err}");
    let err = p.picture_bytes(b"GIF89a\x01\x00", Path::new("upload"), None).unwrap_err().to_string();
    assert!(err.contains("upload: not a PNG or JPEG"), "{err}");
}

#[test]
fn idx_files_are_read_a_batch_at_a_time_and_pictures_prepared() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Predictor::open(&saved(tmp.path(), None), Device::Cpu, Precision::Fp32).unwrap();
    let idx = tmp.path().join("images.idx");
    let pixels: Vec<u8> = (0..5 * 12).map(|i| (i * 4) as u8).collect();
    std::fs::write(&idx, mnist_data::idx::encode_images(5, 4, 3, &pixels)).unwrap();
    let mut batches = p.images(&idx, None).unwrap();
    assert!(!batches.is_picture());
    let sizes: Vec<(Option<usize>, usize)> =
        std::iter::from_fn(|| batches.next_batch(2).unwrap()).map(|b| (b.first_index, b.len())).collect();
    assert_eq!(sizes, [(Some(0), 2), (Some(2), 2), (Some(4), 1)]);
    // A dark stroke on white paper, twice the model's size: shrunk and (auto) inverted.
    let paper = image::GrayImage::from_fn(6, 8, |x, _| image::Luma([if x == 2 || x == 3 { 0 } else { 255 }]));
    let png = tmp.path().join("drawn.png");
    paper.save(&png).unwrap();
    let c = p.picture_file(&png, None).unwrap();
    assert!(c.inverted);
    assert_eq!(c, p.picture_bytes(&std::fs::read(&png).unwrap(), &png, None).unwrap());
    assert!(!p.picture_file(&png, Some(Invert::No)).unwrap().inverted);
}
