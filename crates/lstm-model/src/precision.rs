//! Compute precision of the recurrent layers, and `"auto"`: the faster of
//! bf16 and fp32, measured on the model's own shape where the hardware has bf16.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::{LstmClassifier, Result};

/// The precision the recurrent layers compute in (`train.precision`,
/// `eval.precision`). Weights stay `f32` whatever the precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats throughout (default): bit-exact reproducible on the CPU.
    #[default]
    Fp32,
    /// bfloat16 compute, `f32` weights. Fast on CPUs with AVX-512 BF16 or AMX
    /// (oneDNN's bf16 LSTM) and on CUDA GPUs with bf16 (Ampere and later);
    /// elsewhere it works but libtorch's generic bf16 LSTM is far slower than fp32.
    Bf16,
    /// float16 compute, `f32` weights; CUDA only.
    Fp16,
    /// The faster of bf16 and fp32 for the model at hand, measured where the
    /// hardware has bf16 at all ([`fast_bf16`]), else fp32; see
    /// [`LstmClassifier::resolve_precision`].
    Auto,
}

impl Precision {
    /// The precision to use on `device` when no model is at hand: `Auto`
    /// becomes [`Precision::Bf16`] where the hardware has bf16 ([`fast_bf16`])
    /// and [`Precision::Fp32`] elsewhere; the others are returned as they are.
    /// With a model, [`LstmClassifier::resolve_precision`] measures instead:
    /// having the instructions does not make bf16 faster on every CPU.
    pub fn resolve(self, device: Device) -> Precision {
        match self {
            Precision::Auto if fast_bf16(device) => Precision::Bf16,
            Precision::Auto => Precision::Fp32,
            other => other,
        }
    }

    /// The tensor kind of the computation (`Auto` is resolved for the CPU).
    pub fn kind(self) -> Kind {
        match self.resolve(Device::Cpu) {
            Precision::Bf16 => Kind::BFloat16,
            Precision::Fp16 => Kind::Half,
            Precision::Fp32 | Precision::Auto => Kind::Float,
        }
    }

    /// The config spelling: `"fp32"`, `"bf16"`, `"fp16"` or `"auto"`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
            Precision::Auto => "auto",
        }
    }
}

/// Whether bf16 recurrent layers run fast on `device`: on the CPU, whether it
/// has AVX-512 BF16 or AMX-BF16 (the `avx512_bf16` or `amx_bf16` flag of
/// `/proc/cpuinfo`); on CUDA, whether a small bf16 LSTM runs there (cuDNN has
/// bf16 RNNs from Ampere on).
pub fn fast_bf16(device: Device) -> bool {
    match device {
        Device::Cpu => cpu_has_fast_bf16(),
        Device::Cuda(_) => cuda_runs_bf16_lstm(device),
        _ => false,
    }
}

/// Whether this CPU has AVX-512 BF16 or AMX-BF16 instructions, enabled by the
/// kernel (the `avx512_bf16` and `amx_bf16` flags of `/proc/cpuinfo`; false
/// where that file does not exist). Read once per process.
pub(crate) fn cpu_has_fast_bf16() -> bool {
    static FAST: OnceLock<bool> = OnceLock::new();
    *FAST.get_or_init(|| std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|text| cpuinfo_has_fast_bf16(&text)))
}

/// Whether the first `flags` line of a `/proc/cpuinfo` text lists `avx512_bf16` or `amx_bf16`.
pub(crate) fn cpuinfo_has_fast_bf16(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("flags").and_then(|rest| rest.trim_start().strip_prefix(':')))
        .is_some_and(|flags| flags.split_whitespace().any(|f| f == "avx512_bf16" || f == "amx_bf16"))
}

/// What a precision is chosen for: a training step (forward and backward
/// passes) or inference (forward pass without gradients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    /// Forward and backward passes, as in a training step.
    Training,
    /// The forward pass alone, without gradients (evaluation, predict).
    Inference,
}

/// How `"auto"` chose, as [`LstmClassifier::auto_precision`] returns it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoChoice {
    /// The precision chosen: [`Precision::Fp32`] or [`Precision::Bf16`].
    pub precision: Precision,
    /// Samples per second of fp32 and bf16 on the model's shape, where they
    /// were measured; `None` where the hardware has no bf16 to try.
    pub measured: Option<(f64, f64)>,
}

/// How much faster bf16 must be than fp32 before `"auto"` takes it: bf16 is
/// less exact, so a tie goes to fp32.
pub(crate) const BF16_MARGIN: f64 = 1.05;

/// The precision `"auto"` takes given measured fp32 and bf16 speeds (samples/s).
pub(crate) fn faster_precision(fp32: f64, bf16: f64) -> Precision {
    if bf16.is_finite() && fp32.is_finite() && bf16 >= BF16_MARGIN * fp32 {
        Precision::Bf16
    } else {
        Precision::Fp32
    }
}

impl LstmClassifier {
    /// The precision to run `workload` in at `batch` images a batch:
    /// `precision` itself, or for [`Precision::Auto`] the choice of
    /// [`auto_precision`](Self::auto_precision), logged once at info level.
    pub fn resolve_precision(&self, precision: Precision, batch: i64, workload: Workload) -> Result<Precision> {
        if precision != Precision::Auto {
            return Ok(precision);
        }
        Ok(self.auto_precision(batch, workload)?.precision)
    }

    /// Chooses between fp32 and bf16 for `workload` at `batch` images a batch
    /// on this model's device: fp32 where the device has no bf16 to try
    /// ([`fast_bf16`]); elsewhere both are timed on a fresh model of the same
    /// shape (a few steps each, alternating, about a tenth of a second for the
    /// notebook's model) and bf16 is taken when it is at least 1.05 times as
    /// fast (a tie goes to the more exact fp32). The result is cached for the process.
    pub fn auto_precision(&self, batch: i64, workload: Workload) -> Result<AutoChoice> {
        static CHOICES: OnceLock<Mutex<HashMap<String, AutoChoice>>> = OnceLock::new();
        let device = self.device();
        let key = format!("{:?}|{batch}|{workload:?}|{device:?}", self.spec());
        let cache = CHOICES.get_or_init(Default::default);
        if let Some(choice) = cache.lock().ok().and_then(|c| c.get(&key).copied()) {
            return Ok(choice);
        }
        let choice = if fast_bf16(device) {
            let probe = LstmClassifier::new(self.spec().clone(), device)?;
            let (fp32, bf16) = probe.measure_precisions(batch.max(1), workload)?;
            AutoChoice { precision: faster_precision(fp32, bf16), measured: Some((fp32, bf16)) }
        } else {
            AutoChoice { precision: Precision::Fp32, measured: None }
        };
        log_choice(&choice, batch, workload, device);
        if let Ok(mut c) = cache.lock() {
            c.insert(key, choice);
        }
        Ok(choice)
    }

    /// Median samples per second of fp32 and bf16 over alternating rounds.
    fn measure_precisions(&self, batch: i64, workload: Workload) -> Result<(f64, f64)> {
        const ROUNDS: usize = 3;
        let spec = self.spec();
        let images = Tensor::f_rand([batch, spec.image_height, spec.image_width], (Kind::Float, self.device()))?;
        let (mut fp32, mut bf16) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
        for kind in [Kind::Float, Kind::BFloat16] {
            self.probe_step(&images, workload, kind)?;
        }
        for _ in 0..ROUNDS {
            fp32.push(self.probe_rate(&images, workload, Kind::Float)?);
            bf16.push(self.probe_rate(&images, workload, Kind::BFloat16)?);
        }
        Ok((median(&mut fp32), median(&mut bf16)))
    }

    /// Samples per second of two probe steps in `kind`.
    fn probe_rate(&self, images: &Tensor, workload: Workload, kind: Kind) -> Result<f64> {
        let start = Instant::now();
        for _ in 0..2 {
            self.probe_step(images, workload, kind)?;
        }
        Ok(2.0 * images.size()[0] as f64 / start.elapsed().as_secs_f64().max(1e-9))
    }

    /// One forward (and for training, backward) pass; reading the result
    /// waits for the device.
    fn probe_step(&self, images: &Tensor, workload: Workload, kind: Kind) -> Result<()> {
        match workload {
            Workload::Training => {
                let loss = self.forward_t_with(images, false, kind)?.f_sum(Kind::Float)?;
                loss.f_backward()?;
                loss.f_double_value(&[])?;
                // As a training step's zero_grad, so that gradients do not pile up.
                for mut grad in self.var_store().trainable_variables().iter().map(Tensor::grad) {
                    if grad.defined() {
                        let _zeroed = grad.f_zero_()?;
                    }
                }
            }
            Workload::Inference => {
                self.forward_with(images, kind)?.f_sum(Kind::Float)?.f_double_value(&[])?;
            }
        }
        Ok(())
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn log_choice(choice: &AutoChoice, batch: i64, workload: Workload, device: Device) {
    let purpose = match workload {
        Workload::Training => "training",
        Workload::Inference => "inference",
    };
    match choice.measured {
        Some((fp32, bf16)) => tracing::info!(
            precision = choice.precision.name(),
            fp32_samples_per_second = fp32.round(),
            bf16_samples_per_second = bf16.round(),
            "precision \"auto\": {purpose} in {} (measured at batch {batch} on {device:?}: \
             fp32 {fp32:.0}, bf16 {bf16:.0} samples/s)",
            choice.precision.name()
        ),
        None => tracing::info!(
            precision = "fp32",
            "precision \"auto\": {purpose} in fp32 ({device:?} has no fast bf16: \
             no AVX-512 BF16 or AMX-BF16 on the CPU, or no bf16 LSTM on the GPU)"
        ),
    }
}

fn cuda_runs_bf16_lstm(device: Device) -> bool {
    let probe = || -> std::result::Result<(), tch::TchError> {
        let opts = (Kind::BFloat16, device);
        let x = Tensor::f_zeros([1, 2, 4], opts)?;
        let h = Tensor::f_zeros([1, 1, 4], opts)?;
        let w_ih = Tensor::f_zeros([16, 4], opts)?;
        let w_hh = Tensor::f_zeros([16, 4], opts)?;
        let b = Tensor::f_zeros([16], opts)?;
        let (out, _, _) = x.f_lstm(&[&h, &h], &[&w_ih, &w_hh, &b, &b], true, 1, 0.0, false, false, true)?;
        // Reading a value waits for the GPU, so a kernel that fails is seen here.
        out.f_sum(Kind::Float)?.f_double_value(&[])?;
        Ok(())
    };
    tch::no_grad(probe).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_resolves_to_a_concrete_precision() {
        let cpu = Precision::Auto.resolve(Device::Cpu);
        assert_eq!(cpu, if cpu_has_fast_bf16() { Precision::Bf16 } else { Precision::Fp32 });
        for p in [Precision::Fp32, Precision::Bf16, Precision::Fp16] {
            assert_eq!(p.resolve(Device::Cpu), p);
        }
        assert_eq!(Precision::Fp32.kind(), Kind::Float);
        assert_eq!(Precision::Bf16.kind(), Kind::BFloat16);
        assert_eq!(Precision::Fp16.kind(), Kind::Half);
    }

    #[test]
    fn bf16_is_taken_only_when_clearly_faster() {
        assert_eq!(faster_precision(1000.0, 1000.0), Precision::Fp32);
        assert_eq!(faster_precision(1000.0, 1040.0), Precision::Fp32);
        assert_eq!(faster_precision(1000.0, 1050.0), Precision::Bf16);
        assert_eq!(faster_precision(1000.0, 680.0), Precision::Fp32);
        assert_eq!(faster_precision(f64::NAN, 5000.0), Precision::Fp32);
        assert_eq!(faster_precision(1000.0, f64::INFINITY), Precision::Fp32);
    }

    #[test]
    fn auto_measures_where_the_cpu_has_bf16_and_keeps_its_choice() {
        use crate::{ModelConfig, ModelSpec};
        let config = ModelConfig { hidden: 8, ..ModelConfig::default() };
        let spec = ModelSpec::new(config, 6, 5, vec!["a".into(), "b".into()]);
        let model = LstmClassifier::new(spec, Device::Cpu).unwrap();
        let before: Vec<Tensor> = model.var_store().trainable_variables();
        let before: Vec<Tensor> = before.iter().map(Tensor::copy).collect();
        for workload in [Workload::Training, Workload::Inference] {
            let choice = model.auto_precision(4, workload).unwrap();
            assert!(matches!(choice.precision, Precision::Fp32 | Precision::Bf16), "{choice:?}");
            assert_eq!(choice.measured.is_some(), cpu_has_fast_bf16(), "{choice:?}");
            if let Some((fp32, bf16)) = choice.measured {
                assert!(fp32 > 0.0 && bf16 > 0.0, "{choice:?}");
                assert_eq!(choice.precision, faster_precision(fp32, bf16));
            }
            assert_eq!(model.auto_precision(4, workload).unwrap(), choice, "the choice is cached");
            assert_eq!(model.resolve_precision(Precision::Auto, 4, workload).unwrap(), choice.precision);
            assert_eq!(model.resolve_precision(Precision::Bf16, 4, workload).unwrap(), Precision::Bf16);
        }
        let after = model.var_store().trainable_variables();
        assert!(before.iter().zip(&after).all(|(b, a)| b.equal(a)), "measuring must not touch the model's weights");
    }

    #[test]
    fn cpu_flags_decide_fast_bf16() {
        let with = |flags: &str| format!("processor\t: 0\nmodel name\t: X\nflags\t\t: {flags}\nbugs\t\t: none\n");
        assert!(cpuinfo_has_fast_bf16(&with("fpu avx512f avx512_bf16 avx512_vnni")));
        assert!(cpuinfo_has_fast_bf16(&with("fpu avx2 amx_bf16 amx_tile")));
        assert!(!cpuinfo_has_fast_bf16(&with("fpu avx2 avx512f avx512_vnni amx_tile")));
        assert!(!cpuinfo_has_fast_bf16(&with("fpu avx512_bf16x")));
        assert!(!cpuinfo_has_fast_bf16("processor\t: 0\n"));
    }

    #[test]
    fn precision_names_round_trip_through_json() {
        for p in [Precision::Fp32, Precision::Bf16, Precision::Fp16, Precision::Auto] {
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.name()));
            assert_eq!(serde_json::from_str::<Precision>(&format!("\"{}\"", p.name())).unwrap(), p);
        }
        assert!(serde_json::from_str::<Precision>("\"fp64\"").is_err());
    }
}
