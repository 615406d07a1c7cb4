//! Every input in `tests/fuzz_regressions/config/` (crashes found by the
//! `config` fuzz target, and hand-made nasty configs) must load without a
//! panic: `Ok` or a typed [`ConfigError`]. Each goes through the fuzz
//! target's own body, [`lstm_mnist::fuzz::config`] (`json \0 set \0 set ...`).

use std::path::Path;

use lstm_mnist::config::ConfigError;
use lstm_mnist::fuzz::config as run;

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/config")
}

#[test]
fn every_regression_input_returns_without_panicking() {
    let mut names: Vec<_> = std::fs::read_dir(dir()).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    assert!(names.len() >= 10, "the regression inputs are missing from {}", dir().display());
    for path in names {
        let data = std::fs::read(&path).unwrap();
        assert!(std::panic::catch_unwind(|| run(&data)).is_ok(), "{}: panicked", path.display());
    }
}

#[test]
fn hand_made_inputs_give_clear_errors() {
    let err = |name: &str| match run(&std::fs::read(dir().join(name)).unwrap()) {
        Some(Err(e)) => e,
        other => panic!("{name}: expected an error, got {other:?}"),
    };
    assert!(matches!(err("hand-empty"), ConfigError::Json { .. }));
    assert!(matches!(err("hand-deep-nesting"), ConfigError::Json { .. }));
    assert!(matches!(err("hand-set-through-number"), ConfigError::SetPath { .. }));
    assert!(matches!(err("hand-set-empty-key"), ConfigError::SetSyntax(_)));
    assert!(matches!(err("hand-set-no-equals"), ConfigError::SetSyntax(_)));
    assert!(matches!(err("hand-threads-zero"), ConfigError::Threads(0)));
    let e = err("hand-source-number").to_string();
    assert!(e.contains("source"), "{e}");
    let e = err("hand-null-name").to_string();
    assert!(e.contains("device") && e.contains("tpu"), "{e}");
    // Absurd model sizes pass the config loader (it checks types) and are
    // refused by the model's own check, before anything is allocated.
    let Some(Ok(huge)) = run(&std::fs::read(dir().join("hand-hidden-huge")).unwrap()) else {
        panic!("hand-hidden-huge")
    };
    let spec = lstm_model::ModelSpec::new(huge.model, 28, 28, (0..10).map(|d| d.to_string()).collect());
    let e = spec.validate().unwrap_err().to_string();
    assert!(e.contains("model.hidden") && e.contains("2^31"), "{e}");
    assert!(run(&std::fs::read(dir().join("hand-not-utf8")).unwrap()).is_none());
}
