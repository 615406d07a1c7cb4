//! Integration tests of the binary's data wiring: data sources, named
//! datasets, validation split, and data errors at the command line.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{idx_labels, text, write_one_hot_dataset, BIN};

struct Fixture {
    tmp: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
}

/// A tiny experiment over a tiny IDX dataset: trains in well under a second.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write_one_hot_dataset(&data, 10);
    let config = tmp.path().join("tiny.json");
    let text = format!(
        r#"{{"device": "cpu", "threads": 1, "data": {{"dir": {:?}}}, "model": {{"hidden": 8}},
            "train": {{"batch_size": 10, "training_iters": 40, "display_step": 2}}, "eval": {{"batch_size": 64}}}}"#,
        data.display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    Fixture { tmp, data, config }
}

fn run(f: &Fixture, config: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args(["train", "--config"])
        .arg(config)
        .arg("--out")
        .arg(f.tmp.path().join("run"))
        .arg("--force")
        .args(extra)
        .output()
        .unwrap()
}

/// The `error: ...` message: one paragraph (a single line), no panic.
fn error_paragraph(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(stderr.trim_end().ends_with(errors[0]), "the message is the last thing printed: {stderr}");
    errors[0].to_owned()
}

#[test]
fn named_dataset_brings_class_names_and_validation_split_is_logged() {
    let f = fixture();
    let dir = format!("data.dir={}", f.data.display());
    let out =
        run(&f, &f.config, &["--set", "data.dataset=fashion-mnist", "--set", &dir, "--set", "data.validation=0.2"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("validation=20") && stderr.contains("train=80"), "{stderr}");
    assert!(stderr.contains("Ankle boot"), "class names are logged: {stderr}");
    let spec = std::fs::read_to_string(f.tmp.path().join("run/model/model.json")).unwrap();
    assert!(spec.contains("T-shirt/top") && spec.contains("Ankle boot"), "{spec}");
    let saved = std::fs::read_to_string(f.tmp.path().join("run/config.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["data"]["source"], "idx");
    assert_eq!(saved["data"]["validation"], 0.2);
}

#[test]
fn synth_source_trains_without_idx_files() {
    let f = fixture();
    let config = f.tmp.path().join("synth.json");
    std::fs::write(
        &config,
        r#"{"device": "cpu", "threads": 1,
            "data": {"source": "synth", "classes": 3, "steps": 9, "features": 4, "train": 60, "validation": 12, "test": 30},
            "model": {"hidden": 8}, "train": {"batch_size": 10, "training_iters": 40, "display_step": 2}}"#,
    )
    .unwrap();
    let out = run(&f, &config, &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(text(&out.stdout).contains("Testing Accuracy: "), "{}", text(&out.stdout));
    assert!(stderr.contains("validation=12"), "{stderr}");
    let spec = std::fs::read_to_string(f.tmp.path().join("run/model/model.json")).unwrap();
    assert!(spec.contains("3 cycles"), "{spec}");
}

#[test]
fn wrong_element_type_and_bad_magic_name_the_file() {
    let f = fixture();
    let labels = f.data.join("train-labels-idx1-ubyte");
    // 100 float labels: the encoder's file with the element type patched to 0x0D.
    let mut floats = idx_labels(&[0; 400]);
    floats[2] = 0x0D;
    floats[4..8].copy_from_slice(&100u32.to_be_bytes());
    std::fs::write(&labels, floats).unwrap();
    let out = run(&f, &f.config, &[]);
    assert_eq!(out.status.code(), Some(1));
    let msg = error_paragraph(&out);
    assert!(msg.contains(&labels.display().to_string()) && msg.contains("float"), "{msg}");

    std::fs::write(&labels, b"<html>not found</html>").unwrap();
    let out = run(&f, &f.config, &[]);
    assert_eq!(out.status.code(), Some(1));
    let msg = error_paragraph(&out);
    assert!(msg.contains(&labels.display().to_string()) && msg.contains("magic"), "{msg}");
}

#[test]
fn failed_download_lists_the_mirrors_and_config_mistakes_exit_2() {
    let f = fixture();
    // A port nobody listens on.
    let mirror = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/mnist/", l.local_addr().unwrap())
    };
    let empty = f.tmp.path().join("empty");
    let dir = format!("data.dir={}", empty.display());
    let mirrors = format!("data.mirrors=[{mirror:?}]");
    let out = run(
        &f,
        &f.config,
        &["--set", "data.dataset=mnist", "--set", &dir, "--set", "data.download=true", "--set", &mirrors],
    );
    assert_eq!(out.status.code(), Some(1));
    let msg = error_paragraph(&out);
    assert!(msg.contains("train-images-idx3-ubyte.gz") && msg.contains(&mirror), "{msg}");

    let out = run(&f, &f.config, &["--set", "data.download=true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(error_paragraph(&out).contains("data.download"));
    let out = run(&f, &f.config, &["--set", "data.source=csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(error_paragraph(&out).contains("csv"));
}
