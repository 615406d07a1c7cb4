//! Every input in `tests/fuzz_regressions/idx/` (crashes found by the `idx`
//! fuzz target, and hand-made nasty files) must be read without a panic:
//! `Ok` or a typed error. Each goes through the fuzz target's own body,
//! [`mnist_data::fuzz::idx`] (byte 0 a mode, the rest the file).

use std::path::Path;

use mnist_data::fuzz::idx as run;
use mnist_data::DataError;

fn inputs() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/idx");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the regression inputs are missing from {}", dir.display());
    files
}

#[test]
fn every_regression_input_returns_without_panicking() {
    for (name, data) in inputs() {
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(result.is_ok(), "{name}: panicked");
    }
}

#[test]
fn hand_made_inputs_give_the_expected_outcome() {
    let outcome = |name: &str| {
        let data =
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/idx").join(name)).unwrap();
        run(&data)
    };
    assert!(outcome("hand-empty").is_none());
    assert!(matches!(outcome("hand-gzip-garbage"), Some(Err(DataError::Io { .. }))));
    assert!(matches!(outcome("hand-gzip-truncated"), Some(Err(DataError::Io { .. }))));
    assert!(matches!(outcome("hand-images-dims-overflow"), Some(Err(DataError::BadSize { .. }))));
    assert!(matches!(outcome("hand-images-zero-rows"), Some(Err(DataError::BadSize { .. }))));
    assert!(matches!(outcome("hand-labels-truncated"), Some(Err(DataError::BadSize { .. }))));
    assert!(matches!(outcome("hand-labels-out-of-range"), Some(Err(DataError::LabelOutOfRange { label: 255, .. }))));
    assert!(matches!(outcome("hand-labels-float-type"), Some(Err(DataError::UnsupportedType { .. }))));
    assert!(matches!(outcome("hand-gzip-valid-images"), Some(Ok(()))));
    assert!(matches!(outcome("hand-gzip-lying-trailer"), Some(Ok(()) | Err(DataError::Io { .. }))));
    // A gzip of a gzip is decompressed once: the inner gzip is not an IDX file.
    assert!(matches!(outcome("hand-gzip-of-gzip"), Some(Err(DataError::BadMagic { .. }))));
}
