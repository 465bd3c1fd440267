/// Waits for a condition that has no event to await (a counter, a file that appears, a process
/// answering): checks it, then again after each pause of `every`, until it holds. Fails with a
/// `TimeoutError` naming `what` once `timeout` has passed on `clock`. An error the condition
/// throws counts as "not yet" (a connection refused until the server listens); the last one is
/// in the `TimeoutError`, so a condition that can never hold still fails, with its cause.
///
/// The timeout is a failure bound, never a performance figure: keep it generous. A test that
/// controls time passes its own clock, on which both the deadline and the pauses are measured.
public func eventually<C: Clock>(
    _ what: @autoclosure () -> String,
    timeout: Duration = .seconds(10),
    every interval: Duration = .milliseconds(20),
    clock: C = ContinuousClock(),
    _ condition: () async throws -> Bool
) async throws where C.Duration == Duration {
    _ = try await eventuallyValue(what(), timeout: timeout, every: interval, clock: clock) {
        try await condition() ? true : nil
    }
}

/// Like `eventually`, for a value: polls `body` until it returns one, and returns it. An error
/// thrown by `body` counts as "not yet"; the last one is in the `TimeoutError`.
public func eventuallyValue<T, C: Clock>(
    _ what: @autoclosure () -> String,
    timeout: Duration = .seconds(10),
    every interval: Duration = .milliseconds(20),
    clock: C = ContinuousClock(),
    _ body: () async throws -> T?
) async throws -> T where C.Duration == Duration {
    let deadline = clock.now.advanced(by: timeout)
    var lastError: (any Error)?
    while true {
        do {
            if let value = try await body() { return value }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            lastError = error
        }
        if clock.now >= deadline {
            throw TimeoutError(what: what(), limit: timeout, lastError: lastError.map { "\($0)" })
        }
        try await clock.sleep(for: interval)
    }
}
