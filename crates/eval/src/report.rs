//! The numbers of an evaluation and their table.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::Decision;

/// The widest class-name column [`EvalReport::table`] prints; longer names are cut there.
pub const MAX_NAME_WIDTH: usize = 255;

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Class name.
    pub class: String,
    /// Of the images predicted as this class, the fraction that are (0 when none is predicted).
    pub precision: f64,
    /// Of the images of this class, the fraction predicted as it (0 when there are none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Number of images of this class.
    pub support: i64,
}

/// A (true class, predicted class) pair and how often it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusedPair {
    /// The true class.
    pub truth: String,
    /// The class predicted instead.
    pub predicted: String,
    /// Number of images.
    pub count: i64,
}

/// The results of an evaluation (the core of `report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Fraction of images classified correctly, 0 to 1.
    pub accuracy: f64,
    /// Number of images evaluated.
    pub samples: i64,
    /// Number classified correctly.
    pub correct: i64,
    /// Mean softmax cross-entropy.
    pub loss: f64,
    /// Unweighted mean of the per-class F1 scores.
    pub macro_f1: f64,
    /// Per-class metrics, in class order.
    pub classes: Vec<ClassMetrics>,
    /// `confusion[t][p]`: images of true class `t` predicted as `p`.
    pub confusion: Vec<Vec<i64>>,
    /// The largest off-diagonal cells, most frequent first (at most 10).
    pub most_confused: Vec<ConfusedPair>,
    /// How early the model settles on its answer, and the accuracy of
    /// stopping early; absent when not computed (see `eval.decision`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// How many confused pairs a report lists.
pub const CONFUSED_PAIRS: usize = 10;

fn ratio(a: i64, b: i64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl EvalReport {
    /// Builds the report from true labels and predictions (both in
    /// `0..class_names.len()`) and the mean loss.
    pub fn from_predictions(truth: &[i64], predicted: &[i64], class_names: &[String], loss: f64) -> Self {
        let k = class_names.len();
        let mut confusion = vec![vec![0i64; k]; k];
        for (&t, &p) in truth.iter().zip(predicted) {
            if let Some(cell) = confusion.get_mut(t as usize).and_then(|row| row.get_mut(p as usize)) {
                *cell += 1;
            }
        }
        let correct: i64 = (0..k).map(|c| confusion[c][c]).sum();
        let classes: Vec<ClassMetrics> = (0..k)
            .map(|c| {
                let support: i64 = confusion[c].iter().sum();
                let predicted: i64 = confusion.iter().map(|row| row[c]).sum();
                let (precision, recall) = (ratio(confusion[c][c], predicted), ratio(confusion[c][c], support));
                let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
                ClassMetrics { class: class_names[c].clone(), precision, recall, f1, support }
            })
            .collect();
        let mut pairs: Vec<(i64, usize, usize)> = (0..k)
            .flat_map(|t| (0..k).map(move |p| (t, p)))
            .filter(|&(t, p)| t != p)
            .map(|(t, p)| (confusion[t][p], t, p))
            .filter(|&(count, _, _)| count > 0)
            .collect();
        pairs.sort_by(|a, b| b.0.cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        let most_confused = pairs
            .into_iter()
            .take(CONFUSED_PAIRS)
            .map(|(count, t, p)| ConfusedPair {
                truth: class_names[t].clone(),
                predicted: class_names[p].clone(),
                count,
            })
            .collect();
        let samples = truth.len() as i64;
        Self {
            accuracy: ratio(correct, samples),
            samples,
            correct,
            loss,
            macro_f1: classes.iter().map(|c| c.f1).sum::<f64>() / k.max(1) as f64,
            classes,
            confusion,
            most_confused,
            decision: None,
        }
    }

    /// The report as a plain-text table: per-class metrics, totals, the most
    /// confused pairs and the confusion matrix.
    pub fn table(&self) -> String {
        // Names wider than MAX_NAME_WIDTH are cut: a format width must stay small (a 100,000-character
        // name made `{:<width$}` panic), and a table row that long is unreadable anyway.
        let width = self.classes.iter().map(|c| c.class.len()).max().unwrap_or(5).clamp(9, MAX_NAME_WIDTH);
        let shown = |name: &str| -> String { name.chars().take(width).collect() };
        let mut out = String::new();
        let _ =
            writeln!(out, "{:<width$}  {:>9}  {:>7}  {:>7}  {:>7}", "class", "precision", "recall", "f1", "support");
        for c in &self.classes {
            let _ = writeln!(
                out,
                "{:<width$}  {:>9.4}  {:>7.4}  {:>7.4}  {:>7}",
                shown(&c.class),
                c.precision,
                c.recall,
                c.f1,
                c.support
            );
        }
        let _ =
            writeln!(out, "{:<width$}  {:>9}  {:>7}  {:>7.4}  {:>7}", "macro avg", "", "", self.macro_f1, self.samples);
        let _ = writeln!(
            out,
            "accuracy {:.4} ({} of {}), mean loss {:.4}",
            self.accuracy, self.correct, self.samples, self.loss
        );
        if let Some(decision) = &self.decision {
            let _ = writeln!(out, "{}", decision.summary());
        }
        if !self.most_confused.is_empty() {
            let pairs: Vec<String> =
                self.most_confused.iter().map(|p| format!("{} as {}: {}", p.truth, p.predicted, p.count)).collect();
            let _ = writeln!(out, "most confused (true as predicted): {}", pairs.join(", "));
        }
        let cell = self.confusion.iter().flatten().map(|v| v.to_string().len()).max().unwrap_or(1).max(3);
        let names: Vec<String> = self.classes.iter().map(|c| c.class.chars().take(cell).collect()).collect();
        let _ = writeln!(out, "confusion matrix (rows: true class, columns: predicted):");
        let _ = write!(out, "{:<width$}", "");
        for name in &names {
            let _ = write!(out, " {name:>cell$}");
        }
        out.push('\n');
        for (c, row) in self.classes.iter().zip(&self.confusion) {
            let _ = write!(out, "{:<width$}", shown(&c.class));
            for v in row {
                let _ = write!(out, " {v:>cell$}");
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three classes, eight images, checked by hand:
    /// truth     a a a b b c c c
    /// predicted a a b b a c c a
    /// confusion a: [2 1 0], b: [1 1 0], c: [1 0 2]; correct 5 of 8.
    /// a: precision 2/4, recall 2/3, F1 = 2*(1/2)(2/3)/(7/6) = 4/7
    /// b: precision 1/2, recall 1/2, F1 1/2
    /// c: precision 2/2, recall 2/3, F1 = 2*(2/3)/(5/3) = 4/5
    #[test]
    fn hand_checked_three_class_case() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let truth = [0, 0, 0, 1, 1, 2, 2, 2];
        let predicted = [0, 0, 1, 1, 0, 2, 2, 0];
        let r = EvalReport::from_predictions(&truth, &predicted, &names, 0.75);
        assert_eq!(r.confusion, vec![vec![2, 1, 0], vec![1, 1, 0], vec![1, 0, 2]]);
        assert_eq!((r.correct, r.samples, r.accuracy, r.loss), (5, 8, 0.625, 0.75));
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        let want = [(0.5, 2.0 / 3.0, 4.0 / 7.0, 3), (0.5, 0.5, 0.5, 2), (1.0, 2.0 / 3.0, 0.8, 3)];
        for (c, (p, rc, f1, support)) in r.classes.iter().zip(want) {
            assert!(close(c.precision, p) && close(c.recall, rc) && close(c.f1, f1) && c.support == support, "{c:?}");
        }
        assert!(close(r.macro_f1, (4.0 / 7.0 + 0.5 + 0.8) / 3.0));
        let pairs: Vec<(&str, &str, i64)> =
            r.most_confused.iter().map(|p| (p.truth.as_str(), p.predicted.as_str(), p.count)).collect();
        assert_eq!(pairs, [("a", "b", 1), ("b", "a", 1), ("c", "a", 1)]);
        let table = r.table();
        assert!(table.contains("accuracy 0.6250 (5 of 8), mean loss 0.7500"), "{table}");
        assert!(table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["c", "1", "0", "2"]), "{table}");
        assert!(table.contains("a as b: 1"), "{table}");
    }

    #[test]
    fn a_huge_class_name_is_cut_in_the_table_without_a_panic() {
        let names = vec!["x".repeat(100_000), "y".to_owned()];
        let r = EvalReport::from_predictions(&[0, 1], &[0, 1], &names, 0.0);
        let table = r.table();
        assert!(table.contains(&"x".repeat(MAX_NAME_WIDTH)) && !table.contains(&"x".repeat(MAX_NAME_WIDTH + 1)));
        assert!(table.contains("accuracy 1.0000 (2 of 2)"), "{table}");
    }

    #[test]
    fn a_class_never_predicted_has_zero_precision_not_nan() {
        let names: Vec<String> = ["x", "y"].iter().map(|s| s.to_string()).collect();
        let r = EvalReport::from_predictions(&[0, 1], &[0, 0], &names, 0.0);
        assert_eq!((r.classes[1].precision, r.classes[1].recall, r.classes[1].f1), (0.0, 0.0, 0.0));
        assert_eq!(r.classes[0].precision, 0.5);
        assert!(serde_json::to_string(&r).unwrap().contains("\"accuracy\":0.5"));
    }
}
