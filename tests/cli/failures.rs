//! Regression tests of the third reliability round that concern the whole
//! binary: writers never replace a device or other non-regular file, a lock
//! that is a symlink is refused, data entries that exist but are not regular
//! files are named as such, a closed stdout ends output quietly, `env`
//! names the libtorch actually loaded; and the picture and evaluation items
//! (10, 16, 23, 25, 29): a FIFO among image-folder pictures, pictures too
//! large for memory, a JPEG decode error on one line, explain's unique
//! picture names, evaluation on data of other classes.

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

/// Runs the binary with `args` (through `sh -c` with `prefix`, e.g. a
/// `ulimit`), killing it if it has not ended after `seconds`: a hang is a
/// failure, not a stuck test.
fn run_bounded(prefix: &str, args: &[&str], seconds: u64) -> std::process::Output {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
    let script = format!("{prefix} exec '{BIN}' {}", quoted.join(" "));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env_remove("LD_LIBRARY_PATH")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..seconds * 10 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    panic!("{args:?} still running after {seconds} s: {}", text(&out.stderr));
}

/// Writes `per_class` 6x5 PNG pictures of each class of `classes` into
/// `dir/train/<class>/` and one into `dir/test/<class>/`; returns `dir`.
fn picture_folder(dir: PathBuf, classes: &[&str], per_class: usize) -> PathBuf {
    for (k, class) in classes.iter().enumerate() {
        for (split, count) in [("train", per_class), ("test", 1)] {
            let folder = dir.join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            for i in 0..count {
                let picture =
                    image::GrayImage::from_fn(5, 6, |x, y| image::Luma([((x + y) as usize * 40 + k * 90 + i) as u8]));
                picture.save_with_format(folder.join(format!("{i}.png")), image::ImageFormat::Png).unwrap();
            }
        }
    }
    dir
}

/// The `data` section of an image folder `dir` of `size`, as a `--set`.
fn folder_section(dir: &std::path::Path, size: &str) -> String {
    format!(r#"data={{"source": "image-folder", "dir": {:?}, "size": {size}}}"#, dir.display().to_string())
}

/// The `error:` lines of stderr; asserts there is exactly one, that nothing
/// follows it and that no C++ stack frame is shown.
fn the_error(out: &std::process::Output) -> String {
    let stderr = text(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let after: Vec<&str> = stderr.lines().skip_while(|l| !l.starts_with("error:")).skip(1).collect();
    assert!(after.iter().all(|l| l.trim().is_empty()), "the error goes on over more lines: {stderr}");
    assert!(!stderr.contains("frame #") && !stderr.contains("panicked"), "{stderr}");
    errors[0].to_owned()
}

/// Item 10: a FIFO named `f.png` in a class folder is named as not a
/// picture file; training ends instead of hanging on it.
#[test]
fn a_fifo_among_image_folder_pictures_is_named_not_waited_on() {
    let tmp = tempfile::tempdir().unwrap();
    let data = picture_folder(tmp.path().join("pictures"), &["a", "b"], 4);
    let fifo = data.join("train/b/f.png");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/seed.json");
    let out_dir = tmp.path().join("run");
    let section = folder_section(&data, "[6, 5]");
    let args = ["train", "--config", config, "--out", out_dir.to_str().unwrap(), "--set", &section];
    let out = run_bounded(
        "",
        &[&args[..], &["--set", "train.max_steps=2", "--set", "train.training_iters=null"]].concat(),
        300,
    );
    let error = the_error(&out);
    assert_eq!(out.status.code(), Some(1), "{error}");
    assert!(error.contains("f.png") && error.contains("FIFO"), "{error}");
    assert!(!out_dir.exists(), "nothing written before the data is read");
}

/// Item 16: image-folder `size: [4096, 4096]` with more pictures than fit
/// in the memory allowed (an 8 GiB address-space limit here) is refused
/// before anything is allocated, status 2 naming `data.size`; no libtorch
/// error, no C++ stack frames.
#[test]
fn pictures_too_large_for_memory_are_refused_naming_data_size() {
    let tmp = tempfile::tempdir().unwrap();
    // 90 pictures of 4096x4096: about 13 GiB to load.
    let data = picture_folder(tmp.path().join("pictures"), &["a", "b", "c"], 30);
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/seed.json");
    let out_dir = tmp.path().join("run");
    let section = folder_section(&data, "[4096, 4096]");
    let args = ["train", "--config", config, "--out", out_dir.to_str().unwrap(), "--set", &section];
    let out = run_bounded("ulimit -v 8388608 &&", &args, 300);
    let error = the_error(&out);
    assert_eq!(out.status.code(), Some(2), "{error}");
    assert!(error.contains("data.size = 4096x4096") && error.contains("8.0 GiB"), "{error}");
    assert!(!out_dir.exists());
}

/// Item 23: a JPEG that does not decode is reported on one line naming the file.
#[test]
fn a_jpeg_decode_error_is_one_line() {
    let (tmp, run_dir) = tiny_run();
    let broken = tmp.path().join("broken.jpg");
    // A JPEG whose quantisation table (DQT) claims 16-bit values it does not hold.
    let mut bytes = vec![0xff, 0xd8, 0xff, 0xdb, 0x00, 0x43, 0x1f];
    bytes.extend([0u8; 64]);
    bytes.extend([0xff, 0xd9]);
    std::fs::write(&broken, bytes).unwrap();
    for command in ["predict", "explain"] {
        let out = run(&[command, "--model", run_dir.to_str().unwrap(), broken.to_str().unwrap()]);
        let error = the_error(&out);
        assert_ne!(out.status.code(), Some(0), "{command}: {error}");
        assert!(error.contains("broken.jpg") && error.contains("JPEG"), "{command}: {error}");
    }
}

/// Item 25: `explain --out` with two inputs of the same file name in
/// different folders writes both pictures, under unique names, and says so.
#[test]
fn explain_out_gives_same_named_inputs_unique_pictures() {
    let (tmp, run_dir) = tiny_run();
    let mut inputs = Vec::new();
    for (folder, shade) in [("a", 60u8), ("b", 200u8)] {
        std::fs::create_dir_all(tmp.path().join(folder)).unwrap();
        let path = tmp.path().join(folder).join("x.png");
        image::GrayImage::from_pixel(5, 6, image::Luma([shade])).save(&path).unwrap();
        inputs.push(path.to_str().unwrap().to_owned());
    }
    let pictures = tmp.path().join("explained");
    let out = run(&[
        "explain",
        "--model",
        run_dir.to_str().unwrap(),
        &inputs[0],
        &inputs[1],
        "--out",
        pictures.to_str().unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let mut written: Vec<String> =
        std::fs::read_dir(&pictures).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    written.sort();
    assert_eq!(written, ["x-2.png", "x.png"], "{stderr}");
    assert_ne!(std::fs::read(pictures.join("x.png")).unwrap(), std::fs::read(pictures.join("x-2.png")).unwrap());
    assert!(stderr.contains("x-2.png"), "the renaming is said: {stderr}");
}

/// Item 29: evaluating a model on data whose class names are another set
/// is refused with status 2 naming both lists (not an accuracy over
/// mismatched classes); the same names in another order are mapped by
/// name (unit test `evaluate::tests`).
#[test]
fn eval_on_data_of_other_classes_is_refused_naming_both_lists() {
    let (tmp, run_dir) = tiny_run();
    let data = picture_folder(tmp.path().join("pictures"), &["alpha", "beta"], 2);
    let section = folder_section(&data, "[6, 5]");
    let out = run(&["eval", "--model", run_dir.to_str().unwrap(), "--set", &section]);
    let error = the_error(&out);
    assert_eq!(out.status.code(), Some(2), "{error}");
    assert!(error.contains(r#"["alpha", "beta"]"#) && error.contains(r#""0", "1""#), "{error}");
    assert!(text(&out.stdout).is_empty(), "no accuracy printed: {}", text(&out.stdout));
}
