//! The local backend: trials as child processes of this binary, `jobs` at a
//! time, each with max(1, physical cores / jobs) libtorch threads. Each child
//! is in a process group of its own, so a Ctrl-C at the terminal reaches only
//! this process, which forwards it (and SIGTERM; SIGHUP, from a closed
//! terminal or a dropped ssh connection, as SIGTERM) to every child exactly
//! once per signal and waits for them to write their checkpoints. Each child
//! also gets SIGTERM from the kernel when this process dies without
//! forwarding (`kill -9`), so that no trial trains on unsupervised.

use std::fs::OpenOptions;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use crate::run_folder::RunFolder;
use crate::sweep::journal::Journal;
use crate::sweep::status::{self, Status};
use crate::sweep::strategy::{SearchStrategy, Work};
use crate::sweep::Sweep;
use crate::{io_error, Failure};
use trainer::MetricRecord;

/// The last signal received (0: none), and how many arrived.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
static SIGNALS: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only atomics here: async-signal-safe.
    SIGNAL.store(signal, Ordering::SeqCst);
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

/// Exit status after SIGHUP (128 + 1), once every trial has stopped.
pub const HANGUP: u8 = 129;

/// Catches SIGINT, SIGTERM and SIGHUP from now on (see [`signalled`]).
pub(super) fn install_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to atomics, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGHUP, handler);
    }
}

/// The signal a child gets for `signal` received here: trials checkpoint
/// and stop on SIGINT and SIGTERM; a hang-up becomes SIGTERM.
fn forwarded_as(signal: libc::c_int) -> libc::c_int {
    if signal == libc::SIGHUP {
        libc::SIGTERM
    } else {
        signal
    }
}

/// Makes the child about to be spawned get SIGTERM when this process dies
/// (Linux `PR_SET_PDEATHSIG`); a child whose parent is gone already fails to start.
fn terminate_with_parent(command: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (prctl, getppid), allocating nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Whether SIGINT, SIGTERM or SIGHUP arrived since [`install_handlers`].
pub(super) fn signalled() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

struct Running {
    id: usize,
    work: Work,
    child: Child,
    started: Instant,
    bar: Option<indicatif::ProgressBar>,
}

/// The last step written to a trial's metrics.jsonl, and its loss.
fn last_step(dir: &Path) -> Option<(u64, f64)> {
    let records = RunFolder::new(dir).read_metrics().ok()?;
    records.iter().rev().find_map(|r| match *r {
        MetricRecord::Train { step, loss, .. } => Some((u64::try_from(step).ok()?, loss)),
        MetricRecord::Validation { .. } => None,
    })
}

fn start(
    sweep: &Sweep,
    dir: &Path,
    work: Work,
    threads: usize,
    bars: Option<&indicatif::MultiProgress>,
) -> Result<Running, Failure> {
    let id = work.id;
    let trial = &sweep.trials[id];
    let trial_dir = dir.join(&trial.name);
    std::fs::create_dir_all(&trial_dir).map_err(io_error(&trial_dir))?;
    let log_path = trial_dir.join("train.log");
    let log = OpenOptions::new().create(true).append(true).open(&log_path).map_err(io_error(&log_path))?;
    let err = log.try_clone().map_err(io_error(&log_path))?;
    let exe = super::own_binary()?;
    let mut command = Command::new(&exe);
    command.args(super::worker_args(dir, &work, Some(threads))).stdin(Stdio::null()).stdout(log).stderr(err);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    terminate_with_parent(&mut command);
    let child = command.spawn().map_err(io_error(&exe))?;
    let bar = bars.map(|bars| {
        let steps = work.until.or(trial.experiment.train.max_steps).or_else(|| {
            let t = &trial.experiment.train;
            t.training_iters.map(|i| (i - 1) / t.batch_size.max(1))
        });
        let bar = bars.add(indicatif::ProgressBar::new(steps.unwrap_or(0).max(0) as u64));
        let template = "{prefix:.bold} {bar:25} {pos}/{len} steps  {elapsed_precise}  {msg}";
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(format!("[{id}] {}", trial.name));
        bar
    });
    if bar.is_none() {
        let until = work.until.map(|u| format!(" to step {u}")).unwrap_or_default();
        eprintln!("trial {id} ({}): started{until} (log {})", trial.name, log_path.display());
    }
    Ok(Running { id, work, child, started: Instant::now(), bar })
}

/// Reports a finished child.
fn ended(sweep: &Sweep, dir: &Path, running: &Running, code: Option<i32>) {
    let trial = &sweep.trials[running.id];
    let state = status::trial_state(&dir.join(&trial.name));
    let seconds = running.started.elapsed().as_secs_f64();
    let what = match (state.status, state.accuracy) {
        (Status::Done, Some(accuracy)) => format!("done, test accuracy {accuracy:.4}"),
        (Status::Interrupted, _) => "interrupted; rerun the sweep to continue it".to_owned(),
        (Status::Stopped, _) => format!("reached step {}", running.work.until.unwrap_or_default()),
        (status, _) => {
            let why = state.detail.as_deref().and_then(|d| d.lines().next()).unwrap_or("no detail");
            format!("{} (exit status {}): {why}", status.as_str(), code.map_or("-".into(), |c| c.to_string()))
        }
    };
    let line = format!(
        "trial {} ({}): {what}, {seconds:.1} s (log {})",
        running.id,
        trial.name,
        dir.join(&trial.name).join("train.log").display()
    );
    match &running.bar {
        Some(bar) => {
            bar.finish_and_clear();
            bar.println(line);
        }
        None => eprintln!("{line}"),
    }
}

/// Runs the work `strategy` proposes, `jobs` units at a time, until it
/// proposes nothing more and nothing runs. Returns `Some(130, 143 or 129)`
/// when stopped by a signal (every child has then stopped), else `None`.
pub fn run(sweep: &Sweep, dir: &Path, strategy: &mut dyn SearchStrategy, jobs: usize) -> Result<Option<u8>, Failure> {
    let jobs = jobs.max(1);
    let threads = (num_cpus::get_physical() / jobs).max(1);
    install_handlers();
    let mut announced = false;
    let mut journal = Journal::open(dir)?;
    let bars = super::on_terminal().then(indicatif::MultiProgress::new);
    let mut running: Vec<Running> = Vec::new();
    // Trials whose work failed in this session: not proposed again.
    let mut failed: Vec<usize> = Vec::new();
    let mut forwarded = 0;
    let mut failure = None;
    loop {
        forwarded = forward_signals(&running, forwarded);
        while forwarded == 0 && failure.is_none() && running.len() < jobs {
            let busy: Vec<usize> = running.iter().map(|r| r.id).chain(failed.iter().copied()).collect();
            let work = match strategy.next(&mut journal, &busy) {
                Ok(Some(work)) => work,
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e.into());
                    break;
                }
            };
            if !std::mem::replace(&mut announced, true) {
                eprintln!("running trials {jobs} at a time, {threads} threads each");
            }
            match start(sweep, dir, work, threads, bars.as_ref()) {
                Ok(r) => running.push(r),
                // Starts no more trials; those running are waited for.
                Err(e) => failure = Some(e),
            }
        }
        if running.is_empty() {
            if let Some(e) = failure {
                return Err(e);
            }
            break;
        }
        for r in poll(sweep, dir, &mut running)? {
            if r.exit == Some(0) {
                if let Err(e) = strategy.ended(&r.work, dir, &mut journal) {
                    failure.get_or_insert(e.into());
                }
            } else {
                failed.push(r.work.id);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if SIGNAL.load(Ordering::SeqCst) == 0 {
        strategy.finish(&mut journal)?;
    }
    Ok(match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        libc::SIGTERM => Some(super::TERMINATED),
        libc::SIGHUP => Some(HANGUP),
        _ => Some(super::INTERRUPTED),
    })
}

/// Forwards signals that arrived since `forwarded` were to every running
/// child; returns the number forwarded so far.
fn forward_signals(running: &[Running], forwarded: i32) -> i32 {
    let signals = SIGNALS.load(Ordering::SeqCst);
    if signals <= forwarded {
        return forwarded;
    }
    let signal = SIGNAL.load(Ordering::SeqCst);
    for r in running {
        // SAFETY: kill(2) with a child's pid.
        unsafe { libc::kill(r.child.id() as libc::pid_t, forwarded_as(signal)) };
    }
    if forwarded == 0 {
        eprintln!("signal {signal}: stopping {} running trials (each writes a checkpoint)", running.len());
    }
    signals
}

/// A unit of work whose worker ended.
struct Ended {
    work: Work,
    exit: Option<i32>,
}

/// Reaps the children that ended (reporting each) and updates the others' bars.
fn poll(sweep: &Sweep, dir: &Path, running: &mut Vec<Running>) -> Result<Vec<Ended>, Failure> {
    let mut ended_now = Vec::new();
    let mut i = 0;
    while i < running.len() {
        match running[i].child.try_wait() {
            Ok(Some(exit)) => {
                let r = running.remove(i);
                ended(sweep, dir, &r, exit.code());
                ended_now.push(Ended { work: r.work, exit: exit.code() });
            }
            Ok(None) => {
                let r = &running[i];
                if let (Some(bar), Some((step, loss))) = (&r.bar, last_step(&dir.join(&sweep.trials[r.id].name))) {
                    bar.set_position(step);
                    bar.set_message(format!("loss {loss:.4}"));
                }
                i += 1;
            }
            Err(e) => return Err(Failure::Usage(format!("waiting for trial {}: {e}", running[i].id))),
        }
    }
    Ok(ended_now)
}
