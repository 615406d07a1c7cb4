//! Checkpoints: everything needed to continue a run exactly.
//!
//! A checkpoint is a folder `step-000200/` in the run's checkpoints folder holding
//! `state.safetensors` (model weights as `model.<name>`, optimiser buffers as
//! `optim.<buffer>.<name>`, the best-so-far weights as `best.<name>`) and
//! `state.json` ([`CheckpointMeta`]: step, data position, optimiser step
//! count, learning rate, best validation, elapsed time). It is written as
//! `.tmp-step-000200/`, synced, then renamed into place, so a
//! checkpoint folder under its real name is always complete; a crash leaves
//! at most a `.tmp-*` folder, which is ignored and removed by the next
//! write. Old checkpoints are pruned by renaming them to `.old-*` first, so a
//! crash mid-deletion never leaves an incomplete folder under a real name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::TrainError;

/// Version of the checkpoint layout.
pub const CHECKPOINT_VERSION: u32 = 1;
/// Tensor file inside a checkpoint folder.
pub const STATE_TENSORS: &str = "state.safetensors";
/// Description file inside a checkpoint folder.
pub const STATE_JSON: &str = "state.json";

/// A validation result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValidationPoint {
    /// Step after which it was measured.
    pub step: i64,
    /// Accuracy on the validation split, 0 to 1.
    pub accuracy: f64,
    /// Mean cross-entropy on the validation split.
    pub loss: f64,
}

/// The non-tensor state of a run at the end of step `step`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// [`CHECKPOINT_VERSION`].
    pub version: u32,
    /// Steps completed.
    pub step: i64,
    /// Steps the whole run takes.
    pub total_steps: i64,
    /// Training examples seen (steps × batch, less for partial batches).
    pub samples: i64,
    /// Data order position: epoch (0-based).
    pub epoch: u64,
    /// Data order position: examples of this epoch already handed out.
    pub cursor: usize,
    /// The optimiser's step count.
    pub optimizer_steps: i64,
    /// Learning rate of the last step (the schedule is a function of the step).
    pub lr: f64,
    /// Training seconds so far, over all sessions.
    pub elapsed_seconds: f64,
    /// Loss of the last displayed minibatch.
    pub last_loss: Option<f64>,
    /// The best validation so far (its weights are the `best.*` tensors).
    pub best: Option<ValidationPoint>,
    /// Validations since the best one (early stopping's counter).
    pub bad_validations: i64,
    /// The training seed (checked on resume).
    pub seed: u64,
}

/// The folder of the checkpoint after step `step`, inside the checkpoints folder `checkpoints`.
pub(crate) fn checkpoint_dir(checkpoints: &Path, step: i64) -> PathBuf {
    checkpoints.join(format!("step-{step:06}"))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::File { path: path.to_owned(), source }
}

/// A failed safetensors write as [`TrainError::File`] when an I/O error
/// (a full disk, ...) caused it, so that it reads "No space left on device"
/// with the file's path rather than libtorch's debug text.
fn plain_io(e: tch::TchError, path: &Path) -> TrainError {
    match e {
        tch::TchError::SafeTensorError { err: safetensors::SafeTensorError::IoError(source), .. } => {
            TrainError::File { path: path.to_owned(), source }
        }
        e => e.into(),
    }
}

fn sync(path: &Path) -> Result<(), TrainError> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(io(path))
}

/// Writes a checkpoint atomically into the folder `checkpoints` and deletes
/// all but the newest `keep`; returns its folder.
pub(crate) fn write(
    checkpoints: &Path,
    meta: &CheckpointMeta,
    tensors: &[(String, Tensor)],
    keep: usize,
) -> Result<PathBuf, TrainError> {
    let dir = checkpoint_dir(checkpoints, meta.step);
    let parent = checkpoints.to_owned();
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    remove_leftovers(&parent)?;
    let tmp = parent.join(format!(".tmp-step-{:06}", meta.step));
    std::fs::create_dir(&tmp).map_err(io(&tmp))?;
    if let Err(e) = write_files(&tmp, meta, tensors) {
        // Frees the space of a part-written checkpoint (a full disk is the usual cause).
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if dir.exists() {
        discard(&dir)?;
    }
    std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
    let _ = sync(&parent);
    let all = list(checkpoints)?;
    for (_, old) in all.iter().take(all.len().saturating_sub(keep)) {
        discard(old)?;
    }
    Ok(dir)
}

/// The two files of a checkpoint, into the temporary folder `tmp`.
fn write_files(tmp: &Path, meta: &CheckpointMeta, tensors: &[(String, Tensor)]) -> Result<(), TrainError> {
    let tensor_path = tmp.join(STATE_TENSORS);
    let write = |t: &Path| Tensor::write_safetensors(tensors, t).map_err(|e| plain_io(e, &tensor_path));
    atomic_file::write_via(&tensor_path, write, io(&tensor_path))?;
    let json_path = tmp.join(STATE_JSON);
    let text = serde_json::to_vec_pretty(meta)
        .map_err(|e| TrainError::BadCheckpoint { path: json_path.clone(), detail: format!("cannot encode: {e}") })?;
    atomic_file::write(&json_path, text).map_err(io(&json_path))
}

/// Removes a checkpoint folder: first renamed out of the `step-*` names (one
/// atomic step), then deleted.
fn discard(dir: &Path) -> Result<(), TrainError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let old = dir.with_file_name(format!(".old-{name}"));
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    std::fs::rename(dir, &old).map_err(io(dir))?;
    std::fs::remove_dir_all(&old).map_err(io(&old))
}

/// Deletes what an interrupted write or prune left in `checkpoints/`
/// (`.tmp-*` and `.old-*` folders); they are never read.
pub(crate) fn remove_leftovers(checkpoints: &Path) -> Result<(), TrainError> {
    let Ok(entries) = std::fs::read_dir(checkpoints) else { return Ok(()) };
    for entry in entries {
        let entry = entry.map_err(io(checkpoints))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") || name.starts_with(".old-") {
            let path = entry.path();
            tracing::info!(path = %path.display(), "removing a checkpoint left incomplete by an interrupted run");
            let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            removed.map_err(io(&path))?;
        }
    }
    Ok(())
}

/// Complete checkpoints in the folder `checkpoints`, oldest first.
pub fn list(checkpoints: &Path) -> Result<Vec<(i64, PathBuf)>, TrainError> {
    let parent = checkpoints;
    if !parent.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(parent).map_err(io(parent))? {
        let entry = entry.map_err(io(parent))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(step) = name.strip_prefix("step-").and_then(|s| s.parse::<i64>().ok()) {
            found.push((step, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// The newest complete checkpoint in the folder `checkpoints`, if any.
pub fn latest(checkpoints: &Path) -> Result<Option<PathBuf>, TrainError> {
    Ok(list(checkpoints)?.pop().map(|(_, p)| p))
}

/// A field of a state.json that training could not have written: its name, its value and why.
type BadField = (&'static str, String, &'static str);

/// What a checkpoint written after step `step` of a run holds, field by
/// field, for any config: the step (that of the folder's name), the
/// optimiser's step count, the counters, rates and times.
fn check_fields(meta: &CheckpointMeta, folder_step: Option<i64>) -> Result<(), BadField> {
    let step = meta.step;
    if step < 1 || folder_step.is_some_and(|f| f != step) {
        return Err(("step", step.to_string(), "it must be the step in the checkpoint folder's name (step-NNNNNN)"));
    }
    if meta.total_steps < step {
        return Err(("total_steps", meta.total_steps.to_string(), "it must be at least `step`"));
    }
    if meta.optimizer_steps != step {
        let value = meta.optimizer_steps.to_string();
        return Err(("optimizer_steps", value, "the optimiser takes one step per training step: it must equal `step`"));
    }
    if meta.samples < step {
        return Err(("samples", meta.samples.to_string(), "every step sees at least one example: at least `step`"));
    }
    if !(meta.lr.is_finite() && meta.lr >= 0.0) {
        return Err(("lr", meta.lr.to_string(), "a learning rate is a finite number >= 0"));
    }
    if !(meta.elapsed_seconds.is_finite() && meta.elapsed_seconds >= 0.0) {
        return Err(("elapsed_seconds", meta.elapsed_seconds.to_string(), "a time is a finite number >= 0"));
    }
    if meta.last_loss.is_some_and(|l| !(l.is_finite() && l >= 0.0)) {
        return Err(("last_loss", format!("{:?}", meta.last_loss), "a loss is a finite number >= 0"));
    }
    if let Some(best) = &meta.best {
        let fine = (1..=step).contains(&best.step)
            && (0.0..=1.0).contains(&best.accuracy)
            && best.loss.is_finite()
            && best.loss >= 0.0;
        if !fine {
            let hint = "a validation at a step from 1 to `step`, accuracy 0 to 1, a finite loss >= 0";
            return Err(("best", format!("{best:?}"), hint));
        }
    }
    if !(0..=step).contains(&meta.bad_validations) {
        return Err(("bad_validations", meta.bad_validations.to_string(), "at least 0 and at most `step`"));
    }
    Ok(())
}

/// The [`TrainError::BadState`] of `field` in `json_path`.
fn bad_state(json_path: &Path, (field, value, why): BadField) -> TrainError {
    let dir = json_path.parent().unwrap_or(json_path);
    TrainError::BadState {
        path: json_path.to_owned(),
        field: field.to_owned(),
        value,
        hint: format!(
            "{why}. Training never writes this, so the file was edited or damaged: restore it, or delete {} to \
             resume from the checkpoint before it",
            dir.display()
        ),
    }
}

/// Reads and checks the state.json of the checkpoint folder `dir`: every
/// field must be present with its type, and hold what training writes
/// (see `check_fields`); else [`TrainError::BadState`] names the file and the field.
pub fn read_meta(dir: &Path) -> Result<CheckpointMeta, TrainError> {
    let json_path = dir.join(STATE_JSON);
    let bytes = std::fs::read(&json_path).map_err(io(&json_path))?;
    let mut reader = serde_json::Deserializer::from_slice(&bytes);
    let meta: CheckpointMeta = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let field = e.path().to_string();
        let raw = serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|v| v.get(&field).cloned());
        let value = raw.map_or_else(|| "(unreadable)".to_owned(), |v| v.to_string());
        let hint = format!(
            "{}. Restore the file, or delete {} to resume from the checkpoint before it",
            e.inner(),
            dir.display()
        );
        TrainError::BadState { path: json_path.clone(), field, value, hint }
    })?;
    if meta.version != CHECKPOINT_VERSION {
        return Err(TrainError::BadCheckpoint {
            path: json_path,
            detail: format!("checkpoint version {} is not {CHECKPOINT_VERSION}", meta.version),
        });
    }
    let folder_step = dir.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("step-")?.parse().ok());
    check_fields(&meta, folder_step).map_err(|bad| bad_state(&json_path, bad))?;
    Ok(meta)
}

/// Checks the data position of `meta` against the run: `examples` training
/// examples in batches of `batch_size` (at most `batch_size - 1` examples
/// dropped per epoch, with `drop_last`).
pub fn check_position(dir: &Path, meta: &CheckpointMeta, examples: i64, batch_size: i64) -> Result<(), TrainError> {
    let json_path = dir.join(STATE_JSON);
    let (n, batch) = (i128::from(examples), i128::from(batch_size));
    let (samples, epoch, cursor) = (i128::from(meta.samples), i128::from(meta.epoch), meta.cursor as i128);
    if samples > i128::from(meta.step) * batch {
        let bad = ("samples", meta.samples.to_string(), "at most `step` times train.batch_size");
        return Err(bad_state(&json_path, bad));
    }
    if cursor > n {
        return Err(bad_state(&json_path, ("cursor", meta.cursor.to_string(), "at most the training examples")));
    }
    let (least, most) = (epoch * (n - batch + 1).max(0) + cursor, epoch * n + cursor);
    if samples < least || samples > most {
        let why = "the examples seen (`samples`) must fit the data position (`epoch` full passes plus `cursor`)";
        return Err(bad_state(&json_path, ("epoch", meta.epoch.to_string(), why)));
    }
    Ok(())
}

/// Reads a checkpoint folder ([`read_meta`] checks its state.json).
pub fn read(dir: &Path) -> Result<(CheckpointMeta, BTreeMap<String, Tensor>), TrainError> {
    let meta = read_meta(dir)?;
    let tensor_path = dir.join(STATE_TENSORS);
    let tensors = Tensor::read_safetensors(&tensor_path).map_err(|e| TrainError::BadCheckpoint {
        path: tensor_path.clone(),
        detail: format!(
            "not a readable safetensors file ({e}); the checkpoint is damaged: delete {} to resume from the one before",
            dir.display()
        ),
    })?;
    Ok((meta, tensors.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk while writing a checkpoint's tensors reads plainly, with the file's path.
    #[test]
    fn a_full_disk_reads_plainly() {
        let path = Path::new("/run/x/checkpoints/.tmp-step-000002/state.safetensors");
        let full = std::io::Error::from_raw_os_error(28);
        let e = tch::TchError::SafeTensorError {
            path: path.display().to_string(),
            err: safetensors::SafeTensorError::IoError(full),
        };
        let message = plain_io(e, path).to_string();
        assert_eq!(message, format!("{}: No space left on device (os error 28)", path.display()));
    }
}
