//! Regression tests of the third reliability round that concern the whole
//! binary: writers never replace a device or other non-regular file, a lock
//! that is a symlink is refused, data entries that exist but are not regular
//! files are named as such, a closed stdout ends output quietly, and `env`
//! names the libtorch actually loaded.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::{run, text, BIN};

/// `lstm-mnist env --cargo-config`'s `LIBTORCH` folder (the build's libtorch).
fn built_against() -> String {
    let out = run(&["env", "--cargo-config"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = text(&out.stdout);
    let line = config.lines().find(|l| l.starts_with("LIBTORCH = ")).expect("a LIBTORCH line");
    serde_json::from_str(line.trim_start_matches("LIBTORCH = ")).unwrap()
}

/// `env` names the libtorch the dynamic loader found (here through
/// `LD_LIBRARY_PATH`: a copy of PyTorch's layout made of links, `torch/lib/*`
/// and `nvidia/`, which libtorch's own `$ORIGIN/../../nvidia` rpath needs),
/// not the folder the binary was built against.
#[test]
fn env_names_the_libtorch_actually_loaded() {
    let libtorch = PathBuf::from(built_against());
    let lib = libtorch.join("lib");
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("site/torch/lib");
    std::fs::create_dir_all(&elsewhere).unwrap();
    for entry in std::fs::read_dir(&lib).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(entry.path(), elsewhere.join(entry.file_name())).unwrap();
    }
    let nvidia = libtorch.parent().unwrap().join("nvidia");
    if nvidia.is_dir() {
        std::os::unix::fs::symlink(&nvidia, tmp.path().join("site/nvidia")).unwrap();
    }
    let out = Command::new(BIN).arg("env").env("LD_LIBRARY_PATH", &elsewhere).output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want = format!("libtorch: {}", elsewhere.join("libtorch_cpu.so").display());
    assert!(stdout.lines().any(|l| l == want), "{want} in:\n{stdout}");
    // Without LD_LIBRARY_PATH: the build's own libtorch, through the rpath.
    let out = run(&["env"]);
    let want = format!("libtorch: {}", lib.join("libtorch_cpu.so").display());
    assert!(text(&out.stdout).lines().any(|l| l == want), "{want} in:\n{}", text(&out.stdout));
}

/// A tiny run on a 6x5 dataset (10 steps), in a fresh temporary folder.
fn tiny_run() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::write_dataset(tmp.path().join("data"), 60, 30, false);
    let config = tmp.path().join("tiny.json");
    let json = format!(
        r#"{{"device": "cpu", "threads": 1, "data": {{"dir": {:?}}}, "model": {{"hidden": 8}},
            "train": {{"batch_size": 20, "max_steps": 10, "training_iters": null, "display_step": 5}}}}"#,
        data.display().to_string()
    );
    std::fs::write(&config, json).unwrap();
    let run_dir = tmp.path().join("run");
    let out = run(&["train", "--config", config.to_str().unwrap(), "--out", run_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (tmp, run_dir)
}

/// Runs the binary with its stdout a pipe whose reader is already gone (as
/// `| head` after its lines): returns the exit status and stderr.
fn with_stdout_closed(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (out.status, text(&out.stderr))
}

/// `predict | head` and `explain --out DIR | head`: a closed stdout ends the
/// output quietly (status 0, no "Broken pipe"), and explain still writes a
/// picture for every image.
#[test]
fn a_closed_stdout_is_not_an_error_and_the_pictures_are_written() {
    let (tmp, run_dir) = tiny_run();
    let (model, images) = (run_dir.to_str().unwrap(), tmp.path().join("data/t10k-images-idx3-ubyte"));
    let images = images.to_str().unwrap();
    let (status, stderr) = with_stdout_closed(&["predict", "--model", model, images]);
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("Broken pipe") && !stderr.contains("error"), "{stderr}");
    let pictures = tmp.path().join("explained");
    let (status, stderr) =
        with_stdout_closed(&["explain", "--model", model, images, "--out", pictures.to_str().unwrap()]);
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("Broken pipe") && !stderr.contains("error"), "{stderr}");
    assert_eq!(std::fs::read_dir(&pictures).unwrap().count(), 30, "one picture per test image");
}

/// A run folder whose `.lock` is a symbolic link to a file outside it: the
/// link is not followed (the file keeps its contents), status 2 naming it.
#[test]
fn a_lock_file_that_is_a_symlink_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::write_dataset(tmp.path().join("data"), 60, 30, false);
    let outside = tmp.path().join("precious.txt");
    std::fs::write(&outside, "keep me\n").unwrap();
    let run_dir = tmp.path().join("run");
    std::fs::create_dir(&run_dir).unwrap();
    std::os::unix::fs::symlink(&outside, run_dir.join(".lock")).unwrap();
    let config = tmp.path().join("tiny.json");
    let json = format!(
        r#"{{"device": "cpu", "threads": 1, "data": {{"dir": {:?}}}, "model": {{"hidden": 8}},
            "train": {{"batch_size": 20, "max_steps": 2, "training_iters": null}}}}"#,
        data.display().to_string()
    );
    std::fs::write(&config, json).unwrap();
    let out = run(&["train", "--config", config.to_str().unwrap(), "--out", run_dir.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(".lock") && stderr.contains("a symbolic link, not a regular file"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me\n");
    assert!(std::fs::symlink_metadata(run_dir.join(".lock")).unwrap().file_type().is_symlink());
}

/// `export --out` onto a character device (made with mknod in a temporary
/// folder, as root) or a FIFO: refused, and the node is still there.
#[test]
fn export_never_replaces_a_device_or_fifo() {
    use std::os::unix::fs::FileTypeExt;
    let (tmp, run_dir) = tiny_run();
    let null = tmp.path().join("null");
    let mknod = Command::new("mknod").arg(&null).args(["c", "1", "3"]).status().is_ok_and(|s| s.success());
    let target = if mknod { null } else { tmp.path().join("fifo.onnx") };
    if !mknod {
        assert!(Command::new("mkfifo").arg(&target).status().unwrap().success());
    }
    let out = run(&["export", "--model", run_dir.to_str().unwrap(), "--out", target.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    let kind = std::fs::symlink_metadata(&target).unwrap().file_type();
    assert!(kind.is_char_device() || kind.is_fifo(), "{} was replaced", target.display());
}
