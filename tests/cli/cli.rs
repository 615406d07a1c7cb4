//! Integration tests of the `lstm-mnist` binary on small IDX datasets the tests write.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{idx_images, text, write_dataset, BIN};

struct Fixture {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
    run: PathBuf,
}

fn fixture(train_iters: usize) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let data = write_dataset(tmp.path().join("data"), 300, 100, true);
    let config = tmp.path().join("tiny.json");
    let text = format!(
        r#"{{"device": "cpu", "threads": 1, "data": {{"dir": {:?}}}, "model": {{"hidden": 32}},
            "train": {{"learning_rate": 0.01, "batch_size": 20, "training_iters": {train_iters}, "display_step": 10}},
            "eval": {{"batch_size": 64}}}}"#,
        data.display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    let run = tmp.path().join("run");
    Fixture { _tmp: tmp, data, config, run }
}

fn train(f: &Fixture, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args(["train", "--config"])
        .arg(&f.config)
        .arg("--out")
        .arg(&f.run)
        .args(extra)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap()
}

#[test]
fn trains_prints_the_notebook_log_and_writes_the_run_folder() {
    let f = fixture(20 * 301);
    let out = train(&f, &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    // 300 steps, a line every 10, then the two closing lines.
    assert_eq!(lines.len(), 32, "{stdout}");
    for (i, line) in lines[..30].iter().enumerate() {
        let prefix = format!("Iter {}, Minibatch Loss= ", (i + 1) * 10 * 20);
        assert!(line.starts_with(&prefix), "{line}");
        let (loss, acc) = line[prefix.len()..].split_once(", Training Accuracy= ").unwrap();
        assert_eq!(loss.split_once('.').unwrap().1.len(), 6, "{line}");
        assert_eq!(acc.split_once('.').unwrap().1.len(), 5, "{line}");
    }
    assert_eq!(lines[30], "Optimization Finished!");
    let accuracy: f64 = lines[31].strip_prefix("Testing Accuracy: ").unwrap().parse().unwrap();
    assert!(accuracy > 0.9, "{stdout}");
    assert!(stderr.contains("device chosen"), "{stderr}");

    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(f.run.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["samples"], 100);
    assert_eq!(report["accuracy"].as_f64().unwrap(), accuracy);
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(f.run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["batch_size"], 20);
    assert_eq!(config["model"]["forget_bias"], 1.0, "defaults are written out resolved");
    assert!(f.run.join("model/model.safetensors").is_file());
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.run.join("model/model.json")).unwrap()).unwrap();
    assert_eq!((spec["steps"].as_i64(), spec["features"].as_i64()), (Some(6), Some(5)));

    // The rest of the run folder.
    assert_eq!(report["confusion"].as_array().unwrap().len(), 10);
    assert_eq!(report["classes"][3]["support"], 10);
    assert_eq!(report["train"]["stop"], "completed");
    let metrics = std::fs::read_to_string(f.run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 30, "one record per displayed step");
    let first: serde_json::Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    for key in ["step", "samples", "loss", "accuracy", "lr", "samples_per_second", "elapsed"] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert!(f.run.join("checkpoints/step-000300/state.safetensors").is_file());
    for picture in ["curves.svg", "confusion.svg"] {
        assert!(std::fs::read_to_string(f.run.join(picture)).unwrap().starts_with("<svg"), "{picture}");
    }
    assert_eq!(&std::fs::read(f.run.join("errors.png")).unwrap()[1..4], b"PNG");
    assert!(stderr.contains("macro avg"), "the report's table goes to the log: {stderr}");

    // `eval` on the saved run gives the same numbers, as a table on stdout.
    let out = Command::new(BIN).args(["eval", "--model"]).arg(&f.run).output().unwrap();
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = format!("accuracy {accuracy:.4} ({} of 100)", report["correct"]);
    assert!(table.contains(&expected), "{table}");
    assert!(table.contains("confusion matrix"), "{table}");
}

/// Ctrl-C (SIGINT) mid-run writes a checkpoint and exits 130; `--resume`
/// then prints exactly the rest of the uninterrupted run's output.
#[test]
fn interrupted_run_resumes_exactly() {
    use std::io::{BufRead, BufReader};
    let f = fixture(20 * 1001);
    let whole = Command::new(BIN)
        .args(["train", "--config"])
        .arg(&f.config)
        .args(["--set", "train.display_step=5", "--set", "train.checkpoint_every=0", "--out"])
        .arg(f.run.with_extension("whole"))
        .output()
        .unwrap();
    assert!(whole.status.success(), "{}", text(&whole.stderr));
    let mut child = Command::new(BIN)
        .args(["train", "--config"])
        .arg(&f.config)
        .args(["--set", "train.display_step=5", "--set", "train.checkpoint_every=0", "--out"])
        .arg(&f.run)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let before = first + &rest;
    assert!(!before.contains("Optimization Finished!"), "stopped early: {before}");
    let resumed = Command::new(BIN).args(["train", "--resume"]).arg(&f.run).output().unwrap();
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert_eq!(before + &text(&resumed.stdout), text(&whole.stdout));
}

#[test]
fn set_overrides_config_values() {
    let f = fixture(20 * 301);
    let out = train(&f, &["--set", "train.training_iters=201", "--set", "train.display_step=5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Iter 100, Minibatch Loss= "), "{stdout}");
    assert_eq!(stdout.lines().count(), 2 + 2);
}

#[test]
fn corrupt_idx_file_is_a_clear_error_not_a_panic() {
    let f = fixture(201);
    let path = f.data.join("train-images-idx3-ubyte.gz");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let out = train(&f, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("train-images-idx3-ubyte.gz"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // A raw file whose header promises more images than it holds.
    std::fs::remove_file(&path).unwrap();
    let raw = f.data.join("train-images-idx3-ubyte");
    std::fs::write(&raw, idx_images(301, 6, 5, &vec![0; 300 * 30])).unwrap();
    let stderr = text(&train(&f, &[]).stderr);
    assert!(stderr.contains("train-images-idx3-ubyte") && stderr.contains("holds only"), "{stderr}");
    assert!(!text(&train(&f, &[]).stdout).contains("Iter"), "nothing trains on bad data");
}

#[test]
fn config_errors_exit_2_and_name_the_key() {
    let f = fixture(201);
    for (set, key) in [
        ("train.learnig_rate=0.1", "train.learnig_rate"),
        ("train.batch_size=0", "train.batch_size"),
        ("model.hidden=0", "model.hidden"),
        ("colour=\"red\"", "colour"),
    ] {
        let out = train(&f, &["--set", set]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{set}: {stderr}");
        assert!(stderr.contains(key), "{set}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn missing_data_folder_names_the_folder() {
    let f = fixture(201);
    let out = train(&f, &["--set", "data.dir=/nonexistent/mnist"]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("/nonexistent/mnist") && stderr.contains("data.dir"), "{stderr}");
}
