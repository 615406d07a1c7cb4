//! Integration tests of the binary's data wiring: data sources, named
//! datasets, validation split, and data errors at the command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_lstm-mnist");

fn idx(magic: [u8; 4], dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_vec();
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Raw IDX files of a 10-class dataset of 4x3 images, `per_class` examples of
/// each class in training and 2 in the test split.
fn write_dataset(dir: &Path, per_class: usize) {
    for (stem, count) in [("train", per_class * 10), ("t10k", 20)] {
        let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
        let pixels: Vec<u8> =
            labels.iter().flat_map(|&l| (0..12).map(move |p| if p == l as usize { 255 } else { 0 })).collect();
        std::fs::write(dir.join(format!("{stem}-images-idx3-ubyte")), idx([0, 0, 8, 3], &[count, 4, 3], &pixels))
            .unwrap();
        std::fs::write(dir.join(format!("{stem}-labels-idx1-ubyte")), idx([0, 0, 8, 1], &[count], &labels)).unwrap();
    }
}

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
    write_dataset(&data, 10);
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

/// The output as text, without the colour escapes of the log lines.
fn text(bytes: &[u8]) -> String {
    let raw = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip `ESC [ ... letter`.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
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
    std::fs::write(&labels, idx([0, 0, 0x0D, 1], &[100], &[0; 400])).unwrap();
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
