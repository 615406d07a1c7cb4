//! What a sweep folder holds and whether a sweep file may (still) run in it.
//!
//! A sweep folder keeps the sweep it was made for (`sweep-config.json`, the
//! sweep file with its base inlined) and its trial list (`sweep.json`: each
//! trial's id, folder and overrides). A sweep file run again into the folder
//! must describe the same trials; one that differs is refused naming the
//! keys that changed, unless `--extend` is given and the change only adds
//! trials (more seeds, more grid values or choices, more random draws) or
//! lengthens runs. Trials the folder holds keep their ids and folders; new
//! ones are appended.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde_json::Value;

use super::{trial_names, Sweep, SweepError, Trial, SWEEP_COPY, SWEEP_FILE};

/// A trial as the folder's `sweep.json` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldTrial {
    /// Its id.
    pub id: usize,
    /// Its folder's name.
    pub dir: String,
    /// Its overrides, as a JSON object.
    pub overrides: Value,
}

/// Config keys a trial may change when a sweep is extended: run lengths and
/// cadences, which a run continued from its checkpoint takes on (as
/// `train --resume --set` does).
pub fn may_change_on_extend(key: &str) -> bool {
    experiment::resume_may_change(key) || key == "name" || key == "threads"
}

/// Whether `dir` holds a sweep (its `sweep-config.json`).
pub fn holds_sweep(dir: &Path) -> bool {
    dir.join(SWEEP_COPY).is_file()
}

/// Checks `sweep --out DIR` before anything is written: DIR must be a folder
/// (or creatable) and writable, not a training run's folder, and either new,
/// empty, or a sweep folder (it holds `sweep-config.json`); a folder of the
/// user's (anything else) is refused, so that no `sweep.json` of theirs is
/// overwritten.
pub fn check_out(dir: &Path, name: &str) -> Result<(), SweepError> {
    experiment::run_folder::check_output_folder(dir, "sweep", name)?;
    if !dir.is_dir() || holds_sweep(dir) || experiment::run_folder::is_free(dir) {
        return Ok(());
    }
    Err(SweepError::Folder {
        dir: dir.to_owned(),
        message: format!(
            "sweep --out: that folder is not empty and is not a sweep folder (it has no {SWEEP_COPY}), so the sweep \
             could overwrite files there; choose a new or empty folder, e.g. --out {}",
            dir.join(name).display()
        ),
    })
}

/// The trial list of the folder's `sweep.json`, when there and readable.
pub fn held_trials(dir: &Path) -> Option<Vec<HeldTrial>> {
    let text = experiment::config::read_small_file(&dir.join(SWEEP_FILE)).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    let trials = value.get("trials")?.as_array()?;
    let list: Option<Vec<HeldTrial>> = trials
        .iter()
        .map(|t| {
            Some(HeldTrial {
                id: usize::try_from(t.get("id")?.as_u64()?).ok()?,
                dir: t.get("dir")?.as_str()?.to_owned(),
                overrides: t.get("overrides")?.clone(),
            })
        })
        .collect();
    // Ids must be 0, 1, 2, ... in order, as written.
    list.filter(|l| l.iter().enumerate().all(|(i, t)| t.id == i))
}

/// Flattens nested objects into dotted keys (arrays stay values).
fn flatten(value: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() || prefix.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(v, &key, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

/// A JSON object flattened into dotted keys.
pub(crate) fn flat(value: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    flatten(value, "", &mut out);
    out
}

/// The keys whose values differ between two JSON objects, flattened.
pub(crate) fn differing(a: &Value, b: &Value) -> BTreeSet<String> {
    let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
    flatten(a, "", &mut fa);
    flatten(b, "", &mut fb);
    fa.keys().chain(fb.keys()).filter(|k| fa.get(*k) != fb.get(*k)).cloned().collect()
}

/// The keys of the sweep files that differ in what they make of the trials:
/// base config keys (after `set`), `grid.KEY`, `seeds`, `random.KEY`,
/// `trials`, `search_seed`. `name` and `slurm` do not change trials.
pub fn changed_keys(old: &Sweep, new: &Sweep) -> Vec<String> {
    let mut keys: Vec<String> = differing(&old.base, &new.base).into_iter().collect();
    let (a, b) = (&old.file, &new.file);
    let grid_keys: BTreeSet<&str> = a.grid.keys().chain(b.grid.keys()).collect();
    for key in grid_keys {
        let values = |f: &super::SweepFile| f.grid.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if values(a) != values(b) {
            keys.push(format!("grid.{key}"));
        }
    }
    if a.grid.keys().collect::<Vec<_>>() != b.grid.keys().collect::<Vec<_>>()
        && !keys.iter().any(|k| k.starts_with("grid."))
    {
        keys.push("grid (order of keys)".into());
    }
    if a.seeds != b.seeds {
        keys.push("seeds".into());
    }
    let random_keys: BTreeSet<&str> = a.random.keys().chain(b.random.keys()).collect();
    for key in random_keys {
        let dist = |f: &super::SweepFile| f.random.0.iter().find(|(k, _)| k == key).map(|(_, d)| d.clone());
        if dist(a) != dist(b) {
            keys.push(format!("random.{key}"));
        }
    }
    if a.random.keys().collect::<Vec<_>>() != b.random.keys().collect::<Vec<_>>()
        && !keys.iter().any(|k| k.starts_with("random."))
    {
        keys.push("random (order of keys)".into());
    }
    if a.trials != b.trials {
        keys.push("trials".into());
    }
    if a.search_seed != b.search_seed {
        keys.push("search_seed".into());
    }
    if a.search != b.search {
        keys.push("search".into());
    }
    keys
}

impl Sweep {
    /// Fits this sweep to the folder `dir`: a new folder takes the trials as
    /// expanded; a folder that holds a sweep must hold the same one (else
    /// [`SweepError::Changed`] naming the keys), or, with `extend`, one this
    /// sweep only adds trials to or lengthens. Trials the folder holds keep
    /// their ids and folder names; new trials get the next ids, in order,
    /// and names no held trial has.
    pub fn fit_folder(mut self, dir: &Path, extend: bool) -> Result<Self, SweepError> {
        if !holds_sweep(dir) {
            return Ok(self);
        }
        let copy = dir.join(SWEEP_COPY);
        let old = Sweep::load(&copy).map_err(|e| SweepError::Folder {
            dir: dir.to_owned(),
            message: format!("its {SWEEP_COPY} cannot be used ({e}); give the sweep another --out"),
        })?;
        let held = held_trials(dir).unwrap_or_else(|| {
            old.trials
                .iter()
                .map(|t| HeldTrial { id: t.id, dir: t.name.clone(), overrides: t.overrides_json() })
                .collect()
        });
        let keys = changed_keys(&old, &self);
        let changed = |hint: String| SweepError::Changed {
            path: self.path.clone(),
            dir: dir.to_owned(),
            keys: keys.clone(),
            hint,
        };
        if !keys.is_empty() && !extend {
            return Err(changed(
                "rerun with --extend if the change only adds trials (more seeds, grid values, choices or random \
                 draws) or lengthens the runs; otherwise give the changed sweep another --out"
                    .into(),
            ));
        }
        let (order, fresh) = match_trials(&held, &self.trials).map_err(|h| changed(extend_refusal(h)))?;
        for (held_trial, &new) in held.iter().zip(&order) {
            let (old_trial, new_trial) =
                (old.trials.iter().find(|t| t.overrides_json() == held_trial.overrides), &self.trials[new]);
            let Some(old_trial) = old_trial else { continue };
            let a = serde_json::to_value(&old_trial.experiment).unwrap_or(Value::Null);
            let b = serde_json::to_value(&new_trial.experiment).unwrap_or(Value::Null);
            let bad: Vec<String> = differing(&a, &b).into_iter().filter(|k| !may_change_on_extend(k)).collect();
            if !bad.is_empty() {
                return Err(SweepError::Changed {
                    path: self.path.clone(),
                    dir: dir.to_owned(),
                    keys: bad,
                    hint: format!(
                        "trial {} ({}) would change; --extend only adds trials or lengthens runs: give the changed \
                         sweep another --out",
                        held_trial.id, held_trial.dir
                    ),
                });
            }
        }
        self.trials = reorder(std::mem::take(&mut self.trials), &held, &order, &fresh);
        Ok(self)
    }
}

/// The message when a held trial is missing from the new sweep.
fn extend_refusal(held: &HeldTrial) -> String {
    format!(
        "trial {} ({}, {}) is not in the new sweep file; --extend only adds trials or lengthens runs: give the \
         changed sweep another --out",
        held.id, held.dir, held.overrides
    )
}

/// For each held trial, the index of the new trial with the same overrides
/// (each new trial matched once), and the new trials left over, in order;
/// `Err` names the first held trial the new sweep lacks.
fn match_trials<'a>(held: &'a [HeldTrial], trials: &[Trial]) -> Result<(Vec<usize>, Vec<usize>), &'a HeldTrial> {
    let mut by_overrides: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for (i, t) in trials.iter().enumerate().rev() {
        by_overrides.entry(t.overrides_json().to_string()).or_default().push(i);
    }
    let mut order = Vec::with_capacity(held.len());
    for h in held {
        match by_overrides.get_mut(&h.overrides.to_string()).and_then(Vec::pop) {
            Some(i) => order.push(i),
            None => return Err(h),
        }
    }
    let matched: HashSet<usize> = order.iter().copied().collect();
    let fresh = (0..trials.len()).filter(|i| !matched.contains(i)).collect();
    Ok((order, fresh))
}

/// The trials with the held ones first (their ids and folder names kept),
/// then the new ones with the next ids and names no held trial has.
fn reorder(trials: Vec<Trial>, held: &[HeldTrial], order: &[usize], fresh: &[usize]) -> Vec<Trial> {
    let taken: HashSet<String> = held.iter().map(|h| h.dir.clone()).collect();
    let points: Vec<Vec<(String, Value)>> = fresh.iter().map(|&i| trials[i].overrides.clone()).collect();
    let names = trial_names(&points, &taken);
    let mut out = Vec::with_capacity(trials.len());
    for (h, &i) in held.iter().zip(order) {
        let mut t = trials[i].clone();
        t.id = h.id;
        t.name = h.dir.clone();
        t.experiment.name = Some(h.dir.clone());
        out.push(t);
    }
    for (name, &i) in names.into_iter().zip(fresh) {
        let mut t = trials[i].clone();
        t.id = out.len();
        t.experiment.name = Some(name.clone());
        t.name = name;
        out.push(t);
    }
    out
}
