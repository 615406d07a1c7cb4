//! The integration tests of the `lstm-mnist` binary: one test binary (the
//! root package has `autotests = false` and one `[[test]] name = "cli"`), so
//! libtorch is linked once for all of them. Each file of this folder is a
//! module; `common` holds the shared helpers and `tools` the outside programs
//! some tests need.
//!
//! Adding tests: a new file `tests/cli/NAME.rs` with `use crate::common;`
//! and a `mod NAME;` line below (the test `every_test_file_is_a_module`
//! fails when the line is missing). A test that needs an outside tool is
//! `#[ignore = "needs TOOL"]` and calls `tools::require_*`, which fails
//! loudly when the tool is missing; `make test` runs the ignored tests too
//! (`-- --include-ignored`) after `scripts/setup-test-tools.sh` installed
//! every tool. Run one module: `cargo test --release --test cli -- sweep::`.

mod browser;
mod common;
mod tools;

mod bench_cli;
mod cli;
mod config_fuzz_regressions;
mod data_cli;
mod export;
mod failures;
mod image_folder;
mod pages;
mod predict;
mod reliability;
mod run_length;
mod series;
mod serve;
mod slurm;
mod sweep;
mod tensorboard;

/// Every `.rs` file and folder of `tests/cli/` is declared as a module here:
/// with `autotests = false` a forgotten file would silently not be compiled.
#[test]
fn every_test_file_is_a_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let module = match name.strip_suffix(".rs") {
            Some("main") => continue,
            Some(stem) => stem.to_owned(),
            None if path.join("mod.rs").is_file() => name,
            None => continue,
        };
        if !main.lines().any(|l| l.trim() == format!("mod {module};")) {
            missing.push(module);
        }
    }
    assert!(missing.is_empty(), "tests/cli/main.rs lacks `mod NAME;` for {missing:?}");
}

/// The 80-line gate of `make lint` is one line in each crate root (library and
/// binary code, not tests): a crate without it would escape the gate silently.
#[test]
fn every_crate_root_has_the_80_line_gate() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let gate = "#![cfg_attr(not(test), warn(clippy::too_many_lines))]";
    let mut roots = vec![root.join("src/lib.rs"), root.join("src/main.rs")];
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let lib = entry.unwrap().path().join("src/lib.rs");
        if lib.is_file() {
            roots.push(lib);
        }
    }
    let missing: Vec<_> =
        roots.iter().filter(|f| !std::fs::read_to_string(f).unwrap().lines().any(|l| l.starts_with(gate))).collect();
    assert!(roots.len() > 2 && missing.is_empty(), "{missing:?} lack `{gate}`");
}
