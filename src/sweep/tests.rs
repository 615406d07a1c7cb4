use serde_json::json;

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
    let names = trial_names(&points);
    assert_eq!(names[0], "dir=_a_b_c");
    assert_eq!(names[1], "model.cell=gru,x.cell=1", "labels that clash use the whole key");
    assert_eq!(names[2].len(), MAX_NAME);
    assert!(names[2].starts_with("note=xxx"));
    assert_eq!((names[3].as_str(), names[4].as_str()), ("b=1-3", "b=1-4"));
    assert_eq!(names[5], "trial");
}

#[test]
fn shipped_sweep_files_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/sweeps");
    let lr = Sweep::load(&dir.join("notebook-lr.json")).unwrap();
    assert_eq!(lr.trials.len(), 9);
    assert_eq!(lr.trials[4].name, "lr=0.003,seed=1");
    assert_eq!(lr.trials[4].experiment.model.hidden, 128, "the notebook's model");
    assert_eq!(lr.trials[4].experiment.train.max_steps, Some(200));
    let fashion = Sweep::load(&dir.join("fashion-random.json")).unwrap();
    assert_eq!(fashion.trials.len(), 8);
    assert!(fashion.trials.iter().all(|t| t.experiment.train.epochs == Some(1)));
}
