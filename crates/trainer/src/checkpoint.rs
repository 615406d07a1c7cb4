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
pub fn checkpoint_dir(checkpoints: &Path, step: i64) -> PathBuf {
    checkpoints.join(format!("step-{step:06}"))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::File { path: path.to_owned(), source }
}

fn sync(path: &Path) -> Result<(), TrainError> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(io(path))
}

/// Writes a checkpoint atomically into the folder `checkpoints` and deletes
/// all but the newest `keep`; returns its folder.
pub fn write(
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
    let tensor_path = tmp.join(STATE_TENSORS);
    atomic_file::write_via(&tensor_path, |t| Ok(Tensor::write_safetensors(tensors, t)?), io(&tensor_path))?;
    let json_path = tmp.join(STATE_JSON);
    let text = serde_json::to_vec_pretty(meta)
        .map_err(|e| TrainError::BadCheckpoint { path: json_path.clone(), detail: format!("cannot encode: {e}") })?;
    atomic_file::write(&json_path, text).map_err(io(&json_path))?;
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
pub fn remove_leftovers(checkpoints: &Path) -> Result<(), TrainError> {
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

/// Reads a checkpoint folder.
pub fn read(dir: &Path) -> Result<(CheckpointMeta, BTreeMap<String, Tensor>), TrainError> {
    let json_path = dir.join(STATE_JSON);
    let bytes = std::fs::read(&json_path).map_err(io(&json_path))?;
    let meta: CheckpointMeta = serde_json::from_slice(&bytes)
        .map_err(|e| TrainError::BadCheckpoint { path: json_path.clone(), detail: e.to_string() })?;
    if meta.version != CHECKPOINT_VERSION {
        return Err(TrainError::BadCheckpoint {
            path: json_path,
            detail: format!("checkpoint version {} is not {CHECKPOINT_VERSION}", meta.version),
        });
    }
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
