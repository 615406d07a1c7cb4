//! How much memory this process may use, for checks that refuse a too-large
//! allocation before libtorch or the allocator fails on it.

/// The memory this process can use, in bytes: the least of the machine's
/// memory (`MemTotal` of `/proc/meminfo`), the cgroup's limit (v2
/// `memory.max` or v1 `memory.limit_in_bytes`) and the address-space limit
/// (`ulimit -v`). `None` when none of them can be read.
pub fn available_bytes() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    });
    let cgroup = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok())
        .min();
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct it is given and nothing else.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0;
    let address_space = (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur);
    [total, cgroup, address_space].into_iter().flatten().min()
}
