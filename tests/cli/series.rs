//! Time series at the command line: `"source": "ts"` (UCR/UEA `.ts` files
//! read by ts-data), sequences of different lengths through training and
//! evaluation, and the shipped sequence configs.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{read_json, run, text};

const HEADER: &str = "@problemName Toy\n@univariate false\n@dimensions 2\n@equalLength false\n\
                      @classLabel true up down\n@data\n";

/// Problem `Toy` under `dir/Toy/`: class `up` rises, class `down` falls, 3 to 9 points.
fn write_toy(dir: &Path) {
    std::fs::create_dir_all(dir.join("Toy")).unwrap();
    let case = |i: usize| {
        let (len, up) = (3 + i % 7, i.is_multiple_of(2));
        let v: Vec<String> = (0..len)
            .map(|t| format!("{:.2}", if up { t as f32 } else { -(t as f32) } + 0.1 * (i % 3) as f32))
            .collect();
        format!("{}:{}:{}\n", v.join(","), v.join(","), if up { "up" } else { "down" })
    };
    for (stem, n) in [("TRAIN", 40), ("TEST", 20)] {
        let cases: String = (0..n).map(case).collect();
        std::fs::write(dir.join(format!("Toy/Toy_{stem}.ts")), format!("{HEADER}{cases}")).unwrap();
    }
}

fn config(tmp: &Path) -> PathBuf {
    let config = tmp.join("toy.json");
    let text = format!(
        r#"{{"device": "cpu", "threads": 1, "data": {{"source": "ts", "dir": {:?}, "problem": "Toy", "validation": 4}},
            "model": {{"hidden": 8, "bidirectional": true, "readout": "mean"}},
            "train": {{"batch_size": 8, "epochs": 4, "training_iters": null, "display_step": 5}}}}"#,
        tmp.display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    config
}

fn train(config: &Path, out: &Path, extra: &[&str]) -> Output {
    let (config, out) = (config.display().to_string(), out.display().to_string());
    let mut args = vec!["train", "--config", config.as_str(), "--out", out.as_str(), "--force"];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_ts_problem_of_mixed_lengths_trains_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    write_toy(tmp.path());
    let out = train(&config(tmp.path()), &tmp.path().join("run"), &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("sequence padding"), "the padding fraction is logged: {stderr}");
    let report = read_json(&tmp.path().join("run/report.json"));
    assert_eq!(report["samples"], 20, "{report}");
    let classes: Vec<&str> =
        report["classes"].as_array().unwrap().iter().map(|c| c["class"].as_str().unwrap()).collect();
    assert_eq!(classes, ["up", "down"]);
    let config = read_json(&tmp.path().join("run/config.json"));
    assert_eq!(config["data"]["source"], "ts");
    // The report shows series as series: channel plots, explained over real steps.
    let page = std::fs::read_to_string(tmp.path().join("run/report.html")).unwrap();
    assert!(
        page.contains("one lane per channel") && page.contains("test series ") && page.contains(", predicted "),
        "series explained"
    );
    assert!(!page.contains("test images"), "no picture wording for series");
    let errors = std::fs::metadata(tmp.path().join("run/errors.png")).map(|m| m.len()).unwrap_or(0);
    let wrong = report["samples"].as_u64().unwrap() - report["correct"].as_u64().unwrap();
    assert!(wrong == 0 || page.contains("Misclassified test series") && errors > 0, "errors.png of series");
}

#[test]
fn ts_errors_name_the_key_or_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    write_toy(tmp.path());
    let config = config(tmp.path());
    let out = train(&config, &tmp.path().join("run"), &["--set", "data.problem=Nope"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a config error: {stderr}");
    assert!(stderr.contains("invalid data.problem = Nope") && stderr.contains("Nope_TRAIN.ts"), "{stderr}");
    let test = tmp.path().join("Toy/Toy_TEST.ts");
    std::fs::write(&test, format!("{HEADER}1,2:3,4:up\n1,?:3,4:down\n")).unwrap();
    let out = train(&config, &tmp.path().join("run"), &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a data error: {stderr}");
    assert!(stderr.contains("Toy_TEST.ts:8: missing value at dimension 1, point 2"), "{stderr}");
    assert!(stderr.contains("data.missing"), "says what would fix it: {stderr}");
}

/// The aeon wheel's problems (scripts/setup-ts-data.sh, run by setup-test-tools.sh).
fn aeon_data() {
    let cache = std::env::var_os("LSTM_MNIST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/lstm-mnist"));
    crate::tools::require_file(&cache.join("data/JapaneseVowels/JapaneseVowels_TRAIN.ts"), "aeon data");
}

/// The shipped config runs unchanged (one epoch here) on JapaneseVowels and,
/// with only `data.problem` changed, on other problems.
#[test]
#[ignore = "needs aeon data"]
fn the_japanese_vowels_config_runs_on_other_problems_too() {
    aeon_data();
    let tmp = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/japanese-vowels.json");
    for (problem, classes, test) in [("JapaneseVowels", 9, 370), ("BasicMotions", 4, 40), ("ArrowHead", 3, 175)] {
        let set = format!("data.problem={problem}");
        let run_dir = tmp.path().join(problem);
        let out = train(&config, &run_dir, &["--set", &set, "--set", "train.epochs=1"]);
        assert!(out.status.success(), "{problem}: {}", text(&out.stderr));
        let report = read_json(&run_dir.join("report.json"));
        assert_eq!((report["classes"].as_array().unwrap().len(), report["samples"].as_i64()), (classes, Some(test)));
    }
}

/// The probabilities `predict --json` prints, one list per series.
fn predicted(model: &Path, file: &Path) -> (Vec<Vec<f64>>, String) {
    let out = run(&["predict", "--json", "--model", &model.display().to_string(), &file.display().to_string()]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let probs = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect())
        .collect();
    (probs, stderr)
}

/// A series model is self-contained (model.json format 3: input `sequence`
/// with its points per step, per-dimension statistics) and `predict` on a
/// `.ts` file scores the run's test accuracy exactly; a series gets the same
/// probabilities alone in a file as among 300 others of other lengths.
#[test]
fn predict_on_ts_files_scores_the_report_and_a_series_alone_as_in_a_crowd() {
    let tmp = tempfile::tempdir().unwrap();
    write_toy(tmp.path());
    let config = config(tmp.path());
    let out = train(&config, &tmp.path().join("run"), &["--set", "data.points_per_step=2"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("series read 2 points per step"), "the choice is logged: {stderr}");
    let spec = read_json(&tmp.path().join("run/model/model.json"));
    assert_eq!(spec["format_version"], 3);
    assert_eq!(spec["input"], serde_json::json!({"kind": "sequence", "features": 2, "points_per_step": 2}));
    assert_eq!(spec["standardization"]["mean"].as_array().map(Vec::len), Some(2), "{spec}");
    assert_eq!(spec["features"], 4, "2 points of 2 dimensions per step: {spec}");
    // The model folder alone, elsewhere.
    let model = tmp.path().join("copied-model");
    std::fs::create_dir(&model).unwrap();
    for file in ["model.json", "model.safetensors"] {
        std::fs::copy(tmp.path().join("run/model").join(file), model.join(file)).unwrap();
    }
    let report = read_json(&tmp.path().join("run/report.json"));
    let (probs, stderr) = predicted(&model, &tmp.path().join("Toy/Toy_TEST.ts"));
    assert_eq!(probs.len(), 20);
    let accuracy = report["accuracy"].as_f64().unwrap();
    let correct = (accuracy * 20.0).round() as usize;
    assert!(
        stderr.contains(&format!("accuracy {accuracy:.4} ({correct} of 20 labelled series)")),
        "{report}\n{stderr}"
    );

    // Series 5 of the test file (8 points), alone and among 300 of 3 to 9 points, unlabelled.
    let test = std::fs::read_to_string(tmp.path().join("Toy/Toy_TEST.ts")).unwrap();
    let lines: Vec<&str> = test.lines().skip_while(|l| *l != "@data").skip(1).collect();
    let unlabelled = |l: &str| l.rsplit_once(':').unwrap().0.to_owned();
    let header = HEADER.replace("@classLabel true up down", "@classLabel false");
    std::fs::write(tmp.path().join("alone.ts"), format!("{header}{}\n", unlabelled(lines[5]))).unwrap();
    let crowd: Vec<String> = (0..301).map(|i| unlabelled(lines[if i == 150 { 5 } else { i % 20 }])).collect();
    std::fs::write(tmp.path().join("crowd.ts"), format!("{header}{}\n", crowd.join("\n"))).unwrap();
    let (alone, _) = predicted(&model, &tmp.path().join("alone.ts"));
    let (among, _) = predicted(&model, &tmp.path().join("crowd.ts"));
    assert_eq!(among.len(), 301);
    for (a, b) in alone[0].iter().zip(&among[150]) {
        assert!((a - b).abs() < 1e-5, "alone {:?} vs among others {:?}", alone[0], among[150]);
    }
    assert!((alone[0][0] - probs[5][0]).abs() < 1e-5);

    // explain: over each series' real steps (ceil(points / 2)), ending in predict's answer, alone as among 300.
    let explained = |file: &Path, pictures: Option<&Path>| {
        let mut args = vec!["explain".to_owned(), "--model".into(), model.display().to_string()];
        args.extend([file.display().to_string(), "--json".into()]);
        if let Some(dir) = pictures {
            args.extend(["--out".into(), dir.display().to_string()]);
        }
        let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
    };
    let pictures = tmp.path().join("explained");
    let rows = explained(&tmp.path().join("Toy/Toy_TEST.ts"), Some(&pictures));
    assert_eq!(rows.len(), 20);
    for (i, row) in rows.iter().enumerate() {
        let points = lines[i].split(':').next().unwrap().split(',').count();
        assert_eq!(row["steps"].as_array().unwrap().len(), points.div_ceil(2), "series {i}: {row}");
        let best = probs[i].iter().cloned().fold(f64::MIN, f64::max);
        assert!((row["probability"].as_f64().unwrap() - best).abs() < 1e-5, "series {i}: {row} vs {:?}", probs[i]);
        let png = pictures.join(format!("Toy_TEST-{i:05}.png"));
        assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"), "{}", png.display());
    }
    let (alone, among) = (explained(&tmp.path().join("alone.ts"), None), explained(&tmp.path().join("crowd.ts"), None));
    assert_eq!(
        (alone[0]["steps"].clone(), alone[0]["decided_at"].clone()),
        (among[150]["steps"].clone(), among[150]["decided_at"].clone()),
        "same steps alone and in a crowd"
    );

    // A file of other dimensions is refused naming it.
    std::fs::write(tmp.path().join("one-dim.ts"), "@univariate true\n@classLabel false\n@data\n1,2,3\n").unwrap();
    let out = run(&[
        "predict",
        "--model",
        &model.display().to_string(),
        &tmp.path().join("one-dim.ts").display().to_string(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("one-dim.ts: series of 1 dimensions, but the model reads series of 2"), "{stderr}");
}

/// The exported ONNX model of a JapaneseVowels run (series of lengths 7 to
/// 29, 12 dimensions, standardised per dimension), run by ONNX Runtime on the
/// raw test file, scores exactly the run's reported test accuracy, as does
/// `predict` on the same file.
#[test]
#[ignore = "needs onnxruntime"]
fn exported_japanese_vowels_scores_the_reports_accuracy_in_onnx_runtime() {
    aeon_data();
    let python = crate::tools::require_python_modules("onnxruntime", &["onnxruntime", "onnx", "numpy"]);
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run_dir = tmp.path().join("jv");
    let out = train(&root.join("configs/japanese-vowels.json"), &run_dir, &["--set", "train.epochs=3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let onnx = tmp.path().join("jv.onnx");
    let out = run(&["export", "--model", &run_dir.display().to_string(), "--out", &onnx.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cache = std::env::var_os("LSTM_MNIST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/lstm-mnist"));
    let test = cache.join("data/JapaneseVowels/JapaneseVowels_TEST.ts");
    let ort = std::process::Command::new(python)
        .arg(root.join("scripts/onnx_run_series.py"))
        .arg(&onnx)
        .arg("--check")
        .arg("--ts")
        .arg(&test)
        .output()
        .unwrap();
    assert!(ort.status.success(), "{}", text(&ort.stderr));
    let report = read_json(&run_dir.join("report.json"));
    let expected = format!(
        "accuracy: {:.4} ({} of {})",
        report["accuracy"].as_f64().unwrap(),
        report["correct"],
        report["samples"]
    );
    assert_eq!(text(&ort.stdout).trim(), expected, "ONNX Runtime against the run's report");
    let (_, stderr) = predicted(&run_dir, &test);
    let correct = report["correct"].as_i64().unwrap();
    assert!(stderr.contains(&format!("({correct} of 370 labelled series)")), "predict: {stderr}");
}
