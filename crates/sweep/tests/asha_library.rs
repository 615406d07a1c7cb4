//! The sweep crate used directly, without the bin: an ASHA sweep over
//! generated data, each unit of work trained in this process through
//! `worker::prepare` and `TrialRun::train`, decisions from the strategy and
//! the journal; the trial promoted through every rung equals an
//! uninterrupted run.

use std::path::Path;

use experiment::run_folder::RunFolder;
use experiment::{train_experiment, NoHooks, Outcome, RunIo};
use sweep::journal::Journal;
use sweep::status::Status;
use sweep::strategy;
use sweep::worker::{self, Prepared};
use sweep::{asha, Sweep};

const SWEEP: &str = r#"{
    "base": {"device": "cpu", "threads": 1,
             "data": {"source": "synth", "classes": 3, "steps": 6, "features": 4, "train": 90, "validation": 30, "test": 30},
             "model": {"hidden": 6}, "train": {"batch_size": 10, "display_step": 2}},
    "random": {"train.learning_rate": {"log_uniform": [0.001, 0.1]}},
    "trials": 9,
    "search": {"asha": {"min_steps": 2, "max_steps": 18, "eta": 3}}
}"#;

/// Trains `work` here, as a sweep's worker process would.
fn run_work(sweep: &Sweep, dir: &Path, work: strategy::Work) -> Status {
    let mut run = match worker::prepare(sweep, dir, work, Some(1)).unwrap() {
        Prepared::Run(run) => run,
        Prepared::Skip(why) => panic!("{why}"),
    };
    let io = RunIo { progress: &mut std::io::sink(), stop: None, progress_bar: false };
    let status = match run.train(io, &mut NoHooks).unwrap() {
        Outcome::Finished { .. } => Status::Done,
        Outcome::Interrupted { summary } => {
            assert_eq!(Some(summary.steps), work.until, "stopped at the rung");
            Status::Stopped
        }
    };
    run.record(status, Some(0), None).unwrap();
    status
}

fn metrics_without_timings(run: &RunFolder) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.metrics()).unwrap();
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().retain(|k, _| k != "elapsed" && k != "samples_per_second");
            v
        })
        .collect()
}

#[test]
fn an_asha_sweep_runs_through_the_library_and_promotion_is_exact_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = Sweep::from_json_str(SWEEP, &tmp.path().join("asha.json")).unwrap();
    let dir = tmp.path().join("sweep");
    std::fs::create_dir(&dir).unwrap();
    let mut search = strategy::for_sweep(&sweep, &[]);
    let mut journal = Journal::open(&dir).unwrap();
    let mut units = Vec::new();
    while let Some(work) = search.next(&mut journal, &[]).unwrap() {
        let status = run_work(&sweep, &dir, work);
        assert_eq!(status == Status::Done, work.until.is_none());
        search.ended(&work, &dir, &mut journal).unwrap();
        units.push((work.id, work.until));
    }
    search.finish(&mut journal).unwrap();
    // Nine trials at 2 steps, the top third promoted to 6, the best of those to 18 steps.
    let (winner, steps, metric) = asha::winner(&journal, asha::Metric::ValidationAccuracy).unwrap();
    assert_eq!(steps, 18);
    let count = |until: Option<i64>| units.iter().filter(|u| u.1 == until).count();
    assert_eq!((count(Some(2)), count(Some(6)), count(None)), (9, 3, 1), "{units:?}");
    assert_eq!(units.last(), Some(&(winner, None)));
    let standings = asha::standings(&journal);
    assert_eq!(standings.values().filter(|s| s.stopped).count(), 8);
    // The promoted trial's metrics equal an uninterrupted 18-step run's.
    let promoted = RunFolder::new(dir.join(&sweep.trials[winner].name));
    let whole = RunFolder::new(tmp.path().join("whole"));
    let io = RunIo { progress: &mut std::io::sink(), stop: None, progress_bar: false };
    let experiment = promoted.read_config().unwrap();
    let outcome = train_experiment(experiment, &whole, (false, false), None, io, &mut NoHooks).unwrap();
    assert!(matches!(outcome, Outcome::Finished { .. }));
    let records = metrics_without_timings(&whole);
    assert_eq!(records.len(), 9 + 9, "a training and a validation record every 2 steps");
    assert_eq!(metrics_without_timings(&promoted), records);
    let last = records.last().unwrap();
    assert_eq!((last["kind"].as_str(), last["accuracy"].as_f64()), (Some("validation"), Some(metric)));
}
