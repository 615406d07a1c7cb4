//! File discovery: which of the accepted names each of the four IDX files
//! has in a dataset folder, and reading a split's two files.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::idx::{self, IdxImages, IdxLabels};

/// The four files of a dataset, in [`NamedDataset::files`](crate::NamedDataset::files)
/// order: stem, kind, IDX suffix.
pub(crate) const FILES: [(&str, &str, &str); 4] =
    [("train", "images", "idx3"), ("train", "labels", "idx1"), ("t10k", "images", "idx3"), ("t10k", "labels", "idx1")];

/// The file names accepted for one of the four files, most common first:
/// `train-images-idx3-ubyte` and `train-images.idx3-ubyte`, each also gzipped.
pub(crate) fn candidates(stem: &str, what: &str, idx: &str) -> Vec<String> {
    let dashed = format!("{stem}-{what}-{idx}-ubyte");
    let dotted = format!("{stem}-{what}.{idx}-ubyte");
    vec![format!("{dashed}.gz"), dashed, format!("{dotted}.gz"), dotted]
}

/// Finds the first existing file among the accepted names.
fn find(dir: &Path, stem: &str, what: &'static str, idx: &str) -> Result<PathBuf> {
    let tried = candidates(stem, what, idx);
    tried.iter().map(|name| dir.join(name)).find(|path| path.is_file()).ok_or_else(|| DataError::MissingFile {
        dir: dir.to_owned(),
        what,
        tried,
    })
}

/// Reads one split (`stem` is `train` or `t10k`) from a dataset folder:
/// its images and labels, each under any of the accepted names.
pub fn load_split(dir: &Path, stem: &str) -> Result<(IdxImages, IdxLabels)> {
    let images = idx::read_images(&find(dir, stem, "images", "idx3")?)?;
    let labels = idx::read_labels(&find(dir, stem, "labels", "idx1")?)?;
    Ok((images, labels))
}

/// Reads the training and the test split of a dataset folder; the two
/// decompress in parallel.
pub(crate) fn load_both(dir: &Path) -> Result<((IdxImages, IdxLabels), (IdxImages, IdxLabels))> {
    let (train, test) = std::thread::scope(|s| {
        let test = s.spawn(|| load_split(dir, "t10k"));
        let train = load_split(dir, "train");
        (train, test.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    Ok((train?, test?))
}
