//! The outside tools some tests need (ONNX Runtime, TensorBoard, a headless
//! browser, Slurm, ...). Such a test is `#[ignore = "needs TOOL"]`, so a plain
//! `cargo test` leaves it out, and calls one of the `require_*` functions
//! here, which panic with what is missing and how to install it: run with
//! `--include-ignored` (as `make test` does) the test fails loudly, never
//! passes silently. `scripts/setup-test-tools.sh` installs every tool.
#![allow(dead_code)] // each test module uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;

/// What installs every test tool (named in the failure messages).
pub const SETUP: &str = "scripts/setup-test-tools.sh";

/// Fails the test: `tool` is missing here (`why`).
pub fn missing(tool: &str, why: &str) -> ! {
    panic!("needs {tool}: {why}; install the test tools with {SETUP} (`make test` runs it)")
}

/// The Python of the project's venv: `$LSTM_MNIST_CACHE/venv` (default
/// `~/.cache/lstm-mnist/venv`), where `make setup` installs PyTorch.
pub fn venv_python() -> PathBuf {
    let cache = std::env::var_os("LSTM_MNIST_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/lstm-mnist")))
        .unwrap_or_else(|| missing("the project's venv", "neither LSTM_MNIST_CACHE nor HOME is set"));
    cache.join("venv/bin/python")
}

/// The venv's Python, after checking that it imports every module of
/// `modules` (for the tool named `tool`).
pub fn require_python_modules(tool: &str, modules: &[&str]) -> PathBuf {
    let python = venv_python();
    let import = format!("import {}", modules.join(", "));
    let out = Command::new(&python).args(["-c", &import]).output();
    match out {
        Ok(o) if o.status.success() => python,
        Ok(o) => missing(tool, &format!("`{import}` fails in {}: {}", python.display(), last_line(&o.stderr))),
        Err(e) => missing(tool, &format!("cannot run {}: {e}", python.display())),
    }
}

/// The program `name` found on `PATH` (or `name` itself when it is a path).
pub fn require_program(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .chain([PathBuf::from(name)])
        .find(|p| p.is_file())
        .unwrap_or_else(|| missing(name, "not found on PATH"))
}

/// `path`, after checking that it is a file (data from the package `package`).
pub fn require_file(path: &Path, package: &str) -> PathBuf {
    if !path.is_file() {
        missing(package, &format!("{} does not exist", path.display()));
    }
    path.to_owned()
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).lines().last().unwrap_or("").to_owned()
}
