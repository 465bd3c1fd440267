#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` until it returns or SIGINT/SIGTERM arrives; the signal cancels it, and `body`
/// sees the cancellation (live views, `watch`, the demo worker end cleanly that way).
func untilInterrupted<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
    let task = Task { try await body() }
    let signals = SignalWatch(signals: [SIGINT, SIGTERM]) { _ in task.cancel() }
    defer { signals.cancel() }
    return try await task.value
}

/// Sleeps, returning false instead of throwing when the task is cancelled.
@discardableResult
func pause(_ duration: Duration) async -> Bool {
    do {
        try await Task.sleep(for: duration)
        return true
    } catch {
        return false
    }
}
