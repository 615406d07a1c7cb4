//! The saved-model loader: `model.json` and `model.safetensors` bytes split
//! at the first NUL byte, written to a temporary folder and loaded with
//! `LstmClassifier::load`, through `lstm_model::fuzz::model`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder"));
    let _ = lstm_model::fuzz::model(data, dir.path());
});
