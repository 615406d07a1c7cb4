//! OpenMP defaults that keep training fast when other processes share the cores.
//!
//! libtorch runs its CPU kernels on libgomp (GNU OpenMP), whose worker threads
//! spin for 300,000 iterations (`GOMP_SPINCOUNT`'s default) before sleeping
//! when they run out of work. On an idle machine that saves a wake-up; on a
//! busy one the spinning threads fight the other processes for the cores, and
//! training on 2 threads beside two CPU-bound processes fell to about a fifth
//! of its idle speed. With `GOMP_SPINCOUNT=10000` it keeps about half, and
//! idle speed is unchanged (docs/performance.md "Under load" has the figures).
//!
//! libgomp reads its environment once, in its library constructor, before
//! `main` runs, so setting the variable from `main` is too late, and an ELF
//! `.preinit_array` function runs before libc has set up `environ`. So the
//! binary defines the C `getenv` itself ([`getenv`]: the same lookup as
//! glibc's, over `environ`) and exports it; the dynamic linker binds every
//! library's `getenv`, libgomp's included, to the executable's definition
//! first. It answers `GOMP_SPINCOUNT` with `10000` when that variable is not
//! set, unless the user set any `OMP_*` or `GOMP_*` variable: a user's own
//! settings always win (`GOMP_SPINCOUNT=300000` restores libgomp's own
//! default). No re-exec, no start-up cost (a re-exec would load libtorch twice,
//! 0.7 s here). Other binaries linking this library are unaffected.

use std::ffi::{c_char, CStr};
use std::sync::atomic::{AtomicBool, Ordering};

/// The variable this module gives a default.
pub const SPINCOUNT_VAR: &str = "GOMP_SPINCOUNT";
/// Its default: spins before a libgomp thread sleeps (libgomp's own is 300000).
pub const SPINCOUNT: &str = "10000";
const SPINCOUNT_C: &CStr = c"10000";

/// Set once [`getenv`] has answered `GOMP_SPINCOUNT` with the default.
static SUPPLIED: AtomicBool = AtomicBool::new(false);

/// Which OpenMP settings this process runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMpDefaults {
    /// libgomp's defaults (another binary, not Linux/glibc, or libgomp never asked).
    NotUsed,
    /// libgomp was given `GOMP_SPINCOUNT=10000` by [`getenv`].
    Set,
    /// The user set an `OMP_*` or `GOMP_*` variable; no default was given.
    UserSettings,
}

/// Whether `name` is a variable OpenMP (libgomp) reads: `OMP_*` or `GOMP_*`.
pub fn is_openmp_var(name: &[u8]) -> bool {
    name.starts_with(b"OMP_") || name.starts_with(b"GOMP_")
}

/// The value of `name` among environment entries `NAME=value`, as glibc's getenv finds it.
pub fn lookup<'a>(entries: impl IntoIterator<Item = &'a [u8]>, name: &[u8]) -> Option<&'a [u8]> {
    if name.is_empty() {
        return None;
    }
    entries.into_iter().find_map(|entry| match entry.strip_prefix(name) {
        Some([b'=', value @ ..]) => Some(value),
        _ => None,
    })
}

/// The default this binary gives `name` when the environment (`entries`) lacks it:
/// `GOMP_SPINCOUNT` = 10000 unless any `OMP_*`/`GOMP_*` variable is set.
pub fn default_for<'a>(entries: impl IntoIterator<Item = &'a [u8]>, name: &[u8]) -> Option<&'static CStr> {
    let user_set = || entries.into_iter().any(is_openmp_var);
    (name == SPINCOUNT_VAR.as_bytes() && !user_set()).then_some(SPINCOUNT_C)
}

extern "C" {
    /// libc's environment.
    static environ: *const *const c_char;
}

/// The entries of `environ`, without allocating.
///
/// # Safety
/// `environ` must not change while the iterator is used (as for libc's getenv).
unsafe fn environment() -> impl Iterator<Item = &'static [u8]> {
    // SAFETY: libc keeps `environ` a NULL-terminated array of C strings (or NULL).
    let mut next = unsafe { environ };
    std::iter::from_fn(move || {
        if next.is_null() {
            return None;
        }
        // SAFETY: as above; `next` points into the array until its NULL entry.
        let entry = unsafe { *next };
        if entry.is_null() {
            return None;
        }
        // SAFETY: `entry` is a NUL-terminated string of the array.
        unsafe {
            next = next.add(1);
            Some(CStr::from_ptr(entry).to_bytes())
        }
    })
}

/// The C `getenv` of the `lstm-mnist` binary: glibc's lookup, plus the
/// `GOMP_SPINCOUNT` default of [`default_for`]. Never allocates.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; as libc's `getenv`, not to be
/// called while another thread changes the environment.
pub unsafe fn getenv(name: *const c_char) -> *mut c_char {
    if name.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: the caller passes a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name) }.to_bytes();
    // SAFETY: the caller does not change the environment meanwhile.
    if let Some(value) = lookup(unsafe { environment() }, name) {
        return value.as_ptr() as *mut c_char;
    }
    // SAFETY: as above.
    match default_for(unsafe { environment() }, name) {
        Some(value) => {
            SUPPLIED.store(true, Ordering::Relaxed);
            value.as_ptr() as *mut c_char
        }
        None => std::ptr::null_mut(),
    }
}

/// Which OpenMP settings this process runs with.
pub fn defaults() -> OpenMpDefaults {
    if std::env::vars_os().any(|(name, _)| is_openmp_var(name.as_encoded_bytes())) {
        OpenMpDefaults::UserSettings
    } else if SUPPLIED.load(Ordering::Relaxed) {
        OpenMpDefaults::Set
    } else {
        OpenMpDefaults::NotUsed
    }
}

/// The `OMP_*`/`GOMP_*` variables of this process's environment, sorted, as `NAME=value`.
pub fn openmp_env() -> Vec<String> {
    let mut vars: Vec<String> = std::env::vars_os()
        .filter(|(name, _)| is_openmp_var(name.as_encoded_bytes()))
        .map(|(name, value)| format!("{}={}", name.to_string_lossy(), value.to_string_lossy()))
        .collect();
    vars.sort();
    vars
}

/// Logs the OpenMP settings in effect (one `info` line).
pub fn log_settings() {
    match defaults() {
        OpenMpDefaults::Set => {
            tracing::info!(
                "OpenMP: GOMP_SPINCOUNT={SPINCOUNT}, lstm-mnist's default (set any OMP_*/GOMP_* to override)"
            )
        }
        OpenMpDefaults::UserSettings => {
            tracing::info!(env = %openmp_env().join(" "), "OpenMP: the environment's settings")
        }
        OpenMpDefaults::NotUsed => tracing::debug!("OpenMP: libgomp's defaults"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmp_variables_are_recognised_by_prefix() {
        for name in ["OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "GOMP_CPU_AFFINITY=0-1"] {
            assert!(is_openmp_var(name.as_bytes()), "{name}");
        }
        for name in ["KMP_BLOCKTIME", "MY_OMP_X", "OMP", "PATH", "gomp_spincount"] {
            assert!(!is_openmp_var(name.as_bytes()), "{name}");
        }
    }

    fn entries(list: &[&'static str]) -> Vec<&'static [u8]> {
        list.iter().map(|e| e.as_bytes()).collect()
    }

    #[test]
    fn lookup_finds_exact_names_only() {
        let env = entries(&["PATH=/bin", "HOME=/root", "HOMEDIR=/x", "EMPTY=", "A=b=c"]);
        assert_eq!(lookup(env.iter().copied(), b"HOME"), Some(&b"/root"[..]));
        assert_eq!(lookup(env.iter().copied(), b"HOMEDIR"), Some(&b"/x"[..]));
        assert_eq!(lookup(env.iter().copied(), b"EMPTY"), Some(&b""[..]));
        assert_eq!(lookup(env.iter().copied(), b"A"), Some(&b"b=c"[..]));
        assert_eq!(lookup(env.iter().copied(), b"HOM"), None);
        assert_eq!(lookup(env.iter().copied(), b""), None);
        assert_eq!(lookup(env.iter().copied(), b"MISSING"), None);
    }

    #[test]
    fn spincount_default_only_without_user_openmp_settings() {
        let plain = entries(&["PATH=/bin", "KMP_BLOCKTIME=0"]);
        assert_eq!(default_for(plain.iter().copied(), b"GOMP_SPINCOUNT"), Some(c"10000"));
        assert_eq!(default_for(plain.iter().copied(), b"OMP_WAIT_POLICY"), None);
        assert_eq!(default_for(plain.iter().copied(), b"PATH"), None);
        for user in ["OMP_WAIT_POLICY=ACTIVE", "OMP_NUM_THREADS=2", "GOMP_CPU_AFFINITY=0"] {
            let env = entries(&["PATH=/bin", user]);
            assert_eq!(default_for(env.iter().copied(), b"GOMP_SPINCOUNT"), None, "{user}");
        }
    }
}
