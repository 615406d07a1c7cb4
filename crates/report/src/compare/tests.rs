use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;

/// A finished run folder as `train` leaves it (the parts compare reads).
fn fake_run(dir: &Path, lr: f64, seed: u64, accuracy: f64, losses: &[f64]) {
    std::fs::create_dir_all(dir).unwrap();
    let config = json!({"name": dir.file_name().unwrap().to_str().unwrap(), "threads": 1,
        "model": {"hidden": 8, "seed": seed}, "train": {"learning_rate": lr, "seed": seed, "batch_size": 20}});
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let mut metrics = String::new();
    for (i, loss) in losses.iter().enumerate() {
        let step = (i + 1) * 10;
        metrics.push_str(&format!(
            "{{\"kind\":\"train\",\"step\":{step},\"samples\":{},\"loss\":{loss},\"accuracy\":0.5,\"lr\":{lr},\"samples_per_second\":100.0,\"elapsed\":{}}}\n",
            step * 20,
            step as f64 / 10.0
        ));
        metrics.push_str(&format!(
            "{{\"kind\":\"validation\",\"step\":{step},\"samples\":{},\"loss\":1.0,\"accuracy\":{},\"best\":true,\"elapsed\":1.0}}\n",
            step * 20,
            accuracy - 0.01 * (losses.len() - i - 1) as f64
        ));
    }
    std::fs::write(dir.join("metrics.jsonl"), metrics).unwrap();
    let steps = losses.len() * 10;
    let report = json!({"accuracy": accuracy, "samples": 100, "train": {"steps": steps, "samples": steps * 20,
        "seconds": 4.0, "last_loss": losses.last(), "best_validation": {"step": steps, "accuracy": accuracy, "loss": 1.0}}});
    std::fs::write(dir.join("report.json"), report.to_string()).unwrap();
}

#[test]
fn differing_keys_groups_by_all_but_the_seed_and_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sw");
    let runs = [(0.01, 0, 0.9), (0.01, 1, 0.8), (0.1, 0, 0.5), (0.1, 1, 0.7)];
    let mut trials = Vec::new();
    for (i, (lr, seed, acc)) in runs.iter().enumerate() {
        let name = format!("lr={lr},seed={seed}");
        fake_run(&sweep.join(&name), *lr, *seed, *acc, &[2.0, 1.0 / (i + 1) as f64]);
        trials.push(json!({"id": i, "dir": name}));
    }
    std::fs::write(sweep.join("sweep.json"), json!({"trials": trials}).to_string()).unwrap();
    let c = compare(std::slice::from_ref(&sweep)).unwrap();
    assert_eq!(c.keys, ["model.seed", "train.learning_rate", "train.seed"], "name is never a difference");
    assert_eq!(c.runs.len(), 4);
    assert_eq!(c.runs[1].differs["train.seed"], json!(1));
    assert_eq!(c.runs[3].final_train_loss, Some(0.25));
    assert_eq!(c.runs[0].steps, Some(20));
    assert_eq!(c.runs[0].samples_per_second, Some(100.0), "400 samples in 4 s");
    assert_eq!(c.runs[0].curves.validation_accuracy, vec![(10.0, 0.89), (20.0, 0.9)]);
    assert_eq!(c.groups.len(), 2);
    let g = &c.groups[0];
    assert_eq!((g.n, g.runs.clone()), (2, vec![0, 1]));
    assert_eq!(g.differs, BTreeMap::from([("train.learning_rate".to_owned(), json!(0.01))]));
    let acc = g.test_accuracy.unwrap();
    assert!((acc.mean - 0.85).abs() < 1e-12 && (acc.min, acc.max) == (0.8, 0.9));
    assert!((acc.std.unwrap() - 0.0707106781).abs() < 1e-9);
    assert_eq!(c.groups[1].test_accuracy.unwrap().n, 2);

    // JSON: the documented fields, no curves.
    let j = c.summary_json();
    assert_eq!(j["runs"][2]["differs"]["train.learning_rate"], json!(0.1));
    assert_eq!(j["runs"][2]["test_accuracy"], json!(0.5));
    assert!(j["runs"][0].get("curves").is_none());
    assert_eq!(j["groups"][1]["n"], json!(2));

    // Sorting, and what the table and CSV show.
    let mut sorted = c.clone();
    sorted.sort("-test_accuracy").unwrap();
    let order: Vec<Option<f64>> = sorted.runs.iter().map(|r| r.test_accuracy).collect();
    assert_eq!(order, [Some(0.9), Some(0.8), Some(0.7), Some(0.5)]);
    assert_eq!(sorted.groups[1].runs, vec![2, 3], "group members follow the new order");
    assert!(matches!(sorted.sort("accuracy"), Err(CompareError::BadSort(_))));
    sorted.sort("train.learning_rate").unwrap();
    assert_eq!(sorted.runs[0].differs["train.learning_rate"], json!(0.01));
    let table = table(&c);
    assert!(table.lines().next().unwrap().starts_with("run"), "{table}");
    assert!(table.contains("lr=0.1,seed=1") && table.contains("0.7000"), "{table}");
    assert!(table.contains("train.learning_rate=0.01") && table.contains("0.8500"), "{table}");
    let csv = csv(&c);
    assert_eq!(csv.lines().count(), 5);
    assert!(csv.starts_with("dir,model.seed,train.learning_rate,train.seed,group,test_accuracy,"), "{csv}");
    assert!(csv.lines().nth(1).unwrap().ends_with("/lr=0.01,seed=0\",0,0.01,0,0,0.9,0.9,1,20,4,100"), "{csv}");

    // The sweep folder's files.
    let out = tmp.path().join("out");
    write_outputs(&c, &out).unwrap();
    let svg = std::fs::read_to_string(out.join("compare.svg")).unwrap();
    assert!(svg.contains("validation accuracy") && svg.contains("train.learning_rate=0.1"), "legend per group");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary, j);
    assert_eq!(std::fs::read_to_string(out.join("summary.csv")).unwrap(), csv);
}

#[test]
fn run_folders_unfinished_runs_and_bad_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    fake_run(&a, 0.01, 0, 0.9, &[1.0]);
    std::fs::create_dir(&b).unwrap();
    std::fs::write(b.join("config.json"), r#"{"name": "b", "model": {"hidden": 16}}"#).unwrap();
    let c = compare(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(c.runs.len(), 2);
    assert!(c.keys.contains(&"model.hidden".to_owned()) && c.keys.contains(&"train.learning_rate".to_owned()));
    assert_eq!(c.runs[1].differs["train.learning_rate"], serde_json::Value::Null, "missing keys are null");
    assert!(!c.runs[1].finished && c.runs[1].test_accuracy.is_none());
    assert_eq!(c.groups.len(), 2);
    assert!(table(&c).contains(" - "), "unknown numbers show as -");
    // A folder of run folders without sweep.json is read too.
    let c = compare(&[tmp.path().to_owned()]).unwrap();
    assert_eq!(c.runs.iter().map(|r| r.name.clone().unwrap()).collect::<Vec<_>>(), ["a", "b"]);
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = compare(&[empty]).unwrap_err().to_string();
    assert!(err.contains("empty") && err.contains("no run"), "{err}");
    let err = compare(&[PathBuf::from("/no/such/folder")]).unwrap_err().to_string();
    assert!(err.contains("/no/such/folder"), "{err}");
    std::fs::write(b.join("config.json"), "{").unwrap();
    let err = compare(std::slice::from_ref(&b)).unwrap_err().to_string();
    assert!(err.contains("config.json") && err.contains("JSON"), "{err}");
}

#[test]
fn a_damaged_run_is_skipped_with_a_warning_and_the_others_compared() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    fake_run(&a, 0.01, 0, 0.9, &[1.0, 0.5]);
    fake_run(&b, 0.1, 0, 0.8, &[1.0, 0.6]);
    fake_run(&c, 0.2, 0, 0.7, &[1.0, 0.7]);
    std::fs::write(b.join("report.json"), "{ damaged").unwrap();
    std::fs::write(c.join("config.json"), "").unwrap();
    let comparison = compare(&[a.clone(), b.clone(), c.clone()]).unwrap();
    assert_eq!(comparison.runs.len(), 1);
    assert_eq!(comparison.runs[0].dir, a.display().to_string());
    // Only damaged runs: the error names the file.
    let err = compare(std::slice::from_ref(&b)).unwrap_err().to_string();
    assert!(err.contains("report.json") && err.contains("not valid JSON"), "{err}");
}

#[test]
fn metrics_and_run_files_are_read_with_guards() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    fake_run(&a, 0.01, 0, 0.9, &[1.0, 0.5]);
    fake_run(&b, 0.1, 0, 0.8, &[1.0, 0.6]);
    // A FIFO as metrics.jsonl would hang a plain read; a link to /dev/zero would never end.
    std::fs::remove_file(a.join("metrics.jsonl")).unwrap();
    let fifo = std::ffi::CString::new(a.join("metrics.jsonl").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::fs::remove_file(b.join("metrics.jsonl")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", b.join("metrics.jsonl")).unwrap();
    let comparison = compare(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(comparison.runs.len(), 2);
    assert!(comparison.runs.iter().all(|r| r.curves.is_empty() && r.test_accuracy.is_some()));
    // A FIFO as a sweep's sweep.json is refused, not waited on.
    let sweep = tmp.path().join("sw");
    std::fs::create_dir(&sweep).unwrap();
    let fifo = std::ffi::CString::new(sweep.join("sweep.json").to_str().unwrap()).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let err = compare(&[sweep]).unwrap_err().to_string();
    assert!(err.contains("sweep.json") && err.contains("not a regular file"), "{err}");
    // report.json as a FIFO is refused (the run is skipped), not waited on.
    std::fs::remove_file(a.join("report.json")).unwrap();
    let fifo = std::ffi::CString::new(a.join("report.json").to_str().unwrap()).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let err = compare(std::slice::from_ref(&a)).unwrap_err().to_string();
    assert!(err.contains("report.json") && err.contains("not a regular file"), "{err}");
}

#[test]
fn out_and_paths_must_be_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f");
    std::fs::write(&file, "x").unwrap();
    for out in [Path::new("/dev/full"), file.as_path(), &file.join("below")] {
        let err = check_out(out).unwrap_err();
        assert!(err.is_config() && err.to_string().contains("is a file, not a folder"), "{err}");
    }
    assert!(check_out(&tmp.path().join("new/folder")).is_ok());
    let err = compare(std::slice::from_ref(&file)).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("is a file, not a folder"), "{err}");
    let err = compare(&[tmp.path().join("missing")]).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("missing"), "{err}");
}

#[test]
fn a_huge_config_value_does_not_break_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    fake_run(&a, 0.01, 0, 0.9, &[1.0]);
    std::fs::create_dir(&b).unwrap();
    let long = "d".repeat(100_000);
    std::fs::write(b.join("config.json"), json!({"name": "b", "data": {"dir": long}}).to_string()).unwrap();
    let c = compare(&[a, b]).unwrap();
    assert!(table(&c).contains(&long), "the long value is printed whole");
}

#[test]
fn best_is_chosen_on_validation_and_groups_have_sem_and_ci95() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    fake_run(&a, 0.01, 0, 0.9, &[1.0, 0.5]);
    fake_run(&b, 0.1, 0, 0.8, &[1.0, 0.6]);
    // b has the better test accuracy but the worse validation: a is chosen.
    let mut report = json!({"accuracy": 0.95, "samples": 100,
        "train": {"steps": 20, "best_validation": {"step": 20, "accuracy": 0.7, "loss": 1.0}}});
    std::fs::write(b.join("report.json"), report.to_string()).unwrap();
    let c = compare(&[a.clone(), b.clone()]).unwrap();
    let best = c.best.clone().unwrap();
    assert_eq!(
        (best.dir.as_str(), best.metric, best.test_accuracy),
        (a.to_str().unwrap(), "best_validation_accuracy", Some(0.9))
    );
    assert_eq!(c.summary_json()["best"]["dir"], a.display().to_string());
    report["train"] = json!({"steps": 20});
    for dir in [&a, &b] {
        std::fs::write(dir.join("report.json"), report.to_string()).unwrap();
        std::fs::write(dir.join("metrics.jsonl"), "").unwrap();
    }
    let c = compare(&[a, b]).unwrap();
    assert!(c.best.is_none() && c.best_missing.as_deref().unwrap().contains("no run has a validation split"));
    let s = Stats::of(&[0.8, 0.9]).unwrap();
    let sem = s.sem.unwrap();
    assert!((sem - s.std.unwrap() / 2f64.sqrt()).abs() < 1e-12);
    let [lo, hi] = s.ci95.unwrap();
    assert!((hi - s.mean - 12.706 * sem).abs() < 1e-9 && (s.mean - lo - 12.706 * sem).abs() < 1e-9);
    assert_eq!(Stats::of(&[0.5]).unwrap().ci95, None);
}

#[test]
fn groups_are_sorted_by_mean_each_key_has_a_marginal_and_keys_can_be_chosen() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = [(0.01, 0, 0.6), (0.01, 1, 0.7), (0.1, 0, 0.9), (0.1, 1, 0.8)];
    let mut paths = Vec::new();
    for (i, (lr, seed, acc)) in runs.iter().enumerate() {
        let dir = tmp.path().join(format!("r{i}"));
        fake_run(&dir, *lr, *seed, *acc, &[1.0]);
        // Threads differ (not semantic); clip_grad_norm is null in some, false in others (the same).
        let path = dir.join("config.json");
        let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config["threads"] = json!(i + 1);
        config["train"]["clip_grad_norm"] = if i % 2 == 0 { json!(null) } else { json!(false) };
        std::fs::write(&path, config.to_string()).unwrap();
        paths.push(dir);
    }
    let c = compare(&paths).unwrap();
    assert_eq!(c.keys, ["model.seed", "train.learning_rate", "train.seed"], "threads and null/false left out");
    // The better learning rate's group first; runs keep their order and know their group.
    assert_eq!(group_label(&c.groups[0]), "train.learning_rate=0.1");
    assert_eq!((c.groups[0].runs.clone(), c.groups[1].runs.clone()), (vec![2, 3], vec![0, 1]));
    assert_eq!(c.runs.iter().map(|r| r.group).collect::<Vec<_>>(), [1, 1, 0, 0]);
    // One marginal per varied key, seeds left out, best level first.
    assert_eq!(c.marginals.len(), 1);
    let m = &c.marginals[0];
    assert_eq!((m.key.as_str(), &m.levels[0].value, m.levels[0].n), ("train.learning_rate", &json!(0.1), 2));
    assert!((m.levels[0].best_validation_accuracy.unwrap().mean - 0.85).abs() < 1e-12);
    assert!((m.levels[1].test_accuracy.unwrap().mean - 0.65).abs() < 1e-12);
    assert!(m.levels[1].test_accuracy.unwrap().sem.is_some());
    assert_eq!(c.summary_json()["marginals"][0]["levels"][1]["value"], json!(0.01));
    let text = table(&c);
    assert!(text.contains("by train.learning_rate:") && text.contains("0.8500 ± 0.0500"), "{text}");
    // --keys: exactly these columns, grouped by them; --hide leaves keys out.
    let choose = |keys: Option<&[&str]>, hide: &[&str]| {
        let choice = KeyChoice {
            keys: keys.map(|k| k.iter().map(|s| s.to_string()).collect()),
            hide: hide.iter().map(|s| s.to_string()).collect(),
        };
        compare_with(&paths, &choice)
    };
    let chosen = choose(Some(&["threads", "train.learning_rate"]), &[]).unwrap();
    assert_eq!(chosen.keys, ["threads", "train.learning_rate"]);
    assert_eq!(chosen.groups.len(), 4, "grouped by what is shown");
    assert_eq!(choose(None, &["model.seed", "train.seed"]).unwrap().keys, ["train.learning_rate"]);
    let err = choose(Some(&["train.lr"]), &[]).unwrap_err();
    let text = err.to_string();
    assert!(err.is_config() && text.contains("--keys train.lr") && text.contains("train.learning_rate"), "{text}");
    assert!(choose(None, &["nope"]).unwrap_err().to_string().contains("--hide nope"));
    // compare.html's headline: the best on validation, its test accuracy beside it.
    let page = crate::html::compare_page(&c, None, "t");
    assert!(page.contains("best validation accuracy (r2)") && page.contains("its test accuracy"), "{page}");
    assert!(!page.contains("best test accuracy"));
}
