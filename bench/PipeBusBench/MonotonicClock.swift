import Glibc

/// `CLOCK_MONOTONIC` in nanoseconds, as the C baseline reads it: one clock for every process,
/// so the peers of a multi-process measurement can compare their timestamps.
enum MonotonicClock {
    static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
