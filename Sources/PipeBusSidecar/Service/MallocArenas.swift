internal import CPipeBusShim

/// How many heaps (arenas) glibc's malloc may keep in a sidecar process.
///
/// A sidecar starts and ends a thread for every pipe connection. glibc gives threads that contend
/// for a heap heaps of their own, up to 8 per CPU, and keeps the memory freed in each. In a soak
/// with clients connecting and being killed every few seconds (`scripts/soak.sh`, release build,
/// 2 CPUs) the default reached all 16 heaps: 4 MB in use and 41 MB held free, RSS from 61 MB to
/// 89 MB in 12 minutes and still rising. With 2 heaps: 4.5 MB in use and 8 MB free, RSS from
/// 44 MB to a 52–56 MB plateau after 2 minutes.
///
/// This is the process's policy, so the executable applies it (`pipebus sidecar`); an operator's
/// own `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES=glibc.malloc.arena_max=…` wins.
public enum MallocArenas {
    /// The limit to apply for a process with `processorCount` CPUs and this environment, or nil
    /// when the environment sets one itself: one heap per CPU, at least 2 and at most 8.
    public static func limit(environment: [String: String], processorCount: Int) -> Int? {
        if environment["MALLOC_ARENA_MAX"] != nil { return nil }
        if let tunables = environment["GLIBC_TUNABLES"], tunables.contains("glibc.malloc.arena_max=") { return nil }
        return min(max(processorCount, 2), 8)
    }

    /// Limits glibc to `count` heaps from now on (heaps already made stay). Returns false when
    /// the C library refuses or is not glibc.
    @discardableResult
    public static func apply(_ count: Int) -> Bool {
        precondition(count > 0, "an arena limit is positive")
        return pipebus_limit_malloc_arenas(Int32(clamping: count)) == 0
    }

    /// Gives the memory malloc holds free back to the system. Called after the listings of the
    /// whole spool (start, a re-seed after lost events): with a million finished tasks their
    /// transient names and records take tens of MB, freed at once but, each allocation being
    /// small (below the mmap threshold), kept by glibc in its heaps: the RSS stayed at its peak.
    static func releaseFree() {
        _ = pipebus_release_free_memory()
    }
}
