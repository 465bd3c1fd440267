import Synchronization

/// Something that happens once, with a value, that tests and handlers wait for without polling:
/// "the handler started", "the handler saw its cancellation", "the child exited with status 0".
/// Waiting is always bounded; the first `fulfill` wins.
public final class TestEvent<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value, any Error>] = [:]
        var expired: [Int: any Error] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var isFulfilled: Bool { state.withLock { $0.value != nil } }
    public var value: Value? { state.withLock { $0.value } }

    public func fulfill(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, any Error>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The value, waiting at most `limit` for it; throws `TimeoutError` after that and
    /// `CancellationError` if the waiting task is cancelled.
    public func wait(_ limit: Duration, for what: String) async throws -> Value {
        let id = state.withLock { state -> Int in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        let timer = Task {
            try await Task.sleep(for: limit)
            self.expire(id, TimeoutError(what: what, limit: limit))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate = state.withLock { state -> Result<Value, any Error>? in
                    if let value = state.value { return .success(value) }
                    if let error = state.expired.removeValue(forKey: id) { return .failure(error) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            self.expire(id, CancellationError())
        }
    }

    /// Ends waiter `id` with `error` (or makes it end at once if it has not started waiting).
    private func expire(_ id: Int, _ error: any Error) {
        let waiter = state.withLock { state -> CheckedContinuation<Value, any Error>? in
            guard state.value == nil else { return nil }
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            state.expired[id] = error
            return nil
        }
        waiter?.resume(throwing: error)
    }
}

extension TestEvent where Value == Void {
    public func fulfill() { fulfill(()) }
}

/// Runs `body` in its own task and waits at most `limit` for it: a hang becomes a test failure
/// (the task is cancelled and left behind) instead of a stuck test run.
public func withTimeout<T: Sendable>(
    _ limit: Duration,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = TestEvent<Result<T, any Error>>()
    let task = Task {
        do { outcome.fulfill(.success(try await body())) } catch { outcome.fulfill(.failure(error)) }
    }
    do {
        return try await outcome.wait(limit, for: what).get()
    } catch let error as TimeoutError {
        task.cancel()
        throw error
    }
}
