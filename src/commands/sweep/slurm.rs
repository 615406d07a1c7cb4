//! The Slurm backend: `DIR/slurm/array.sbatch`, a job array whose task `i`
//! runs `lstm-mnist sweep --config DIR/sweep-config.json --out DIR --trial i`,
//! submitted with `sbatch --parsable`; `--wait` polls `squeue` until the
//! array has left the queue.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::sweep::status::{self, Status};
use crate::sweep::{SlurmSection, Sweep};
use crate::{io_error, Failure};

/// What the submission came to.
pub enum Outcome {
    /// Submitted, not waited for.
    Submitted,
    /// Waited for; `Some(status)` when the wait was interrupted.
    Waited(Option<u8>),
}

/// Seconds between two `squeue` polls.
const POLL: Duration = Duration::from_secs(2);

/// `0-3,5,7-8`: the ids as Slurm's `--array` ranges.
pub fn array_ranges(ids: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j > i {
            let _ = write!(out, "{}-{}", ids[i], ids[j]);
        } else {
            let _ = write!(out, "{}", ids[i]);
        }
        i = j + 1;
    }
    out
}

/// Single-quotes `text` for the shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The job array script for trials `ids` of the sweep in `dir` (absolute).
pub fn script(name: &str, dir: &Path, ids: &[usize], slurm: &SlurmSection, exe: &Path, cwd: &Path) -> String {
    let mut s = String::from("#!/bin/bash\n# Written by `lstm-mnist sweep --backend slurm`: one task per trial.\n");
    let mut line = |option: String| {
        let _ = writeln!(s, "#SBATCH {option}");
    };
    line(format!("--job-name={name}"));
    let parallel = slurm.max_parallel.map(|p| format!("%{p}")).unwrap_or_default();
    line(format!("--array={}{parallel}", array_ranges(ids)));
    line(format!("--output={}/slurm/%A_%a.out", dir.display()));
    line("--open-mode=append".into());
    line(format!("--chdir={}", cwd.display()));
    // Requeued when preempted; SIGTERM to the trial (the batch shell execs it)
    // before the time limit: it writes a checkpoint, asks to be requeued, and the
    // new task continues from the checkpoint.
    line("--requeue".into());
    line(format!("--signal=B:TERM@{}", slurm.signal_seconds.unwrap_or(120)));
    let options = [
        ("partition", slurm.partition.clone()),
        ("time", slurm.time.clone()),
        ("cpus-per-task", slurm.cpus_per_task.map(|c| c.to_string())),
        ("mem", slurm.mem.clone()),
        ("gres", slurm.gres.clone()),
    ];
    for (key, value) in options {
        if let Some(value) = value {
            line(format!("--{key}={value}"));
        }
    }
    for extra in &slurm.extra {
        let _ = writeln!(s, "{extra}");
    }
    let _ = writeln!(
        s,
        "\nexec {} sweep --config {} --out {} --trial \"$SLURM_ARRAY_TASK_ID\"",
        quote(&exe.display().to_string()),
        quote(&dir.join(crate::sweep::SWEEP_COPY).display().to_string()),
        quote(&dir.display().to_string())
    );
    s
}

fn absolute(path: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(path).map_err(io_error(path))
}

/// Runs a Slurm client command, returning its stdout; the error names it.
fn client(program: &str, args: &[&str]) -> Result<String, Failure> {
    let output = Command::new(program).args(args).output().map_err(|e| {
        Failure::Usage(format!(
            "--backend slurm: cannot run `{program}` ({e}): install the Slurm client (apt-get install slurm-client) \
             and point SLURM_CONF at the cluster, or use --backend local"
        ))
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Failure::Usage(format!("`{program} {}` failed: {}", args.join(" "), stderr.trim())));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Submits the trials `todo` (not yet done) as a job array; with `wait`, waits for it.
pub fn run(sweep: &Sweep, dir: &Path, todo: &[usize], wait: bool) -> Result<Outcome, Failure> {
    if todo.is_empty() {
        return Ok(Outcome::Waited(None));
    }
    let dir = absolute(dir)?;
    let slurm_dir = dir.join("slurm");
    std::fs::create_dir_all(&slurm_dir).map_err(io_error(&slurm_dir))?;
    let exe = super::own_binary()?;
    let cwd = absolute(Path::new("."))?;
    let path = slurm_dir.join("array.sbatch");
    let text = script(&sweep.name, &dir, todo, &sweep.file.slurm, &exe, &cwd);
    atomic_file::write(&path, text).map_err(io_error(&path))?;
    let out = client("sbatch", &["--parsable", &path.display().to_string()])?;
    let job = out.trim().split(';').next().unwrap_or("").to_owned();
    if job.is_empty() {
        return Err(Failure::Usage(format!("sbatch --parsable {} printed no job id", path.display())));
    }
    let log = slurm_dir.join("jobs.log");
    let entry = format!("{job} {}\n", array_ranges(todo));
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, entry.as_bytes()));
    appended.map_err(io_error(&log))?;
    println!("submitted Slurm job array {job}: trials {} (outputs in {})", array_ranges(todo), slurm_dir.display());
    if !wait {
        println!("follow it with `squeue -j {job}`; rerun this command (without --backend slurm, or with --wait) for the table");
        return Ok(Outcome::Submitted);
    }
    wait_for(&job, sweep, &dir, todo)
}

/// Polls `squeue` until job array `job` has left the queue (`sbatch --wait`
/// can return up to 32 s late), then marks trials whose task ended without a
/// result as failed.
fn wait_for(job: &str, sweep: &Sweep, dir: &Path, todo: &[usize]) -> Result<Outcome, Failure> {
    super::local::install_handlers();
    let mut last = String::new();
    loop {
        let queued = Command::new("squeue").args(["-h", "-j", job, "-o", "%T"]).output();
        let states = match queued {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            // An unknown job id: it left the queue long ago.
            Ok(o) if String::from_utf8_lossy(&o.stderr).contains("Invalid job id") => String::new(),
            Ok(o) => {
                return Err(Failure::Usage(format!("squeue -j {job}: {}", String::from_utf8_lossy(&o.stderr).trim())))
            }
            Err(e) => return Err(Failure::Usage(format!("squeue: {e}"))),
        };
        if states.trim().is_empty() {
            break;
        }
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for state in states.lines() {
            *counts.entry(state.trim()).or_default() += 1;
        }
        let summary = counts.iter().map(|(s, n)| format!("{n} {}", s.to_lowercase())).collect::<Vec<_>>().join(", ");
        if summary != last {
            eprintln!("job {job}: {summary}");
            last = summary;
        }
        if super::local::signalled() {
            eprintln!("stopped waiting; job {job} keeps running (cancel it with `scancel {job}`)");
            return Ok(Outcome::Waited(Some(super::INTERRUPTED)));
        }
        std::thread::sleep(POLL);
    }
    for &id in todo {
        let trial = &sweep.trials[id];
        let trial_dir = dir.join(&trial.name);
        let state = status::trial_state(&trial_dir);
        // Never started, or still "running" after its task left the queue (killed hard).
        if matches!(state.status, Status::Running | Status::Pending) {
            let out = dir.join("slurm").join(format!("{job}_{id}.out"));
            let record = status::StatusRecord {
                status: Status::Failed,
                host: status::host_name(),
                pid: std::process::id(),
                slurm_job: Some(format!("{job}_{id}")),
                exit_code: None,
                error: Some(format!("the Slurm task ended without a result; see {}", out.display())),
            };
            std::fs::create_dir_all(&trial_dir).map_err(io_error(&trial_dir))?;
            status::write_record(&trial_dir, &record).map_err(io_error(&trial_dir))?;
        }
    }
    Ok(Outcome::Waited(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_ranges_compress_runs() {
        assert_eq!(array_ranges(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_ranges(&[0, 2, 3, 5, 7, 8]), "0,2-3,5,7-8");
        assert_eq!(array_ranges(&[4]), "4");
    }

    #[test]
    fn script_has_the_array_options_and_the_worker_command() {
        let slurm = SlurmSection {
            partition: Some("gpu".into()),
            time: Some("01:00:00".into()),
            cpus_per_task: Some(4),
            mem: Some("8G".into()),
            gres: Some("gpu:1".into()),
            max_parallel: Some(8),
            extra: vec!["#SBATCH --account=abc".into()],
            signal_seconds: None,
        };
        let s = script("lr", Path::new("/r/lr"), &[0, 1, 2, 5], &slurm, Path::new("/bin/lstm mnist"), Path::new("/w"));
        for line in [
            "#SBATCH --job-name=lr",
            "#SBATCH --array=0-2,5%8",
            "#SBATCH --output=/r/lr/slurm/%A_%a.out",
            "#SBATCH --requeue",
            "#SBATCH --signal=B:TERM@120",
            "#SBATCH --chdir=/w",
            "#SBATCH --partition=gpu",
            "#SBATCH --time=01:00:00",
            "#SBATCH --cpus-per-task=4",
            "#SBATCH --mem=8G",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --account=abc",
            "exec '/bin/lstm mnist' sweep --config '/r/lr/sweep-config.json' --out '/r/lr' --trial \"$SLURM_ARRAY_TASK_ID\"",
        ] {
            assert!(s.lines().any(|l| l == line), "{line} missing in\n{s}");
        }
        assert!(s.starts_with("#!/bin/bash\n"));
    }
}
