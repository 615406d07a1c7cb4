//! Learning rate as a pure function of the step, so that resuming needs only
//! the step number.

use std::f64::consts::PI;

use crate::config::ScheduleConfig;

/// A learning-rate schedule over a run of `total` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    config: ScheduleConfig,
    base_lr: f64,
    total: i64,
}

fn cos_anneal(start: f64, end: f64, pct: f64) -> f64 {
    end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
}

impl Schedule {
    /// The schedule `config` with peak learning rate `base_lr` over `total` steps.
    pub fn new(config: ScheduleConfig, base_lr: f64, total: i64) -> Self {
        Self { config, base_lr, total: total.max(1) }
    }

    /// The learning rate of step `step` (1-based: the first step is 1).
    pub fn lr(&self, step: i64) -> f64 {
        let e = (step - 1).max(0); // PyTorch's scheduler epoch count
        let warm = |warmup: i64| -> Option<f64> {
            (warmup > 0 && step <= warmup).then(|| self.base_lr * step as f64 / warmup as f64)
        };
        match &self.config {
            ScheduleConfig::Constant(c) => warm(c.warmup_steps).unwrap_or(self.base_lr),
            ScheduleConfig::Step(c) => warm(c.warmup_steps).unwrap_or_else(|| {
                let after = (e - c.warmup_steps).max(0);
                self.base_lr * c.gamma.powi((after / c.step_size) as i32)
            }),
            ScheduleConfig::Cosine(c) => warm(c.warmup_steps).unwrap_or_else(|| {
                let after = (e - c.warmup_steps).max(0);
                let span = (self.total - c.warmup_steps - 1).max(1);
                cos_anneal(self.base_lr, c.min_lr, (after.min(span)) as f64 / span as f64)
            }),
            ScheduleConfig::OneCycle(c) => {
                // torch.optim.lr_scheduler.OneCycleLR, anneal_strategy="cos", three_phase=False.
                let initial = self.base_lr / c.div_factor;
                let min = initial / c.final_div_factor;
                let end_up = c.pct_start * self.total as f64 - 1.0;
                let end_down = self.total as f64 - 1.0;
                let e = e as f64;
                if e <= end_up {
                    cos_anneal(initial, self.base_lr, e / end_up)
                } else {
                    cos_anneal(self.base_lr, min, ((e - end_up) / (end_down - end_up)).min(1.0))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConstantSchedule, CosineSchedule, StepSchedule};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn constant_with_linear_warmup() {
        let s = Schedule::new(ScheduleConfig::Constant(ConstantSchedule { warmup_steps: 4 }), 0.8, 10);
        let lrs: Vec<f64> = (1..=6).map(|i| s.lr(i)).collect();
        for (got, want) in lrs.iter().zip([0.2, 0.4, 0.6, 0.8, 0.8, 0.8]) {
            assert!(close(*got, want), "{lrs:?}");
        }
        let plain = Schedule::new(ScheduleConfig::default(), 0.001, 781);
        assert!((1..=781).all(|i| plain.lr(i) == 0.001));
    }

    #[test]
    fn step_decays_after_warmup() {
        let s =
            Schedule::new(ScheduleConfig::Step(StepSchedule { warmup_steps: 2, step_size: 3, gamma: 0.5 }), 1.0, 20);
        let lrs: Vec<f64> = (1..=9).map(|i| s.lr(i)).collect();
        let want = [0.5, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25];
        assert!(lrs.iter().zip(want).all(|(a, b)| close(*a, b)), "{lrs:?}");
    }

    #[test]
    fn cosine_after_warmup_goes_from_peak_to_min() {
        let s = Schedule::new(ScheduleConfig::Cosine(CosineSchedule { warmup_steps: 2, min_lr: 0.1 }), 1.0, 7);
        // Steps 3..=7 are the cosine: 5 steps, span 4: pct 0, .25, .5, .75, 1.
        let lrs: Vec<f64> = (1..=8).map(|i| s.lr(i)).collect();
        let cos = |p: f64| 0.1 + 0.9 * ((PI * p).cos() + 1.0) / 2.0;
        let want = [0.5, 1.0, 1.0, cos(0.25), 0.55, cos(0.75), 0.1, 0.1];
        assert!(lrs.iter().zip(want).all(|(a, b)| close(*a, b)), "{lrs:?}");
    }
}
