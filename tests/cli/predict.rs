//! Integration tests of `lstm-mnist predict`: a tiny model is trained through
//! the binary on a learnable 6x5 dataset, then classifies PNG images (of
//! another size, white-on-black and black-on-white) and IDX files.

use crate::common;

use std::path::{Path, PathBuf};

use common::{digit, run, text, write_dataset, COLS, ROWS};

/// Trains a small model through the binary; returns the temp dir and the run folder.
fn trained() -> (tempfile::TempDir, PathBuf) {
    trained_with("")
}

/// [`trained`] with `data_keys` (e.g. `, "normalize": "standardize"`) added to the data section.
fn trained_with(data_keys: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = write_dataset(tmp.path().join("data"), 300, 100, false);
    let config = tmp.path().join("tiny.json");
    let json = format!(
        r#"{{"device": "cpu", "threads": 1, "data": {{"dir": {:?}{data_keys}}}, "model": {{"hidden": 32}},
            "train": {{"learning_rate": 0.01, "batch_size": 20, "training_iters": 6020, "display_step": 100}}}}"#,
        data.display().to_string()
    );
    std::fs::write(&config, json).unwrap();
    let run_dir = tmp.path().join("run");
    let out = run(&["train", "--config", config.to_str().unwrap(), "--out", run_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (tmp, run_dir)
}

/// Writes `pixels` (ROWS x COLS) as a PNG scaled up `scale` times, optionally inverted.
fn write_png(path: &Path, pixels: &[u8], scale: u32, invert: bool) {
    let small = image::GrayImage::from_fn(COLS as u32, ROWS as u32, |x, y| {
        let p = pixels[y as usize * COLS + x as usize];
        image::Luma([if invert { 255 - p } else { p }])
    });
    let big =
        image::imageops::resize(&small, COLS as u32 * scale, ROWS as u32 * scale, image::imageops::FilterType::Nearest);
    image::DynamicImage::ImageLuma8(big).to_rgb8().save(path).unwrap();
}

#[test]
fn predict_classifies_png_and_idx_files() {
    let (tmp, run_dir) = trained();
    let run_dir = run_dir.to_str().unwrap();
    let three = tmp.path().join("three.png");
    let eight_dark = tmp.path().join("eight-on-white.png");
    write_png(&three, &digit(3, 1000), 4, false);
    write_png(&eight_dark, &digit(8, 1001), 2, true);

    // White on black, 24x20 RGB, resized to the model's 6x5 grey input.
    let out = run(&["predict", "--model", run_dir, three.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = stdout.trim();
    assert!(line.starts_with(&format!("{}: 3 (", three.display())), "{stdout}");
    let probability: f64 = line.rsplit_once('(').unwrap().1.trim_end_matches(')').parse().unwrap();
    assert!(probability > 0.5 && probability <= 1.0, "{stdout}");

    // Black on white needs --invert; the model folder itself works as --model too.
    let model_dir = format!("{run_dir}/model");
    let out = run(&["predict", "--model", &model_dir, "--invert", eight_dark.to_str().unwrap()]);
    assert!(text(&out.stdout).starts_with(&format!("{}: 8 (", eight_dark.display())), "{}", text(&out.stdout));

    // An IDX file: one line per image; --json gives every probability.
    let test_images = tmp.path().join("data/t10k-images-idx3-ubyte");
    let out = run(&["predict", "--model", run_dir, "--json", test_images.to_str().unwrap(), three.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 101);
    let correct = (0..100).filter(|&i| rows[i]["class"].as_u64() == Some((i * 7 % 10) as u64)).count();
    assert!(correct >= 90, "{correct} of 100 test images");
    assert_eq!(rows[5]["index"], 5);
    assert_eq!(rows[5]["file"], test_images.display().to_string());
    assert_eq!(rows[100]["name"], "3");
    assert!(rows[100].get("index").is_none(), "a PNG has no index");
    let probabilities: Vec<f64> =
        rows[0]["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect();
    assert_eq!(probabilities.len(), 10);
    assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-4);
}

#[test]
fn predict_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let nowhere = tmp.path().join("nowhere");
    let png = tmp.path().join("x.png");
    write_png(&png, &digit(1, 0), 1, false);
    let out = run(&["predict", "--model", nowhere.to_str().unwrap(), png.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: ") && stderr.contains("nowhere") && stderr.contains("model.json"), "{stderr}");

    // A saved model (untrained: only the file handling is under test here).
    let spec = lstm_model::ModelSpec::new(
        lstm_model::ModelConfig { hidden: 4, ..Default::default() },
        ROWS as i64,
        COLS as i64,
        (0..10).map(|d| d.to_string()).collect(),
    );
    let model_dir = tmp.path().join("model");
    lstm_model::LstmClassifier::new(spec, tch::Device::Cpu).unwrap().save(&model_dir).unwrap();
    let model = model_dir.to_str().unwrap();
    let out = run(&["predict", "--model", model]);
    assert_eq!(out.status.code(), Some(2), "no files is a usage error: {}", text(&out.stderr));

    let bad_png = tmp.path().join("bad.png");
    let mut bytes = std::fs::read(&png).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&bad_png, bytes).unwrap();
    let garbage = tmp.path().join("garbage.bin");
    std::fs::write(&garbage, b"not an image").unwrap();
    for path in [&bad_png, &garbage] {
        let out = run(&["predict", "--model", model, png.to_str().unwrap(), path.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(path.file_name().unwrap().to_str().unwrap()) && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}

/// The shipped sequential-MNIST configs train through the binary (shrunk with
/// --set to this tiny dataset), and their pixel-per-step models predict PNGs.
#[test]
fn shipped_pixel_configs_train_and_predict() {
    let tmp = tempfile::tempdir().unwrap();
    let data = write_dataset(tmp.path().join("data"), 40, 20, false);
    let png = tmp.path().join("seven.png");
    write_png(&png, &digit(7, 3), 3, false);
    let root = env!("CARGO_MANIFEST_DIR");
    for name in ["pixel-mnist", "permuted-mnist"] {
        let run_dir = tmp.path().join(name);
        let out = run(&[
            "train",
            "--config",
            &format!("{root}/configs/{name}.json"),
            "--out",
            run_dir.to_str().unwrap(),
            "--set",
            &format!("data.dir={}", data.display()),
            "--set",
            "model.hidden=4",
            "--set",
            "train.batch_size=10",
            "--set",
            "train.training_iters=31",
            "--set",
            "device=cpu",
        ]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run_dir.join("model/model.json")).unwrap()).unwrap();
        assert_eq!((spec["steps"].as_i64(), spec["features"].as_i64()), (Some(30), Some(1)), "{name}");
        assert_eq!((spec["image_height"].as_i64(), spec["image_width"].as_i64()), (Some(6), Some(5)), "{name}");
        let out = run(&["predict", "--model", run_dir.to_str().unwrap(), "--json", png.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows[0]["probabilities"].as_array().unwrap().len(), 10, "{name}");
    }
}

/// Every class probability of `predict --json` on the test IDX file, image by image.
fn probabilities(args: &[&str]) -> Vec<Vec<f64>> {
    let out = run(args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    rows.iter().map(|r| r["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect()).collect()
}

#[test]
fn predict_precision_comes_from_the_flag_or_the_run_config() {
    let (tmp, run_dir) = trained();
    let run_str = run_dir.to_str().unwrap();
    let idx = tmp.path().join("data/t10k-images-idx3-ubyte");
    let idx = idx.to_str().unwrap();
    let fp32 = probabilities(&["predict", "--model", run_str, "--json", idx]);
    let bf16 = probabilities(&["predict", "--model", run_str, "--json", "--precision", "bf16", idx]);
    assert_eq!((fp32.len(), bf16.len()), (100, 100));
    let diff = fp32.iter().flatten().zip(bf16.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(diff > 0.0, "bf16 gave fp32's exact probabilities: precision not applied");
    assert!(diff < 0.05, "bf16 probabilities differ from fp32 by up to {diff}");

    // Without the flag, the run's config decides: train.precision, unless eval.precision is set.
    let config_path = run_dir.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["train"]["precision"] = "bf16".into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    assert_eq!(probabilities(&["predict", "--model", run_str, "--json", idx]), bf16);
    config["eval"]["precision"] = "fp32".into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    assert_eq!(probabilities(&["predict", "--model", run_str, "--json", idx]), fp32);

    let out = run(&["predict", "--model", run_str, "--precision", "fp16", idx]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--precision` = \"fp16\" needs a CUDA device"), "{}", text(&out.stderr));
}

#[test]
fn predict_and_explain_standardise_like_the_training_run() {
    let (tmp, run_dir) = trained_with(r#", "normalize": "standardize""#);
    let (run_str, idx) = (run_dir.to_str().unwrap(), tmp.path().join("data/t10k-images-idx3-ubyte"));
    let rows = probabilities(&["predict", "--model", run_str, "--json", idx.to_str().unwrap()]);
    let argmax = |p: &Vec<f64>| (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
    let labels: Vec<usize> = (0..100).map(|i| i * 7 % 10).collect();
    let correct = rows.iter().zip(&labels).filter(|(p, &l)| argmax(p) == l).count();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).unwrap()).unwrap();
    let tested = report["accuracy"].as_f64().unwrap();
    assert_eq!(correct as f64 / 100.0, tested, "predict must see the inputs the test evaluation saw");

    // Without the run's config.json, the model is fed plain pixel / 255 values.
    let bare = tmp.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    for f in std::fs::read_dir(run_dir.join("model")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, bare.join(f.file_name().unwrap())).unwrap();
    }
    let unscaled = probabilities(&["predict", "--model", bare.to_str().unwrap(), "--json", idx.to_str().unwrap()]);
    assert_ne!(unscaled, rows, "the bare model folder has no standardisation to apply");

    let out = run(&["explain", "--model", run_str, "--json", idx.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let explained: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let classes: Vec<usize> =
        explained.as_array().unwrap().iter().map(|e| e["class"].as_u64().unwrap() as usize).collect();
    assert_eq!(classes, rows.iter().map(argmax).collect::<Vec<_>>(), "explain and predict agree");
}
