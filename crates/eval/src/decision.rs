//! Decision time: after how many steps (rows, for the row layout) the model's
//! answer stops changing, and how accurate it would be if it stopped reading early.

use serde::{Deserialize, Serialize};

/// Decision time of the images of one true class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassDecision {
    /// Class name.
    pub class: String,
    /// Mean `decided_at` over the class's images (0 when it has none).
    pub mean: f64,
    /// Median `decided_at` (the mean of the two middle values for an even count; 0 when none).
    pub median: f64,
    /// Number of images of this class.
    pub support: i64,
}

/// How early the model makes up its mind (the `decision` field of `report.json`).
///
/// `decided_at` of one image is the first step (1-based) from which the most
/// probable class no longer changes until the last step. Step `t`'s class is
/// what the model predicts from the first `t` steps alone
/// ([`lstm_model::LstmClassifier::step_logits`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Steps of the sequence (28 for MNIST read row by row).
    pub steps: usize,
    /// Mean `decided_at` over all images.
    pub mean: f64,
    /// Median `decided_at` over all images.
    pub median: f64,
    /// Per true class, in class order.
    pub classes: Vec<ClassDecision>,
    /// `early_exit[k - 1]`: accuracy if the model stopped reading after `k`
    /// steps and answered with its class at that step, for `k` in `1..=steps`;
    /// the last entry is the report's accuracy.
    pub early_exit: Vec<f64>,
}

/// Collects the per-step predictions of an evaluation, batch by batch.
#[derive(Debug, Clone)]
pub struct DecisionCounter {
    steps: usize,
    classes: usize,
    /// `correct[k]`: images whose class after `k + 1` steps is their label.
    correct: Vec<i64>,
    /// (true class, decided_at) of every image.
    decided: Vec<(usize, usize)>,
}

impl DecisionCounter {
    /// A counter for sequences of `steps` steps and `classes` classes.
    pub fn new(steps: usize, classes: usize) -> Self {
        Self { steps, classes, correct: vec![0; steps], decided: Vec::new() }
    }

    /// Adds a batch: `step_classes` holds, image after image, the most
    /// probable class after each of the `steps` steps; `labels` the true
    /// class of each image. Labels outside `0..classes` count as wrong and
    /// are left out of the per-class figures.
    pub fn add(&mut self, step_classes: &[i64], labels: &[i64]) -> Vec<usize> {
        let mut decided_at = Vec::with_capacity(labels.len());
        for (steps, &label) in step_classes.chunks(self.steps.max(1)).zip(labels) {
            for (k, &class) in steps.iter().enumerate() {
                self.correct[k] += i64::from(class == label);
            }
            let at = lstm_model::decided_at(steps);
            self.decided.push((label as usize, at));
            decided_at.push(at);
        }
        decided_at
    }

    /// The statistics over everything added, with the classes' names.
    pub fn finish(&self, class_names: &[String]) -> Decision {
        let n = self.decided.len().max(1) as f64;
        let all: Vec<usize> = self.decided.iter().map(|&(_, at)| at).collect();
        let classes = (0..self.classes)
            .map(|c| {
                let of: Vec<usize> = self.decided.iter().filter(|&&(t, _)| t == c).map(|&(_, at)| at).collect();
                ClassDecision {
                    class: class_names.get(c).cloned().unwrap_or_else(|| c.to_string()),
                    mean: mean(&of),
                    median: median(&of),
                    support: of.len() as i64,
                }
            })
            .collect();
        Decision {
            steps: self.steps,
            mean: mean(&all),
            median: median(&all),
            classes,
            early_exit: self.correct.iter().map(|&c| c as f64 / n).collect(),
        }
    }
}

fn mean(values: &[usize]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<usize>() as f64 / values.len() as f64
    }
}

fn median(values: &[usize]) -> f64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2] as f64,
        n => (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0,
    }
}

impl Decision {
    /// The one-line summary printed under the evaluation table.
    pub fn summary(&self) -> String {
        let at = |k: usize| self.early_exit.get(k.saturating_sub(1)).copied().unwrap_or(0.0);
        let half = self.steps.div_ceil(2);
        let three_quarters = (self.steps * 3).div_ceil(4);
        format!(
            "decision: settles after {:.1} of {} steps on average (median {}); \
             accuracy stopping after {half} steps {:.4}, after {three_quarters} {:.4}, after all {:.4}",
            self.mean,
            self.steps,
            self.median,
            at(half),
            at(three_quarters),
            at(self.steps)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three images of 4 steps, checked by hand:
    /// image 0, label 0: classes 1 0 0 0 -> decided at 2, right from step 2
    /// image 1, label 1: classes 1 1 1 1 -> decided at 1, right at every step
    /// image 2, label 1: classes 0 1 0 2 -> decided at 4, never right at the end
    #[test]
    fn hand_checked_counts() {
        let mut counter = DecisionCounter::new(4, 3);
        let at = counter.add(&[1, 0, 0, 0, 1, 1, 1, 1], &[0, 1]);
        assert_eq!(at, [2, 1]);
        assert_eq!(counter.add(&[0, 1, 0, 2], &[1]), [4]);
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let d = counter.finish(&names);
        assert_eq!(d.steps, 4);
        assert_eq!(d.early_exit, [1.0 / 3.0, 1.0, 2.0 / 3.0, 2.0 / 3.0]);
        assert_eq!((d.mean, d.median), (7.0 / 3.0, 2.0));
        assert_eq!((d.classes[0].mean, d.classes[0].median, d.classes[0].support), (2.0, 2.0, 1));
        assert_eq!((d.classes[1].mean, d.classes[1].median, d.classes[1].support), (2.5, 2.5, 2));
        assert_eq!((d.classes[2].mean, d.classes[2].support), (0.0, 0));
        let line = d.summary();
        assert!(line.contains("2.3 of 4 steps") && line.contains("median 2") && line.contains("after 2 steps 1.0000"));
    }
}
