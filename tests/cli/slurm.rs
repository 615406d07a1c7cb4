//! `lstm-mnist sweep --backend slurm --wait` on a real single-node Slurm,
//! started by `scripts/slurm-up.sh` (which installs Slurm and munge from
//! Debian when missing; it needs root). The test is `#[ignore = "needs
//! slurm"]`: where the cluster cannot be started (not root, no apt-get) it
//! fails saying why. A cluster the test started is stopped again at the end.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tools;
use common::{read_json, text, write_dataset, BIN};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Starts (or finds) the cluster: its `SLURM_CONF` and whether this call started it.
/// Fails the test when it cannot be started here.
fn cluster() -> (String, bool) {
    let out = Command::new(Path::new(ROOT).join("scripts/slurm-up.sh")).output().unwrap();
    let stderr = text(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(77) => tools::missing("slurm", &format!("scripts/slurm-up.sh cannot start it here: {}", stderr.trim())),
        _ => panic!("scripts/slurm-up.sh failed ({}):\n{stderr}", out.status),
    }
    let conf = text(&out.stdout).trim().strip_prefix("SLURM_CONF=").unwrap().to_owned();
    (conf, !stderr.contains("already running"))
}

/// Stops the cluster when dropped, if this test started it.
struct Down(bool);

impl Drop for Down {
    fn drop(&mut self) {
        if self.0 {
            let _ = Command::new(Path::new(ROOT).join("scripts/slurm-down.sh")).output();
        }
    }
}

#[test]
#[ignore = "needs slurm"]
fn sweep_runs_as_a_job_array_on_a_real_slurm() {
    let (conf, started) = cluster();
    let _down = Down(started);
    let tmp = tempfile::tempdir().unwrap();
    // Three copies of the data, and a folder that does not exist: that trial fails.
    for d in ["d1", "d2", "d3"] {
        write_dataset(tmp.path().join(d), 100, 40, true);
    }
    let sweep = tmp.path().join("sl.json");
    std::fs::write(
        &sweep,
        r#"{"base": {"device": "cpu", "model": {"hidden": 8}, "train": {"batch_size": 20, "display_step": 5}},
            "set": {"train.max_steps": 10, "train.training_iters": null},
            "grid": {"data.dir": ["d1", "d2", "missing", "d3"]},
            "slurm": {"time": "00:10:00", "cpus_per_task": 1, "max_parallel": 2}}"#,
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(["sweep", "--backend", "slurm", "--wait", "--config"])
            .arg(&sweep)
            .args(extra)
            .current_dir(tmp.path())
            .env("SLURM_CONF", &conf)
            .env_remove("LD_LIBRARY_PATH")
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "one trial fails:\n{stdout}\n{stderr}");
    let dir: PathBuf = tmp.path().join("runs/sl");
    let script = std::fs::read_to_string(dir.join("slurm/array.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3%2") && script.contains("--signal=B:TERM@"), "{script}");
    let job = stdout.split("submitted Slurm job array ").nth(1).unwrap().split(':').next().unwrap().to_owned();
    assert!(job.parse::<u64>().is_ok(), "{stdout}");
    let list = read_json(&dir.join("sweep.json"));
    let status: Vec<&str> = list["trials"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["done", "done", "failed", "done"], "{list}");
    for (i, name) in ["dir=d1", "dir=d2", "dir=d3"].iter().enumerate() {
        let trial = dir.join(name);
        assert_eq!(read_json(&trial.join("report.json"))["train"]["steps"], 10, "{name}");
        let record = read_json(&trial.join("status.json"));
        let task = if i == 2 { 3 } else { i };
        assert_eq!(record["slurm_job"], format!("{job}_{task}"), "{record}");
        assert_eq!(read_json(&trial.join("trial.json"))["sweep"], "sl");
        let log = std::fs::read_to_string(dir.join(format!("slurm/{job}_{task}.out"))).unwrap();
        assert!(log.contains("Testing Accuracy: "), "{log}");
    }
    let failed = read_json(&dir.join("sweep.json"))["trials"][2].clone();
    assert!(failed["detail"].as_str().unwrap().contains("missing"), "{failed}");
    assert!(stdout.contains("3 of 4 trials done"), "{stdout}");

    // Rerunning submits only what is not done: with --retry-failed, the failed trial alone.
    let out = run(&["--retry-failed"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains(": trials 2 ("), "{stdout}");
    assert_eq!(read_json(&dir.join("sweep.json"))["trials"][2]["status"], "failed");
}
