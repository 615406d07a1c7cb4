//! Arbitrary bytes into the IDX reader and the tensor conversion, through
//! the path `mnist_data::load` takes for each file (`mnist_data::fuzz::idx`:
//! the first byte chooses images or labels and the number of classes).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mnist_data::fuzz::idx(data);
});
