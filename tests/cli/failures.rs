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
