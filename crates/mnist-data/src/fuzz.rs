//! The body of the `idx` fuzz target (`fuzz/`), here so that the fuzzer and
//! the regression tests (`tests/fuzz_regressions.rs`) run the same code,
//! which is the code [`load`](crate::load) runs on each file.

use std::path::Path;

use crate::error::Result;
use crate::idx::{self, IdxImages, IdxLabels};

/// Feeds one fuzz input to the IDX reader and the tensor conversion. Byte 0
/// is a mode: bit 1 set reads the rest as an image file, clear as a label
/// file; bits 2 to 7 are the number of classes for the conversion; bit 0 is
/// unused (it once chose gzip decoding, which is now by content, as for
/// files). The images (labels) are paired with zero labels (1x1 black
/// images). `None` for an empty input.
///
/// A panic is a bug; `Ok` or a typed error are both fine.
pub fn idx(data: &[u8]) -> Option<Result<()>> {
    let (&mode, rest) = data.split_first()?;
    let path = Path::new("fuzz-idx-ubyte");
    let classes = usize::from(mode >> 2);
    let result = if mode & 2 == 2 {
        idx::read_images_from(path, rest).and_then(|images| {
            assert_eq!(images.pixels.len(), images.count * images.rows * images.cols, "pixels and header disagree");
            let labels = IdxLabels { path: path.to_owned(), labels: vec![0; images.count] };
            crate::to_splits(&images, &labels, classes, None).map(drop)
        })
    } else {
        idx::read_labels_from(path, rest).and_then(|labels| {
            let n = labels.labels.len();
            let images = IdxImages { path: path.to_owned(), count: n, rows: 1, cols: 1, pixels: vec![0; n] };
            crate::to_splits(&images, &labels, classes, None).map(drop)
        })
    };
    Some(result)
}
