//! glibc allocator tuning, so the resident size stays flat (docs/performance.md, "Memory"). Nothing here
//! changes behaviour; on other targets both calls do nothing.

/// Bounds what glibc's allocator keeps, so the resident size stays flat (docs/performance.md, "Memory").
/// Call first thing in `main`, before any thread starts; a `MALLOC_ARENA_MAX` or
/// `MALLOC_TRIM_THRESHOLD_` set in the environment wins over these values.
///
/// - Arenas: glibc gives threads up to 8 arenas per core (16 here), and each keeps the memory
///   its threads freed; sendid's request work runs on one tokio worker per core plus the pair
///   writer and sled's threads, so one arena per core keeps lock contention low while freed
///   memory is reused instead of stranded (measured: 52.4 → 46.8 MiB peak over the bench).
/// - Trim threshold 128 KiB (glibc's starting value, which it raises up to 32 MiB as large
///   blocks are freed): free memory at the top of a heap goes back to the system once it exceeds
///   128 KiB, and large blocks (sled's buffers, a Swagger UI page) stay mmap-ed and are unmapped
///   when freed (46.8 → 42.6 MiB).
pub fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores).unwrap_or(2);
        // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
        unsafe {
            if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
                libc::mallopt(libc::M_ARENA_MAX, arenas);
            }
            if std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_none() {
                libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
            }
        }
    }
    // The static binary (musl, mimalloc; docs/packaging.md): by default mimalloc commits each
    // arena it reserves at once on Linux, which held the resident size over the bench at 67-78
    // MiB against 25 MiB committed on demand, at the same speed (docs/performance.md).
    // `MIMALLOC_ARENA_EAGER_COMMIT` in the environment wins.
    #[cfg(target_env = "musl")]
    if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
        // 4 is `mi_option_arena_eager_commit` in mimalloc.h (the crate names no constant for it).
        // SAFETY: sets an allocator option, before other threads exist.
        unsafe { libmimalloc_sys::mi_option_set(4, 0) }
    }
}

/// Hands the heap's free pages back to the system. Opening a large sled store rebuilds sled's
/// page table from its snapshot, and the snapshot's copy, freed once the table is built, is
/// scattered among blocks that stay; glibc only returns a heap's free top on its own, and
/// `malloc_trim` also releases the whole free pages inside it (docs/performance.md, "Memory").
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only gives free pages back; it never touches memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}
