//! No code. Its `Cargo.toml` asks for the dependency features the test build
//! turns on anyway (through criterion, a dev-dependency), so that
//! `cargo build --workspace` and `cargo test --workspace` compile every shared
//! crate with the same features and `make dist` after `make test` reuses the
//! test build's crates instead of compiling them again. See its `Cargo.toml`.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt
