import Synchronization

/// The fallback reader thread: it takes the reading role when the leader's budget runs out
/// while calls still wait, and after a cancel, so that a stream the server is still writing is
/// drained. One per connection, started on first need, named `pipebus-client-reader`.
extension ClientConnection {
    func handOffToThread() {
        let needsThread = state.withLock { state -> Bool in
            state.role = .thread
            return startingReaderThread(&state)
        }
        if needsThread { startReaderThread() }
        threadSignal.withLock { threadSignal.broadcast() }
    }

    /// Whether the caller is to start the reader thread (once per connection; a cancel may
    /// ask for it from any thread, alongside a leader handing off).
    private func startingReaderThread(_ state: inout State) -> Bool {
        guard !state.readerThreadStarted else { return false }
        state.readerThreadStarted = true
        return true
    }

    private func startReaderThread() {
        let thread = OSThread(name: "pipebus-client-reader") { [weak self] in
            while let connection = self, connection.readerTurn() {}
        }
        state.withLock { $0.readerThread = thread }
    }

    /// The fallback reader: reads while any caller waits, then goes idle until handed the role.
    /// One turn of the fallback reader: reads while any caller waits, else idles until handed
    /// the role. False when the connection has failed and the thread should end. The thread
    /// holds the connection only for one turn, so an unused connection can still be freed.
    private func readerTurn() -> Bool {
        let (role, failed, dropped) = state.withLock { state in
            // Reading on after a cancel takes the role as soon as nobody holds it.
            if state.role == .idle && state.readingOnAfterCancel { state.role = .thread }
            return (state.role, state.failure != nil, state.droppedFrames)
        }
        if failed { return false }
        if role != .thread {
            threadSignal.withLock {
                if state.withLock({ $0.role != .thread && $0.failure == nil && !($0.role == .idle && $0.readingOnAfterCancel) }) {
                    _ = threadSignal.wait(until: ContinuousClock.now + .milliseconds(250))
                }
            }
            return true
        }
        var timeout: Duration = .milliseconds(100)
        var tolerance = timeout
        if let deadline = nearestDeadline(), ContinuousClock.now.duration(to: deadline) < timeout {
            timeout = max(.zero, ContinuousClock.now.duration(to: deadline))
            tolerance = .zero
        }
        guard let outcome = pump(timeout: timeout, tolerance: tolerance) else { return false }
        let midFrame = reader.decoder.bufferedByteCount > 0
        state.withLock { state in
            // A cancelled stream's frames have stopped coming once a read brings whole frames
            // and none of them for an ended stream, or nothing at all for a whole turn.
            if case .bytes = outcome {
                if !midFrame && state.droppedFrames == dropped { state.readingOnAfterCancel = false }
            } else if tolerance > .zero {
                state.readingOnAfterCancel = false
            }
            if !state.readingOnAfterCancel && state.streams.allSatisfy({ $0.value.waiter == nil }) { state.role = .idle }
        }
        return true
    }

    /// After a cancel, has the reader thread read on (dropping the cancelled stream's frames)
    /// until they stop coming. The server may be blocked writing that stream into a full pipe,
    /// and reads the CANCEL only once the write is done: a client that then made no call would
    /// read nothing, and the server would drop it as a slow consumer. (HTTP/2 likewise keeps
    /// reading after RST_STREAM.) Only on a cancel: a call that ends normally pays nothing.
    func readOnAfterCancel() {
        let started = state.withLock { state -> Bool? in
            guard state.failure == nil else { return nil }
            state.readingOnAfterCancel = true
            // A leader reading now leaves the role idle when done; the thread then takes it.
            if state.role == .idle { state.role = .thread }
            return startingReaderThread(&state)
        }
        guard let started else { return }
        if started { startReaderThread() }
        threadSignal.withLock { threadSignal.broadcast() }
    }
}
