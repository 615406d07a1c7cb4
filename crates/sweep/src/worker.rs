//! One unit of work in the calling process: what a sweep's workers run
//! (`lstm-mnist sweep --trial I`, locally or as a Slurm task).
//!
//! [`prepare`] decides whether the work is needed (a finished trial, or one
//! at its rung already, is skipped), checks that the trial's folder holds
//! the trial's run, takes its lock and writes `trial.json` and a "running"
//! `status.json`; the caller trains ([`TrialRun::train`] with its own
//! progress writer, stop flag and hooks, or its own wrapper of
//! [`experiment::train_experiment`] stopping at [`TrialRun::until`]) and then
//! records how it ended with [`TrialRun::record`].

use std::path::Path;

use experiment::config::Experiment;
use experiment::run_folder::{self, write_json, RunFolder, RunLock};
use experiment::{Outcome, RunHooks, RunIo, SavedRun};
use serde_json::json;

use crate::status::{self, Status, StatusRecord};
use crate::strategy::Work;
use crate::{Sweep, SweepError, Trial, TRIAL_FILE};

/// A trial about to be trained in this process, its run folder locked.
#[derive(Debug)]
pub struct TrialRun<'a> {
    /// The trial.
    pub trial: &'a Trial,
    /// Its run folder.
    pub run: RunFolder,
    /// Its config (with this process's threads).
    pub experiment: Experiment,
    /// Whether it continues from a checkpoint.
    pub resume: bool,
    /// Stop after this step with a checkpoint (a rung); `None`: to the end.
    pub until: Option<i64>,
    /// The run folder's lock, held until this is dropped.
    pub lock: RunLock,
    record: StatusRecord,
}

/// What [`prepare`] found.
#[derive(Debug)]
pub enum Prepared<'a> {
    /// Nothing to do; the message says why.
    Skip(String),
    /// Train it.
    Run(Box<TrialRun<'a>>),
}

/// The Slurm job of this process, `<array job>_<task>`, when Slurm runs it.
pub fn slurm_job() -> Option<String> {
    let array = std::env::var("SLURM_ARRAY_JOB_ID").ok();
    let task = std::env::var("SLURM_ARRAY_TASK_ID").ok();
    match (array, task) {
        (Some(a), Some(t)) => Some(format!("{a}_{t}")),
        _ => std::env::var("SLURM_JOB_ID").ok(),
    }
}

/// Whether the finished run in `dir` has another run length than `experiment`
/// (the sweep file was changed to extend its trials).
pub fn longer(dir: &Path, experiment: &Experiment) -> bool {
    let Ok(saved) = RunFolder::new(dir).read_config() else { return false };
    let (a, b) = (&saved.train, &experiment.train);
    (a.training_iters, a.epochs, a.max_steps) != (b.training_iters, b.epochs, b.max_steps)
}

/// The step of the newest checkpoint in the run folder `dir`, if any.
fn checkpoint_step(dir: &Path) -> Result<Option<i64>, SweepError> {
    let run = RunFolder::new(dir);
    let Some(newest) = trainer::checkpoint::latest(&run.checkpoints()).map_err(experiment::ExperimentError::from)?
    else {
        return Ok(None);
    };
    Ok(Some(trainer::checkpoint::read_meta(&newest).map_err(experiment::ExperimentError::from)?.step))
}

/// Prepares `work` of the sweep in `dir` for training here with `threads`
/// libtorch threads (or Slurm's `SLURM_CPUS_PER_TASK`): skips a trial that
/// is done (same run length) or already at its rung; refuses a trial folder
/// whose run has another config; else locks the folder and writes
/// `trial.json` and a "running" `status.json`.
pub fn prepare<'a>(
    sweep: &'a Sweep,
    dir: &Path,
    work: Work,
    threads: Option<usize>,
) -> Result<Prepared<'a>, SweepError> {
    let id = work.id;
    let trial = sweep.trials.get(id).ok_or_else(|| SweepError::Folder {
        dir: dir.to_owned(),
        message: format!("--trial {id}: the sweep {} has trials 0 to {}", sweep.name, sweep.trials.len() - 1),
    })?;
    let run = RunFolder::new(dir.join(&trial.name));
    if status::trial_state(run.dir()).status == Status::Done && !longer(run.dir(), &trial.experiment) {
        return Ok(Prepared::Skip(format!("trial {id} ({}) is done already", trial.name)));
    }
    let at = if run.config().is_file() { checkpoint_step(run.dir())? } else { None };
    if let (Some(until), Some(at)) = (work.until, at) {
        if at >= until {
            return Ok(Prepared::Skip(format!("trial {id} ({}) is at step {at} already", trial.name)));
        }
    }
    let mut experiment = trial.experiment.clone();
    let slurm_threads = std::env::var("SLURM_CPUS_PER_TASK").ok().and_then(|n| n.parse().ok());
    if let Some(threads) = threads.or(slurm_threads) {
        experiment.threads = Some(threads);
    }
    if run.config().is_file() {
        check_same_config(&run, &experiment)?;
    }
    std::fs::create_dir_all(run.dir()).map_err(experiment::io_error(run.dir()))?;
    let lock = run_folder::lock(run.dir())?;
    run_folder::mark(run.dir())?;
    let record = json!({"sweep": sweep.name, "id": trial.id, "overrides": trial.overrides_json()});
    write_json(&run.dir().join(TRIAL_FILE), &record)?;
    let record = StatusRecord {
        status: Status::Running,
        host: status::host_name(),
        pid: std::process::id(),
        slurm_job: slurm_job(),
        exit_code: None,
        error: None,
    };
    let trial_run =
        TrialRun { trial, run, experiment, resume: at.is_some(), until: work.until, lock, record: record.clone() };
    trial_run.write_status(&record)?;
    Ok(Prepared::Run(Box::new(trial_run)))
}

impl TrialRun<'_> {
    fn write_status(&self, record: &StatusRecord) -> Result<(), SweepError> {
        let path = self.run.dir().join(status::STATUS_FILE);
        status::write_record(self.run.dir(), record).map_err(|e| experiment::io_error(&path)(e).into())
    }

    /// Trains the trial with [`experiment::train_experiment`] (continuing
    /// its checkpoint when there is one), stopping after [`TrialRun::until`]
    /// with a checkpoint; `hooks` are the caller's.
    pub fn train(&self, io: RunIo<'_>, hooks: &mut dyn RunHooks) -> Result<Outcome, SweepError> {
        let mut hooks = StopAfter { inner: hooks, until: self.until };
        let flags = (self.resume, true);
        Ok(experiment::train_experiment(self.experiment.clone(), &self.run, flags, Some(&self.lock), io, &mut hooks)?)
    }

    /// Writes how the work ended into `status.json`: `status`, the exit
    /// status the caller gives for it, and the error when it failed.
    pub fn record(&mut self, status: Status, exit_code: Option<i32>, error: Option<String>) -> Result<(), SweepError> {
        (self.record.status, self.record.exit_code, self.record.error) = (status, exit_code, error);
        self.write_status(&self.record)
    }
}

/// The caller's hooks, stopping training after step `until`.
struct StopAfter<'a> {
    inner: &'a mut dyn RunHooks,
    until: Option<i64>,
}

impl RunHooks for StopAfter<'_> {
    fn sinks(&mut self, run: &RunFolder) -> Vec<Box<dyn trainer::MetricsSink>> {
        self.inner.sinks(run)
    }

    fn stop_after(&self) -> Option<i64> {
        self.until.or(self.inner.stop_after())
    }

    fn training_done(&mut self) {
        self.inner.training_done();
    }

    fn saved(&mut self, saved: &SavedRun<'_>) -> Result<(), experiment::ExperimentError> {
        self.inner.saved(saved)
    }
}

/// Refuses to continue a trial folder whose run has another config than the
/// trial (the sweep file changed since): only `threads` and run-length and
/// cadence keys may differ.
fn check_same_config(run: &RunFolder, experiment: &Experiment) -> Result<(), SweepError> {
    let saved = Experiment::load(&run.config(), &[]).map_err(experiment::ExperimentError::from)?;
    let a = serde_json::to_value(&saved).unwrap_or_default();
    let b = serde_json::to_value(experiment).unwrap_or_default();
    let (fa, fb) = (crate::folder::flat(&a), crate::folder::flat(&b));
    let differs =
        crate::folder::differing(&a, &b).into_iter().find(|k| k != "threads" && !experiment::resume_may_change(k));
    match differs {
        None => Ok(()),
        Some(key) => Err(SweepError::Folder {
            dir: run.dir().to_owned(),
            message: format!(
                "this trial folder holds a run with another `{key}` ({} there, {} in the sweep): the sweep file \
                 changed since; remove the folder or give the sweep another --out",
                fa.get(&key).map_or("nothing".into(), |v| v.to_string()),
                fb.get(&key).map_or("nothing".into(), |v| v.to_string()),
            ),
        }),
    }
}
