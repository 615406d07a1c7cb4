//! Integration test of `lstm-mnist bench` (the figures `make bench` reads):
//! it reports every figure as a positive number. No timing is asserted.

use crate::common;

use std::process::Command;

use common::BIN;

fn bench(extra: &[&str]) -> std::process::Output {
    bench_with_env(extra, &[])
}

/// Runs `bench` with no `OMP_*`/`GOMP_*` variable in its environment except `openmp`.
fn bench_with_env(extra: &[&str], openmp: &[(&str, &str)]) -> std::process::Output {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        let bytes = name.as_encoded_bytes();
        if bytes.starts_with(b"OMP_") || bytes.starts_with(b"GOMP_") {
            command.env_remove(name);
        }
    }
    command
        .envs(openmp.iter().copied())
        .current_dir(root)
        .args(["bench", "--config", "configs/seed.json", "--set", "device=cpu", "--set", "threads=1"])
        .args(["--set", "model.hidden=8", "--set", "train.batch_size=16", "--set", "eval.batch_size=500"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn bench_prints_one_json_line_with_every_figure() {
    let out = bench(&["--steps", "3", "--warmup", "1", "--eval-repeats", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    for key in ["load_seconds", "train_samples_per_second", "eval_samples_per_second"] {
        let x = v[key].as_f64().unwrap_or_else(|| panic!("{key} missing in {line}"));
        assert!(x.is_finite() && x > 0.0, "{key} = {x}");
    }
    assert_eq!(v["threads"], 1);
    assert_eq!(v["device"], "Cpu");
    assert!(v["vm_hwm_kib"].as_u64().unwrap() > 0);
}

#[test]
fn bench_rejects_zero_steps_as_a_usage_error() {
    let out = bench(&["--steps", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("error: ") && stderr.contains("--steps"), "{stderr}");
}

/// libgomp gets `GOMP_SPINCOUNT=10000` from the binary unless the user set an
/// OpenMP variable; `openmp_defaults` says which happened.
#[test]
fn openmp_spincount_default_applies_unless_the_user_sets_openmp_variables() {
    let figures = |openmp: &[(&str, &str)]| {
        let out = bench_with_env(&["--steps", "1", "--warmup", "0", "--eval-repeats", "1"], openmp);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        serde_json::from_str::<serde_json::Value>(stdout.lines().last().unwrap()).unwrap()
    };
    let v = figures(&[]);
    assert_eq!(v["openmp_defaults"], "Set", "{v}");
    assert_eq!(v["openmp_env"], serde_json::json!([]), "{v}");
    for user in [("OMP_WAIT_POLICY", "PASSIVE"), ("GOMP_SPINCOUNT", "300000")] {
        let v = figures(&[user]);
        assert_eq!(v["openmp_defaults"], "UserSettings", "{v}");
        assert_eq!(v["openmp_env"], serde_json::json!([format!("{}={}", user.0, user.1)]), "{v}");
    }
}
