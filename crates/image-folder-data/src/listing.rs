//! Finds the class folders and the image files of one split.

use std::path::{Path, PathBuf};

use crate::ImageFolderError;

/// File name endings taken as images (any case); the format itself is
/// recognised by content, so a PNG named `.jpg` still reads.
pub const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The largest number of classes (labels are stored as bytes while loading).
pub const MAX_CLASSES: usize = 256;

/// The image files of one split, in order, with their class indices.
#[derive(Debug, Default)]
pub struct Listing {
    /// Image files, sorted by class, then by path.
    pub files: Vec<PathBuf>,
    /// The class index of each file.
    pub labels: Vec<u8>,
    /// Files found that do not end in an image extension (not read).
    pub ignored: Vec<PathBuf>,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ImageFolderError + '_ {
    move |source| ImageFolderError::Io { path: path.to_owned(), source }
}

/// Whether a file or folder name is hidden (`.DS_Store`, `.ipynb_checkpoints`).
fn hidden(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

/// The entries of a folder, sorted, hidden ones left out.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, ImageFolderError> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        if !hidden(&path) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// The names of the class folders of `split_dir`, sorted (byte order, as
/// Python's `sorted` and torchvision's `ImageFolder` order them).
pub fn class_folders(split_dir: &Path) -> Result<Vec<String>, ImageFolderError> {
    let mut names = Vec::new();
    for path in entries(split_dir)? {
        if path.is_dir() {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| ImageFolderError::BadClassName { path: path.clone() })?;
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Adds the image files under `dir` (and its subfolders, not following links
/// to folders) to `files`, and the other files to `ignored`.
fn walk(dir: &Path, files: &mut Vec<PathBuf>, ignored: &mut Vec<PathBuf>) -> Result<(), ImageFolderError> {
    for path in entries(dir)? {
        let meta = std::fs::symlink_metadata(&path).map_err(io_error(&path))?;
        if meta.is_dir() {
            walk(&path, files, ignored)?;
            continue;
        }
        let is_image = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)));
        if is_image {
            files.push(path);
        } else {
            ignored.push(path);
        }
    }
    Ok(())
}

/// Lists the split folder `split_dir` against the class names `classes`
/// (those of `train/`). With `defining` (the training split), every class
/// must hold at least one image; other splits may lack a class but must not
/// have a folder the training split lacks.
pub fn list_split(split_dir: &Path, classes: &[String], defining: bool) -> Result<Listing, ImageFolderError> {
    let folders = class_folders(split_dir)?;
    if let Some(extra) = folders.iter().find(|f| !classes.contains(f)) {
        return Err(ImageFolderError::UnknownClass { path: split_dir.join(extra), classes: classes.to_vec() });
    }
    let mut listing = Listing::default();
    for (label, class) in classes.iter().enumerate() {
        let class_dir = split_dir.join(class);
        if !class_dir.is_dir() {
            continue;
        }
        let before = listing.files.len();
        walk(&class_dir, &mut listing.files, &mut listing.ignored)?;
        let found = listing.files.len() - before;
        if defining && found == 0 {
            return Err(ImageFolderError::EmptyClass { path: class_dir });
        }
        let label = u8::try_from(label)
            .map_err(|_| ImageFolderError::TooManyClasses { path: split_dir.to_owned(), count: classes.len() })?;
        listing.labels.resize(listing.labels.len() + found, label);
    }
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn lists_sorted_classes_and_files_recursively() {
        let tmp = tempfile::tempdir().unwrap();
        let train = tmp.path().join("train");
        for f in ["b/2.PNG", "b/1.jpeg", "a/x/deep.jpg", "a/z.png", "a/readme.txt", "a/.hidden.png", ".git/x.png"] {
            touch(&train.join(f));
        }
        let classes = class_folders(&train).unwrap();
        assert_eq!(classes, ["a", "b"]);
        let listing = list_split(&train, &classes, true).unwrap();
        let names: Vec<_> = listing.files.iter().map(|p| p.strip_prefix(&train).unwrap().to_owned()).collect();
        assert_eq!(names, ["a/x/deep.jpg", "a/z.png", "b/1.jpeg", "b/2.PNG"].map(PathBuf::from));
        assert_eq!(listing.labels, [0, 0, 1, 1]);
        assert_eq!(listing.ignored, [train.join("a/readme.txt")]);
    }

    #[test]
    fn empty_and_unknown_classes_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        touch(&tmp.path().join("train/cat/1.png"));
        std::fs::create_dir_all(tmp.path().join("train/dog")).unwrap();
        touch(&tmp.path().join("test/cat/1.png"));
        touch(&tmp.path().join("test/cow/1.png"));
        let classes = class_folders(&tmp.path().join("train")).unwrap();
        let err = list_split(&tmp.path().join("train"), &classes, true).unwrap_err();
        assert!(matches!(err, ImageFolderError::EmptyClass { .. }) && err.to_string().contains("dog"), "{err}");
        // A test split may lack a class, but not have one of its own.
        std::fs::remove_dir_all(tmp.path().join("test/cow")).unwrap();
        assert_eq!(list_split(&tmp.path().join("test"), &classes, false).unwrap().labels, [0]);
        touch(&tmp.path().join("test/cow/1.png"));
        let err = list_split(&tmp.path().join("test"), &classes, false).unwrap_err();
        assert!(err.to_string().contains("cow") && err.to_string().contains("cat, dog"), "{err}");
    }
}
