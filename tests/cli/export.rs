//! `lstm-mnist export --format onnx` and `lstm-mnist env`, through the binary.
//! The exported model, run by ONNX Runtime (`scripts/onnx_run.py`, Python from
//! the project's venv), must get exactly the number of test digits right that
//! the run's report.json says, for a model trained on pixel / 255 and for one
//! trained on standardised pixels. Those tests are `#[ignore = "needs
//! onnxruntime"]` and fail when it is missing (`make test` installs it).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tools;
use common::{run, text};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The project's venv Python, which must have onnxruntime (the test fails when not).
fn python() -> PathBuf {
    tools::require_python_modules("onnxruntime", &["onnxruntime", "onnx"])
}

/// Trains a small model on the shipped digits for 20 steps; returns the run folder.
fn train(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let data = format!("data.dir={}", root().join("data/mnist-sample").display());
    // One libtorch thread: the tests run two at a time on two cores.
    let mut args = vec![
        "train",
        "--config",
        "configs/seed.json",
        "--set",
        &data,
        "--set",
        "train.training_iters=2560",
        "--set",
        "threads=1",
    ];
    for set in extra {
        args.extend(["--set", set]);
    }
    let out_arg = out.display().to_string();
    args.extend(["--out", &out_arg]);
    let result = run(&args);
    assert!(result.status.success(), "{}", text(&result.stderr));
    out
}

/// Exports the run and checks ONNX Runtime's correct count against the report's.
fn export_and_check(run_dir: &Path, python: &Path) {
    let onnx = run_dir.join("model.onnx");
    let result = run(&[
        "export",
        "--model",
        &run_dir.display().to_string(),
        "--format",
        "onnx",
        "--out",
        &onnx.display().to_string(),
    ]);
    assert!(result.status.success(), "{}", text(&result.stderr));
    assert!(std::fs::metadata(&onnx).unwrap().len() > 1000);
    let data = root().join("data/mnist-sample");
    let out = Command::new(python)
        .arg(root().join("scripts/onnx_run.py"))
        .arg(&onnx)
        .arg(data.join("t10k-images-idx3-ubyte.gz"))
        .arg("--labels")
        .arg(data.join("t10k-labels-idx1-ubyte.gz"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("accuracy: ")).expect("an accuracy line");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap()).unwrap();
    let expected = format!(
        "accuracy: {:.4} ({} of {})",
        report["accuracy"].as_f64().unwrap(),
        report["correct"],
        report["samples"]
    );
    assert_eq!(line, expected, "ONNX Runtime against the run's report");
}

#[test]
#[ignore = "needs onnxruntime"]
fn exported_onnx_scores_the_reports_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let python = python();
    export_and_check(&train(dir.path(), "plain", &[]), &python);
    let gru = train(
        dir.path(),
        "gru",
        &["model.cell=\"gru\"", "model.layers=2", "model.bidirectional=true", "model.hidden=32"],
    );
    export_and_check(&gru, &python);
}

#[test]
#[ignore = "needs onnxruntime"]
fn exported_onnx_builds_in_the_runs_standardisation() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train(dir.path(), "standardized", &["data.normalize=\"standardize\""]);
    export_and_check(&run_dir, &python());
}

#[test]
fn export_errors_name_the_folder_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-run");
    let out = dir.path().join("m.onnx").display().to_string();
    let result = run(&["export", "--model", &missing.display().to_string(), "--out", &out]);
    assert_eq!(result.status.code(), Some(2));
    let stderr = text(&result.stderr);
    assert!(stderr.contains("no-run") && stderr.contains("no saved model"), "{stderr}");
    let result = run(&["export", "--model", "x", "--format", "tflite", "--out", &out]);
    assert_eq!(result.status.code(), Some(2), "{}", text(&result.stderr));
}

#[test]
fn export_never_writes_over_the_runs_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = train(dir.path(), "run", &[]);
    let run_arg = run_dir.display().to_string();
    for target in [run_dir.join("model/model.safetensors"), run_dir.join("config.json"), run_dir.join("model/x.onnx")] {
        let before = std::fs::read(&target).ok();
        let result = run(&["export", "--model", &run_arg, "--out", &target.display().to_string()]);
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{}: {stderr}", target.display());
        assert!(stderr.contains("would overwrite") && stderr.contains(&run_arg), "{stderr}");
        assert_eq!(std::fs::read(&target).ok(), before, "{} is untouched", target.display());
    }
    let result = run(&["train", "--resume", &run_arg, "--set", "train.training_iters=3840"]);
    assert!(result.status.success(), "the run still resumes: {}", text(&result.stderr));
}

#[test]
fn env_prints_a_cargo_config_naming_libtorch() {
    let result = run(&["env", "--cargo-config"]);
    assert!(result.status.success(), "{}", text(&result.stderr));
    let config = text(&result.stdout);
    let line = config.lines().find(|l| l.starts_with("LIBTORCH = ")).expect("a LIBTORCH line");
    let dir: String = serde_json::from_str(line.trim_start_matches("LIBTORCH = ")).unwrap();
    assert!(Path::new(&dir).join("include/torch").is_dir(), "{dir} holds no libtorch headers");
    assert!(Path::new(&dir).join("lib").is_dir(), "{dir} holds no lib/");
    assert!(config.contains("[env]"));
    let result = run(&["env"]);
    assert!(text(&result.stdout).contains(&format!("libtorch: {dir}")), "{}", text(&result.stdout));
}
