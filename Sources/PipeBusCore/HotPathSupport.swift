#if canImport(Glibc)
import Glibc
#endif
import CPipeBusShim

/// Small helpers for the per-call path, where cache-cold Swift generics cost more than the
/// work they do.

/// `CLOCK_MONOTONIC` in nanoseconds: what `ContinuousClock` reads on Linux, as a plain integer
/// (an optional `ContinuousClock.Instant` goes through the runtime's value witnesses).
enum MonotonicClock {
    static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// `duration` in whole nanoseconds, clamped to 0 ... UInt64.max / 2.
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        if seconds >= Int64(UInt64.max / 2 / 1_000_000_000) { return UInt64.max / 2 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}

extension Array where Element == UInt8 {
    /// Appends `count` zero bytes, for the caller to fill in through a pointer: copied from a
    /// static page of zeros in the C shim (`append(contentsOf: repeatElement(0, count:))` goes
    /// element by element through the generic path; a Swift global would cost a lazy-init check).
    mutating func appendZeros(_ count: Int) {
        let zeros = pipebus_zero_page()
        var remaining = count
        while remaining > 0 {
            let chunk = Swift.min(remaining, Int(PIPEBUS_ZERO_PAGE_SIZE))
            append(contentsOf: UnsafeRawBufferPointer(start: zeros, count: chunk))
            remaining -= chunk
        }
    }
}
