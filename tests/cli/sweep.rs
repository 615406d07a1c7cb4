//! `lstm-mnist sweep` with the local backend and `lstm-mnist compare`, on a
//! small dataset the test writes; trials are tiny (20 steps, 8 hidden units).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{read_json, text, write_dataset, BIN};
use serde_json::Value;

struct Fixture {
    tmp: tempfile::TempDir,
    sweep: PathBuf,
}

/// A sweep file over a tiny config: `grid` and `seeds` as given, 20 steps.
fn fixture(grid: &str, seeds: &str, steps: i64, extra_set: &str) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let data = write_dataset(tmp.path().join("data"), 200, 50, true);
    let base = format!(
        r#"{{"device": "cpu", "data": {{"dir": {data:?}, "validation": 40}}, "model": {{"hidden": 8}},
            "train": {{"learning_rate": 0.01, "batch_size": 20, "display_step": 5}}, "eval": {{"batch_size": 64}}}}"#,
        data = data.display().to_string()
    );
    std::fs::write(tmp.path().join("base.json"), base).unwrap();
    let sweep = tmp.path().join("tiny.json");
    let text = format!(
        r#"{{"base": "base.json", "set": {{"train.max_steps": {steps}, "train.training_iters": null{extra_set}}},
            "grid": {grid}, "seeds": {seeds}}}"#
    );
    std::fs::write(&sweep, text).unwrap();
    Fixture { tmp, sweep }
}

fn sweep(f: &Fixture, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args(["sweep", "--config"])
        .arg(&f.sweep)
        .args(extra)
        .current_dir(f.tmp.path())
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap()
}

fn compare_json(cwd: &Path, paths: &[&str]) -> Value {
    let out = Command::new(BIN).arg("compare").args(paths).arg("--json").current_dir(cwd).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn grid_times_seeds_runs_with_two_jobs_reruns_skip_and_compare_groups_by_seed() {
    let f = fixture(r#"{"train.learning_rate": [0.01, 0.03], "model.hidden": [8, 12]}"#, "[0, 1]", 20, "");
    let out = sweep(&f, &["--jobs", "2"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let dir = f.tmp.path().join("runs/tiny");
    // Each trial gets max(1, physical cores / 2) threads.
    let threads: u64 = stderr.split(" at a time, ").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
    assert!(stderr.contains("2 at a time") && threads >= 1, "{stderr}");
    let list = read_json(&dir.join("sweep.json"));
    let trials = list["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 8);
    assert_eq!(trials[3]["dir"], "lr=0.01,hidden=12,seed=1");
    for t in trials {
        assert_eq!(t["status"], "done", "{t}");
        let run = dir.join(t["dir"].as_str().unwrap());
        let report = read_json(&run.join("report.json"));
        assert_eq!(report["train"]["steps"], 20, "max_steps = 20 is exactly 20 steps");
        assert_eq!(t["accuracy"], report["accuracy"]);
        let trial = read_json(&run.join("trial.json"));
        assert_eq!(trial["sweep"], "tiny");
        assert_eq!(trial["id"], t["id"]);
        assert_eq!(trial["overrides"], t["overrides"]);
        assert_eq!(read_json(&run.join("config.json"))["threads"], threads);
        assert!(run.join("train.log").is_file());
    }
    assert_eq!(
        trials[5]["overrides"],
        serde_json::json!({"train.learning_rate": 0.03, "model.hidden": 8, "train.seed": 1, "model.seed": 1})
    );
    // The table of all trials.
    assert!(stdout.contains("lr=0.03,hidden=12,seed=0") && stdout.contains("8 of 8 trials done"), "{stdout}");
    assert!(dir.join("sweep-config.json").is_file());

    // Rerunning skips every finished trial: nothing is trained again.
    let logs_before = std::fs::read_to_string(dir.join(trials[0]["dir"].as_str().unwrap()).join("train.log")).unwrap();
    let again = sweep(&f, &["--jobs", "2"]);
    let stderr = text(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(stderr.contains("8 done, 0 to run"), "{stderr}");
    assert!(!stderr.contains("started"), "{stderr}");
    let logs_after = std::fs::read_to_string(dir.join(trials[0]["dir"].as_str().unwrap()).join("train.log")).unwrap();
    assert_eq!(logs_before, logs_after);

    // compare: the differing keys, 4 groups of 2 seeds each; one learning rate: 2 groups of 2.
    let c = compare_json(f.tmp.path(), &["runs/tiny"]);
    assert_eq!(c["runs"].as_array().unwrap().len(), 8);
    let keys: Vec<&str> = c["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(keys, ["model.hidden", "model.seed", "train.learning_rate", "train.seed"]);
    let groups = c["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 4);
    assert!(groups.iter().all(|g| g["n"] == 2 && g["test_accuracy"]["n"] == 2), "{c}");
    assert!(c["runs"][0]["test_accuracy"].as_f64().is_some() && c["runs"][0]["steps"] == 20);
    let paths: Vec<String> = trials[..4].iter().map(|t| format!("runs/tiny/{}", t["dir"].as_str().unwrap())).collect();
    let c = compare_json(f.tmp.path(), &paths.iter().map(String::as_str).collect::<Vec<_>>());
    let groups = c["groups"].as_array().unwrap();
    assert_eq!((groups.len(), &groups[0]["n"], &groups[1]["n"]), (2, &Value::from(2), &Value::from(2)), "{c}");
    assert!(groups.iter().any(|g| g["differs"] == serde_json::json!({"model.hidden": 8})), "{c}");
    // Best group first (mean best validation accuracy).
    let mean = |g: &Value| g["best_validation_accuracy"]["mean"].as_f64().unwrap();
    assert!(mean(&groups[0]) >= mean(&groups[1]), "{c}");
    // Comparing a sweep folder writes its summary files.
    assert!(std::fs::read_to_string(dir.join("compare.svg")).unwrap().starts_with("<svg"));
    assert_eq!(read_json(&dir.join("summary.json"))["runs"].as_array().unwrap().len(), 8);
    assert_eq!(std::fs::read_to_string(dir.join("summary.csv")).unwrap().lines().count(), 9);
}

#[test]
fn a_failing_trial_does_not_stop_the_others_and_is_retried_only_when_asked() {
    // `data.validation` larger than the training split fails at data loading, in the trial.
    let f = fixture(r#"{"data.validation": [40, 1000]}"#, "[0]", 10, "");
    let out = sweep(&f, &["--jobs", "1"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let dir = f.tmp.path().join("runs/tiny");
    let list = read_json(&dir.join("sweep.json"));
    assert_eq!(list["trials"][0]["status"], "done", "{list}");
    assert_eq!(list["trials"][1]["status"], "failed", "{list}");
    assert!(list["trials"][1]["detail"].as_str().unwrap().contains("validation"), "{list}");
    assert!(stdout.contains("failed") && stdout.contains("1 of 2 trials done"), "{stdout}");
    let failed = dir.join("validation=1000,seed=0");
    assert!(std::fs::read_to_string(failed.join("train.log")).unwrap().contains("error: "));
    // A rerun leaves the failed trial alone unless asked.
    let again = sweep(&f, &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("rerun it with --retry-failed"), "{}", text(&again.stderr));
    let retry = sweep(&f, &["--retry-failed"]);
    assert!(text(&retry.stderr).contains("1 to run"), "{}", text(&retry.stderr));
    assert_eq!(read_json(&dir.join("sweep.json"))["trials"][1]["status"], "failed");

    // A changed sweep file is refused naming the key, even a longer run length without --extend.
    let original = std::fs::read_to_string(&f.sweep).unwrap();
    let longer = original.replace("\"train.max_steps\": 10", "\"train.max_steps\": 15");
    std::fs::write(&f.sweep, &longer).unwrap();
    let refused = sweep(&f, &[]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("changed: train.max_steps") && stderr.contains("--extend"), "{stderr}");
    std::fs::write(&f.sweep, original.replace("\"seeds\": [0]", "\"seeds\": [1]")).unwrap();
    let changed = sweep(&f, &["--extend"]);
    assert_eq!(changed.status.code(), Some(2), "{}", text(&changed.stderr));
    assert!(text(&changed.stderr).contains("seeds"), "{}", text(&changed.stderr));
    assert_eq!(read_json(&dir.join("sweep-config.json"))["set"]["train.max_steps"], 10, "the folder's copy is kept");
    // With --extend, a longer run length extends the finished trial from its last checkpoint.
    std::fs::write(&f.sweep, longer).unwrap();
    let extended = sweep(&f, &["--extend"]);
    assert!(text(&extended.stderr).contains("continues"), "{}", text(&extended.stderr));
    let report = read_json(&dir.join("validation=40,seed=0/report.json"));
    assert_eq!((report["train"]["steps"].as_i64(), report["train"]["resumed_from"].as_i64()), (Some(15), Some(10)));
}

#[test]
fn bad_sweep_files_name_the_trial_and_key_and_run_nothing() {
    let f = fixture(r#"{"train.learning_rate": [0.01, -1]}"#, "[0]", 10, "");
    let out = sweep(&f, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("trial 1 (lr=-1,seed=0)") && stderr.contains("train.learning_rate"), "{stderr}");
    assert!(!f.tmp.path().join("runs").exists(), "nothing was written");
    let f = fixture(r#"{"model.hiden": [8]}"#, "[]", 10, "");
    let stderr = text(&sweep(&f, &[]).stderr);
    assert!(stderr.contains("model.hiden") && stderr.contains("trial 0"), "{stderr}");
    let out = sweep(&f, &["--trial", "3"]);
    assert_eq!(out.status.code(), Some(2));
}

/// SIGINT to the sweep stops every trial with a checkpoint (status 130); the
/// rerun continues each from its checkpoint to the end.
#[test]
fn ctrl_c_stops_all_trials_with_checkpoints_and_the_rerun_continues_them() {
    let f = fixture(r#"{"train.learning_rate": [0.01, 0.02]}"#, "[0]", 3000, r#", "train.checkpoint_every": 10"#);
    let dir = f.tmp.path().join("runs/tiny");
    let child = Command::new(BIN)
        .args(["sweep", "--jobs", "2", "--config"])
        .arg(&f.sweep)
        .current_dir(f.tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let names = ["lr=0.01,seed=0", "lr=0.02,seed=0"];
    // Wait (polling the folders, at most 5 minutes) until both trials have a checkpoint.
    for _ in 0..3000 {
        if names.iter().all(|n| dir.join(n).join("checkpoints").read_dir().is_ok_and(|mut d| d.next().is_some())) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let list = read_json(&dir.join("sweep.json"));
    for t in list["trials"].as_array().unwrap() {
        assert_eq!(t["status"], "interrupted", "{list}");
        assert_eq!(t["detail"], "continues from its checkpoint");
    }
    let again = sweep(&f, &["--jobs", "2"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    for name in names {
        let report = read_json(&dir.join(name).join("report.json"));
        assert_eq!(report["train"]["steps"], 3000);
        assert!(report["train"]["resumed_from"].as_i64().unwrap() > 0, "{report}");
        let steps: Vec<i64> = std::fs::read_to_string(dir.join(name).join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["kind"] == "train")
            .map(|r| r["step"].as_i64().unwrap())
            .collect();
        assert_eq!(steps, (1..=600).map(|i| i * 5).collect::<Vec<_>>(), "one continuous series");
    }
}

#[test]
fn sweep_out_refuses_a_training_run_folder_and_a_users_folder() {
    let f = fixture(r#"{"train.learning_rate": [0.01]}"#, "[0]", 5, "");
    let run = f.tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("config.json"), "{}").unwrap();
    let out = sweep(&f, &["--out", "run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("holds a training run"), "{}", text(&out.stderr));
    assert!(!run.join("sweep.json").exists() && !run.join("sweep-config.json").exists());
    let mine = f.tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("sweep.json"), "my notes").unwrap();
    let out = sweep(&f, &["--out", "mine"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not a sweep folder"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(mine.join("sweep.json")).unwrap(), "my notes");
    // A new or empty folder is fine.
    std::fs::create_dir(f.tmp.path().join("empty")).unwrap();
    assert!(sweep(&f, &["--out", "empty"]).status.success());
}

/// Starts `sweep --jobs 2` over two long trials and waits (at most 5
/// minutes) until both have a checkpoint; returns the sweep process.
fn start_long_sweep(f: &Fixture, names: &[&str]) -> std::process::Child {
    let dir = f.tmp.path().join("runs/tiny");
    let child = Command::new(BIN)
        .args(["sweep", "--jobs", "2", "--config"])
        .arg(&f.sweep)
        .current_dir(f.tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..3000 {
        if names.iter().all(|n| dir.join(n).join("checkpoints").read_dir().is_ok_and(|mut d| d.next().is_some())) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child
}

fn signal(pid: u32, name: &str) {
    assert!(Command::new("kill").args([name, &pid.to_string()]).status().unwrap().success());
}

/// SIGHUP (a closed terminal) stops every trial with a checkpoint, as SIGINT
/// does; a rerun names the process that still holds a trial's folder.
#[test]
fn hangup_stops_all_trials_and_a_rerun_names_the_pid_holding_a_trial() {
    let f = fixture(r#"{"train.learning_rate": [0.01, 0.02]}"#, "[0]", 3000, r#", "train.checkpoint_every": 10"#);
    let dir = f.tmp.path().join("runs/tiny");
    let names = ["lr=0.01,seed=0", "lr=0.02,seed=0"];
    let child = start_long_sweep(&f, &names);
    signal(child.id(), "-HUP");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(129), "{}", text(&out.stderr));
    let list = read_json(&dir.join("sweep.json"));
    for t in list["trials"].as_array().unwrap() {
        assert_eq!(
            (&t["status"], &t["detail"]),
            (&Value::from("interrupted"), &"continues from its checkpoint".into())
        );
    }
    // Another process holds the first trial's run folder lock (as a trial
    // left running by a killed sweep would): the rerun leaves it alone and names it.
    let lock = dir.join(names[0]).join(".lock");
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg("echo $$ > \"$0\"; exec flock -o \"$0\" sleep 600")
        .arg(&lock)
        .spawn()
        .unwrap();
    let pid = holder.id();
    for _ in 0..600 {
        if std::fs::read_to_string(&lock).is_ok_and(|t| t.trim() == pid.to_string())
            && !Command::new("flock").args(["-n", "-s"]).arg(&lock).arg("true").status().unwrap().success()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let again = sweep(&f, &["--jobs", "2"]);
    let stderr = text(&again.stderr);
    signal(pid, "-KILL");
    let _ = holder.wait();
    assert_eq!(again.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("still being trained by PID {pid}")), "{stderr}");
    assert!(stderr.contains(&format!("held by running processes (PID {pid})")), "{stderr}");
    let list = read_json(&dir.join("sweep.json"));
    assert_eq!(list["trials"][0]["status"], "running", "{list}");
    assert_eq!(list["trials"][1]["status"], "done", "{list}");
    assert_eq!(read_json(&dir.join(names[1]).join("report.json"))["train"]["steps"], 3000);
}

/// `kill -9` of the sweep: the kernel sends its trials SIGTERM, so each
/// stops with a checkpoint instead of training on unsupervised.
#[test]
fn kill_9_of_the_sweep_stops_its_trials_with_checkpoints() {
    let f = fixture(r#"{"train.learning_rate": [0.01, 0.02]}"#, "[0]", 100_000, r#", "train.checkpoint_every": 10"#);
    let dir = f.tmp.path().join("runs/tiny");
    let names = ["lr=0.01,seed=0", "lr=0.02,seed=0"];
    let mut child = start_long_sweep(&f, &names);
    let pids: Vec<String> =
        names.iter().map(|n| std::fs::read_to_string(dir.join(n).join(".lock")).unwrap().trim().to_owned()).collect();
    signal(child.id(), "-KILL");
    let _ = child.wait();
    // Each trial's process ends (at most 5 minutes) ...
    for pid in &pids {
        for _ in 0..3000 {
            if !Path::new("/proc").join(pid).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(!Path::new("/proc").join(pid).exists(), "trial process {pid} still runs");
    }
    // ... having written a checkpoint and said so.
    for name in names {
        let status = read_json(&dir.join(name).join("status.json"));
        assert_eq!((&status["status"], &status["exit_code"]), (&Value::from("interrupted"), &Value::from(143)));
        assert!(dir.join(name).join("checkpoints").read_dir().unwrap().next().is_some());
    }
}

/// `compare` usage errors are status 2 ("is a file, not a folder"); a damaged
/// run is skipped with a warning naming it, the others compared.
#[test]
fn compare_refuses_files_as_folders_and_skips_a_damaged_run() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, accuracy) in [("a", 0.9), ("b", 0.8)] {
        let run = tmp.path().join(name);
        std::fs::create_dir(&run).unwrap();
        std::fs::write(run.join("config.json"), format!(r#"{{"name": "{name}", "model": {{"hidden": 8}}}}"#)).unwrap();
        std::fs::write(run.join("report.json"), format!(r#"{{"accuracy": {accuracy}, "samples": 10}}"#)).unwrap();
    }
    std::fs::write(tmp.path().join("file"), "x").unwrap();
    let compare = |args: &[&str]| Command::new(BIN).arg("compare").args(args).current_dir(tmp.path()).output().unwrap();
    for out in ["/dev/full", "file"] {
        let o = compare(&["a", "b", "--out", out]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains("is a file, not a folder"), "{}", text(&o.stderr));
    }
    let o = compare(&["a", "missing"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    std::fs::write(tmp.path().join("b/report.json"), "{ damaged").unwrap();
    let o = compare(&["a", "b", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stderr = text(&o.stderr);
    assert!(stderr.contains("skipped") && stderr.contains("b/report.json"), "{stderr}");
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(c["runs"].as_array().unwrap().len(), 1);
}

/// A 9-trial ASHA sweep (rungs of 10, 30 and 90 steps, eta 3) on the
/// shipped sample data, tiny LSTM; the sweep folder is `runs/asha`.
fn asha_fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-sample");
    let sweep = tmp.path().join("asha.json");
    let text = format!(
        r#"{{"base": {{"device": "cpu", "data": {{"dir": {data:?}, "validation": 200}}, "model": {{"hidden": 4}},
                     "train": {{"batch_size": 20, "display_step": 5}}, "eval": {{"batch_size": 500}}}},
            "random": {{"train.learning_rate": {{"log_uniform": [0.001, 0.1]}}}}, "trials": 9,
            "search": {{"asha": {{"min_steps": 10, "max_steps": 90, "eta": 3}}}}}}"#,
        data = data.display().to_string()
    );
    std::fs::write(&sweep, text).unwrap();
    Fixture { tmp, sweep }
}

/// The "best on validation: trial N (...)" line of a sweep's stdout.
fn winner(stdout: &str) -> String {
    stdout.lines().find(|l| l.starts_with("best on validation: ")).unwrap_or_else(|| panic!("{stdout}")).to_owned()
}

/// A run's metrics.jsonl without its timings (elapsed, samples_per_second).
fn metrics_without_timings(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let map = v.as_object_mut().unwrap();
            map.remove("elapsed");
            map.remove("samples_per_second");
            v
        })
        .collect()
}

/// The steps a trial took: its last training record's step.
fn trial_steps(dir: &Path) -> i64 {
    metrics_without_timings(dir).iter().filter_map(|r| r["step"].as_i64()).max().unwrap_or(0)
}

#[test]
fn asha_promotes_by_exact_resume_and_a_killed_sweep_picks_the_same_winner() {
    let f = asha_fixture();
    let out = sweep(&f, &["--jobs", "1"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let dir = f.tmp.path().join("runs/asha");
    let trials: Vec<PathBuf> = read_json(&dir.join("sweep.json"))["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| dir.join(t["dir"].as_str().unwrap()))
        .collect();
    assert_eq!(trials.len(), 9);
    let steps: Vec<i64> = trials.iter().map(|t| trial_steps(t)).collect();
    let full: Vec<&PathBuf> = trials.iter().filter(|t| t.join("report.json").is_file()).collect();
    assert!((1..=3).contains(&full.len()), "{steps:?}\n{stdout}");
    assert_eq!(steps.iter().filter(|&&s| s == 90).count(), full.len(), "{steps:?}");
    assert!(steps.iter().all(|s| [10, 30, 90].contains(s)), "{steps:?}");
    assert!(steps.iter().sum::<i64>() < 9 * 90, "{steps:?}");
    let table_stopped = stdout.lines().filter(|l| l.contains(" stopped ")).count();
    assert_eq!(table_stopped, 9 - full.len(), "{stdout}");
    // A trial promoted through every rung equals an uninterrupted 90-step run of its config.
    let promoted = full[0];
    let again = Command::new(BIN)
        .args(["train", "--config"])
        .arg(promoted.join("config.json"))
        .args(["--out", "uninterrupted"])
        .current_dir(f.tmp.path())
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again.stderr));
    let whole = metrics_without_timings(&f.tmp.path().join("uninterrupted"));
    assert_eq!(whole.len(), 90 / 5 + 9, "18 training and 9 validation records");
    assert_eq!(metrics_without_timings(promoted), whole);
    // `kill -9` of the same sweep in the middle, then a rerun: the same winner.
    let mut child = Command::new(BIN)
        .args(["sweep", "--jobs", "1", "--out", "runs/killed", "--config"])
        .arg(&f.sweep)
        .current_dir(f.tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let journal = f.tmp.path().join("runs/killed/journal.jsonl");
    for _ in 0..3000 {
        if std::fs::read_to_string(&journal).is_ok_and(|t| t.lines().count() >= 9) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    signal(child.id(), "-KILL");
    let _ = child.wait();
    // The trial in flight gets SIGTERM from the kernel and stops with a checkpoint.
    for entry in std::fs::read_dir(f.tmp.path().join("runs/killed")).unwrap() {
        let Ok(pid) = std::fs::read_to_string(entry.unwrap().path().join(".lock")) else { continue };
        let proc = Path::new("/proc").join(pid.trim());
        for _ in 0..3000 {
            if pid.trim().is_empty() || !proc.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let rerun = sweep(&f, &["--jobs", "1", "--out", "runs/killed"]);
    let rerun_stdout = text(&rerun.stdout);
    assert!(rerun.status.success(), "{rerun_stdout}\n{}", text(&rerun.stderr));
    assert_eq!(winner(&rerun_stdout).replace("runs/killed", "runs/asha"), winner(&stdout));
}
