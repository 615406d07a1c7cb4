use crate::Search;
use std::path::Path;

use super::*;

/// A 9-trial ASHA sweep file (rungs 10, 30, 90) over generated data.
fn sweep() -> Sweep {
    let text = r#"{
        "base": {"device": "cpu", "threads": 1,
                 "data": {"source": "synth", "classes": 3, "steps": 6, "features": 4, "train": 60, "validation": 30, "test": 30},
                 "model": {"hidden": 4}, "train": {"batch_size": 10, "display_step": 5}},
        "random": {"train.learning_rate": {"log_uniform": [0.001, 0.1]}},
        "trials": 9,
        "search": {"asha": {"min_steps": 10, "max_steps": 90, "eta": 3}}
    }"#;
    Sweep::from_json_str(text, Path::new("/nowhere/asha.json")).unwrap()
}

/// Validation accuracy of trial `id` at any rung (made up, all different).
const SCORES: [f64; 9] = [0.5, 0.9, 0.3, 0.7, 0.8, 0.1, 0.95, 0.2, 0.6];

/// Runs the search to its end with one worker, each unit "reaching" its
/// rung with the trial's score; returns the journal's events.
fn run_to_end(asha: &mut Asha, journal: &mut Journal) -> Vec<Event> {
    while let Some(work) = asha.next(journal, &[]).unwrap() {
        let steps = asha.rungs[work.rung];
        journal.append(Event::Rung { id: work.id, rung: work.rung, steps, metric: SCORES[work.id] }).unwrap();
    }
    asha.finish(journal).unwrap();
    journal.events().to_vec()
}

#[test]
fn every_trial_is_planned_for_max_steps_and_validated_at_each_rung() {
    let s = sweep();
    for t in &s.trials {
        assert_eq!(t.experiment.train.max_steps, Some(90));
        assert_eq!((t.experiment.train.training_iters, t.experiment.train.epochs), (None, None));
        assert_eq!(t.experiment.train.validate_every, Some(10));
    }
    let Search::Asha(config) = &s.file.search else { panic!() };
    assert_eq!(rungs(config), [10, 30, 90]);
}

#[test]
fn bad_asha_sections_name_the_key() {
    let load = |search: &str, train: &str| {
        let text = format!(
            r#"{{"base": {{"data": {{"source": "synth"}}, "train": {{{train}}}}}, "seeds": [0], "search": {{"asha": {search}}}}}"#
        );
        Sweep::from_json_str(&text, Path::new("/nowhere/a.json")).unwrap_err().to_string()
    };
    let err = load(r#"{"min_steps": 10, "max_steps": 100}"#, "");
    assert!(err.contains("`search.asha.max_steps`") && err.contains("use 90 or 270"), "{err}");
    assert!(load(r#"{"min_steps": 10, "max_steps": 90, "eta": 1}"#, "").contains("`search.asha.eta`"));
    assert!(load(r#"{"min_steps": 0, "max_steps": 90}"#, "").contains("`search.asha.min_steps`"));
    let err = load(r#"{"min_steps": 10, "max_steps": 90, "metric": "test.accuracy"}"#, "");
    assert!(err.contains("`search.asha.metric`") && err.contains("validation.loss"), "{err}");
    let err = load(r#"{"min_steps": 10, "max_steps": 90}"#, r#""validate_every": 4"#);
    assert!(err.contains("`train.validate_every`") && err.contains("must divide"), "{err}");
    assert!(load(r#"{"min_steps": 10, "max_steps": 90}"#, r#""patience": 3"#).contains("`train.patience`"));
    assert!(load(r#"{"min_steps": 10, "max_steps": 90, "extra": 1}"#, "").contains("unknown field"));
}

#[test]
fn nine_trials_promote_the_top_third_and_one_reaches_max_steps() {
    let s = sweep();
    let tmp = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(tmp.path()).unwrap();
    let mut asha = Asha::new(
        match &s.file.search {
            Search::Asha(c) => c.clone(),
            Search::All => panic!(),
        },
        &s,
    );
    let events = run_to_end(&mut asha, &mut journal);
    let at = |rung: usize| -> Vec<usize> {
        events
            .iter()
            .filter_map(|e| match *e {
                Event::Rung { id, rung: r, .. } if r == rung => Some(id),
                _ => None,
            })
            .collect()
    };
    assert_eq!(at(0).len(), 9, "every trial runs rung 0");
    assert!(at(1).len() <= 3, "{:?}", at(1));
    assert!(at(2).len() <= 3 && !at(2).is_empty(), "{:?}", at(2));
    // Total steps: each trial's deepest rung.
    let standing = standings(&journal);
    let total: i64 = standing.values().map(|s| s.best_rung.unwrap().1).sum();
    assert!(total < 9 * 90, "{total}");
    assert_eq!(total, 9 * 10 + 20 * at(1).len() as i64 + 60 * at(2).len() as i64);
    // Trial 1 ran rung 0 early with 0.9 and is promoted as soon as three results are in.
    assert_eq!(events[6], Event::Promoted { id: 1, rung: 1, steps: 30 });
    // The winner is the best trial of the last rung; the others were stopped.
    let (id, steps, metric) = winner(&journal, Metric::ValidationAccuracy).unwrap();
    assert_eq!((steps, metric), (90, SCORES[id]));
    assert!(at(2).iter().all(|&i| SCORES[i] <= SCORES[id]));
    let stopped = standing.values().filter(|s| s.stopped).count();
    assert_eq!(stopped, 9 - at(2).len());
}

#[test]
fn a_search_stopped_anywhere_and_rerun_makes_the_same_decisions() {
    let s = sweep();
    let config = match &s.file.search {
        Search::Asha(c) => c.clone(),
        Search::All => panic!(),
    };
    let tmp = tempfile::tempdir().unwrap();
    let whole = run_to_end(&mut Asha::new(config.clone(), &s), &mut Journal::open(tmp.path()).unwrap());
    // Stopped after any event (a kill loses the unit in flight): a rerun
    // reads the journal and continues to the same end.
    for cut in 0..whole.len() {
        let dir = tmp.path().join(format!("cut{cut}"));
        std::fs::create_dir(&dir).unwrap();
        let mut journal = Journal::open(&dir).unwrap();
        for e in &whole[..cut] {
            journal.append(e.clone()).unwrap();
        }
        let mut reopened = Journal::open(&dir).unwrap();
        assert_eq!(run_to_end(&mut Asha::new(config.clone(), &s), &mut reopened), whole, "cut after {cut} events");
    }
}

#[test]
fn busy_trials_are_neither_promoted_nor_proposed_twice() {
    let s = sweep();
    let config = match &s.file.search {
        Search::Asha(c) => c.clone(),
        Search::All => panic!(),
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(tmp.path()).unwrap();
    let mut asha = Asha::new(config, &s);
    let first = asha.next(&mut journal, &[]).unwrap().unwrap();
    let second = asha.next(&mut journal, &[first.id]).unwrap().unwrap();
    assert_eq!((first.id, first.until, second.id), (0, Some(10), 1));
    // Trial 0 has no result yet and is busy: not proposed again.
    let third = asha.next(&mut journal, &[0, 1]).unwrap().unwrap();
    assert_eq!(third.id, 2);
    for (id, &metric) in SCORES.iter().enumerate().take(3) {
        journal.append(Event::Rung { id, rung: 0, steps: 10, metric }).unwrap();
    }
    // Trial 1 (0.9) is the top third, but busy: a new trial starts instead.
    assert_eq!(asha.next(&mut journal, &[1]).unwrap().unwrap().id, 3);
    let promoted = asha.next(&mut journal, &[3]).unwrap().unwrap();
    assert_eq!((promoted.id, promoted.rung, promoted.until), (1, 1, Some(30)));
}
