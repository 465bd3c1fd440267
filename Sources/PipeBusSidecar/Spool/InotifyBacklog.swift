import PipeBusCore

/// What the watcher's reading thread has read from inotify and its handling thread has not yet
/// handled: whole `read`s of records, in order. Bounded: past `limit` bytes the handler has
/// fallen so far behind that the backlog is dropped for one `.overflow`, which the handler
/// treats as the kernel's own overflow (it lists the folders again).
final class InotifyBacklog: Sendable {
    enum Chunk: Sendable {
        case records([UInt8])
        case overflow
    }

    /// 64 MiB: about a million records, minutes of a busy spool; far above the kernel's
    /// default queue (16,384 records, ~0.5 MiB with names).
    static let limit = 64 << 20

    private struct State {
        var chunks: [Chunk] = []
        var bytes = 0
        var stopped = false
    }

    private let lock = ConditionLock()
    private nonisolated(unsafe) var state = State()  // guarded by `lock`
    private let limit: Int

    init(limit: Int = InotifyBacklog.limit) {
        self.limit = limit
    }

    /// Adds what one read returned; false if the backlog was over its limit and was replaced
    /// by one `.overflow`.
    func append(_ bytes: ArraySlice<UInt8>) -> Bool {
        lock.withLock {
            defer { lock.broadcast() }
            if state.bytes + bytes.count > limit {
                state.chunks = [.overflow]
                state.bytes = 0
                return false
            }
            state.chunks.append(.records(Array(bytes)))
            state.bytes += bytes.count
            return true
        }
    }

    /// No more records: `take` returns nil once what is left has been taken.
    func stop() {
        lock.withLock {
            state.stopped = true
            lock.broadcast()
        }
    }

    /// Everything appended so far, waiting up to `timeout` (nil: until something comes) if
    /// nothing is there; empty on a timeout, nil once stopped. After `stop()` what is left is
    /// not handed out: the watcher is stopping and no event may be delivered after it.
    func take(waitingAtMost timeout: Duration?) -> [Chunk]? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        return lock.withLock {
            while true {
                if state.stopped { return nil }
                if !state.chunks.isEmpty {
                    defer {
                        state.chunks.removeAll(keepingCapacity: true)
                        state.bytes = 0
                    }
                    return state.chunks
                }
                if !lock.wait(until: deadline) { return [] }
            }
        }
    }
}
