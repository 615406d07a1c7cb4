//! The run pipeline used directly, without the bin: an experiment on
//! generated data trained into a run folder by `train_experiment`, read
//! back through the run folder's typed readers.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use experiment::config::Experiment;
use experiment::run_folder::RunFolder;
use experiment::{train_experiment, NoHooks, Outcome, RunIo};

/// A small synthetic experiment: 4 classes of 8-step sequences.
fn synth_experiment() -> Experiment {
    let text = r#"{"name": "synth", "threads": 1, "device": "cpu",
        "data": {"source": "synth", "classes": 4, "steps": 8, "features": 6, "train": 256, "test": 64},
        "model": {"hidden": 16},
        "train": {"training_iters": null, "max_steps": 12, "batch_size": 32, "display_step": 4}}"#;
    Experiment::from_json_str(text, &[], Path::new("synth.json")).unwrap()
}

#[test]
fn train_experiment_trains_saves_and_reads_back_without_the_bin() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunFolder::new(tmp.path().join("run"));
    let mut progress = Vec::new();
    let stop = AtomicBool::new(false);
    let io = RunIo { progress: &mut progress, stop: Some(&stop), progress_bar: false };
    let outcome = train_experiment(synth_experiment(), &run, (false, false), None, io, &mut NoHooks).unwrap();
    let Outcome::Finished { summary, test_accuracy } = outcome else { panic!("{outcome:?}") };
    assert_eq!(summary.steps, 12);
    let text = String::from_utf8(progress).unwrap();
    assert!(text.contains("Optimization Finished!") && text.contains("Testing Accuracy:"), "{text}");
    let report = run.read_report().unwrap().expect("report.json is written");
    assert_eq!(report.accuracy, test_accuracy);
    assert_eq!(report.train.and_then(|t| t.steps), Some(12));
    assert_eq!(run.read_config().unwrap(), synth_experiment());
    let records = run.read_metrics().unwrap();
    assert_eq!(records.iter().map(|r| r.step()).collect::<Vec<_>>(), [4, 8, 12]);
    assert!(run.model().join(lstm_model::SPEC_FILE).is_file());
    // Without --force, the folder now holding a run is refused before any work.
    let io = RunIo { progress: &mut std::io::sink(), stop: None, progress_bar: false };
    let err = train_experiment(synth_experiment(), &run, (false, false), None, io, &mut NoHooks).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("already holds a run"), "{err}");
}

#[test]
fn a_set_stop_flag_interrupts_with_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunFolder::new(tmp.path().join("run"));
    let stop = AtomicBool::new(true);
    let io = RunIo { progress: &mut std::io::sink(), stop: Some(&stop), progress_bar: false };
    let outcome = train_experiment(synth_experiment(), &run, (false, false), None, io, &mut NoHooks).unwrap();
    let Outcome::Interrupted { summary } = outcome else { panic!("{outcome:?}") };
    assert_eq!(summary.steps, 1, "stopped after the first step");
    assert!(summary.checkpoint.is_some_and(|c| c.is_dir()));
    assert_eq!(run.read_report().unwrap(), None, "an interrupted run has no report");
}
