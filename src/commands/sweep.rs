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
use crate::run_folder::write_json;
use crate::sweep::asha::{self, Metric};
use crate::sweep::journal::Journal;
use crate::sweep::status::{self, Status, TrialState};
use crate::sweep::strategy::{self as search, Work};
use crate::sweep::worker::{self, Prepared};
use crate::sweep::{Search, Sweep, SWEEP_COPY, SWEEP_FILE};
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
    /// With --trial: stop after this step with a checkpoint (an ASHA rung; the local backend sets it).
    #[arg(long, hide = true, requires = "trial")]
    pub until_step: Option<i64>,
}

/// Runs the sweep (or one trial of it); returns the exit status: 0 only when
/// every trial is done (or, for a Slurm submission without `--wait`, submitted).
pub fn run(args: &SweepArgs) -> Result<u8, Failure> {
    let sweep = Sweep::load(&args.config)?;
    let dir = args.out.clone().unwrap_or_else(|| Path::new("runs").join(&sweep.name));
    if let Some(id) = args.trial {
        let sweep = sweep.fit_folder(&dir, false)?;
        return run_trial(&sweep, &dir, Work { id, rung: 0, until: args.until_step }, args.threads);
    }
    crate::sweep::folder::check_out(&dir, &sweep.name)?;
    let sweep = sweep.fit_folder(&dir, args.extend)?;
    let asha = matches!(sweep.file.search, Search::Asha(_));
    if asha && args.backend == Backend::Slurm {
        return Err(Failure::Usage(
            "`search.asha` runs with --backend local for now (Slurm workers that pull work from the journal are not \
             built yet); run the sweep without --backend slurm"
                .into(),
        ));
    }
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    write_json(&dir.join(SWEEP_COPY), &sweep.self_contained())?;
    let states = states(&sweep, &dir);
    write_sweep_json(&sweep, &dir, &states)?;
    let todo = if asha { Vec::new() } else { todo(&sweep, &dir, &states, args.retry_failed) };
    let done = states.iter().filter(|s| s.status == Status::Done).count();
    let pids: Vec<String> = states.iter().filter_map(|s| s.pid).map(|p| p.to_string()).collect();
    let held = if pids.is_empty() {
        String::new()
    } else {
        format!(", {} held by running processes (PID {})", pids.len(), pids.join(", "))
    };
    let to_run = if asha { "the rest as ASHA decides".to_owned() } else { format!("{} to run", todo.len()) };
    eprintln!("sweep {}: {} trials in {}: {done} done, {to_run}{held}", sweep.name, sweep.trials.len(), dir.display());
    let code = match args.backend {
        Backend::Local => local::run(&sweep, &dir, search::for_sweep(&sweep, &todo).as_mut(), args.jobs as usize)?,
        Backend::Slurm => match slurm::run(&sweep, &dir, &todo, args.wait)? {
            slurm::Outcome::Submitted => return Ok(0),
            slurm::Outcome::Waited(code) => code,
        },
    };
    finish(&sweep, &dir, code)
}

/// The trials to run (not done, not running, failed only with
/// `retry_failed`), saying why each other one is left alone.
fn todo(sweep: &Sweep, dir: &Path, states: &[TrialState], retry_failed: bool) -> Vec<usize> {
    let mut todo = Vec::new();
    for (trial, state) in sweep.trials.iter().zip(states) {
        match state.status {
            Status::Done if !worker::longer(&dir.join(&trial.name), &trial.experiment) => {}
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
            Status::Failed if !retry_failed => {
                eprintln!("trial {} ({}) failed before; rerun it with --retry-failed", trial.id, trial.name)
            }
            _ => todo.push(trial.id),
        }
    }
    todo
}

/// Prints the table of all trials, writes sweep.json; 0 when every trial is
/// done (or, with ASHA, done or stopped at its rung).
fn finish(sweep: &Sweep, dir: &Path, code: Option<u8>) -> Result<u8, Failure> {
    let mut states = states(sweep, dir);
    let best = match &sweep.file.search {
        Search::Asha(config) => Some(asha_standings(sweep, dir, config, &mut states)?),
        Search::All => None,
    };
    write_sweep_json(sweep, dir, &states)?;
    print!("{}", table(sweep, &states));
    if let Some(Some(best)) = best {
        println!("{best}");
    }
    let settled = states.iter().filter(|s| matches!(s.status, Status::Done | Status::Stopped)).count();
    let done = states.iter().filter(|s| s.status == Status::Done).count();
    println!("{done} of {} trials done; compare them with: lstm-mnist compare {}", states.len(), dir.display());
    Ok(match code {
        Some(code) => code,
        None if settled == states.len() => 0,
        None => 1,
    })
}

/// ASHA: each trial's deepest rung and metric from the journal, in its
/// state's detail (a trial the search stopped is `stopped`); returns the
/// line naming the winner, the best of the deepest rung.
fn asha_standings(
    sweep: &Sweep,
    dir: &Path,
    config: &crate::sweep::AshaConfig,
    states: &mut [TrialState],
) -> Result<Option<String>, Failure> {
    let journal = Journal::open(dir)?;
    for (id, standing) in asha::standings(&journal) {
        let Some(state) = states.get_mut(id) else { continue };
        if standing.stopped && state.status != Status::Done {
            state.status = Status::Stopped;
        }
        if let Some((_, steps, metric)) = standing.best_rung {
            if matches!(state.status, Status::Done | Status::Stopped) {
                state.detail = Some(format!("{steps} steps, {} {metric:.4}", config.metric));
            }
        }
    }
    let metric = Metric::parse(&config.metric).unwrap_or(Metric::ValidationAccuracy);
    Ok(asha::winner(&journal, metric).and_then(|(id, steps, value)| {
        let trial = sweep.trials.get(id)?;
        Some(format!("best on validation: trial {id} ({}): {} {value:.4} at {steps} steps", trial.name, config.metric))
    }))
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

/// Runs `work` here: skips it when done (or at its rung already), continues
/// it from its checkpoint when it has one, else starts it (replacing a failed
/// attempt's files); with `work.until`, stops after that step with a checkpoint.
fn run_trial(sweep: &Sweep, dir: &Path, work: Work, threads: Option<usize>) -> Result<u8, Failure> {
    let mut run = match worker::prepare(sweep, dir, work, threads)? {
        Prepared::Skip(message) => {
            eprintln!("{message}");
            return Ok(0);
        }
        Prepared::Run(run) => run,
    };
    let until = work.until.map(|u| format!(" to step {u}")).unwrap_or_default();
    eprintln!(
        "trial {} ({}): {}{until} in {}",
        work.id,
        run.trial.name,
        if run.resume { "continuing" } else { "starting" },
        run.run.dir().display()
    );
    let result = train::train_until(run.experiment.clone(), &run.run, (run.resume, true), Some(&run.lock), work.until);
    let (status, code, error) = match &result {
        Ok(0) if work.until.is_some() => (Status::Stopped, Some(0), None),
        Ok(0) => (Status::Done, Some(0), None),
        Ok(code @ (INTERRUPTED | TERMINATED)) => (Status::Interrupted, Some(i32::from(*code)), None),
        Ok(code) => (Status::Failed, Some(i32::from(*code)), Some(format!("exit status {code}"))),
        Err(failure) => (Status::Failed, Some(i32::from(failure.exit_code())), Some(failure.to_string())),
    };
    run.record(status, code, error)?;
    if status == Status::Interrupted {
        requeue_under_slurm();
    }
    result
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

/// The command line of a worker running `work` of the sweep in `dir`.
pub fn worker_args(dir: &Path, work: &Work, threads: Option<usize>) -> Vec<String> {
    let mut args = vec![
        "sweep".to_owned(),
        "--config".into(),
        dir.join(SWEEP_COPY).display().to_string(),
        "--out".into(),
        dir.display().to_string(),
        "--trial".into(),
        work.id.to_string(),
    ];
    if let Some(until) = work.until {
        args.extend(["--until-step".into(), until.to_string()]);
    }
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
