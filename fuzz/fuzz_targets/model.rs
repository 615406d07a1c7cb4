//! The saved-model loader: `model.json` and `model.safetensors` bytes split
//! at the first `\0\0\0\0` separator, written to a temporary folder and
//! loaded with `LstmClassifier::load`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lstm_mnist_fuzz::model(data);
});
