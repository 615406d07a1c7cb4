//! Guarding run folders: the exclusive lock a writing process holds, the
//! marker that says a folder holds a run of this program, the checks before a
//! new run (or an evaluation's output) goes into a folder, and `--force`'s
//! setting aside of the earlier run until the new one has saved its results.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::{CHECKPOINTS, CONFIG, LOCK, MARKER, PREVIOUS, RUN_FILES};
use crate::{io_error, ExperimentError};

/// Prefix of the file that checks a folder is writable (removed at once).
const PROBE: &str = ".lstm-mnist-write-test-";

/// What the marker file holds (its presence is what counts).
const MARKER_TEXT: &str = "a run folder of lstm-mnist: `train --force` may replace the run's files here\n";

/// An exclusive advisory lock on a folder's [`LOCK`] file, released when
/// dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Takes the exclusive lock of the existing folder `dir` (creating its lock
/// file) and writes this process's PID into the lock file. A folder locked
/// by another process is a usage error naming the folder and that
/// process's PID.
///
/// A lock file that is not a regular file (a symbolic link, a FIFO, a
/// folder, a device) is never followed or written: that is a usage error
/// naming it.
pub fn lock(dir: &Path) -> Result<RunLock, ExperimentError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(LOCK);
    check_lock_file(dir, &path, std::fs::symlink_metadata(&path).ok())?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|source| match source.raw_os_error() {
            Some(libc::ELOOP) => not_a_lock_file(dir, &path, "a symbolic link"),
            _ => ExperimentError::Io { path: path.clone(), source },
        })?;
    check_lock_file(dir, &path, file.metadata().ok())?;
    // SAFETY: flock(2) on a descriptor this function owns; no memory is passed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(ExperimentError::Io { path, source: error });
        }
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let holder = match text.trim().parse::<u32>() {
            Ok(pid) => format!("PID {pid}"),
            Err(_) => "a process that has not written its PID yet".to_owned(),
        };
        return Err(ExperimentError::Usage(format!(
            "run folder {} is in use by another lstm-mnist process ({holder}, holding the lock {}): \
             wait until it has finished, or choose another folder",
            dir.display(),
            path.display()
        )));
    }
    let pid = format!("{}\n", std::process::id());
    let written = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(pid.as_bytes()));
    written.map_err(io_error(&path))?;
    Ok(RunLock { _file: file })
}

/// A usage error unless `meta` (of `dir`'s lock file `path`, if it exists)
/// is a regular file's.
fn check_lock_file(dir: &Path, path: &Path, meta: Option<std::fs::Metadata>) -> Result<(), ExperimentError> {
    match meta {
        Some(meta) if !meta.file_type().is_file() => {
            Err(not_a_lock_file(dir, path, atomic_file::describe(&meta.file_type())))
        }
        _ => Ok(()),
    }
}

fn not_a_lock_file(dir: &Path, path: &Path, kind: &str) -> ExperimentError {
    ExperimentError::Usage(format!(
        "run folder {}: its lock file {} is {kind}, not a regular file; it is not followed or written: \
         remove it, or choose another folder",
        dir.display(),
        path.display()
    ))
}

/// Files a process claiming a folder has in it for a moment, which say
/// nothing about what the folder holds: the lock file, the write probe and
/// the marker's temporary.
fn is_bookkeeping(name: &str) -> bool {
    name == LOCK || name.starts_with(PROBE) || atomic_file::target_of(name) == Some(MARKER)
}

/// The names in `dir` but bookkeeping files; empty when `dir` cannot be read.
fn contents(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !is_bookkeeping(n)).collect()
}

/// Whether `dir` is a folder without content (a lock file aside), or missing.
pub fn is_free(dir: &Path) -> bool {
    contents(dir).is_empty()
}

/// Whether `dir` holds a run that `train --resume` can continue: its
/// config.json and at least one complete checkpoint.
pub fn resumable(dir: &Path) -> bool {
    dir.join(CONFIG).is_file() && trainer::checkpoint::latest(&dir.join(CHECKPOINTS)).is_ok_and(|c| c.is_some())
}

/// The nearest existing ancestor of `dir` (or `dir`), which must be a
/// folder this process can create files in; `what` names the option for messages.
fn writable_ancestor<'a>(dir: &'a Path, what: &str) -> Result<&'a Path, ExperimentError> {
    let mut existing = dir;
    loop {
        match std::fs::metadata(existing) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                return Err(ExperimentError::Usage(format!(
                    "{what} {}: {} is a file, not a folder; choose another --out",
                    dir.display(),
                    existing.display()
                )))
            }
            // Missing (or below a file, which the parent check reports).
            Err(_) => match existing.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
                _ => {
                    existing = Path::new(".");
                    break;
                }
            },
        }
    }
    let probe = existing.join(format!("{PROBE}{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(existing)
        }
        Err(e) => Err(ExperimentError::Usage(format!(
            "{what} {}: cannot write into {} ({e}); choose another --out",
            dir.display(),
            existing.display()
        ))),
    }
}

/// Checks, without writing anything there, that a new run may go into
/// `dir`: it must be creatable and writable, and empty (a lock file aside)
/// unless `force` is given and it is a run folder of this program (it holds
/// [`MARKER`]); `--force` never replaces anything else.
pub fn check_new_run_dir(dir: &Path, force: bool) -> Result<(), ExperimentError> {
    if writable_ancestor(dir, "run folder")? != dir || is_free(dir) {
        return Ok(());
    }
    let marked = dir.join(MARKER).is_file();
    if marked && force {
        return Ok(());
    }
    let shown = dir.display();
    let message = match (marked, resumable(dir)) {
        (true, true) => format!(
            "run folder {shown} already holds a run: continue it with `lstm-mnist train --resume {shown}`, \
             replace it with --force, or choose another --out"
        ),
        (true, false) => {
            format!("run folder {shown} already holds a run: replace it with --force, or choose another --out")
        }
        (false, true) => format!(
            "run folder {shown} holds a run without the {MARKER} marker of a run folder (written before runs were \
             marked, or by hand), which --force does not replace: continue it with `lstm-mnist train --resume {shown}` \
             (that marks it), or choose another --out"
        ),
        (false, false) => format!(
            "run folder {shown} is not empty and is not a run folder of lstm-mnist (it has no {MARKER} file), \
             so neither a new run nor --force may write there: choose another --out, or a new or empty folder"
        ),
    };
    Err(ExperimentError::Usage(message))
}

/// Writes [`MARKER`] into `dir` when it is missing.
pub fn mark(dir: &Path) -> Result<(), ExperimentError> {
    let path = dir.join(MARKER);
    if path.is_file() {
        return Ok(());
    }
    atomic_file::write(&path, MARKER_TEXT).map_err(io_error(&path))
}

/// Claims `dir` for a new run, after every up-front check has passed:
/// creates it, takes its lock (unless `held`: the caller holds it already),
/// checks again under the lock that it may take a new run, marks it and,
/// with `force`, sets the earlier run's files aside. Returns the lock taken
/// here and the aside copy (`None` when there was no earlier run).
pub fn prepare_new_run(
    dir: &Path,
    force: bool,
    held: bool,
) -> Result<(Option<RunLock>, Option<Aside>), ExperimentError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let lock = if held { None } else { Some(lock(dir)?) };
    check_new_run_dir(dir, force)?;
    warn_previous(dir);
    let aside = if force && dir.join(MARKER).is_file() { Aside::set(dir)? } else { None };
    mark(dir)?;
    Ok((lock, aside))
}

/// Warns about earlier runs a killed `--force` run left set aside in `dir`.
pub fn warn_previous(dir: &Path) {
    for name in contents(dir).into_iter().filter(|n| n.starts_with(PREVIOUS)) {
        tracing::warn!(
            folder = %dir.join(&name).display(),
            "an earlier run set aside by a `train --force` that was killed before it finished; \
             move its files back into the run folder to restore that run, or delete the folder"
        );
    }
}

/// The earlier run's files, moved by `--force` into `RUN/.previous-<pid>/`
/// until the new run has saved its model and report ([`Aside::discard`]),
/// or moved back if it fails ([`Aside::restore`]).
#[derive(Debug)]
pub struct Aside {
    run: PathBuf,
    aside: PathBuf,
}

impl Aside {
    /// Moves the run files of `run` ([`RUN_FILES`]) into a new aside folder
    /// and deletes temporaries a crashed write left; `None` when there was nothing to move.
    fn set(run: &Path) -> Result<Option<Self>, ExperimentError> {
        let aside = run.join(format!("{PREVIOUS}{}", std::process::id()));
        let this = Self { run: run.to_owned(), aside };
        let mut moved = false;
        for name in contents(run) {
            let path = run.join(&name);
            if RUN_FILES.contains(&name.as_str()) {
                if !moved {
                    std::fs::create_dir(&this.aside).map_err(io_error(&this.aside))?;
                    moved = true;
                }
                let to = this.aside.join(&name);
                std::fs::rename(&path, &to).map_err(io_error(&path))?;
            } else if atomic_file::target_of(&name).is_some_and(|target| RUN_FILES.contains(&target)) {
                remove(&path)?;
            }
        }
        if !moved {
            return Ok(None);
        }
        tracing::info!(aside = %this.aside.display(), "--force: the earlier run's files are set aside until the new run is saved");
        Ok(Some(this))
    }

    /// The new run has saved its results: deletes the earlier run.
    pub fn discard(self) -> Result<(), ExperimentError> {
        std::fs::remove_dir_all(&self.aside).map_err(io_error(&self.aside))
    }

    /// The new run failed: deletes its files and moves the earlier run's back.
    pub fn restore(self) -> Result<(), ExperimentError> {
        for name in contents(&self.run) {
            let is_temporary = atomic_file::target_of(&name).is_some_and(|t| RUN_FILES.contains(&t));
            if RUN_FILES.contains(&name.as_str()) || is_temporary {
                remove(&self.run.join(name))?;
            }
        }
        for name in contents(&self.aside) {
            let from = self.aside.join(&name);
            std::fs::rename(&from, self.run.join(&name)).map_err(io_error(&from))?;
        }
        std::fs::remove_dir(&self.aside).map_err(io_error(&self.aside))?;
        eprintln!(
            "the new run in {} did not finish: its files were removed and the earlier run was restored",
            self.run.display()
        );
        Ok(())
    }

    /// The folder holding the earlier run.
    pub fn path(&self) -> &Path {
        &self.aside
    }
}

/// Removes a file or a folder with its contents.
fn remove(path: &Path) -> Result<(), ExperimentError> {
    let removed = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    removed.map_err(io_error(path))
}

/// Checks `eval --out DIR` before the evaluation runs: DIR must be a folder
/// (or creatable) and writable, and must not be a training run's folder,
/// whose report.json the evaluation would overwrite.
/// `name` is the suggested subfolder's name (`eval-<name>`).
pub fn check_eval_out(out: &Path, name: &str) -> Result<(), ExperimentError> {
    check_output_folder(out, "eval", &format!("eval-{name}"))
}

/// Checks `<command> --out DIR` before any work: DIR must be a folder (or
/// creatable) and writable, and must not be a training run's folder (one
/// with the marker, config.json or checkpoints/), whose report.json and
/// pictures the command could overwrite; `subfolder` is the suggested
/// folder of its own inside the run.
pub fn check_output_folder(out: &Path, command: &str, subfolder: &str) -> Result<(), ExperimentError> {
    writable_ancestor(out, &format!("{command} --out"))?;
    let is_run = out.join(MARKER).is_file() || out.join(CONFIG).is_file() || out.join(CHECKPOINTS).is_dir();
    if is_run {
        return Err(ExperimentError::Usage(format!(
            "{command} --out {}: that folder holds a training run, whose report.json (with its training summary) \
             and pictures this could overwrite; write into a folder of its own, e.g. --out {}",
            out.display(),
            out.join(subfolder).display()
        )));
    }
    Ok(())
}

/// Checks a file a command is about to write (`what` names the option, e.g.
/// `export --out`): it must not be a file of a training run (config.json,
/// report.json, metrics.jsonl, anything in model/, checkpoints/ or tb/, the
/// marker or the lock, in a folder with the marker, config.json or
/// checkpoints/), nor inside a model folder (one holding model.json, such as
/// the one being exported). Links are followed; a path whose folder does not
/// exist yet is left to the write to report.
pub fn check_output_file(out: &Path, what: &str) -> Result<(), ExperimentError> {
    let resolved = match (std::fs::canonicalize(out), out.parent(), out.file_name()) {
        (Ok(path), _, _) => path,
        (Err(_), Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
            match std::fs::canonicalize(parent) {
                Ok(parent) => parent.join(name),
                Err(_) => return Ok(()),
            }
        }
        _ => return Ok(()),
    };
    for folder in resolved.ancestors().skip(1) {
        let inside = resolved.strip_prefix(folder).ok().and_then(|r| r.components().next());
        let first = inside.map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
        let is_run =
            folder.join(MARKER).is_file() || folder.join(CONFIG).is_file() || folder.join(CHECKPOINTS).is_dir();
        let run_file = RUN_FILES.contains(&first.as_str()) || first == MARKER || first == LOCK;
        let refused = if is_run && run_file {
            Some((format!("a file of the training run in {}", folder.display()), folder))
        } else if folder.join(lstm_model::SPEC_FILE).is_file() {
            Some((format!("inside the model folder {}", folder.display()), folder.parent().unwrap_or(folder)))
        } else {
            None
        };
        if let Some((why, beside)) = refused {
            let ext = out.extension().map_or(String::new(), |e| format!(".{}", e.to_string_lossy()));
            return Err(ExperimentError::Usage(format!(
                "{what} {}: that is {why}, which this would overwrite (then predict and --resume fail); \
                 write to a file of its own, e.g. {what} {}",
                out.display(),
                beside.join(format!("exported{ext}")).display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_files_never_overwrite_a_run_or_a_model_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        std::fs::create_dir_all(run.join(super::super::MODEL)).unwrap();
        std::fs::write(run.join(MARKER), "").unwrap();
        std::fs::write(run.join(CONFIG), "{}").unwrap();
        let model = run.join(super::super::MODEL);
        std::fs::write(model.join(lstm_model::SPEC_FILE), "{}").unwrap();
        std::fs::write(model.join("model.safetensors"), "weights").unwrap();
        for bad in
            [model.join("model.safetensors"), model.join("new.onnx"), run.join(CONFIG), run.join("metrics.jsonl")]
        {
            let err = check_output_file(&bad, "export --out").unwrap_err();
            assert!(err.is_config() && err.to_string().contains("would overwrite"), "{}: {err}", bad.display());
        }
        // Through a link, too.
        let link = tmp.path().join("link.onnx");
        std::os::unix::fs::symlink(run.join(CONFIG), &link).unwrap();
        assert!(check_output_file(&link, "export --out").is_err());
        for good in [run.join("model.onnx"), tmp.path().join("seed.onnx"), tmp.path().join("no/such/dir/x.onnx")] {
            check_output_file(&good, "export --out").unwrap();
        }
    }
}
