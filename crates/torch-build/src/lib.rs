//! Build-script helper shared by every crate of the workspace that links libtorch.
//!
//! `torch-sys` publishes the folder holding `libtorch*.so` to the build scripts of
//! the crates that depend on it directly (its `links = "tch"` key), as the
//! environment variable `DEP_TCH_LIBTORCH_LIB`. [`link_libtorch`] turns it
//! into linker arguments so that every binary, test and example of the calling
//! package:
//!
//! * finds libtorch at run time through an rpath, with no `LD_LIBRARY_PATH`;
//! * keeps libtorch's CUDA library (`libtorch_cuda.so`) as a dependency even
//!   though no symbol of it is referenced directly (`-Wl,--no-as-needed`), so
//!   that CUDA is usable wherever the installed libtorch has it, as tch's
//!   README recommends — unless the build is CPU-only (feature `cpu-only` or
//!   `LSTM_MNIST_CPU_ONLY=1`), which links no CUDA library at all;
//! * with `LSTM_MNIST_RPATH` (e.g. `$ORIGIN/../lib`), writes that rpath
//!   instead of libtorch's absolute folder, for a relocatable layout.
//!
//! Call it from `build.rs`, in a package that depends on `torch-sys`:
//!
//! ```no_run
//! // build.rs
//! torch_build::link_libtorch();
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

use std::path::{Path, PathBuf};

/// The environment variable through which `torch-sys` passes its library folder.
pub const LIB_DIR_VAR: &str = "DEP_TCH_LIBTORCH_LIB";
/// The same folder, republished by `lstm-model` (its `links = "lstm-model"`
/// key), so that crates depending on `lstm-model` alone find it too.
pub const MODEL_LIB_DIR_VAR: &str = "DEP_LSTM_MODEL_LIBTORCH_LIB";
/// Set to `1` to build without libtorch's CUDA libraries (see [`LinkOptions::cpu_only`]).
pub const CPU_ONLY_VAR: &str = "LSTM_MNIST_CPU_ONLY";
/// Replaces the absolute rpath, e.g. with `$ORIGIN/../lib` (see [`LinkOptions::rpath`]).
pub const RPATH_VAR: &str = "LSTM_MNIST_RPATH";

/// How binaries are linked against libtorch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkOptions {
    /// Leave out libtorch's CUDA libraries (`libtorch_cuda.so` and the CUDA
    /// runtime it pulls in): the binary runs on the CPU only, needs no GPU
    /// libraries at run time, and can be shipped with just `libtorch_cpu.so`,
    /// `libc10.so` and `libgomp.so.1`. Set with the cargo feature `cpu-only`
    /// of this crate or the environment variable `LSTM_MNIST_CPU_ONLY=1`.
    pub cpu_only: bool,
    /// The rpath written into binaries instead of libtorch's absolute folder;
    /// `$ORIGIN/../lib` makes a relocatable layout (`bin/`, `lib/`).
    /// From `LSTM_MNIST_RPATH`.
    pub rpath: Option<String>,
}

impl LinkOptions {
    /// The options the environment and this crate's features ask for.
    pub fn from_env() -> Self {
        let on = |v: std::ffi::OsString| !matches!(v.to_str(), Some("" | "0" | "false" | "no"));
        Self {
            cpu_only: cfg!(feature = "cpu-only") || std::env::var_os(CPU_ONLY_VAR).is_some_and(on),
            rpath: std::env::var(RPATH_VAR).ok().filter(|r| !r.is_empty()),
        }
    }
}

/// The linker arguments for a libtorch library folder: rpath, then (unless
/// CPU-only) the CUDA libraries present there, kept with `--no-as-needed`.
pub fn link_args(lib_dir: &Path, options: &LinkOptions) -> Vec<String> {
    let rpath = options.rpath.clone().unwrap_or_else(|| lib_dir.display().to_string());
    let mut args = vec![format!("-Wl,-rpath,{rpath}")];
    if options.cpu_only {
        return args;
    }
    let cuda: Vec<&str> = ["torch_cuda", "torch_cuda_cu", "torch_cuda_cpp", "torch_hip"]
        .into_iter()
        .filter(|lib| lib_dir.join(format!("lib{lib}.so")).exists())
        .collect();
    if !cuda.is_empty() {
        args.push("-Wl,--no-as-needed".to_owned());
        args.extend(cuda.iter().map(|lib| format!("-l{lib}")));
        args.push("-Wl,--as-needed".to_owned());
    }
    args
}

/// The libtorch library folder published to the calling build script, by
/// `torch-sys` or by `lstm-model`.
pub fn lib_dir() -> Option<PathBuf> {
    [LIB_DIR_VAR, MODEL_LIB_DIR_VAR].into_iter().find_map(std::env::var_os).map(PathBuf::from)
}

/// Prints the cargo instructions that link the calling package's binaries,
/// tests, examples and benchmarks against libtorch with an rpath (see
/// [`LinkOptions`] for the CPU-only and relocatable variants), and republishes
/// the folder as `libtorch_lib` metadata for packages with a `links` key.
///
/// Prints a cargo warning (and nothing else) when no libtorch folder was
/// published, which happens when the calling package depends on neither
/// `torch-sys` nor `lstm-model` directly.
pub fn link_libtorch() {
    for var in [LIB_DIR_VAR, MODEL_LIB_DIR_VAR, CPU_ONLY_VAR, RPATH_VAR] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    match lib_dir() {
        Some(dir) => {
            for arg in link_args(&dir, &LinkOptions::from_env()) {
                println!("cargo:rustc-link-arg={arg}");
            }
            println!("cargo:libtorch_lib={}", dir.display());
        }
        None => println!(
            "cargo:warning={LIB_DIR_VAR} is not set: add `torch-sys` or `lstm-model` to this package's \
             [dependencies] so that its binaries find libtorch without LD_LIBRARY_PATH"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpath_always_first_and_cuda_only_when_present() {
        let dir = std::env::temp_dir().join(format!("torch-build-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let default = LinkOptions::default();
        let args = link_args(&dir, &default);
        assert_eq!(args, vec![format!("-Wl,-rpath,{}", dir.display())]);
        std::fs::write(dir.join("libtorch_cuda.so"), b"").unwrap();
        let args = link_args(&dir, &default);
        assert_eq!(args[1..], ["-Wl,--no-as-needed", "-ltorch_cuda", "-Wl,--as-needed"].map(String::from));
        // CPU-only: the CUDA library is there but not linked.
        let cpu = LinkOptions { cpu_only: true, rpath: None };
        assert_eq!(link_args(&dir, &cpu), vec![format!("-Wl,-rpath,{}", dir.display())]);
        // Relocatable: the given rpath replaces the folder.
        let relocatable = LinkOptions { cpu_only: true, rpath: Some("$ORIGIN/../lib".into()) };
        assert_eq!(link_args(&dir, &relocatable), ["-Wl,-rpath,$ORIGIN/../lib"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
