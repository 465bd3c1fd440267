import Synchronization

/// Messages that arrived for one stream and wait for the code that reads them: a bounded
/// single-consumer queue whose consumer suspends when it is empty. The reader of the connection
/// delivers; the call's task consumes.
final class MessageInbox: Sendable {
    private struct State {
        var items: [[UInt8]] = []
        var head = 0
        var end: Result<Void, RPCError>?
        var waiter: UnsafeContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    /// Messages buffered before the stream is failed with RESOURCE_EXHAUSTED.
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Queues a message; returns false when the inbox is full (the caller fails the stream).
    func deliver(_ message: [UInt8]) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, UnsafeContinuation<Void, Never>?) in
            guard state.end == nil else { return (true, nil) }
            guard state.items.count - state.head < capacity else { return (false, nil) }
            state.items.append(message)
            let waiter = state.waiter
            state.waiter = nil
            return (true, waiter)
        }
        waiter?.resume()
        return accepted
    }

    /// No more messages: `next()` returns nil after the buffered ones (or throws `error` at once).
    func finish(_ error: RPCError? = nil) {
        let waiter = state.withLock { state -> UnsafeContinuation<Void, Never>? in
            if state.end == nil {
                state.end = error.map { .failure($0) } ?? .success(())
                if error != nil {
                    state.items.removeAll()
                    state.head = 0
                }
            }
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// The next message without waiting: `.message`, `.end` (nil message), or `.empty`.
    func poll() throws -> [UInt8]?? {
        try state.withLock { state -> [UInt8]?? in
            if state.head < state.items.count {
                let item = state.items[state.head]
                state.head += 1
                if state.head == state.items.count {
                    state.items.removeAll(keepingCapacity: true)
                    state.head = 0
                }
                return .some(item)
            }
            switch state.end {
            case .none: return .none
            case .success: return .some(nil)
            case .failure(let error): throw error
            }
        }
    }

    /// The next message, waiting for it; nil once the stream ended normally.
    func next() async throws -> [UInt8]? {
        while true {
            if let item = try poll() { return item }
            await withTaskCancellationHandler {
                await withUnsafeContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.head < state.items.count || state.end != nil { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                self.finish(RPCError(code: .cancelled, message: "the waiting task was cancelled"))
            }
        }
    }
}
