//! The reports used directly, without the bin: a run trained by the
//! `experiment` crate with [`report::RunReports`] as its hooks gets its
//! pictures, TensorBoard files and report.html; `compare` reads it back.

use std::path::Path;

use experiment::config::Experiment;
use experiment::run_folder::RunFolder;
use experiment::{train_experiment, Outcome, RunIo};

#[test]
fn a_run_trained_with_run_reports_gets_its_page_and_compares() {
    let text = r#"{"name": "synth-page", "threads": 1, "device": "cpu",
        "data": {"source": "synth", "classes": 3, "steps": 6, "features": 5, "train": 192, "test": 48},
        "model": {"hidden": 8},
        "train": {"training_iters": null, "max_steps": 8, "batch_size": 32, "display_step": 4}}"#;
    let experiment = Experiment::from_json_str(text, &[], Path::new("synth-page.json")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = RunFolder::new(tmp.path().join("run"));
    let io = RunIo { progress: &mut std::io::sink(), stop: None, progress_bar: false };
    let mut reports = report::RunReports::default();
    let outcome = train_experiment(experiment, &run, (false, false), None, io, &mut reports).unwrap();
    assert!(matches!(outcome, Outcome::Finished { .. }), "{outcome:?}");
    for file in [run.page(), run.curves(), run.confusion(), run.errors()] {
        assert!(file.is_file(), "{} is written", file.display());
    }
    let page = std::fs::read_to_string(run.page()).unwrap();
    assert!(page.contains("synth-page") && page.contains("<svg"), "the page names the run and inlines its plots");
    assert!(std::fs::read_dir(run.dir().join(experiment::run_folder::TENSORBOARD)).unwrap().next().is_some());
    let comparison = report::compare::compare(&[run.dir().to_owned()]).unwrap();
    assert_eq!(comparison.runs.len(), 1);
    assert_eq!(comparison.runs[0].steps, Some(8));
    assert!(comparison.runs[0].finished && comparison.runs[0].test_accuracy.is_some());
}
