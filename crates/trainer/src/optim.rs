//! Optimisers over `tch` tensors, step for step PyTorch's `torch.optim.Adam`,
//! `AdamW`, `SGD` and `RMSprop` (single-tensor implementations), with their
//! whole state in named tensors plus a step count, so that a checkpoint can
//! hold it exactly.

use std::collections::BTreeMap;

use tch::{nn::VarStore, Kind, Tensor};

use serde::{Deserialize, Serialize};

use crate::config::{bad, Bad};
use crate::TrainError;

/// The optimiser and its hyperparameters; formulas are PyTorch's
/// (`torch.optim.Adam`, `AdamW`, `SGD`, `RMSprop`, single-tensor variants).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// Adam with L2 weight decay added to the gradient.
    Adam(AdamConfig),
    /// Adam with decoupled weight decay.
    Adamw(AdamConfig),
    /// Stochastic gradient descent, optionally with (Nesterov) momentum.
    Sgd(SgdConfig),
    /// RMSprop, optionally centered and with momentum.
    Rmsprop(RmspropConfig),
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self::Adam(AdamConfig::default())
    }
}

/// Hyperparameters of `adam` and `adamw`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamConfig {
    /// Decay of the first moment. Default 0.9.
    pub beta1: f64,
    /// Decay of the second moment. Default 0.999.
    pub beta2: f64,
    /// Added to the denominator. Default 1e-8.
    pub eps: f64,
    /// Weight decay. Default 0 for `adam`; 0.01 is PyTorch's `AdamW` default but
    /// here too the default is 0, set it explicitly.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

/// Hyperparameters of `sgd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SgdConfig {
    /// Momentum factor. Default 0.
    pub momentum: f64,
    /// Dampening of the momentum. Default 0.
    pub dampening: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0). Default false.
    pub nesterov: bool,
    /// L2 weight decay. Default 0.
    pub weight_decay: f64,
}

/// Hyperparameters of `rmsprop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RmspropConfig {
    /// Smoothing constant of the squared-gradient average. Default 0.99.
    pub alpha: f64,
    /// Added to the denominator. Default 1e-8.
    pub eps: f64,
    /// Momentum factor. Default 0.
    pub momentum: f64,
    /// Normalise by the estimated variance of the gradient. Default false.
    pub centered: bool,
    /// L2 weight decay. Default 0.
    pub weight_decay: f64,
}

impl Default for RmspropConfig {
    fn default() -> Self {
        Self { alpha: 0.99, eps: 1e-8, momentum: 0.0, centered: false, weight_decay: 0.0 }
    }
}

impl OptimizerConfig {
    /// Checks every hyperparameter, naming the `train.optimizer.*` key of the first bad one.
    pub fn validate(&self) -> Bad {
        let unit = |key, v: f64| if (0.0..1.0).contains(&v) { Ok(()) } else { bad(key, v, "use a value in [0, 1)") };
        let nonneg =
            |key, v: f64| if v.is_finite() && v >= 0.0 { Ok(()) } else { bad(key, v, "use a finite value >= 0") };
        let positive = |key, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                bad(key, v, "use a positive value such as 1e-8")
            }
        };
        match self {
            OptimizerConfig::Adam(c) | OptimizerConfig::Adamw(c) => {
                unit("train.optimizer.beta1", c.beta1)?;
                unit("train.optimizer.beta2", c.beta2)?;
                positive("train.optimizer.eps", c.eps)?;
                nonneg("train.optimizer.weight_decay", c.weight_decay)
            }
            OptimizerConfig::Sgd(c) => {
                nonneg("train.optimizer.momentum", c.momentum)?;
                nonneg("train.optimizer.dampening", c.dampening)?;
                nonneg("train.optimizer.weight_decay", c.weight_decay)?;
                if c.nesterov && (c.momentum <= 0.0 || c.dampening != 0.0) {
                    return bad(
                        "train.optimizer.nesterov",
                        true,
                        "Nesterov momentum needs momentum > 0 and dampening 0",
                    );
                }
                Ok(())
            }
            OptimizerConfig::Rmsprop(c) => {
                unit("train.optimizer.alpha", c.alpha)?;
                positive("train.optimizer.eps", c.eps)?;
                nonneg("train.optimizer.momentum", c.momentum)?;
                nonneg("train.optimizer.weight_decay", c.weight_decay)
            }
        }
    }
}

/// An optimiser over the trainable variables of a [`VarStore`].
///
/// ```no_run
/// # use trainer::{Optimizer, OptimizerConfig};
/// # fn demo(vs: &tch::nn::VarStore, loss: tch::Tensor) -> Result<(), trainer::TrainError> {
/// let mut opt = Optimizer::new(OptimizerConfig::default(), vs)?;
/// opt.zero_grad();
/// loss.backward();
/// opt.clip_grad_norm(1.0)?;
/// opt.step(0.001)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    /// Parameters sorted by name.
    params: Vec<(String, Tensor)>,
    /// Per-parameter state buffers, by buffer kind (`exp_avg`, ...), in the order of `params`.
    state: BTreeMap<&'static str, Vec<Tensor>>,
    steps: i64,
}

impl Optimizer {
    /// An optimiser for every trainable variable of `vs`, its state zeroed.
    pub fn new(config: OptimizerConfig, vs: &VarStore) -> Result<Self, TrainError> {
        let mut params: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let buffers: &[&'static str] = match &config {
            OptimizerConfig::Adam(_) | OptimizerConfig::Adamw(_) => &["exp_avg", "exp_avg_sq"],
            OptimizerConfig::Sgd(c) if c.momentum != 0.0 => &["momentum_buffer"],
            OptimizerConfig::Sgd(_) => &[],
            OptimizerConfig::Rmsprop(c) => match (c.centered, c.momentum > 0.0) {
                (true, true) => &["square_avg", "grad_avg", "momentum_buffer"],
                (true, false) => &["square_avg", "grad_avg"],
                (false, true) => &["square_avg", "momentum_buffer"],
                (false, false) => &["square_avg"],
            },
        };
        let mut state = BTreeMap::new();
        for &buffer in buffers {
            let zeros = params.iter().map(|(_, p)| p.f_zeros_like()).collect::<Result<Vec<_>, _>>()?;
            state.insert(buffer, zeros);
        }
        Ok(Self { config, params, state, steps: 0 })
    }

    /// Steps taken so far (PyTorch's `state["step"]`).
    pub fn steps(&self) -> i64 {
        self.steps
    }

    /// Clears the gradients of every parameter.
    pub fn zero_grad(&mut self) {
        for (_, p) in self.params.iter_mut() {
            p.zero_grad();
        }
    }

    fn grads(&self) -> Result<Vec<Option<Tensor>>, TrainError> {
        self.params.iter().map(|(_, p)| Ok(Some(p.f_grad()?).filter(Tensor::defined))).collect()
    }

    /// Scales the gradients so that their global L2 norm is at most
    /// `max_norm`, as `torch.nn.utils.clip_grad_norm_`; returns the norm
    /// before clipping.
    #[allow(unused_must_use)] // in-place ops also return a handle to their tensor
    pub fn clip_grad_norm(&self, max_norm: f64) -> Result<f64, TrainError> {
        let grads: Vec<Tensor> = self.grads()?.into_iter().flatten().collect();
        if grads.is_empty() {
            return Ok(0.0);
        }
        tch::no_grad(|| {
            let norms = grads.iter().map(|g| g.f_norm()).collect::<Result<Vec<_>, _>>()?;
            let total = Tensor::f_stack(&norms, 0)?.f_norm()?;
            let coef = total.f_add_scalar(1e-6)?.f_reciprocal()?.f_mul_scalar(max_norm)?.f_clamp_max(1.0)?;
            for mut g in grads {
                g.f_mul_(&coef)?;
            }
            Ok(total.f_double_value(&[])?)
        })
    }

    /// One update of every parameter that has a gradient, with learning rate `lr`.
    #[allow(unused_must_use)] // in-place ops also return a handle to their tensor
    pub fn step(&mut self, lr: f64) -> Result<(), TrainError> {
        let grads = self.grads()?;
        let first = self.steps == 0;
        self.steps += 1;
        let t = self.steps as i32;
        tch::no_grad(|| -> Result<(), TrainError> {
            for (i, grad) in grads.into_iter().enumerate() {
                let Some(grad) = grad else { continue };
                let mut p = self.params[i].1.shallow_clone();
                let buf = |name: &str| self.state[name][i].shallow_clone();
                match &self.config {
                    OptimizerConfig::Adam(c) | OptimizerConfig::Adamw(c) => {
                        let decoupled = matches!(self.config, OptimizerConfig::Adamw(_));
                        let grad = if c.weight_decay != 0.0 && !decoupled {
                            grad.f_add(&p.f_mul_scalar(c.weight_decay)?)?
                        } else {
                            grad
                        };
                        if decoupled && c.weight_decay != 0.0 {
                            p.f_mul_scalar_(1.0 - lr * c.weight_decay)?;
                        }
                        let (mut m, mut v) = (buf("exp_avg"), buf("exp_avg_sq"));
                        m.f_lerp_(&grad, 1.0 - c.beta1)?;
                        v.f_mul_scalar_(c.beta2)?;
                        v.f_addcmul_(&grad, &grad.f_mul_scalar(1.0 - c.beta2)?)?;
                        let bias1 = 1.0 - c.beta1.powi(t);
                        let bias2_sqrt = (1.0 - c.beta2.powi(t)).sqrt();
                        let denom = v.f_sqrt()?.f_div_scalar_(bias2_sqrt)?.f_add_scalar_(c.eps)?;
                        p.f_addcdiv_(&m.f_mul_scalar(-lr / bias1)?, &denom)?;
                    }
                    OptimizerConfig::Sgd(c) => {
                        let mut grad =
                            if c.weight_decay != 0.0 { grad.f_add(&p.f_mul_scalar(c.weight_decay)?)? } else { grad };
                        if c.momentum != 0.0 {
                            let mut b = buf("momentum_buffer");
                            if first {
                                b.f_copy_(&grad)?;
                            } else {
                                b.f_mul_scalar_(c.momentum)?;
                                b.f_add_(&grad.f_mul_scalar(1.0 - c.dampening)?)?;
                            }
                            grad = if c.nesterov { grad.f_add(&b.f_mul_scalar(c.momentum)?)? } else { b };
                        }
                        p.f_add_(&grad.f_mul_scalar(-lr)?)?;
                    }
                    OptimizerConfig::Rmsprop(c) => {
                        let grad =
                            if c.weight_decay != 0.0 { grad.f_add(&p.f_mul_scalar(c.weight_decay)?)? } else { grad };
                        let mut sq = buf("square_avg");
                        sq.f_mul_scalar_(c.alpha)?;
                        sq.f_addcmul_(&grad, &grad.f_mul_scalar(1.0 - c.alpha)?)?;
                        let mut avg = if c.centered {
                            let mut ga = buf("grad_avg");
                            ga.f_lerp_(&grad, 1.0 - c.alpha)?;
                            sq.f_addcmul(&ga.f_neg()?, &ga)?.f_sqrt_()?
                        } else {
                            sq.f_sqrt()?
                        };
                        avg.f_add_scalar_(c.eps)?;
                        if c.momentum > 0.0 {
                            let mut b = buf("momentum_buffer");
                            b.f_mul_scalar_(c.momentum)?;
                            b.f_addcdiv_(&grad, &avg)?;
                            p.f_add_(&b.f_mul_scalar(-lr)?)?;
                        } else {
                            p.f_addcdiv_(&grad.f_mul_scalar(-lr)?, &avg)?;
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// The state as named tensors (`<buffer>.<parameter name>`, e.g.
    /// `exp_avg.lstm.weight_ih_l0`), for a checkpoint; the step count is [`Optimizer::steps`].
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (buffer, tensors) in &self.state {
            for ((name, _), t) in self.params.iter().zip(tensors) {
                out.push((format!("{buffer}.{name}"), t.shallow_clone()));
            }
        }
        out
    }

    /// Restores a state written by [`Optimizer::state_tensors`] (looked up in
    /// `tensors` by name, with `prefix` in front) and the step count.
    pub fn load_state(
        &mut self,
        tensors: &BTreeMap<String, Tensor>,
        prefix: &str,
        steps: i64,
    ) -> Result<(), TrainError> {
        for (buffer, state) in self.state.iter_mut() {
            for ((name, p), t) in self.params.iter().zip(state.iter_mut()) {
                let key = format!("{prefix}{buffer}.{name}");
                let mismatch = |detail: String| TrainError::StateMismatch { tensor: key.clone(), detail };
                let src = tensors.get(&key).ok_or_else(|| mismatch("(optimiser state) is missing".into()))?;
                if src.size() != p.size() {
                    return Err(mismatch(format!(
                        "(optimiser state) has shape {:?}, expected {:?}",
                        src.size(),
                        p.size()
                    )));
                }
                tch::no_grad(|| t.f_copy_(&src.f_to_kind(Kind::Float)?))?;
            }
        }
        self.steps = steps;
        Ok(())
    }
}
