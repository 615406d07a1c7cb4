//! Atomic file writes: the contents go to a temporary file in the same
//! folder, are synced to disk, and the file is renamed over the real name.
//! A crash or a full disk therefore leaves `path` with either its old or its
//! new complete contents, never a truncated file. Temporary files are named
//! `.tmp-XXXXXX-<name>` (they keep the real name's extension, which some
//! writers use to choose a format) and are removed when a write fails.
//!
//! Only a regular file (or nothing) is ever replaced: when `path` is a
//! device (`/dev/null`, `/dev/full`), a FIFO, a socket, a folder or a
//! symbolic link, every writer fails with [`io::ErrorKind::InvalidInput`]
//! naming what it is, before writing anything (a rename would otherwise put
//! a regular file in place of the device node, as root).
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("report.json");
//! atomic_file::write(&path, b"{}\n").unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

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
    check_replaceable(path)?;
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
    let tmp = match check_replaceable(path).and_then(|()| temporary(path)) {
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

/// `Ok` when `path` does not exist or is a regular file: the only things a
/// write may replace. Anything else is an [`io::ErrorKind::InvalidInput`]
/// error saying what `path` is.
pub fn check_replaceable(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    if meta.file_type().is_file() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is {}, not a regular file; refusing to replace it: give the path of a regular file",
            path.display(),
            describe(&meta.file_type())
        ),
    ))
}

/// What a file that is not a regular file is, in words.
pub fn describe(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return "a character device";
        } else if kind.is_block_device() {
            return "a block device";
        } else if kind.is_fifo() {
            return "a FIFO (named pipe)";
        } else if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a folder"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
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
    // Again just before the rename: the path may have changed while writing.
    check_replaceable(path)?;
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

    /// A FIFO, a folder, a symbolic link and (as root, made with mknod in a
    /// temporary folder) a character device like /dev/null are never
    /// replaced, by any writer; nothing is written and no temporary is left.
    #[cfg(unix)]
    #[test]
    fn only_a_regular_file_is_ever_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| std::process::Command::new(args[0]).args(&args[1..]).status().unwrap().success();
        let fifo = dir.path().join("fifo.onnx");
        assert!(run(&["mkfifo", fifo.to_str().unwrap()]));
        let folder = dir.path().join("folder.onnx");
        std::fs::create_dir(&folder).unwrap();
        let link = dir.path().join("link.onnx");
        std::fs::write(dir.path().join("target"), "mine").unwrap();
        std::os::unix::fs::symlink(dir.path().join("target"), &link).unwrap();
        let mut cases = vec![(fifo, "a FIFO"), (folder, "a folder"), (link, "a symbolic link")];
        let null = dir.path().join("null");
        if run(&["mknod", null.to_str().unwrap(), "c", "1", "3"]) {
            cases.push((null, "a character device"));
        }
        for (path, kind) in &cases {
            let before = std::fs::symlink_metadata(path).unwrap().file_type();
            let err = write(path, "x").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains(kind) && err.to_string().contains("not a regular file"), "{err}");
            assert!(write_with(path, |f| f.write_all(b"x")).is_err());
            let via: Result<(), io::Error> = write_via(path, |tmp| std::fs::write(tmp, "x"), |e| e);
            assert_eq!(via.unwrap_err().kind(), io::ErrorKind::InvalidInput);
            let after = std::fs::symlink_metadata(path).unwrap().file_type();
            assert_eq!(
                (after.is_fifo(), after.is_dir(), after.is_symlink(), after.is_char_device()),
                (before.is_fifo(), before.is_dir(), before.is_symlink(), before.is_char_device()),
                "{} was replaced",
                path.display()
            );
        }
        assert_eq!(std::fs::read_to_string(dir.path().join("target")).unwrap(), "mine");
        assert!(names(dir.path()).iter().all(|n| !is_temporary(n)), "{:?}", names(dir.path()));
    }

    #[test]
    fn a_missing_folder_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write(&dir.path().join("no/such/folder/a.json"), "x").is_err());
    }
}
