//! Arbitrary bytes into the IDX reader: the first byte chooses images or
//! labels and whether the gzip path runs first; a parsed file is also turned
//! into tensors, as `mnist_data::load` does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lstm_mnist_fuzz::idx(data);
});
