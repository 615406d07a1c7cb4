//! The bodies of the fuzz targets, shared by the three `fuzz_targets/`.
//! Each feeds its input to the same public function that the program uses
//! and checks only that it returns (`Ok` or a typed error) without panicking,
//! plus a few properties that the program relies on.
//!
//! The regression tests next to the code under test (see README "Fuzzing")
//! split their inputs the same way.

use std::path::Path;
use std::sync::OnceLock;

use lstm_mnist::config::Experiment;
use lstm_model::{LstmClassifier, ModelSpec, SPEC_FILE, WEIGHTS_FILE};
use mnist_data::idx::{self, IdxImages, IdxLabels};

/// Parameters and sequence steps above which the `model` target only parses
/// the description (the library's own limits are far larger; one load of a
/// model at those limits would take seconds and gigabytes).
pub const MODEL_FUZZ_MAX_PARAMETERS: u64 = 1 << 20;
/// See [`MODEL_FUZZ_MAX_PARAMETERS`].
pub const MODEL_FUZZ_MAX_STEPS: i64 = 4096;

/// `idx` target: byte 0 is a mode (bit 0: gzip path first; bit 1: images,
/// else labels; bits 2..: number of classes for the tensor conversion), the
/// rest is the file.
pub fn idx(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let path = Path::new("fuzz-idx-ubyte");
    let bytes = if mode & 1 == 1 {
        match idx::decode_maybe_gzipped(path, rest.to_vec()) {
            Ok(bytes) => bytes,
            Err(_) => return,
        }
    } else {
        rest.to_vec()
    };
    let classes = usize::from(mode >> 2);
    if mode & 2 == 2 {
        if let Ok(images) = idx::parse_images(path, &bytes) {
            assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
            let labels = IdxLabels { path: path.to_owned(), labels: vec![0; images.count] };
            let _ = mnist_data::to_split(&images, &labels, classes);
        }
    } else if let Ok(labels) = idx::parse_labels(path, &bytes) {
        let n = labels.labels.len();
        let images = IdxImages { path: path.to_owned(), count: n, rows: 1, cols: 1, pixels: vec![0; n] };
        let _ = mnist_data::to_split(&images, &labels, classes);
    }
}

/// `config` target: `text \0 set \0 set ...` (at most four `--set`s).
pub fn config(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0);
    let Ok(text) = std::str::from_utf8(parts.next().unwrap_or_default()) else { return };
    let sets: Vec<String> = parts.take(4).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    let origin = Path::new("fuzz.json");
    let Ok(experiment) = Experiment::from_json_str(text, &sets, origin) else { return };
    // The run folder's config.json must be writable and load back the same.
    let saved = serde_json::to_string(&experiment).expect("an experiment serialises");
    let again = Experiment::from_json_str(&saved, &[], origin).expect("a saved config loads back");
    assert_eq!(again, experiment, "config.json does not round-trip");
    // What the program checks before any work.
    let _ = experiment.train.validate();
    let spec = ModelSpec::new(experiment.model.clone(), 28, 28, mnist_data::digit_names());
    let _ = spec.validate();
    match &experiment.data {
        lstm_mnist::data::DataSection::Idx(c) => {
            if let Some(v) = &c.validation {
                let _ = v.count(60_000);
            }
        }
        lstm_mnist::data::DataSection::Synth(c) => {
            let _ = c.validate();
        }
    }
}

/// Splits a `model` input into `model.json` and `model.safetensors` bytes at the first NUL byte.
pub fn split_model(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// `model` target: `model.json \0 model.safetensors`, loaded from a folder.
pub fn model(data: &[u8]) {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let (json, weights) = split_model(data);
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder")).path();
    if let Ok(spec) = ModelSpec::from_json(Path::new(SPEC_FILE), json) {
        if spec.parameter_count().is_none_or(|n| n > MODEL_FUZZ_MAX_PARAMETERS) || spec.steps > MODEL_FUZZ_MAX_STEPS {
            return;
        }
    }
    std::fs::write(dir.join(SPEC_FILE), json).expect("write model.json");
    std::fs::write(dir.join(WEIGHTS_FILE), weights).expect("write model.safetensors");
    let Ok(model) = LstmClassifier::load(dir, tch::Device::Cpu) else { return };
    let s = model.spec();
    let images = tch::Tensor::zeros([1, s.image_height, s.image_width], (tch::Kind::Float, tch::Device::Cpu));
    let predictions = model.predict(&images).expect("a loaded model predicts");
    assert_eq!(predictions.len(), 1);
}
