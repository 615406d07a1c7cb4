//! The experiment config loader: JSON text plus up to four `--set`
//! overrides, separated by NUL bytes (`text \0 set1 \0 set2 ...`), through
//! `lstm_mnist::fuzz::config`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lstm_mnist::fuzz::config(data);
});
