//! How the process's allocator is tuned: by measurement (docs/DESIGN.md,
//! "Quality bars"), glibc's malloc with one setting changed.

/// Blocks of 1 MiB or more are mapped on their own and unmapped when
/// freed. glibc otherwise raises its mmap threshold to the size of the
/// first such block freed, then serves later ones from its heap and keeps
/// them: the 19 MiB an argon2 worker gives back when idle
/// (`latchkey_core::hashing`) would stay resident.
pub fn map_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only tunes glibc's allocator, and 1 MiB is within
        // the range it takes for this setting (up to 32 MiB on 64-bit).
        let applied = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) };
        debug_assert_eq!(applied, 1, "glibc took the mmap threshold");
    }
}
