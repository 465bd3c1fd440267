#if canImport(Glibc)
import Glibc
#endif

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

/// A page of zeros to grow byte arrays from with one `memcpy`: `append(contentsOf:
/// repeatElement(0, count:))` goes element by element through the generic path.
// Written once (calloc) and only read after: safe to share.
private nonisolated(unsafe) let zeros: UnsafeRawBufferPointer = {
    let count = 16 * 1024
    return UnsafeRawBufferPointer(start: calloc(count, 1), count: count)
}()

extension Array where Element == UInt8 {
    /// Appends `count` zero bytes, for the caller to fill in through a pointer.
    mutating func appendZeros(_ count: Int) {
        var remaining = count
        while remaining > 0 {
            let chunk = Swift.min(remaining, zeros.count)
            append(contentsOf: UnsafeRawBufferPointer(rebasing: zeros[0..<chunk]))
            remaining -= chunk
        }
    }
}
