//! Every input in `tests/fuzz_regressions/model/` (crashes found by the
//! `model` fuzz target, and hand-made nasty model folders) must load without
//! a panic: `Ok` or a typed [`ModelError`]. Each goes through the fuzz
//! target's own body, [`lstm_model::fuzz::model`] (`model.json` bytes, a NUL
//! byte, then the `model.safetensors` bytes).

use std::path::{Path, PathBuf};

use lstm_model::{LstmClassifier, ModelError};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/model")
}

/// The fuzz target's own body on one input, in folder `folder`; every
/// regression input is within the fuzz target's limits.
fn run(data: &[u8], folder: &Path) -> Result<LstmClassifier, ModelError> {
    lstm_model::fuzz::model(data, folder).expect("an input within the fuzz limits")
}

fn load(name: &str) -> Result<LstmClassifier, ModelError> {
    let folder = tempfile::tempdir().unwrap();
    run(&std::fs::read(dir().join(name)).unwrap(), folder.path())
}

#[test]
fn every_regression_input_returns_without_panicking() {
    let mut names: Vec<_> = std::fs::read_dir(dir()).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    assert!(names.len() >= 10, "the regression inputs are missing from {}", dir().display());
    let folder = tempfile::tempdir().unwrap();
    for path in names {
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| run(&data, folder.path()).map(|_| ()));
        assert!(result.is_ok(), "{}: panicked", path.display());
    }
}

#[test]
fn hand_made_inputs_give_clear_errors() {
    let err = |name: &str| match load(name) {
        Err(e) => e,
        Ok(_) => panic!("{name}: loaded"),
    };
    assert!(load("hand-valid").is_ok());
    assert!(matches!(err("hand-empty"), ModelError::BadSpec { .. }));
    assert!(matches!(err("hand-future-version"), ModelError::UnsupportedVersion { found: 4, .. }));
    assert!(matches!(err("hand-version-zero"), ModelError::UnsupportedVersion { found: 0, .. }));
    assert!(matches!(err("hand-wrong-shape-weights"), ModelError::WeightsMismatch { .. }));
    assert!(matches!(err("hand-one-class"), ModelError::InvalidSpec { ref key, .. } if key == "class_names"));
    for name in ["hand-hidden-1e9", "hand-hidden-i64-max"] {
        let e = err(name);
        assert!(matches!(e, ModelError::InvalidSpec { ref key, .. } if key == "config.hidden"), "{name}: {e}");
        assert!(e.to_string().contains("2^31") && e.to_string().contains("model.json"), "{e}");
    }
    for name in ["hand-image-overflow", "hand-image-rows-huge", "hand-v1-pixels-overflow"] {
        let e = err(name);
        assert!(matches!(e, ModelError::InvalidSpec { .. }), "{name}: {e}");
    }
    for name in ["hand-truncated-weights", "hand-garbage-weights", "hand-huge-header-length", "hand-offsets-past-end"] {
        let e = err(name);
        assert!(matches!(e, ModelError::BadWeights { .. } | ModelError::WeightsMismatch { .. }), "{name}: {e}");
    }
}
