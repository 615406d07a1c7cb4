//! The experiment config loader: JSON text plus up to a few `--set`
//! overrides, separated by NUL bytes (`text \0 set1 \0 set2 ...`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lstm_mnist_fuzz::config(data);
});
