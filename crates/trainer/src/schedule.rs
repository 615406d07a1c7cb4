//! Learning rate as a pure function of the step, so that resuming needs only
//! the step number.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use crate::config::{bad, Bad};

/// The learning-rate schedule over the run's steps, relative to `learning_rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum ScheduleConfig {
    /// `learning_rate` throughout (after the warm-up).
    Constant(ConstantSchedule),
    /// Multiplied by `gamma` every `step_size` steps (as `StepLR`).
    Step(StepSchedule),
    /// Cosine decay from `learning_rate` to `min_lr` over the steps after the
    /// warm-up (as `CosineAnnealingLR` with `T_max` = those steps - 1).
    Cosine(CosineSchedule),
    /// PyTorch's `OneCycleLR` (cosine annealing, two phases) with `max_lr` =
    /// `learning_rate`; its first phase is the warm-up.
    OneCycle(OneCycleSchedule),
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self::Constant(ConstantSchedule::default())
    }
}

/// `constant` schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ConstantSchedule {
    /// Linear warm-up: step `s <= warmup_steps` uses `learning_rate * s / warmup_steps`. Default 0.
    pub warmup_steps: i64,
}

/// `step` schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepSchedule {
    /// Linear warm-up steps (as for `constant`). Default 0.
    pub warmup_steps: i64,
    /// Steps between decays. Default 1000.
    pub step_size: i64,
    /// Decay factor. Default 0.1.
    pub gamma: f64,
}

impl Default for StepSchedule {
    fn default() -> Self {
        Self { warmup_steps: 0, step_size: 1000, gamma: 0.1 }
    }
}

/// `cosine` schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CosineSchedule {
    /// Linear warm-up steps (as for `constant`). Default 0.
    pub warmup_steps: i64,
    /// Learning rate of the last step. Default 0.
    pub min_lr: f64,
}

/// `one-cycle` schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OneCycleSchedule {
    /// Fraction of the steps spent rising from `learning_rate / div_factor`. Default 0.3.
    pub pct_start: f64,
    /// Initial learning rate = `learning_rate / div_factor`. Default 25.
    pub div_factor: f64,
    /// Final learning rate = initial / `final_div_factor`. Default 10000.
    pub final_div_factor: f64,
}

impl Default for OneCycleSchedule {
    fn default() -> Self {
        Self { pct_start: 0.3, div_factor: 25.0, final_div_factor: 1e4 }
    }
}

impl ScheduleConfig {
    /// Checks every setting, naming the `train.schedule.*` key of the first
    /// bad one; `learning_rate` bounds the cosine schedule's `min_lr`.
    pub fn validate(&self, learning_rate: f64) -> Bad {
        let warmup =
            |w: i64| if w >= 0 { Ok(()) } else { bad("train.schedule.warmup_steps", w, "use a number of steps >= 0") };
        match self {
            ScheduleConfig::Constant(c) => warmup(c.warmup_steps),
            ScheduleConfig::Step(c) => {
                warmup(c.warmup_steps)?;
                if c.step_size < 1 {
                    return bad("train.schedule.step_size", c.step_size, "use a positive number of steps");
                }
                if !(c.gamma.is_finite() && c.gamma > 0.0) {
                    return bad("train.schedule.gamma", c.gamma, "use a positive factor such as 0.1");
                }
                Ok(())
            }
            ScheduleConfig::Cosine(c) => {
                warmup(c.warmup_steps)?;
                if !(c.min_lr.is_finite() && c.min_lr >= 0.0 && c.min_lr <= learning_rate) {
                    return bad("train.schedule.min_lr", c.min_lr, "use a value between 0 and train.learning_rate");
                }
                Ok(())
            }
            ScheduleConfig::OneCycle(c) => {
                if !(c.pct_start > 0.0 && c.pct_start < 1.0) {
                    return bad(
                        "train.schedule.pct_start",
                        c.pct_start,
                        "use a fraction strictly between 0 and 1 such as 0.3",
                    );
                }
                if !(c.div_factor.is_finite() && c.div_factor > 0.0) {
                    return bad("train.schedule.div_factor", c.div_factor, "use a positive factor such as 25");
                }
                if !(c.final_div_factor.is_finite() && c.final_div_factor > 0.0) {
                    return bad(
                        "train.schedule.final_div_factor",
                        c.final_div_factor,
                        "use a positive factor such as 10000",
                    );
                }
                Ok(())
            }
        }
    }
}

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
