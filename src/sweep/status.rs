//! A trial's state, derived from its own folder only, so that it stays right
//! when trials run in separate processes or on separate machines: `report.json`
//! means done; otherwise `status.json`, which only the process running the
//! trial writes (atomically), says running, failed or interrupted; a
//! "running" trial whose process is gone from this machine is interrupted.

use std::path::Path;

use experiment::run_folder::RunFolder;
use serde::{Deserialize, Serialize};

/// Written by the process that runs a trial, into its folder.
pub const STATUS_FILE: &str = "status.json";

/// Where a trial stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not started.
    Pending,
    /// Being trained (by a live process, as far as can be told).
    Running,
    /// Finished: `report.json` is there.
    Done,
    /// Stopped with an error; rerun only with `--retry-failed`.
    Failed,
    /// Stopped before the end (Ctrl-C, SIGTERM, a kill); a rerun continues it.
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }
}

/// The contents of `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusRecord {
    /// `running`, `failed` or `interrupted` (`done` is written too, but
    /// `report.json` is what counts).
    pub status: Status,
    /// Host name of the machine running the trial.
    pub host: String,
    /// Process id there.
    pub pid: u32,
    /// The Slurm job (`<array job>_<task>`), when run by Slurm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job: Option<String>,
    /// Exit status, once ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The error, when failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A trial's state and, when done, its test accuracy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialState {
    pub status: Status,
    /// Test accuracy from `report.json`.
    pub accuracy: Option<f64>,
    /// Why it failed, or what is left of a stopped run.
    pub detail: Option<String>,
    /// The Slurm job that ran (or runs) it.
    pub slurm_job: Option<String>,
}

/// This machine's host name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether process `pid` runs on this machine (Linux: `/proc/<pid>`); true when it cannot be told.
fn process_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    // A zombie (exited, not yet reaped) is not alive.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Whether `dir` holds at least one complete checkpoint.
pub fn has_checkpoint(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("checkpoints"))
        .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("step-")))
        .unwrap_or(false)
}

/// Reads `status.json`, if there and readable.
pub fn read_record(dir: &Path) -> Option<StatusRecord> {
    let text = std::fs::read_to_string(dir.join(STATUS_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The state of the trial in `dir`.
pub fn trial_state(dir: &Path) -> TrialState {
    let record = read_record(dir);
    let slurm_job = record.as_ref().and_then(|r| r.slurm_job.clone());
    if let Some(accuracy) = report_accuracy(dir) {
        return TrialState { status: Status::Done, accuracy: Some(accuracy), detail: None, slurm_job };
    }
    let state =
        |status, detail: Option<String>| TrialState { status, accuracy: None, detail, slurm_job: slurm_job.clone() };
    let stopped = || {
        let detail = if has_checkpoint(dir) { "continues from its checkpoint" } else { "restarts (no checkpoint yet)" };
        state(Status::Interrupted, Some(detail.into()))
    };
    match record {
        Some(r) if r.status == Status::Failed => state(Status::Failed, r.error),
        Some(r) if r.status == Status::Running => {
            if r.host == host_name() && !process_alive(r.pid) {
                stopped()
            } else {
                state(Status::Running, None)
            }
        }
        Some(_) => stopped(),
        None if RunFolder::new(dir).holds_run() || dir.join(super::TRIAL_FILE).is_file() => stopped(),
        None => state(Status::Pending, None),
    }
}

/// Test accuracy of a finished run, from its `report.json`.
pub fn report_accuracy(dir: &Path) -> Option<f64> {
    Some(RunFolder::new(dir).read_report().ok()??.accuracy)
}

/// Writes `status.json` atomically (temporary file, then rename).
pub fn write_record(dir: &Path, record: &StatusRecord) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    text.push('\n');
    atomic_file::write(&dir.join(STATUS_FILE), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: Status, pid: u32) -> StatusRecord {
        StatusRecord { status, host: host_name(), pid, slurm_job: None, exit_code: None, error: None }
    }

    #[test]
    fn state_comes_from_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t");
        assert_eq!(trial_state(&dir).status, Status::Pending);
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(trial_state(&dir).status, Status::Pending);
        write_record(&dir, &record(Status::Running, std::process::id())).unwrap();
        assert_eq!(trial_state(&dir).status, Status::Running, "this test process is alive");
        // A process id that cannot exist: the runner is gone, so the trial was interrupted.
        write_record(&dir, &record(Status::Running, u32::MAX - 1)).unwrap();
        let state = trial_state(&dir);
        assert_eq!(state.status, Status::Interrupted);
        assert_eq!(state.detail.as_deref(), Some("restarts (no checkpoint yet)"));
        std::fs::create_dir_all(dir.join("checkpoints/step-000010")).unwrap();
        assert_eq!(trial_state(&dir).detail.as_deref(), Some("continues from its checkpoint"));
        // On another machine, "running" cannot be checked and is believed.
        let mut other = record(Status::Running, 1);
        other.host = "elsewhere".into();
        write_record(&dir, &other).unwrap();
        assert_eq!(trial_state(&dir).status, Status::Running);
        let mut failed = record(Status::Failed, 1);
        failed.error = Some("boom".into());
        write_record(&dir, &failed).unwrap();
        assert_eq!(
            trial_state(&dir),
            TrialState { status: Status::Failed, accuracy: None, detail: Some("boom".into()), slurm_job: None }
        );
        std::fs::write(dir.join("report.json"), r#"{"accuracy": 0.875}"#).unwrap();
        let done = trial_state(&dir);
        assert_eq!((done.status, done.accuracy), (Status::Done, Some(0.875)));
        assert!(std::fs::read_dir(&dir)
            .unwrap()
            .all(|e| !atomic_file::is_temporary(&e.unwrap().file_name().to_string_lossy())));
    }
}
