//! Run length in steps, extending and adjusting a run on `--resume --set`,
//! and default run folders that never collide.

use crate::common;

use std::path::Path;

use common::{read_json, run_in as run, text, write_dataset};
use serde_json::Value;

/// A tiny config `tiny.json` in a fresh folder (which is also the working directory of the runs).
fn fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write_dataset(tmp.path().join("data"), 200, 50, true);
    let config = r#"{"device": "cpu", "threads": 1, "data": {"dir": "data", "validation": 40}, "model": {"hidden": 8},
        "train": {"learning_rate": 0.01, "batch_size": 20, "training_iters": null, "max_steps": 20,
                  "display_step": 5, "checkpoint_every": 0}}"#;
    std::fs::write(tmp.path().join("tiny.json"), config).unwrap();
    tmp
}

fn train_steps(run_dir: &Path) -> Vec<i64> {
    std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] == "train")
        .map(|r| r["step"].as_i64().unwrap())
        .collect()
}

#[test]
fn max_steps_trains_exactly_that_many_and_only_one_length_is_allowed() {
    let tmp = fixture();
    let out = run(tmp.path(), &["train", "--config", "tiny.json", "--set", "train.max_steps=25", "--out", "r25"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = read_json(&tmp.path().join("r25/report.json"));
    assert_eq!((report["train"]["steps"].as_i64(), report["train"]["samples"].as_i64()), (Some(25), Some(500)));
    assert_eq!(text(&out.stdout).lines().filter(|l| l.starts_with("Iter ")).count(), 5);
    // Two lengths at once: the error names both keys; one with the others null is fine.
    let out = run(tmp.path(), &["train", "--config", "tiny.json", "--set", "train.epochs=2", "--out", "x"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("train.epochs") && stderr.contains("train.max_steps"), "{stderr}");
    let out = run(
        tmp.path(),
        &["train", "--config", "tiny.json", "--set", "train.epochs=1", "--set", "train.max_steps=null", "--out", "e1"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read_json(&tmp.path().join("e1/report.json"))["train"]["steps"], 8, "160 examples / 20");
}

#[test]
fn a_finished_run_is_extended_and_adjusted_on_resume_but_its_model_is_kept() {
    let tmp = fixture();
    let out = run(tmp.path(), &["train", "--config", "tiny.json", "--out", "r"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tmp.path().join("r");
    assert_eq!(read_json(&dir.join("report.json"))["train"]["steps"], 20);
    let out = run(
        tmp.path(),
        &[
            "train",
            "--resume",
            "r",
            "--set",
            "train.max_steps=40",
            "--set",
            "train.display_step=10",
            "--set",
            "threads=2",
        ],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report = read_json(&dir.join("report.json"));
    assert_eq!((report["train"]["steps"].as_i64(), report["train"]["resumed_from"].as_i64()), (Some(40), Some(20)));
    let config = read_json(&dir.join("config.json"));
    assert_eq!((config["train"]["max_steps"].as_i64(), config["threads"].as_i64()), (Some(40), Some(2)));
    // One continuous series: every 5 steps up to 20, then every 10.
    assert_eq!(train_steps(&dir), [5, 10, 15, 20, 30, 40]);
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Iter 600, ") && stdout.contains("Testing Accuracy: "), "{stdout}");

    // Keys that change what the checkpoint holds are refused, naming the key; nothing changes.
    let before = std::fs::read(dir.join("config.json")).unwrap();
    for (set, key) in [
        ("model.hidden=64", "model.hidden"),
        ("train.learning_rate=0.1", "train.learning_rate"),
        ("data.dir=elsewhere", "data.dir"),
        ("train.optimizer={\"name\": \"sgd\"}", "train.optimizer"),
    ] {
        let out = run(tmp.path(), &["train", "--resume", "r", "--set", set]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{set}: {stderr}");
        assert!(stderr.contains(key) && stderr.contains("--resume"), "{set}: {stderr}");
        assert_eq!(std::fs::read(dir.join("config.json")).unwrap(), before, "{set}");
    }
    // Shortening below the steps already taken is refused too.
    let out = run(tmp.path(), &["train", "--resume", "r", "--set", "train.max_steps=30"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("40"), "{}", text(&out.stderr));
}

#[test]
fn default_run_folders_never_collide() {
    let tmp = fixture();
    for expected in ["runs/tiny", "runs/tiny-2", "runs/tiny-3"] {
        let out = run(tmp.path(), &["train", "--config", "tiny.json", "--set", "train.max_steps=2"]);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains(expected), "the folder is printed: {stderr}");
        assert!(tmp.path().join(expected).join("report.json").is_file(), "{expected}");
    }
    // An explicit --out that holds a run is still refused.
    let out = run(tmp.path(), &["train", "--config", "tiny.json", "--out", "runs/tiny"]);
    assert_eq!(out.status.code(), Some(2));
}
