#if canImport(Glibc)
import Glibc
#endif

/// A mutex with a condition variable, for the few places that must block a thread until
/// another signals (the in-process transport's byte streams, the client's reader thread, the
/// blocking-read watchdog).
// @unchecked: the two pointers never change after init, and pthread serializes what they guard.
package final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    package init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    package func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits (the lock held) until signalled or `deadline` passes; returns false on timeout.
    package func wait(until deadline: ContinuousClock.Instant?) -> Bool {
        guard let deadline else {
            pthread_cond_wait(condition, mutex)
            return true
        }
        let remaining = ContinuousClock.now.duration(to: deadline)
        if remaining <= .zero { return false }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (seconds, attoseconds) = remaining.components
        var nanos = Int(now.tv_nsec) + Int(attoseconds / 1_000_000_000)
        var target = timespec(tv_sec: now.tv_sec + Int(seconds) + nanos / 1_000_000_000, tv_nsec: 0)
        nanos %= 1_000_000_000
        target.tv_nsec = nanos
        return pthread_cond_timedwait(condition, mutex, &target) == 0
    }

    package func broadcast() { pthread_cond_broadcast(condition) }
}
