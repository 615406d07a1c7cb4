//! The TensorBoard event files of a run, read back by TensorBoard's own
//! reader (the `tensorboard` Python package's EventAccumulator, through
//! `scripts/tb_read.py`): tags, counts and values match metrics.jsonl and
//! report.json; a sweep trial's hparams session is there.

use crate::common;

use common::tensorboard::tensorboard_read;
use common::{read_json, run, text, write_dataset};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

#[test]
#[ignore = "needs tensorboard"]
fn a_sweep_trial_writes_scalars_images_and_its_hparams_session() {
    let tmp = tempfile::tempdir().unwrap();
    let data = write_dataset(tmp.path().join("data"), 300, 100, false);
    let config = tmp.path().join("tiny.json");
    let json = format!(
        r#"{{"name": "tiny", "device": "cpu", "threads": 1, "data": {{"dir": {:?}, "validation": 40}},
            "model": {{"hidden": 16}},
            "train": {{"learning_rate": 0.01, "batch_size": 20, "training_iters": 2000, "display_step": 10,
                       "validate_every": 25, "checkpoint_every": 0}}}}"#,
        data.display().to_string()
    );
    std::fs::write(&config, json).unwrap();
    // A sweep marks the trial folder as a run folder and writes trial.json
    // into it before the trial runs.
    let run_dir = tmp.path().join("trial-0");
    std::fs::create_dir(&run_dir).unwrap();
    lstm_mnist::run_folder::mark(&run_dir).unwrap();
    let trial = r#"{"sweep": "lr", "id": 0, "overrides": {"train.learning_rate": 0.01, "model.cell": "lstm"}}"#;
    std::fs::write(run_dir.join("trial.json"), trial).unwrap();
    let out = run(&["train", "--config", config.to_str().unwrap(), "--out", run_dir.to_str().unwrap(), "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let tb = tensorboard_read(&run_dir.join("tb"));
    let metrics: Vec<serde_json::Value> = std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let scalars = &tb["scalars"];
    for (kind, tag, field) in [
        ("train", "train/loss", "loss"),
        ("train", "train/accuracy", "accuracy"),
        ("train", "train/learning_rate", "lr"),
        ("validation", "validation/loss", "loss"),
        ("validation", "validation/accuracy", "accuracy"),
    ] {
        let want: Vec<(i64, f64)> = metrics
            .iter()
            .filter(|m| m["kind"] == kind)
            .map(|m| (m["step"].as_i64().unwrap(), m[field].as_f64().unwrap()))
            .collect();
        let got: Vec<(i64, f64)> =
            scalars[tag].as_array().unwrap().iter().map(|p| (p[0].as_i64().unwrap(), p[1].as_f64().unwrap())).collect();
        assert!(!want.is_empty(), "{kind} records in metrics.jsonl");
        assert_eq!(got.len(), want.len(), "{tag}: {got:?} vs {want:?}");
        for ((gs, gv), (ws, wv)) in got.iter().zip(&want) {
            assert!(gs == ws && close(*gv, *wv), "{tag}: ({gs}, {gv}) vs ({ws}, {wv})");
        }
    }
    let report = read_json(&run_dir.join("report.json"));
    let steps = report["train"]["steps"].as_i64().unwrap();
    for (tag, field) in [("test/accuracy", "accuracy"), ("test/loss", "loss")] {
        let point = &scalars[tag][0];
        assert_eq!(point[0].as_i64(), Some(steps), "{tag} at the last step");
        assert!(
            close(point[1].as_f64().unwrap(), report[field].as_f64().unwrap()),
            "{tag}: {point} vs {}",
            report[field]
        );
    }
    for tag in ["test/errors", "test/confusion"] {
        let image = &tb["images"][tag][0];
        assert!(image[1].as_i64().unwrap() > 10 && image[2].as_i64().unwrap() > 10, "{tag}: {image}");
    }
    let hparams = &tb["hparams"];
    assert_eq!(hparams["start"]["train.learning_rate"], 0.01);
    assert_eq!(hparams["start"]["model.cell"], "lstm");
    assert_eq!(hparams["end_status"], 1, "session ended with success");
}
