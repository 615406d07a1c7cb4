//! The order in which training examples are visited.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Hands out minibatches of example indices, reshuffling at every epoch.
///
/// It behaves like the notebook's `mnist.train.next_batch`: every batch is
/// full; when an epoch runs out mid-batch, the batch is completed with the
/// first examples of the next epoch's order. Each epoch's order depends only
/// on the seed and the epoch number, so the position `(epoch, cursor)` is all
/// the state needed to resume.
#[derive(Debug, Clone)]
pub(crate) struct BatchOrder {
    len: usize,
    seed: u64,
    epoch: u64,
    cursor: usize,
    order: Vec<i64>,
    buckets: Option<Buckets>,
}

/// Length buckets: each epoch's batches hold sequences of similar lengths.
#[derive(Debug, Clone)]
struct Buckets {
    /// Real length of every example.
    lengths: Vec<i64>,
    /// Examples per batch.
    batch: usize,
}

/// Batches per pool sorted by length (see [`BatchOrder::with_buckets`]).
const POOL_BATCHES: usize = 50;

impl BatchOrder {
    /// An order over `len` examples (`len > 0`), starting at epoch 0.
    pub fn new(len: usize, seed: u64) -> Self {
        let mut this = Self { len, seed, epoch: 0, cursor: 0, order: Vec::new(), buckets: None };
        this.order = this.epoch_order(0);
        this
    }

    /// The same order with length buckets over examples of `lengths`
    /// (`lengths.len()` examples) for batches of `batch`: each epoch's
    /// permutation is cut into pools of [`POOL_BATCHES`] batches, each pool
    /// sorted by length (ties keep the random order), cut into batches, and
    /// the whole batches shuffled (a last partial batch stays last). A batch
    /// then pads little; the epoch still visits every example once, and its
    /// order still depends only on the seed and the epoch.
    pub fn with_buckets(mut self, lengths: Vec<i64>, batch: usize) -> Self {
        self.buckets = Some(Buckets { lengths, batch: batch.max(1) });
        self.order = self.epoch_order(self.epoch);
        self
    }

    /// The permutation of epoch `epoch`.
    pub fn epoch_order(&self, epoch: u64) -> Vec<i64> {
        let mut order: Vec<i64> = (0..self.len as i64).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(epoch);
        order.shuffle(&mut rng);
        let Some(Buckets { lengths, batch }) = &self.buckets else { return order };
        for pool in order.chunks_mut(batch * POOL_BATCHES) {
            pool.sort_by_key(|&i| lengths[i as usize]);
        }
        let mut batches: Vec<&[i64]> = order.chunks(*batch).collect();
        let partial = if batches.last().is_some_and(|b| b.len() < *batch) { batches.pop() } else { None };
        batches.shuffle(&mut rng);
        batches.into_iter().chain(partial).flatten().copied().collect()
    }

    /// The order of `len` examples positioned at `(epoch, cursor)`, as saved
    /// by a checkpoint from [`BatchOrder::epoch`] and [`BatchOrder::cursor`].
    pub fn resume(len: usize, seed: u64, epoch: u64, cursor: usize) -> Self {
        let mut this = Self { len, seed, epoch, cursor: cursor.min(len), order: Vec::new(), buckets: None };
        this.order = this.epoch_order(epoch);
        this
    }

    /// The current epoch (0-based).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Examples of the current epoch already handed out.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The next batch of at most `batch` examples within one epoch (the
    /// `epochs` mode): an epoch's last batch is partial, or skipped when
    /// `drop_last` is set; then the next epoch starts.
    pub fn next_batch_in_epoch(&mut self, batch: usize, drop_last: bool) -> Vec<i64> {
        let left = self.len - self.cursor;
        if left == 0 || (drop_last && left < batch) {
            self.epoch += 1;
            self.cursor = 0;
            self.order = self.epoch_order(self.epoch);
        }
        let take = batch.min(self.len - self.cursor);
        let out = self.order[self.cursor..self.cursor + take].to_vec();
        self.cursor += take;
        out
    }

    /// The indices of the next `batch` examples.
    pub fn next_batch(&mut self, batch: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(batch);
        while out.len() < batch {
            if self.cursor == self.len {
                self.epoch += 1;
                self.cursor = 0;
                self.order = self.epoch_order(self.epoch);
            }
            let take = (batch - out.len()).min(self.len - self.cursor);
            out.extend_from_slice(&self.order[self.cursor..self.cursor + take]);
            self.cursor += take;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_visit_every_example_once_in_batches_of_similar_length() {
        let lengths: Vec<i64> = (0..103).map(|i| (i * 37 % 29) + 1).collect();
        let plain = BatchOrder::new(103, 5);
        let mut order = BatchOrder::new(103, 5).with_buckets(lengths.clone(), 4);
        for epoch in 0..3 {
            let all: Vec<i64> = (0..26).flat_map(|_| order.next_batch_in_epoch(4, false)).collect();
            let mut sorted = all.clone();
            sorted.sort();
            assert_eq!(sorted, (0..103).collect::<Vec<_>>(), "epoch {epoch}");
            assert_eq!(all, order.epoch_order(epoch));
            // Padding of bucketed batches against the plain order's.
            let pad = |o: &[i64]| -> i64 {
                o.chunks(4)
                    .map(|b| {
                        let l: Vec<i64> = b.iter().map(|&i| lengths[i as usize]).collect();
                        l.iter().max().unwrap() * l.len() as i64 - l.iter().sum::<i64>()
                    })
                    .sum()
            };
            assert!(pad(&all) * 5 < pad(&plain.epoch_order(epoch)), "epoch {epoch}: buckets pad far less");
        }
        assert_ne!(order.epoch_order(0), order.epoch_order(1));
        // A last partial batch (103 = 25 * 4 + 3) stays last: whole batches stay whole.
        let e0 = order.epoch_order(0);
        assert_eq!(e0[100..].len(), 3);
        let resumed = BatchOrder::resume(103, 5, 1, 8).with_buckets(lengths, 4);
        assert_eq!(resumed.epoch_order(1), order.epoch_order(1));
    }

    #[test]
    fn every_epoch_is_a_permutation_and_epochs_differ() {
        let mut order = BatchOrder::new(10, 7);
        let first: Vec<i64> = order.next_batch(10);
        let second: Vec<i64> = order.next_batch(10);
        for epoch in [&first, &second] {
            let mut sorted = epoch.clone();
            sorted.sort();
            assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        }
        assert_ne!(first, second);
        assert_eq!(order.epoch(), 1);
    }

    #[test]
    fn batches_straddle_epochs_and_are_reproducible() {
        let mut a = BatchOrder::new(5, 1);
        let b = BatchOrder::new(5, 1);
        let batch1 = a.next_batch(3);
        let batch2 = a.next_batch(3);
        assert_eq!(batch1, b.epoch_order(0)[..3]);
        assert_eq!(batch2[..2], b.epoch_order(0)[3..]);
        assert_eq!(batch2[2], b.epoch_order(1)[0]);
        assert_ne!(BatchOrder::new(5, 2).epoch_order(0), b.epoch_order(0));
    }

    #[test]
    fn epoch_batches_keep_or_drop_the_last_partial_batch_and_resume() {
        let mut keep = BatchOrder::new(5, 3);
        let sizes: Vec<usize> = (0..4).map(|_| keep.next_batch_in_epoch(2, false).len()).collect();
        assert_eq!(sizes, [2, 2, 1, 2]);
        assert_eq!(keep.epoch(), 1);
        let mut drop = BatchOrder::new(5, 3);
        let batches: Vec<Vec<i64>> = (0..3).map(|_| drop.next_batch_in_epoch(2, true)).collect();
        assert_eq!(batches[2], drop.epoch_order(1)[..2]);
        let mut resumed = BatchOrder::resume(5, 3, drop.epoch(), drop.cursor());
        assert_eq!(resumed.next_batch_in_epoch(2, true), drop.next_batch_in_epoch(2, true));
    }
}
