//! File discovery: which of the accepted names each of the four IDX files
//! has in a dataset folder, and reading a split's two files.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::idx::{self, IdxImages, IdxLabels};

/// The four files of a dataset, in [`NamedDataset::files`](crate::NamedDataset::files)
/// order: stem, kind, IDX suffix (for the download).
#[cfg(feature = "download")]
pub(crate) const FILES: [(&str, &str, &str); 4] =
    [("train", "images", "idx3"), ("train", "labels", "idx1"), ("t10k", "images", "idx3"), ("t10k", "labels", "idx1")];

/// The file names accepted for one of the four files, most common first:
/// `train-images-idx3-ubyte` and `train-images.idx3-ubyte`, each also gzipped.
pub(crate) fn candidates(stem: &str, what: &str, idx: &str) -> Vec<String> {
    let dashed = format!("{stem}-{what}-{idx}-ubyte");
    let dotted = format!("{stem}-{what}.{idx}-ubyte");
    vec![format!("{dashed}.gz"), dashed, format!("{dotted}.gz"), dotted]
}

/// Finds the first existing file among the accepted names; an accepted name
/// that exists but is not a regular file is named as such.
fn find(dir: &Path, stem: &str, what: &'static str, idx: &str) -> Result<PathBuf> {
    let tried = candidates(stem, what, idx);
    if let Some(path) = tried.iter().map(|name| dir.join(name)).find(|path| path.is_file()) {
        return Ok(path);
    }
    for path in tried.iter().map(|name| dir.join(name)) {
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(DataError::NotRegularFile { what, kind: not_regular(&path), path });
        }
    }
    Err(DataError::MissingFile { dir: dir.to_owned(), what, tried })
}

/// What an existing entry that is not a regular file is, in words.
fn not_regular(path: &Path) -> String {
    use std::os::unix::fs::FileTypeExt;
    let kind = match std::fs::metadata(path) {
        Err(e) if e.raw_os_error() == Some(libc_eloop()) => return "a symbolic link loop".to_owned(),
        Err(_) => return "a symbolic link to nothing".to_owned(),
        Ok(meta) => meta.file_type(),
    };
    let words = if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    words.to_owned()
}

/// `ELOOP` (too many levels of symbolic links) on Linux.
const fn libc_eloop() -> i32 {
    40
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An accepted name that is a FIFO, a folder or a symbolic link loop is
    /// named as "exists but is ..., not a regular file", not "no file found".
    #[test]
    fn an_entry_that_is_not_a_regular_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let name = |n: &str| dir.path().join(n);
        let fifo = std::process::Command::new("mkfifo").arg(name("train-labels-idx1-ubyte.gz")).status();
        assert!(fifo.unwrap().success());
        std::fs::create_dir(name("train-images-idx3-ubyte.gz")).unwrap();
        std::os::unix::fs::symlink(name("t10k-images-idx3-ubyte"), name("t10k-images-idx3-ubyte.gz")).unwrap();
        std::os::unix::fs::symlink(name("t10k-images-idx3-ubyte.gz"), name("t10k-images-idx3-ubyte")).unwrap();
        for (stem, what, idx, kind) in [
            ("train", "labels", "idx1", "a FIFO (named pipe)"),
            ("train", "images", "idx3", "a folder"),
            ("t10k", "images", "idx3", "a symbolic link loop"),
        ] {
            let err = find(dir.path(), stem, what, idx).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, DataError::NotRegularFile { .. }) && err.is_config(), "{text}");
            assert!(text.contains(&format!("exists but is {kind}, not a regular file")), "{text}");
        }
        let err = find(dir.path(), "t10k", "labels", "idx1").unwrap_err();
        assert!(matches!(err, DataError::MissingFile { .. }), "{err}");
    }
}
