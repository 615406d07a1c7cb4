//! Integration test of `lstm-mnist bench` (the figures `make bench` reads):
//! it reports every figure as a positive number. No timing is asserted.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lstm-mnist");

fn bench(extra: &[&str]) -> std::process::Output {
    let root = env!("CARGO_MANIFEST_DIR");
    Command::new(BIN)
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
