//! TensorBoard's own reader (the `tensorboard` Python package's
//! EventAccumulator, through `scripts/tb_read.py`) as a test oracle. One
//! file for every test that reads event files this way: `tests/cli/tensorboard.rs`
//! (through `common`) and `crates/tfevents/tests/` (which includes it by path).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python of the project's venv (`$VIRTUAL_ENV`), else `python3`.
fn python() -> PathBuf {
    std::env::var_os("VIRTUAL_ENV")
        .map(|v| Path::new(&v).join("bin/python"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "python3".into())
}

/// `scripts/tb_read.py`, found above the package under test.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("scripts/tb_read.py"))
        .find(|path| path.is_file())
        .expect("scripts/tb_read.py above the package")
}

/// `scripts/tb_read.py LOGDIR` as JSON (`scalars`, `images`, `hparams`). The
/// tests that call it are `#[ignore = "needs tensorboard"]`: it fails when the
/// `tensorboard` package is not importable (`scripts/setup-test-tools.sh`
/// installs it).
pub fn tensorboard_read(logdir: &Path) -> serde_json::Value {
    let python = python();
    let probe = Command::new(&python).args(["-c", "import tensorboard"]).output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "needs tensorboard: the tensorboard Python package is not importable by {}; install the test tools \
         with scripts/setup-test-tools.sh (`make test` runs it)",
        python.display()
    );
    let out = Command::new(&python).arg(script()).arg(logdir).output().unwrap();
    assert!(out.status.success(), "tb_read.py: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}
