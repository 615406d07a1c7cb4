use serde_json::json;

use std::collections::HashSet;

use super::*;

fn load(value: serde_json::Value) -> Result<Sweep, SweepError> {
    Sweep::from_json_str(&value.to_string(), Path::new("/nowhere/lr.json"))
}

#[test]
fn grid_times_seeds_expands_in_order_with_readable_names() {
    // Raw text: the grid's key order is the file's.
    let text = r#"{
        "base": {"train": {"training_iters": 1000}},
        "set": {"train.max_steps": 20, "train.training_iters": null},
        "grid": {"train.learning_rate": [0.001, 0.003], "model.cell": ["lstm", "gru"]},
        "seeds": [0, 1]
    }"#;
    let sweep = Sweep::from_json_str(text, Path::new("/nowhere/lr.json")).unwrap();
    assert_eq!(sweep.name, "lr", "the file stem");
    assert_eq!(sweep.trials.len(), 8);
    let names: Vec<&str> = sweep.trials.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names[0], "lr=0.001,cell=lstm,seed=0");
    assert_eq!(names[1], "lr=0.001,cell=lstm,seed=1");
    assert_eq!(names[2], "lr=0.001,cell=gru,seed=0");
    assert_eq!(names[7], "lr=0.003,cell=gru,seed=1");
    let t = &sweep.trials[7];
    assert_eq!(t.id, 7);
    assert_eq!(
        t.overrides_json(),
        json!({"train.learning_rate": 0.003, "model.cell": "gru", "train.seed": 1, "model.seed": 1})
    );
    assert_eq!(t.experiment.train.learning_rate, 0.003);
    assert_eq!((t.experiment.train.seed, t.experiment.model.seed), (1, 1));
    assert_eq!(t.experiment.train.training_iters, None, "`set` applies to every trial");
    assert_eq!(t.experiment.name.as_deref(), Some("lr=0.003,cell=gru,seed=1"));
    // Deterministic: the same file expands the same way.
    let again = Sweep::from_json_str(text, Path::new("/nowhere/lr.json")).unwrap();
    assert_eq!(again.trials, sweep.trials);
}

#[test]
fn random_draws_are_deterministic_in_range_and_combine_with_the_grid() {
    let file = json!({
        "base": {},
        "grid": {"model.cell": ["lstm", "gru"]},
        "random": {
            "train.learning_rate": {"log_uniform": [1e-4, 1e-2]},
            "model.hidden": {"choice": [8, 16]},
            "train.batch_size": {"int_uniform": [10, 12]},
            "model.dropout": {"uniform": [0.0, 0.5]}
        },
        "trials": 5, "search_seed": 3
    });
    let sweep = load(file.clone()).unwrap();
    assert_eq!(sweep.trials.len(), 10);
    for t in &sweep.trials {
        let e = &t.experiment;
        assert!((1e-4..=1e-2).contains(&e.train.learning_rate), "{}", e.train.learning_rate);
        assert!([8, 16].contains(&e.model.hidden));
        assert!((10..=12).contains(&e.train.batch_size));
        assert!((0.0..0.5).contains(&e.model.dropout));
    }
    // Each grid point gets the same draws.
    for i in 0..5 {
        assert_eq!(sweep.trials[i].overrides[1..], sweep.trials[i + 5].overrides[1..]);
    }
    assert_eq!(load(file.clone()).unwrap().trials, sweep.trials);
    let mut other = file;
    other["search_seed"] = json!(4);
    assert_ne!(load(other).unwrap().trials[0].overrides, sweep.trials[0].overrides);
    // Long random floats are shortened in names, not in the config.
    let name = &sweep.trials[0].name;
    // (json! sorts keys: dropout, hidden, batch_size, learning_rate.)
    let lr = sweep.trials[0].experiment.train.learning_rate;
    assert!(name.starts_with("cell=lstm,dropout=0.") && name.contains(",lr=0.00"), "{name}");
    let shown: f64 = name.rsplit_once("lr=").unwrap().1.parse().unwrap();
    assert!((shown - lr).abs() / lr < 1e-3 && shown != lr, "{name} for {lr}");
    assert!(name.len() <= MAX_NAME, "{name}");
}

#[test]
fn errors_name_the_trial_and_the_key() {
    let err = load(json!({"base": {}, "grid": {"train.learning_rate": [0.01, -1.0]}})).unwrap_err().to_string();
    assert!(err.contains("trial 1 (lr=-1.0)") && err.contains("train.learning_rate"), "{err}");
    let err = load(json!({"base": {}, "grid": {"model.hiden": [1]}})).unwrap_err().to_string();
    assert!(err.contains("trial 0") && err.contains("model.hiden"), "{err}");
    let err = load(json!({"base": {}, "gird": {}})).unwrap_err().to_string();
    assert!(err.contains("gird") && err.contains("unknown field"), "{err}");
    let err = load(json!({"base": {}, "random": {"train.learning_rate": {"log_uniform": [0.0, 1.0]}}, "trials": 2}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("random.train.learning_rate"), "{err}");
    let err = load(json!({"base": {}, "random": {"model.hidden": {"choice": [1]}}})).unwrap_err().to_string();
    assert!(err.contains("`trials`"), "{err}");
    let err = load(json!({"base": {}, "grid": {"train.seed": [1]}, "seeds": [0]})).unwrap_err().to_string();
    assert!(err.contains("train.seed") && err.contains("seeds"), "{err}");
    let err = load(json!({"base": {}, "slurm": {"partitoin": "x"}})).unwrap_err().to_string();
    assert!(err.contains("slurm.partitoin"), "{err}");
    let err = load(json!({"base": "missing.json"})).unwrap_err().to_string();
    assert!(err.contains("/nowhere/missing.json"), "{err}");
}

#[test]
fn base_file_is_relative_to_the_sweep_file_and_can_be_inlined() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("sweeps")).unwrap();
    std::fs::write(tmp.path().join("seed.json"), r#"{"model": {"hidden": 7}, "train": {"batch_size": 9}}"#).unwrap();
    let path = tmp.path().join("sweeps/s.json");
    std::fs::write(&path, r#"{"name": "s", "base": "../seed.json", "set": {"model.hidden": 5}, "seeds": [4]}"#)
        .unwrap();
    let sweep = Sweep::load(&path).unwrap();
    assert_eq!(sweep.trials.len(), 1);
    assert_eq!(sweep.trials[0].name, "seed=4");
    assert_eq!((sweep.trials[0].experiment.model.hidden, sweep.trials[0].experiment.train.batch_size), (5, 9));
    // The self-contained copy reads back to the same trials from anywhere.
    let copy = serde_json::to_string(&sweep.self_contained()).unwrap();
    let copied = Sweep::from_json_str(&copy, &tmp.path().join("elsewhere/copy.json")).unwrap();
    assert_eq!(copied.name, "s");
    assert_eq!(copied.trials, sweep.trials);
}

#[test]
fn names_are_safe_short_and_unique() {
    let long = "x".repeat(200);
    let points = vec![
        vec![("data.dir".to_owned(), json!("/a b/c"))],
        vec![("model.cell".to_owned(), json!("gru")), ("x.cell".to_owned(), json!(1))],
        vec![("model.note".to_owned(), json!(long))],
        vec![("a.b".to_owned(), json!(1))],
        vec![("a.b".to_owned(), json!(1))],
        vec![],
    ];
    let names = trial_names(&points, &HashSet::new());
    assert_eq!(names[0], "dir=_a_b_c");
    assert_eq!(names[1], "model.cell=gru,x.cell=1", "labels that clash use the whole key");
    assert_eq!(names[2].len(), MAX_NAME);
    assert!(names[2].starts_with("note=xxx"));
    assert_eq!((names[3].as_str(), names[4].as_str()), ("b=1-3", "b=1-4"));
    assert_eq!(names[5], "trial");
}

#[test]
fn shipped_sweep_files_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/sweeps");
    let lr = Sweep::load(&dir.join("notebook-lr.json")).unwrap();
    assert_eq!(lr.trials.len(), 9);
    assert_eq!(lr.trials[4].name, "lr=0.003,seed=1");
    assert_eq!(lr.trials[4].experiment.model.hidden, 128, "the notebook's model");
    assert_eq!(lr.trials[4].experiment.train.max_steps, Some(200));
    let fashion = Sweep::load(&dir.join("fashion-random.json")).unwrap();
    assert_eq!(fashion.trials.len(), 8);
    assert!(fashion.trials.iter().all(|t| t.experiment.train.epochs == Some(1)));
}

#[test]
fn oversized_sweeps_are_counted_and_refused_before_anything_is_built() {
    // 9 keys x 10 values: 10^9 points; the sixth key takes the count past 10^5.
    let grid: serde_json::Map<String, serde_json::Value> =
        (0..9).map(|i| (format!("model.k{i}"), json!((0..10).collect::<Vec<_>>()))).collect();
    let err = load(json!({"base": {}, "grid": grid})).unwrap_err().to_string();
    assert!(err.contains("`grid.model.k5`") && err.contains("1000000 trials") && err.contains("100000"), "{err}");
    let random = json!({"model.hidden": {"choice": [8]}});
    for trials in [json!(1_000_000_000u64), json!(u64::MAX)] {
        let err = load(json!({"base": {}, "random": random, "trials": trials})).unwrap_err().to_string();
        assert!(err.contains("`trials`") && err.contains("more than the 100000"), "{err}");
    }
    let err = load(json!({"base": {}, "random": random, "trials": u64::MAX, "seeds": [1, 2]})).unwrap_err();
    assert!(err.to_string().contains("`trials`"), "{err}");
    let seeds: Vec<u64> = (0..100_001).collect();
    let err = load(json!({"base": {}, "seeds": seeds})).unwrap_err().to_string();
    assert!(err.contains("`seeds`"), "{err}");
    // The limit itself is fine to count.
    let file: SweepFile =
        serde_json::from_value(json!({"base": {}, "seeds": (0..100_000).collect::<Vec<u64>>()})).unwrap();
    assert_eq!(count_trials(&file), Ok(MAX_TRIALS));
}

#[test]
fn many_trials_are_named_in_linear_time_and_uniquely() {
    let points: Vec<Vec<(String, serde_json::Value)>> =
        (0..100_000).map(|i| vec![("train.seed".to_owned(), json!(i % 50_000))]).collect();
    let names = trial_names(&points, &HashSet::new());
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), 100_000);
    assert_eq!((names[0].as_str(), names[50_000].as_str()), ("seed=0-0", "seed=0-50000"));
}

#[test]
fn folder_names_never_collide() {
    let sweep = load(json!({"base": {}, "grid": {"data.dir": ["x", "x", "x-1"]}})).unwrap();
    let names: Vec<&str> = sweep.trials.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["dir=x-0", "dir=x-1-2", "dir=x-1"], "a name given once keeps its plain form");
    let taken: HashSet<String> = ["seed=1".to_owned(), "seed=2-1".to_owned()].into();
    let one = vec![("train.seed".to_owned(), json!(1))];
    let two = vec![("train.seed".to_owned(), json!(2))];
    let points = [one, two.clone(), two];
    assert_eq!(trial_names(&points, &taken), ["seed=1-0", "seed=2-1-2", "seed=2-2"]);
}

#[test]
fn every_random_draw_is_checked_up_front() {
    let file = json!({"base": {}, "random": {"model.hidden": {"int_uniform": [i64::MIN, i64::MAX]}}, "trials": 20});
    let err = load(file).unwrap_err().to_string();
    assert!(err.contains("model.hidden") && err.contains("trial "), "{err}");
    let err = load(json!({"base": {}, "grid": {"model.dropout": [0.1, 1.5]}})).unwrap_err().to_string();
    assert!(err.contains("trial 1") && err.contains("model.dropout"), "{err}");
    let err = load(json!({"base": {}, "grid": {"eval.batch_size": [0]}})).unwrap_err().to_string();
    assert!(err.contains("trial 0") && err.contains("eval.batch_size"), "{err}");
}

#[test]
fn sweep_names_follow_the_run_name_rule() {
    for bad in ["a\nb", "a\0b", ".hidden", "a/b", "", "x y"] {
        let err = load(json!({"name": bad, "base": {}})).unwrap_err().to_string();
        assert!(err.contains("`name`") && err.contains("cannot name a sweep folder"), "{bad:?}: {err}");
    }
    let err = load(json!({"name": "n".repeat(300), "base": {}})).unwrap_err().to_string();
    assert!(err.contains("`name`"), "{err}");
    assert_eq!(load(json!({"name": "lr-1,x=2", "base": {}})).unwrap().name, "lr-1,x=2");
    let err = Sweep::from_json_str(r#"{"base": {}}"#, Path::new("/nowhere/my sweep.json")).unwrap_err().to_string();
    assert!(err.contains("give the sweep a `name`"), "{err}");
}

#[test]
fn sweep_files_and_bases_must_be_small_regular_files() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("s.json");
    std::fs::write(&sweep, r#"{"base": "/dev/zero"}"#).unwrap();
    let err = Sweep::load(&sweep).unwrap_err().to_string();
    assert!(err.contains("/dev/zero") && err.contains("not a regular file"), "{err}");
    let fifo = tmp.path().join("fifo.json");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    std::fs::write(&sweep, r#"{"base": "fifo.json"}"#).unwrap();
    let err = Sweep::load(&sweep).unwrap_err().to_string();
    assert!(err.contains("fifo.json") && err.contains("not a regular file"), "{err}");
    let err = Sweep::load(&fifo).unwrap_err().to_string();
    assert!(err.contains("sweep file") && err.contains("not a regular file"), "{err}");
    assert!(matches!(Sweep::load(Path::new("/dev/zero")), Err(SweepError::NotAFile { .. })));
    let big = tmp.path().join("big.json");
    std::fs::File::create(&big).unwrap().set_len(17 << 20).unwrap();
    std::fs::write(&sweep, r#"{"base": "big.json"}"#).unwrap();
    let err = Sweep::load(&sweep).unwrap_err().to_string();
    assert!(err.contains("big.json") && err.contains("16 MiB"), "{err}");
    assert!(Sweep::load(&big).unwrap_err().to_string().contains("16 MiB"));
}

/// A sweep folder as the sweep command leaves it: the copy and sweep.json.
fn write_folder(dir: &Path, sweep: &Sweep) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(SWEEP_COPY), serde_json::to_string(&sweep.self_contained()).unwrap()).unwrap();
    let trials: Vec<serde_json::Value> =
        sweep.trials.iter().map(|t| json!({"id": t.id, "dir": t.name, "overrides": t.overrides_json()})).collect();
    std::fs::write(dir.join(SWEEP_FILE), json!({"name": sweep.name, "trials": trials}).to_string()).unwrap();
}

#[test]
fn a_changed_sweep_file_is_refused_naming_the_keys_and_extend_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("runs/s");
    let base = json!({"model": {"hidden": 128}, "train": {"max_steps": 10, "training_iters": null}});
    let first = load(json!({"base": base, "grid": {"train.learning_rate": [0.1, 0.2]}, "seeds": [0, 1]})).unwrap();
    write_folder(&dir, &first);
    // The same file fits as it is.
    let same = load(json!({"base": base, "grid": {"train.learning_rate": [0.1, 0.2]}, "seeds": [0, 1]})).unwrap();
    assert_eq!(same.fit_folder(&dir, false).unwrap().trials, first.trials);
    // Any trial-changing key, the base included, is refused and named.
    let mut changed = base.clone();
    changed["model"]["hidden"] = json!(64);
    let other = load(json!({"base": changed, "grid": {"train.learning_rate": [0.1, 0.2]}, "seeds": [0, 1]})).unwrap();
    for extend in [false, true] {
        let err = other.clone().fit_folder(&dir, extend).unwrap_err();
        assert!(matches!(&err, SweepError::Changed { keys, .. } if keys == &["model.hidden"]), "{err}");
    }
    let fewer = load(json!({"base": base, "grid": {"train.learning_rate": [0.1]}, "seeds": [0, 1]})).unwrap();
    let err = fewer.fit_folder(&dir, true).unwrap_err().to_string();
    assert!(err.contains("grid.train.learning_rate") && err.contains("is not in the new sweep file"), "{err}");
    // More seeds and grid values, longer runs: refused without --extend, appended with it.
    let mut longer = base.clone();
    longer["train"]["max_steps"] = json!(20);
    let more = json!({"base": longer, "grid": {"train.learning_rate": [0.1, 0.2, 0.3]}, "seeds": [0, 1, 2]});
    let err = load(more.clone()).unwrap().fit_folder(&dir, false).unwrap_err().to_string();
    for key in ["train.max_steps", "grid.train.learning_rate", "seeds", "--extend"] {
        assert!(err.contains(key), "{key}: {err}");
    }
    let extended = load(more).unwrap().fit_folder(&dir, true).unwrap();
    assert_eq!(extended.trials.len(), 9);
    for (old, new) in first.trials.iter().zip(&extended.trials) {
        assert_eq!((old.id, &old.name, &old.overrides), (new.id, &new.name, &new.overrides));
        assert_eq!(new.experiment.train.max_steps, Some(20));
    }
    let appended: Vec<(usize, &str)> = extended.trials[4..].iter().map(|t| (t.id, t.name.as_str())).collect();
    assert_eq!(appended[0], (4, "lr=0.1,seed=2"));
    assert_eq!(appended[4], (8, "lr=0.3,seed=2"));
    assert!(extended.trials.iter().all(|t| t.experiment.name.as_deref() == Some(t.name.as_str())));
}
