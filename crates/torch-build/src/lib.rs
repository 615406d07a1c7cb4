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
//!   README recommends.
//!
//! Call it from `build.rs`, in a package that depends on `torch-sys`:
//!
//! ```no_run
//! // build.rs
//! torch_build::link_libtorch();
//! ```

use std::path::Path;

/// The environment variable through which `torch-sys` passes its library folder.
pub const LIB_DIR_VAR: &str = "DEP_TCH_LIBTORCH_LIB";

/// The linker arguments for a libtorch library folder: rpath, then the CUDA
/// libraries present there, kept with `--no-as-needed`.
pub fn link_args(lib_dir: &Path) -> Vec<String> {
    let mut args = vec![format!("-Wl,-rpath,{}", lib_dir.display())];
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

/// Prints the cargo instructions that link the calling package's binaries,
/// tests, examples and benchmarks against libtorch with an rpath.
///
/// Prints a cargo warning (and nothing else) when `torch-sys` did not publish
/// its library folder, which happens when the calling package does not
/// depend on `torch-sys` directly.
pub fn link_libtorch() {
    println!("cargo:rerun-if-env-changed={LIB_DIR_VAR}");
    match std::env::var_os(LIB_DIR_VAR) {
        Some(dir) => {
            for arg in link_args(Path::new(&dir)) {
                println!("cargo:rustc-link-arg={arg}");
            }
        }
        None => println!(
            "cargo:warning={LIB_DIR_VAR} is not set: add `torch-sys` to this package's \
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
        let args = link_args(&dir);
        assert_eq!(args, vec![format!("-Wl,-rpath,{}", dir.display())]);
        std::fs::write(dir.join("libtorch_cuda.so"), b"").unwrap();
        let args = link_args(&dir);
        assert_eq!(args[1..], ["-Wl,--no-as-needed", "-ltorch_cuda", "-Wl,--as-needed"].map(String::from));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
