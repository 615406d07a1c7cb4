//! Search strategies: what runs next, decided from the results so far.
//!
//! Trials are not a precomputed list of runs: a [`SearchStrategy`] proposes
//! the next unit of [`Work`] (a trial, and how far to run it) whenever a
//! worker is free, given the sweep folder's [`Journal`] (the results and
//! decisions so far) and the trials being worked on now. A strategy that
//! makes decisions records them in the journal before it returns them, so
//! that a rerun replays them. [`Exhaustive`] runs a list of trials to their
//! end (grid, random, seeds); [`crate::asha::Asha`] is successive halving.

use std::collections::VecDeque;
use std::path::Path;

use crate::journal::Journal;
use crate::{Search, Sweep, SweepError};

/// One unit of work: run trial `id` (continuing its run folder when it has
/// a checkpoint) until step `until`, or to its end when `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// The trial's id.
    pub id: usize,
    /// The rung this work ends at (0 for strategies without rungs).
    pub rung: usize,
    /// Stop after this step, with a checkpoint; `None`: run to the end.
    pub until: Option<i64>,
}

/// Decides what runs next from the results so far.
pub trait SearchStrategy {
    /// The next unit of work, or `None` when there is nothing to start now
    /// (the sweep is over once nothing is running either). `busy` holds the
    /// trials being worked on (or that failed in this session): they are not
    /// proposed. Decisions are appended to `journal` before they are returned.
    fn next(&mut self, journal: &mut Journal, busy: &[usize]) -> Result<Option<Work>, SweepError>;

    /// `work` ended well (its worker exited with success): records its result
    /// from the trial's folder in `dir` (the sweep folder). Default: nothing.
    fn ended(&mut self, work: &Work, dir: &Path, journal: &mut Journal) -> Result<(), SweepError> {
        let _ = (work, dir, journal);
        Ok(())
    }

    /// The sweep is over (nothing to start, nothing running): records how it
    /// ended (trials stopped at their rungs). Default: nothing.
    fn finish(&mut self, journal: &mut Journal) -> Result<(), SweepError> {
        let _ = journal;
        Ok(())
    }
}

/// Every trial of a list, once, to its end, in order (grid, random, seeds).
/// It records nothing in the journal: each trial's state is its folder's.
#[derive(Debug, Clone, Default)]
pub struct Exhaustive {
    queue: VecDeque<usize>,
}

impl Exhaustive {
    /// Runs the trials `todo` (ids), in this order.
    pub fn new(todo: &[usize]) -> Self {
        Self { queue: todo.iter().copied().collect() }
    }
}

impl SearchStrategy for Exhaustive {
    fn next(&mut self, _journal: &mut Journal, busy: &[usize]) -> Result<Option<Work>, SweepError> {
        let position = self.queue.iter().position(|id| !busy.contains(id));
        Ok(position.and_then(|i| self.queue.remove(i)).map(|id| Work { id, rung: 0, until: None }))
    }
}

/// The strategy of `sweep`'s `search` section; `todo` are the trials an
/// [`Exhaustive`] search runs (those not done yet).
pub fn for_sweep(sweep: &Sweep, todo: &[usize]) -> Box<dyn SearchStrategy> {
    match &sweep.file.search {
        Search::All => Box::new(Exhaustive::new(todo)),
        Search::Asha(config) => Box::new(crate::asha::Asha::new(config.clone(), sweep)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustive_proposes_each_trial_once_skipping_busy_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(tmp.path()).unwrap();
        let mut s = Exhaustive::new(&[3, 1, 4]);
        let ids = |w: Option<Work>| w.map(|w| (w.id, w.until));
        assert_eq!(ids(s.next(&mut journal, &[3]).unwrap()), Some((1, None)));
        assert_eq!(ids(s.next(&mut journal, &[]).unwrap()), Some((3, None)));
        assert_eq!(ids(s.next(&mut journal, &[]).unwrap()), Some((4, None)));
        assert_eq!(ids(s.next(&mut journal, &[]).unwrap()), None);
        assert!(journal.events().is_empty(), "it records nothing");
    }
}
