/// Other transports serve `router` too (the gRPC bridge): they open only once the sidecar serves,
/// as the pipe server does, so no client of theirs sees the spool before its recovery.
extension Sidecar {
    /// Waits for the start to end: true once the sidecar serves (its spool recovered, its pipe
    /// server started), false when the start failed or the sidecar stopped before serving.
    public func started() async -> Bool {
        await withCheckedContinuation { continuation in
            let outcome = state.withLock { state -> Bool? in
                if state.startOutcome == nil { state.startWaiters.append(continuation) }
                return state.startOutcome
            }
            if let outcome { continuation.resume(returning: outcome) }
        }
    }

    /// Ends the start (the first outcome stands) and tells the waiters.
    func settleStart(_ outcome: Bool) {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard state.startOutcome == nil else { return [] }
            state.startOutcome = outcome
            defer { state.startWaiters = [] }
            return state.startWaiters
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }
}
