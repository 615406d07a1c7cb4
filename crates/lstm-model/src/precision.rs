//! Compute precision of the recurrent layers, and `"auto"`: bf16 where the
//! hardware runs it fast, fp32 elsewhere.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

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
    /// bf16 where it is fast ([`fast_bf16`]), else fp32; see [`Precision::resolve`].
    Auto,
}

impl Precision {
    /// The precision to use on `device`: `Auto` becomes [`Precision::Bf16`]
    /// where [`fast_bf16`] says so and [`Precision::Fp32`] elsewhere; the
    /// others are returned as they are.
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
/// has AVX-512 BF16 or AMX-BF16 ([`cpu_has_fast_bf16`]); on CUDA, whether a
/// small bf16 LSTM runs there (cuDNN has bf16 RNNs from Ampere on).
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
pub fn cpu_has_fast_bf16() -> bool {
    static FAST: OnceLock<bool> = OnceLock::new();
    *FAST.get_or_init(|| std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|text| cpuinfo_has_fast_bf16(&text)))
}

/// Whether the first `flags` line of a `/proc/cpuinfo` text lists `avx512_bf16` or `amx_bf16`.
pub fn cpuinfo_has_fast_bf16(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("flags").and_then(|rest| rest.trim_start().strip_prefix(':')))
        .is_some_and(|flags| flags.split_whitespace().any(|f| f == "avx512_bf16" || f == "amx_bf16"))
}

fn cuda_runs_bf16_lstm(device: Device) -> bool {
    let probe = || -> Result<(), tch::TchError> {
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
