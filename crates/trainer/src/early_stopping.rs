//! Early stopping on validation accuracy.

use crate::checkpoint::ValidationPoint;

/// Tracks the best validation and stops training once `patience`
/// validations in a row have not improved on its accuracy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EarlyStopping {
    patience: Option<i64>,
    best: Option<ValidationPoint>,
    bad_validations: i64,
}

impl EarlyStopping {
    /// A fresh tracker; `None` never stops.
    pub fn new(patience: Option<i64>) -> Self {
        Self { patience, best: None, bad_validations: 0 }
    }

    /// A tracker continuing from a checkpoint's best validation and counter.
    pub fn resume(patience: Option<i64>, best: Option<ValidationPoint>, bad_validations: i64) -> Self {
        Self { patience, best, bad_validations }
    }

    /// Records a validation; returns whether it is the best so far (ties keep the earlier one).
    pub fn update(&mut self, point: ValidationPoint) -> bool {
        let improved = !matches!(self.best, Some(b) if point.accuracy <= b.accuracy);
        if improved {
            self.best = Some(point);
            self.bad_validations = 0;
        } else {
            self.bad_validations += 1;
        }
        improved
    }

    /// Whether training should stop now.
    pub fn should_stop(&self) -> bool {
        self.patience.is_some_and(|p| self.bad_validations >= p)
    }

    /// The best validation so far.
    pub fn best(&self) -> Option<ValidationPoint> {
        self.best
    }

    /// Validations since the best one.
    pub fn bad_validations(&self) -> i64 {
        self.bad_validations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: i64, accuracy: f64) -> ValidationPoint {
        ValidationPoint { step, accuracy, loss: 1.0 - accuracy }
    }

    #[test]
    fn stops_after_patience_validations_without_improvement() {
        let mut early = EarlyStopping::new(Some(2));
        assert!(early.update(point(1, 0.5)));
        assert!(early.update(point(2, 0.6)));
        assert!(!early.update(point(3, 0.6)), "a tie is not an improvement");
        assert!(!early.should_stop());
        assert!(!early.update(point(4, 0.55)));
        assert!(early.should_stop());
        assert_eq!((early.best(), early.bad_validations()), (Some(point(2, 0.6)), 2));
    }

    #[test]
    fn an_improvement_resets_the_counter_and_no_patience_never_stops() {
        let mut early = EarlyStopping::resume(Some(2), Some(point(2, 0.6)), 1);
        assert!(early.update(point(5, 0.7)));
        assert_eq!(early.bad_validations(), 0);
        let mut never = EarlyStopping::new(None);
        never.update(point(1, 0.9));
        for step in 2..100 {
            never.update(point(step, 0.1));
        }
        assert!(!never.should_stop());
    }
}
