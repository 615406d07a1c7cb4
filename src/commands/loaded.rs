//! The shared libraries this process actually loaded, as the dynamic loader
//! names them (`dl_iterate_phdr`): `lstm-mnist env` reports the libtorch in
//! use (a `make dist` folder's `lib/`, or one found through `LD_LIBRARY_PATH`)
//! rather than the folder the binary was built against, and whether
//! libtorch's CUDA library is loaded.

use std::ffi::{c_int, c_void, CStr};
use std::path::PathBuf;

/// The path of every loaded shared object, in load order (the executable
/// itself and the vDSO, which have no file name, are left out).
pub fn loaded_libraries() -> Vec<PathBuf> {
    unsafe extern "C" fn each(info: *mut libc::dl_phdr_info, _size: usize, data: *mut c_void) -> c_int {
        // SAFETY: `data` is the `Vec` passed below, alive for the whole call;
        // `info` and its `dlpi_name` (a NUL-terminated string or null) are
        // valid during the callback, as dl_iterate_phdr(3) guarantees.
        let (paths, name) = unsafe { (&mut *data.cast::<Vec<PathBuf>>(), (*info).dlpi_name) };
        if !name.is_null() {
            // SAFETY: a non-null `dlpi_name` is a NUL-terminated string (see above).
            let name = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
            if !name.is_empty() {
                paths.push(PathBuf::from(name));
            }
        }
        0
    }
    let mut paths: Vec<PathBuf> = Vec::new();
    // SAFETY: the callback only reads `info` and writes to `paths`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(each), (&mut paths as *mut Vec<PathBuf>).cast()) };
    paths
}

/// The loaded library whose file name is `file_name` (e.g. `libtorch_cpu.so`).
pub fn loaded_library(file_name: &str) -> Option<PathBuf> {
    loaded_libraries().into_iter().find(|p| p.file_name().is_some_and(|n| n == file_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_loaded_libtorch_and_libc() {
        // Touch libtorch so that the test binary certainly uses it.
        assert!(tch::get_num_threads() > 0);
        let libtorch = loaded_library("libtorch_cpu.so").expect("libtorch_cpu.so is loaded");
        assert!(libtorch.is_file(), "{}", libtorch.display());
        assert!(loaded_libraries().iter().any(|p| p.to_string_lossy().contains("libc.so")));
        assert_eq!(loaded_library("libnot-a-library.so"), None);
    }
}
