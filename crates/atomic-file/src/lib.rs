//! Atomic file writes: the contents go to a temporary file in the same
//! folder, are synced to disk, and the file is renamed over the real name.
//! A crash or a full disk therefore leaves `path` with either its old or its
//! new complete contents, never a truncated file. Temporary files are named
//! `.tmp-XXXXXX-<name>` (they keep the real name's extension, which some
//! writers use to choose a format) and are removed when a write fails.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("report.json");
//! atomic_file::write(&path, b"{}\n").unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
//! ```

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Prefix of the temporary files this crate creates.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Writes `contents` to `path` atomically.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    write_with(path, |file| file.write_all(contents.as_ref()))
}

/// Writes `path` atomically with `write`, which gets the open temporary file.
pub fn write_with(path: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let mut tmp = temporary(path)?;
    write(tmp.as_file_mut())?;
    finish(tmp, path)
}

/// Writes `path` atomically with `write`, which gets the temporary file's
/// path, for writers that only take a path (image encoders, libtorch). I/O
/// errors of the temporary file become `E` through `io_error`.
pub fn write_via<E>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
    io_error: impl FnOnce(io::Error) -> E,
) -> Result<(), E> {
    let tmp = match temporary(path) {
        Ok(tmp) => tmp,
        Err(e) => return Err(io_error(e)),
    };
    write(tmp.path())?;
    finish(tmp, path).map_err(io_error)
}

/// Whether `name` is one of this crate's temporary files (left by a crash).
pub fn is_temporary(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// The real file name a temporary file `name` was meant for.
pub fn target_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(TEMP_PREFIX)?;
    rest.split_once('-').map(|(_, target)| target)
}

fn temporary(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| io::Error::other("the path names no file"))?;
    let suffix = format!("-{}", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(&suffix).rand_bytes(6);
    #[cfg(unix)]
    {
        // As `File::create`: 0666 less the umask, not tempfile's private 0600.
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

fn finish(tmp: tempfile::NamedTempFile, path: &Path) -> io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable; not every platform can open a folder.
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write(&path, "old").unwrap();
        write(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(names(dir.path()), ["a.json"]);
    }

    #[test]
    fn a_failing_writer_keeps_the_old_contents_and_removes_its_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        write(&path, "old").unwrap();
        let err = write_with(&path, |file| {
            file.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        let via: Result<(), String> = write_via(
            &path,
            |tmp| {
                assert!(tmp.to_string_lossy().ends_with(".safetensors"), "the extension is kept: {}", tmp.display());
                std::fs::write(tmp, "half").unwrap();
                Err("encoder failed".to_owned())
            },
            |e| e.to_string(),
        );
        assert_eq!(via.unwrap_err(), "encoder failed");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(names(dir.path()), ["model.safetensors"]);
    }

    #[test]
    fn writers_taking_a_path_write_through_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("errors.png");
        write_via(&path, |tmp| std::fs::write(tmp, "png"), |e| e).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "png");
        assert_eq!(names(dir.path()), ["errors.png"]);
    }

    #[cfg(unix)]
    #[test]
    fn files_get_ordinary_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (atomic, plain) = (dir.path().join("a"), dir.path().join("b"));
        write(&atomic, "x").unwrap();
        std::fs::write(&plain, "x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode(&atomic), mode(&plain));
    }

    #[test]
    fn temporary_names_are_recognised() {
        assert!(is_temporary(".tmp-a1B2c3-report.json"));
        assert_eq!(target_of(".tmp-a1B2c3-report.json"), Some("report.json"));
        assert_eq!(target_of("report.json"), None);
    }

    #[test]
    fn a_missing_folder_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write(&dir.path().join("no/such/folder/a.json"), "x").is_err());
    }
}
