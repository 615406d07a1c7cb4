//! Every input in `tests/fuzz_regressions/model/` (crashes found by the
//! `model` fuzz target, and hand-made nasty model folders) must load without
//! a panic: `Ok` or a typed [`ModelError`]. The input format is the fuzz
//! target's (`fuzz/src/lib.rs`): `model.json` bytes, a NUL byte, then the
//! `model.safetensors` bytes.

use std::path::{Path, PathBuf};

use lstm_model::{LstmClassifier, ModelError, ModelSpec, SPEC_FILE, WEIGHTS_FILE};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/model")
}

/// What the fuzz target does with one input, in folder `folder`.
fn run(data: &[u8], folder: &Path) -> Result<LstmClassifier, ModelError> {
    let (json, weights) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    // The fuzz target skips loading specs above 2^20 parameters or 4096
    // steps (slow, not wrong); the library's limits reject absurd ones.
    if let Ok(spec) = ModelSpec::from_json(Path::new(SPEC_FILE), json) {
        assert!(spec.parameter_count().is_some_and(|n| n <= 1 << 20) && spec.steps <= 4096, "too big for a test");
    }
    std::fs::write(folder.join(SPEC_FILE), json).unwrap();
    std::fs::write(folder.join(WEIGHTS_FILE), weights).unwrap();
    let model = LstmClassifier::load(folder, tch::Device::Cpu)?;
    let s = model.spec();
    let images = tch::Tensor::zeros([1, s.image_height, s.image_width], (tch::Kind::Float, tch::Device::Cpu));
    assert_eq!(model.predict(&images)?.len(), 1);
    Ok(model)
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
    assert!(matches!(err("hand-future-version"), ModelError::UnsupportedVersion { found: 3, .. }));
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
