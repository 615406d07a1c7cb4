//! Stratified, seeded hold-out of a validation set from the training examples.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Indices of the examples kept for training and of those held out for
/// validation, both in ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holdout {
    /// Indices of the training examples.
    pub train: Vec<i64>,
    /// Indices of the validation examples.
    pub validation: Vec<i64>,
}

/// Holds out `count` of the examples with the given `labels`, stratified:
/// each class contributes in proportion to its share of the data (rounded by
/// largest remainder, so the counts add up exactly to `count`). Which examples
/// of a class are held out depends only on `seed`.
///
/// `count` is capped at `labels.len()`. Labels are class indices (`u8`,
/// `u16`, `u32` or `u64`); the draw is the same whatever their type.
///
/// ```
/// let labels = [0u8, 0, 0, 0, 1, 1, 1, 1];
/// let h = data_core::holdout::stratified_holdout(&labels, 4, 0);
/// assert_eq!(h.validation.len(), 4);
/// assert_eq!(h.validation.iter().filter(|&&i| labels[i as usize] == 0).count(), 2);
/// ```
pub fn stratified_holdout<L: Copy + Into<u64>>(labels: &[L], count: usize, seed: u64) -> Holdout {
    let total = labels.len();
    let count = count.min(total);
    // The examples of each class present, in class order (absent classes
    // would take no share and draw nothing).
    let mut classes: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for (i, &l) in labels.iter().enumerate() {
        classes.entry(l.into()).or_default().push(i as i64);
    }
    let mut by_class: Vec<Vec<i64>> = classes.into_values().collect();
    // Quotas: floor of the exact share, then the remainder to the classes
    // with the largest fractional parts (ties to the lower class index).
    let mut quotas: Vec<usize> = by_class.iter().map(|c| c.len() * count / total.max(1)).collect();
    let assigned: usize = quotas.iter().sum();
    let mut order: Vec<usize> = (0..by_class.len()).filter(|&c| !by_class[c].is_empty()).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(by_class[c].len() * count % total.max(1)), c));
    for &c in order.iter().cycle().take(count - assigned) {
        quotas[c] += 1;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut validation = Vec::with_capacity(count);
    let mut train = Vec::with_capacity(total - count);
    for (members, quota) in by_class.iter_mut().zip(quotas) {
        members.shuffle(&mut rng);
        validation.extend_from_slice(&members[..quota]);
        train.extend_from_slice(&members[quota..]);
    }
    validation.sort_unstable();
    train.sort_unstable();
    Holdout { train, validation }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_exact_disjoint_and_seeded() {
        // 3 classes of 50, 30 and 20 examples, interleaved.
        let labels: Vec<u8> = (0..100)
            .map(|i| {
                if i % 10 < 5 {
                    0
                } else if i % 10 < 8 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let h = stratified_holdout(&labels, 10, 7);
        assert_eq!(h.validation.len(), 10);
        assert_eq!(h.train.len(), 90);
        let per_class = |idx: &[i64], c: u8| idx.iter().filter(|&&i| labels[i as usize] == c).count();
        assert_eq!([0, 1, 2].map(|c| per_class(&h.validation, c)), [5, 3, 2]);
        let mut all: Vec<i64> = h.train.iter().chain(&h.validation).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<i64>>(), "a partition of the examples");
        assert_eq!(stratified_holdout(&labels, 10, 7), h, "same seed, same split");
        assert_ne!(stratified_holdout(&labels, 10, 8).validation, h.validation, "another seed, another split");
    }

    #[test]
    fn remainders_go_to_the_largest_fractions_and_counts_add_up() {
        // Shares 4/7, 2/7, 1/7 of 3: exact 1.71, 0.86, 0.43; floors 1, 0, 0; the two
        // left go to the largest fractions, class 1 (0.86) then class 0 (0.71).
        let labels = [0u8, 0, 0, 0, 1, 1, 2];
        let h = stratified_holdout(&labels, 3, 0);
        let per_class = |c: u8| h.validation.iter().filter(|&&i| labels[i as usize] == c).count();
        assert_eq!([per_class(0), per_class(1), per_class(2)], [2, 1, 0]);
        for count in 0..=labels.len() {
            let h = stratified_holdout(&labels, count, 1);
            assert_eq!((h.validation.len(), h.train.len()), (count, labels.len() - count));
        }
    }
}
