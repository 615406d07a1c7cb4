//! `lstm-mnist sweep`: every trial of a sweep file, locally (`--jobs N` child
//! processes) or as a Slurm job array; `--trial I` runs one trial in this
//! process (what both backends' workers do).
//!
//! The sweep folder holds one ordinary run folder per trial, the sweep file
//! with its base config inlined (`sweep-config.json`, which the workers read)
//! and `sweep.json`, the list of trials and their states, written only by the
//! coordinating command. A trial's state comes from its own folder (see
//! [`crate::sweep::status`]), so it stays right across processes and machines.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::commands::train::{self, INTERRUPTED};
use crate::config::Experiment;
use crate::run_folder::{write_json, RunFolder};
use crate::sweep::status::{self, Status, StatusRecord, TrialState};
use crate::sweep::{Sweep, Trial, SWEEP_COPY, SWEEP_FILE, TRIAL_FILE};
use crate::{io_error, Failure};

mod local;
mod slurm;

/// Exit status after SIGTERM (128 + 15), once the checkpoint is written.
pub const TERMINATED: u8 = 143;

/// Where the trials run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Child processes of this command on this machine (`--jobs` at once).
    Local,
    /// A Slurm job array, submitted with `sbatch`.
    Slurm,
}

/// Arguments of `lstm-mnist sweep`.
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// The sweep file (JSON), for example configs/sweeps/notebook-lr.json.
    #[arg(long, short)]
    pub config: PathBuf,
    /// The sweep folder. Default: runs/<sweep name>/
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Trials run at once by the local backend; each gets max(1, physical cores / N) threads.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: u32,
    /// `local` (default) or `slurm` (a job array, submitted with sbatch).
    #[arg(long, value_enum, default_value = "local")]
    pub backend: Backend,
    /// With `--backend slurm`: wait for the job array to end, then print the table.
    #[arg(long)]
    pub wait: bool,
    /// Run only trial I, in this process (what the workers of both backends run).
    #[arg(long, value_name = "I")]
    pub trial: Option<usize>,
    /// Also rerun failed trials (finished ones are always skipped, interrupted ones continued).
    #[arg(long)]
    pub retry_failed: bool,
    /// Accept a sweep file that adds trials to the sweep folder's (more seeds,
    /// grid values, choices or random draws) or lengthens its runs: held
    /// trials keep their ids and continue, new ones are appended. Without it a
    /// changed sweep file is refused.
    #[arg(long)]
    pub extend: bool,
    /// libtorch threads of the trial run by --trial (the local backend sets it).
    #[arg(long, hide = true)]
    pub threads: Option<usize>,
}

/// Runs the sweep (or one trial of it); returns the exit status: 0 only when
/// every trial is done (or, for a Slurm submission without `--wait`, submitted).
pub fn run(args: &SweepArgs) -> Result<u8, Failure> {
    let sweep = Sweep::load(&args.config)?;
    let dir = args.out.clone().unwrap_or_else(|| Path::new("runs").join(&sweep.name));
    if let Some(id) = args.trial {
        let sweep = sweep.fit_folder(&dir, false)?;
        return run_trial(&sweep, &dir, id, args.threads);
    }
    crate::sweep::folder::check_out(&dir, &sweep.name)?;
    let sweep = sweep.fit_folder(&dir, args.extend)?;
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    write_json(&dir.join(SWEEP_COPY), &sweep.self_contained())?;
    let states = states(&sweep, &dir);
    write_sweep_json(&sweep, &dir, &states)?;
    let mut todo = Vec::new();
    for (trial, state) in sweep.trials.iter().zip(&states) {
        match state.status {
            Status::Done if !longer(&dir.join(&trial.name), &trial.experiment) => {}
            Status::Done => {
                eprintln!(
                    "trial {} ({}) is done; the sweep's run length changed, so it continues",
                    trial.id, trial.name
                );
                todo.push(trial.id)
            }
            Status::Running => match state.pid {
                Some(pid) => eprintln!(
                    "trial {} ({}) is still being trained by PID {pid} on this machine (left alone; wait for it, or \
                     stop it with `kill -INT {pid}` and rerun the sweep to continue it)",
                    trial.id, trial.name
                ),
                None => eprintln!("trial {} ({}) is running elsewhere; left alone", trial.id, trial.name),
            },
            Status::Failed if !args.retry_failed => {
                eprintln!("trial {} ({}) failed before; rerun it with --retry-failed", trial.id, trial.name)
            }
            _ => todo.push(trial.id),
        }
    }
    let done = states.iter().filter(|s| s.status == Status::Done).count();
    let pids: Vec<String> = states.iter().filter_map(|s| s.pid).map(|p| p.to_string()).collect();
    let held = if pids.is_empty() {
        String::new()
    } else {
        format!(", {} held by running processes (PID {})", pids.len(), pids.join(", "))
    };
    eprintln!(
        "sweep {}: {} trials in {}: {done} done, {} to run{held}",
        sweep.name,
        sweep.trials.len(),
        dir.display(),
        todo.len()
    );
    let code = match args.backend {
        Backend::Local => local::run(&sweep, &dir, &todo, args.jobs as usize)?,
        Backend::Slurm => match slurm::run(&sweep, &dir, &todo, args.wait)? {
            slurm::Outcome::Submitted => return Ok(0),
            slurm::Outcome::Waited(code) => code,
        },
    };
    finish(&sweep, &dir, code)
}

/// Prints the table of all trials, writes sweep.json; 0 when every trial is done.
fn finish(sweep: &Sweep, dir: &Path, code: Option<u8>) -> Result<u8, Failure> {
    let states = states(sweep, dir);
    write_sweep_json(sweep, dir, &states)?;
    print!("{}", table(sweep, &states));
    let done = states.iter().filter(|s| s.status == Status::Done).count();
    println!("{done} of {} trials done; compare them with: lstm-mnist compare {}", states.len(), dir.display());
    Ok(match code {
        Some(code) => code,
        None if done == states.len() => 0,
        None => 1,
    })
}

/// The state of every trial, from its folder.
pub fn states(sweep: &Sweep, dir: &Path) -> Vec<TrialState> {
    sweep.trials.iter().map(|t| status::trial_state(&dir.join(&t.name))).collect()
}

/// `sweep.json`: the sweep's name and file, and each trial's id, folder,
/// overrides, status and (when done) test accuracy.
fn write_sweep_json(sweep: &Sweep, dir: &Path, states: &[TrialState]) -> Result<(), Failure> {
    let trials: Vec<Value> = sweep
        .trials
        .iter()
        .zip(states)
        .map(|(t, s)| {
            let mut entry = json!({"id": t.id, "dir": t.name, "overrides": t.overrides_json(), "status": s.status});
            if let Some(accuracy) = s.accuracy {
                entry["accuracy"] = json!(accuracy);
            }
            if let Some(detail) = &s.detail {
                entry["detail"] = json!(detail);
            }
            if let Some(job) = &s.slurm_job {
                entry["slurm_job"] = json!(job);
            }
            entry
        })
        .collect();
    let value = json!({"name": sweep.name, "sweep_file": sweep.path.display().to_string(), "trials": trials});
    Ok(write_json(&dir.join(SWEEP_FILE), &value)?)
}

/// The table of trials: id, folder, status, test accuracy, detail.
pub fn table(sweep: &Sweep, states: &[TrialState]) -> String {
    let width = sweep.trials.iter().map(|t| t.name.len()).max().unwrap_or(5).max(5);
    let mut out = format!("{:>3}  {:<width$}  {:<11}  {:>8}  detail\n", "id", "trial", "status", "test acc");
    for (t, s) in sweep.trials.iter().zip(states) {
        let accuracy = s.accuracy.map_or_else(|| "-".to_owned(), |a| format!("{a:.4}"));
        let detail = s.detail.as_deref().unwrap_or("").lines().next().unwrap_or("");
        let line = format!("{:>3}  {:<width$}  {:<11}  {accuracy:>8}  {detail}", t.id, t.name, s.status.as_str());
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The Slurm job of this process, `<array job>_<task>`, when Slurm runs it.
fn slurm_job() -> Option<String> {
    let array = std::env::var("SLURM_ARRAY_JOB_ID").ok();
    let task = std::env::var("SLURM_ARRAY_TASK_ID").ok();
    match (array, task) {
        (Some(a), Some(t)) => Some(format!("{a}_{t}")),
        _ => std::env::var("SLURM_JOB_ID").ok(),
    }
}

/// Runs trial `id` here: skips it when done, continues it from its checkpoint
/// when interrupted, else starts it (replacing a failed attempt's files).
/// `trial.json` and `status.json` are written into its folder first.
fn run_trial(sweep: &Sweep, dir: &Path, id: usize, threads: Option<usize>) -> Result<u8, Failure> {
    let trial = sweep.trials.get(id).ok_or_else(|| {
        Failure::Usage(format!("--trial {id}: the sweep {} has trials 0 to {}", sweep.name, sweep.trials.len() - 1))
    })?;
    let run = RunFolder::new(dir.join(&trial.name));
    if status::trial_state(run.dir()).status == Status::Done && !longer(run.dir(), &trial.experiment) {
        eprintln!("trial {id} ({}) is done already", trial.name);
        return Ok(0);
    }
    let mut experiment = trial.experiment.clone();
    let slurm_threads = std::env::var("SLURM_CPUS_PER_TASK").ok().and_then(|n| n.parse().ok());
    if let Some(threads) = threads.or(slurm_threads) {
        experiment.threads = Some(threads);
    }
    let resume = run.config().is_file() && status::has_checkpoint(run.dir());
    if run.config().is_file() {
        check_same_config(&run, &experiment)?;
    }
    std::fs::create_dir_all(run.dir()).map_err(io_error(run.dir()))?;
    let lock = crate::run_folder::lock(run.dir())?;
    crate::run_folder::mark(run.dir())?;
    let record = json!({"sweep": sweep.name, "id": trial.id, "overrides": trial.overrides_json()});
    write_json(&run.dir().join(TRIAL_FILE), &record)?;
    let mut record = StatusRecord {
        status: Status::Running,
        host: status::host_name(),
        pid: std::process::id(),
        slurm_job: slurm_job(),
        exit_code: None,
        error: None,
    };
    let write_status = |record: &StatusRecord| {
        let path = run.dir().join(status::STATUS_FILE);
        status::write_record(run.dir(), record).map_err(io_error(&path))
    };
    write_status(&record)?;
    eprintln!(
        "trial {id} ({}): {} in {}",
        trial.name,
        if resume { "continuing" } else { "starting" },
        run.dir().display()
    );
    let result = train::train_experiment(experiment, &run, (resume, true), Some(&lock));
    (record.status, record.exit_code, record.error) = match &result {
        Ok(0) => (Status::Done, Some(0), None),
        Ok(code @ (INTERRUPTED | TERMINATED)) => (Status::Interrupted, Some(i32::from(*code)), None),
        Ok(code) => (Status::Failed, Some(i32::from(*code)), Some(format!("exit status {code}"))),
        Err(failure) => (Status::Failed, Some(i32::from(failure.exit_code())), Some(failure.to_string())),
    };
    write_status(&record)?;
    if record.status == Status::Interrupted {
        requeue_under_slurm();
    }
    result
}

/// Whether the finished run in `dir` has another run length than `experiment`
/// (the sweep file was changed to extend its trials).
fn longer(dir: &Path, experiment: &Experiment) -> bool {
    let Ok(saved) = RunFolder::new(dir).read_config() else { return false };
    let (a, b) = (&saved.train, &experiment.train);
    (a.training_iters, a.epochs, a.max_steps) != (b.training_iters, b.epochs, b.max_steps)
}

/// Under Slurm, a trial stopped by SIGTERM (sent by `--signal` before the
/// time limit, or by preemption) asks to be requeued: the new task continues
/// from the checkpoint just written.
fn requeue_under_slurm() {
    let Ok(job) = std::env::var("SLURM_JOB_ID") else { return };
    match std::process::Command::new("scontrol").args(["requeue", &job]).status() {
        Ok(s) if s.success() => eprintln!("Slurm job {job} requeued: it continues from its checkpoint"),
        Ok(s) => eprintln!("scontrol requeue {job} failed ({s}); rerun the sweep to continue the trial"),
        Err(e) => eprintln!("scontrol requeue {job}: {e}; rerun the sweep to continue the trial"),
    }
}

/// Refuses to continue a trial folder whose run has another config than the
/// trial (the sweep file changed since): only `threads` may differ.
fn check_same_config(run: &RunFolder, experiment: &Experiment) -> Result<(), Failure> {
    let saved = Experiment::load(&run.config(), &[])?;
    let mut a = serde_json::to_value(&saved).unwrap_or(Value::Null);
    let mut b = serde_json::to_value(experiment).unwrap_or(Value::Null);
    for v in [&mut a, &mut b] {
        if let Value::Object(map) = v {
            map.remove("threads");
        }
    }
    let (a, b) = (crate::compare::flatten(&a), crate::compare::flatten(&b));
    let differs = a.keys().chain(b.keys()).find(|k| a.get(*k) != b.get(*k) && !is_length_key(k));
    match differs {
        None => Ok(()),
        Some(key) => Err(Failure::Usage(format!(
            "trial folder {} holds a run with another `{key}` ({} there, {} in the sweep): the sweep file changed \
             since; remove the folder or give the sweep another --out",
            run.dir().display(),
            a.get(key).map_or("nothing".into(), |v| v.to_string()),
            b.get(key).map_or("nothing".into(), |v| v.to_string()),
        ))),
    }
}

/// Run-length and cadence keys a sweep may change for trials already started
/// (they continue with the new value, as `train --resume --set` does).
fn is_length_key(key: &str) -> bool {
    train::RESUME_KEYS.iter().any(|k| key == *k || key.starts_with(&format!("{k}.")))
}

/// The command line of a worker running trial `trial` of the sweep in `dir`.
pub fn worker_args(dir: &Path, trial: &Trial, threads: Option<usize>) -> Vec<String> {
    let mut args = vec![
        "sweep".to_owned(),
        "--config".into(),
        dir.join(SWEEP_COPY).display().to_string(),
        "--out".into(),
        dir.display().to_string(),
        "--trial".into(),
        trial.id.to_string(),
    ];
    if let Some(threads) = threads {
        args.extend(["--threads".into(), threads.to_string()]);
    }
    args
}

/// This binary's path, for workers. When it was replaced while the sweep
/// runs (a rebuild), Linux names it `... (deleted)`: the new file at the same
/// path is used.
fn own_binary() -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe().map_err(io_error(Path::new("/proc/self/exe")))?;
    if exe.exists() {
        return Ok(exe);
    }
    let text = exe.display().to_string();
    match text.strip_suffix(" (deleted)").map(PathBuf::from) {
        Some(path) if path.exists() => Ok(path),
        _ => Err(Failure::Usage(format!("{text}: this binary is gone; rerun the sweep with the installed one"))),
    }
}

/// Whether stderr is a terminal (progress lines) or not (one line per event).
fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}
