/// A bounded set of OS threads for work that blocks (an fsync above all), so that several such
/// calls can be in flight at once without holding the cooperative pool's few threads, and
/// without a thread made per call.
///
/// Threads are started on demand, up to `width`, and then kept (idle ones wait on a condition);
/// `close()` lets them finish what was queued and joins them. The spool's group commit is why
/// this exists: its fsyncs are shared only by callers that are waiting at the same time, so
/// finishes and claims that each waited for the one before them paid one fsync round apiece.
public final class BlockingPool: Sendable {
    private struct State {
        var queue: [@Sendable () -> Void] = []
        var head = 0
        var threads: [OSThread] = []
        var idle = 0
        var closed = false

        var queued: Int { queue.count - head }

        mutating func take() -> (@Sendable () -> Void)? {
            guard head < queue.count else { return nil }
            let job = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64, head * 2 >= queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return job
        }
    }

    public let name: String
    public let width: Int
    private let lock = ConditionLock()
    private nonisolated(unsafe) var state = State()  // guarded by `lock`

    /// A pool of at most `width` threads named `name`.
    public init(name: String, width: Int) {
        precondition(width > 0, "a blocking pool needs at least one thread")
        self.name = name
        self.width = width
    }

    /// Runs `body` on one of the pool's threads and returns what it returns, the calling task
    /// suspended meanwhile. Throws CancellationError, without running `body`, once the pool is
    /// closed.
    public func run<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = submit { continuation.resume(with: Result { try body() }) }
            if !accepted { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Calls `body` once for each element, on the pool's threads side by side, and returns when
    /// every call has returned. For a caller that is itself an OS thread (never the cooperative
    /// pool's: it blocks). After `close()` the calls run on the calling thread, one by one.
    public func forEach<Element: Sendable>(_ elements: [Element], _ body: @escaping @Sendable (Element) -> Void) {
        guard elements.count > 1 else {
            elements.forEach(body)
            return
        }
        let done = ConditionLock()
        nonisolated(unsafe) var remaining = elements.count  // guarded by `done`
        for element in elements {
            let accepted = submit {
                body(element)
                done.withLock {
                    remaining -= 1
                    if remaining == 0 { done.broadcast() }
                }
            }
            if !accepted {
                body(element)
                done.withLock { remaining -= 1 }
            }
        }
        done.withLock {
            while remaining > 0 { _ = done.wait(until: nil) }
        }
    }

    /// Stops taking work, lets the threads finish what was queued, and joins them.
    public func close() {
        let threads = lock.withLock { () -> [OSThread] in
            state.closed = true
            lock.broadcast()
            return state.threads
        }
        for thread in threads where !thread.isCurrent { thread.join() }
    }

    /// Queues `job`, starting a thread for it if none is idle and the pool is not full; false
    /// if the pool is closed.
    private func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        lock.withLock {
            guard !state.closed else { return false }
            state.queue.append(job)
            if state.idle >= state.queued {
                lock.broadcast()
            } else if state.threads.count < width {
                // Started under the lock, so close() joins every thread there is; it takes the
                // lock itself before it looks at the queue.
                state.threads.append(OSThread(name: name) { [self] in work() })
            }
            return true
        }
    }

    private func work() {
        while true {
            let job = lock.withLock { () -> (@Sendable () -> Void)? in
                while true {
                    if let job = state.take() { return job }
                    if state.closed { return nil }
                    state.idle += 1
                    _ = lock.wait(until: nil)
                    state.idle -= 1
                }
            }
            guard let job else { return }
            job()
        }
    }
}
