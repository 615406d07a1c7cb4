//! ASHA, asynchronous successive halving (Li et al., MLSys 2020), with
//! promotion by exact resume.
//!
//! Rung `k` is `min_steps × eta^k` steps, up to `max_steps`. Every trial
//! first runs rung 0. Whenever a worker is free, the highest rung with a
//! trial in the top `1/eta` of its results (⌊n/eta⌋ of its n results, ranked
//! by the metric, ties by id) that was not promoted yet promotes that trial:
//! its run folder is resumed from the rung's checkpoint and runs to the next
//! rung. Otherwise the next trial not yet started starts. Every trial's run
//! is planned for `max_steps` from step 0 (schedules included), so a trial
//! promoted through every rung has the metrics of an uninterrupted run.
//!
//! The state is the fold of the sweep's [`Journal`]: trials created, rung
//! results and promotions, in order; a work unit that was started but has no
//! result in the journal (a killed sweep) is proposed again first, and
//! continues from its checkpoint. With one worker the decisions, and so the
//! winner, do not depend on when the sweep was stopped and rerun.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use experiment::run_folder::RunFolder;
use serde_json::Value;
use trainer::MetricRecord;

use crate::journal::{Event, Journal};
use crate::strategy::{SearchStrategy, Work};
use crate::{AshaConfig, Sweep, SweepError};

/// What ranks trials at a rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `validation.accuracy`: higher is better.
    ValidationAccuracy,
    /// `validation.loss`: lower is better.
    ValidationLoss,
}

impl Metric {
    /// The metric named `name` (`validation.accuracy` or `validation.loss`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "validation.accuracy" => Some(Metric::ValidationAccuracy),
            "validation.loss" => Some(Metric::ValidationLoss),
            _ => None,
        }
    }

    /// Whether `a` ranks before `b` (ties: neither).
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Metric::ValidationAccuracy => a > b,
            Metric::ValidationLoss => a < b,
        }
    }

    /// The metric of the validation at step `step` of the run in `dir`, from its metrics.jsonl.
    pub fn read(self, dir: &Path, step: i64) -> Result<f64, SweepError> {
        let records = RunFolder::new(dir).read_metrics()?;
        records
            .iter()
            .find_map(|r| match *r {
                MetricRecord::Validation { step: s, loss, accuracy, .. } if s == step => Some(match self {
                    Metric::ValidationAccuracy => accuracy,
                    Metric::ValidationLoss => loss,
                }),
                _ => None,
            })
            .ok_or_else(|| SweepError::Folder {
                dir: dir.to_owned(),
                message: format!(
                    "its metrics.jsonl has no validation at step {step}: ASHA ranks trials on validation; set \
                     `data.validation` in the base config"
                ),
            })
    }
}

/// The rung lengths of `config`: `min_steps × eta^k` up to `max_steps`
/// (checked by [`check`]).
pub fn rungs(config: &AshaConfig) -> Vec<i64> {
    let mut steps = vec![config.min_steps.max(1)];
    while let Some(next) = steps.last().and_then(|s| s.checked_mul(config.eta.max(2))) {
        if next > config.max_steps {
            break;
        }
        steps.push(next);
    }
    steps
}

/// Checks the `search.asha` section and plans every trial for `max_steps`:
/// sets `train.max_steps` in `base` (clearing the other run lengths) and
/// `train.validate_every` to `min_steps` when unset. Errors name the key.
pub fn check(config: &AshaConfig, base: &mut Value) -> Result<(), (String, String)> {
    let key = |k: &str| format!("search.asha.{k}");
    if config.min_steps < 1 {
        return Err((key("min_steps"), "use at least 1 step".into()));
    }
    if config.eta < 2 {
        return Err((key("eta"), "use at least 2 (3 is usual)".into()));
    }
    if Metric::parse(&config.metric).is_none() {
        return Err((key("metric"), "use \"validation.accuracy\" or \"validation.loss\"".into()));
    }
    let last = rungs(config).last().copied().unwrap_or(config.min_steps);
    if last != config.max_steps {
        return Err((
            key("max_steps"),
            format!(
                "must be min_steps × eta^k (rungs of {}); use {last} or {}",
                config.min_steps,
                last.saturating_mul(config.eta)
            ),
        ));
    }
    let train = &base["train"];
    if train.get("patience").is_some_and(|p| !p.is_null()) {
        return Err(("train.patience".into(), "ASHA stops trials itself: remove early stopping from the base".into()));
    }
    match train.get("validate_every").and_then(Value::as_i64) {
        Some(every) if every < 1 || config.min_steps % every != 0 => {
            return Err((
                "train.validate_every".into(),
                format!(
                    "must divide search.asha.min_steps ({}) so that every rung ends with a validation",
                    config.min_steps
                ),
            ))
        }
        Some(_) => {}
        None => base["train"]["validate_every"] = Value::from(config.min_steps),
    }
    base["train"]["max_steps"] = Value::from(config.max_steps);
    base["train"]["training_iters"] = Value::Null;
    base["train"]["epochs"] = Value::Null;
    Ok(())
}

/// The fold of a journal: who was created, promoted, stopped, and the rung results.
#[derive(Debug, Default)]
struct State {
    /// Trials in the order they were created.
    created: Vec<usize>,
    /// The rung each created trial is at (or running towards).
    rung: BTreeMap<usize, usize>,
    /// Each rung's results, in the order they came.
    results: Vec<Vec<(usize, f64)>>,
    /// (trial, rung) pairs with a result.
    done: HashSet<(usize, usize)>,
    /// Trials the search stopped.
    stopped: HashSet<usize>,
}

fn fold(events: &[Event], rungs: usize) -> State {
    let mut s = State { results: vec![Vec::new(); rungs], ..State::default() };
    for event in events {
        match *event {
            Event::Trial { id, .. } => {
                if s.rung.insert(id, 0).is_none() {
                    s.created.push(id);
                }
            }
            Event::Rung { id, rung, metric, .. } if rung < rungs => {
                if s.done.insert((id, rung)) {
                    s.results[rung].push((id, metric));
                }
            }
            Event::Promoted { id, rung, .. } => {
                s.rung.insert(id, rung);
            }
            Event::Stopped { id, .. } => {
                s.stopped.insert(id);
            }
            Event::Rung { .. } => {}
        }
    }
    s
}

/// Where a trial stands in an ASHA sweep, from the journal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    /// The highest rung with a result, its length in steps and the metric there.
    pub best_rung: Option<(usize, i64, f64)>,
    /// Whether the search stopped it.
    pub stopped: bool,
}

/// Each created trial's standing, by id.
pub fn standings(journal: &Journal) -> BTreeMap<usize, Standing> {
    let mut out: BTreeMap<usize, Standing> = BTreeMap::new();
    for event in journal.events() {
        let (Event::Trial { id, .. } | Event::Rung { id, .. } | Event::Stopped { id, .. } | Event::Promoted { id, .. }) =
            *event;
        let entry = out.entry(id).or_insert(Standing { best_rung: None, stopped: false });
        match *event {
            Event::Rung { rung, steps, metric, .. } if !matches!(entry.best_rung, Some((r, _, _)) if r >= rung) => {
                entry.best_rung = Some((rung, steps, metric));
            }
            Event::Stopped { .. } => entry.stopped = true,
            _ => {}
        }
    }
    out
}

/// The winner: the best result of the highest rung any trial reached (ties
/// by id), as (trial id, rung steps, metric).
pub fn winner(journal: &Journal, metric: Metric) -> Option<(usize, i64, f64)> {
    let mut best: Option<(usize, usize, i64, f64)> = None;
    for event in journal.events() {
        if let Event::Rung { id, rung, steps, metric: m } = *event {
            let wins = match best {
                None => true,
                Some((bid, brung, _, bm)) => {
                    rung > brung || (rung == brung && (metric.better(m, bm) || (m == bm && id < bid)))
                }
            };
            if wins {
                best = Some((id, rung, steps, m));
            }
        }
    }
    best.map(|(id, _, steps, m)| (id, steps, m))
}

/// Asynchronous successive halving over a sweep's trials.
#[derive(Debug, Clone)]
pub struct Asha {
    metric: Metric,
    eta: usize,
    rungs: Vec<i64>,
    /// Each trial's folder name and overrides, by id.
    trials: Vec<(String, Value)>,
}

impl Asha {
    /// ASHA with `config` over the trials of `sweep`.
    pub fn new(config: AshaConfig, sweep: &Sweep) -> Self {
        Self {
            metric: Metric::parse(&config.metric).unwrap_or(Metric::ValidationAccuracy),
            eta: usize::try_from(config.eta).unwrap_or(3).max(2),
            rungs: rungs(&config),
            trials: sweep.trials.iter().map(|t| (t.name.clone(), t.overrides_json())).collect(),
        }
    }

    /// The work that takes a trial to rung `rung`.
    fn work(&self, id: usize, rung: usize) -> Work {
        let until = if rung + 1 == self.rungs.len() { None } else { Some(self.rungs[rung]) };
        Work { id, rung, until }
    }

    /// The trial, not busy, to promote from the highest rung that has one.
    fn promotion(&self, state: &State, busy: &[usize]) -> Option<(usize, usize)> {
        for k in (0..self.rungs.len() - 1).rev() {
            let mut ranked = state.results[k].clone();
            ranked.sort_by(|a, b| {
                let order = if self.metric.better(a.1, b.1) {
                    std::cmp::Ordering::Less
                } else if self.metric.better(b.1, a.1) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                };
                order.then(a.0.cmp(&b.0))
            });
            let top = ranked.len() / self.eta;
            let found = ranked[..top]
                .iter()
                .map(|&(id, _)| id)
                .find(|id| state.rung.get(id) == Some(&k) && !busy.contains(id) && !state.stopped.contains(id));
            if let Some(id) = found {
                return Some((id, k + 1));
            }
        }
        None
    }
}

impl SearchStrategy for Asha {
    fn next(&mut self, journal: &mut Journal, busy: &[usize]) -> Result<Option<Work>, SweepError> {
        let state = fold(journal.events(), self.rungs.len());
        // Work that was started but has no result (a stopped sweep): first.
        for &id in &state.created {
            let rung = state.rung[&id];
            if !state.done.contains(&(id, rung)) && !busy.contains(&id) && !state.stopped.contains(&id) {
                return Ok(Some(self.work(id, rung)));
            }
        }
        if let Some((id, rung)) = self.promotion(&state, busy) {
            journal.append(Event::Promoted { id, rung, steps: self.rungs[rung] })?;
            return Ok(Some(self.work(id, rung)));
        }
        let fresh = (0..self.trials.len()).find(|id| !state.rung.contains_key(id) && !busy.contains(id));
        let Some(id) = fresh else { return Ok(None) };
        let (dir, overrides) = self.trials[id].clone();
        journal.append(Event::Trial { id, dir, overrides })?;
        Ok(Some(self.work(id, 0)))
    }

    fn ended(&mut self, work: &Work, dir: &Path, journal: &mut Journal) -> Result<(), SweepError> {
        let steps = self.rungs[work.rung];
        let trial_dir = dir.join(&self.trials[work.id].0);
        let metric = self.metric.read(&trial_dir, steps)?;
        journal.append(Event::Rung { id: work.id, rung: work.rung, steps, metric })
    }

    fn finish(&mut self, journal: &mut Journal) -> Result<(), SweepError> {
        let state = fold(journal.events(), self.rungs.len());
        for &id in &state.created {
            let rung = state.rung[&id];
            if rung + 1 < self.rungs.len() && !state.stopped.contains(&id) && state.done.contains(&(id, rung)) {
                journal.append(Event::Stopped { id, rung })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
