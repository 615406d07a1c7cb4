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
    /// Stopped by the search at a rung, with a checkpoint (ASHA): it
    /// continues only when promoted.
    Stopped,
}

impl Status {
    /// The status as written in `sweep.json` and the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
            Status::Stopped => "stopped",
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
    /// Where it stands.
    pub status: Status,
    /// Test accuracy from `report.json`.
    pub accuracy: Option<f64>,
    /// Why it failed, or what is left of a stopped run.
    pub detail: Option<String>,
    /// The Slurm job that ran (or runs) it.
    pub slurm_job: Option<String>,
    /// The process on this machine holding the trial's run folder lock (training it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
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

/// The process that holds the run folder lock of `dir` (`dir/.lock`, see
/// [`experiment::run_folder::lock`]) right now, by the PID it wrote there; `None`
/// when the lock is free or missing. The lock is probed with a shared,
/// non-blocking `flock` that is released at once; a lock file that is a
/// symbolic link or not a regular file is not followed and counts as free.
pub fn lock_holder(dir: &Path) -> Option<u32> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(experiment::run_folder::LOCK);
    let mut file =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(&path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    // SAFETY: flock(2) on a descriptor this function owns; no memory is passed.
    let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0;
    if free {
        // SAFETY: as above; releases the shared lock just taken.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        return None;
    }
    let mut text = String::new();
    let _ = (&mut file).take(32).read_to_string(&mut text);
    // A holder that has not written its PID yet is shown as 0.
    Some(text.trim().parse().unwrap_or(0))
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
        return TrialState { status: Status::Done, accuracy: Some(accuracy), detail: None, slurm_job, pid: None };
    }
    let state = |status, detail: Option<String>| TrialState {
        status,
        accuracy: None,
        detail,
        slurm_job: slurm_job.clone(),
        pid: None,
    };
    let stopped = || {
        let detail = if has_checkpoint(dir) { "continues from its checkpoint" } else { "restarts (no checkpoint yet)" };
        state(Status::Interrupted, Some(detail.into()))
    };
    // A live process holding the trial's run folder lock is training it,
    // whatever status.json says (a killed sweep can leave its trials running).
    if let Some(pid) = lock_holder(dir) {
        return TrialState { pid: Some(pid), ..state(Status::Running, Some(format!("trained by PID {pid}"))) };
    }
    match record {
        Some(r) if r.status == Status::Failed => state(Status::Failed, r.error),
        Some(r) if r.status == Status::Stopped => {
            state(Status::Stopped, Some("at a rung; continues if promoted".into()))
        }
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
            TrialState {
                status: Status::Failed,
                accuracy: None,
                detail: Some("boom".into()),
                slurm_job: None,
                pid: None
            }
        );
        std::fs::write(dir.join("report.json"), r#"{"accuracy": 0.875}"#).unwrap();
        let done = trial_state(&dir);
        assert_eq!((done.status, done.accuracy), (Status::Done, Some(0.875)));
        assert!(std::fs::read_dir(&dir)
            .unwrap()
            .all(|e| !atomic_file::is_temporary(&e.unwrap().file_name().to_string_lossy())));
    }

    #[test]
    fn a_live_lock_holder_means_running_and_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert_eq!(lock_holder(dir), None, "no lock file");
        // status.json of a dead process, but the folder's lock is held by a live one.
        write_record(dir, &record(Status::Interrupted, u32::MAX - 1)).unwrap();
        let lock = experiment::run_folder::lock(dir).unwrap();
        assert_eq!(lock_holder(dir), Some(std::process::id()));
        let state = trial_state(dir);
        assert_eq!((state.status, state.pid), (Status::Running, Some(std::process::id())));
        assert_eq!(state.detail, Some(format!("trained by PID {}", std::process::id())));
        drop(lock);
        assert_eq!(lock_holder(dir), None, "released");
        assert_eq!(trial_state(dir).status, Status::Interrupted);
        // A lock file that is a link is not followed.
        std::fs::remove_file(dir.join(experiment::run_folder::LOCK)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join(experiment::run_folder::LOCK)).unwrap();
        assert_eq!(lock_holder(dir), None);
    }
}
