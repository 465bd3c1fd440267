import PipeBusCore
import PipeBusTasks

/// What a pipe worker is told when it finishes a task that is no longer its own: `clear-stuck`
/// or a cancel moved it to `failed/` while the worker ran it. One rename decided between the
/// two (`TaskSpool.clearStuck`): the task stays where the winner put it, in one state folder.
extension Sidecar {
    /// The error for a Finish of task `id`, which no lease of this sidecar holds: where the task
    /// is now and why its outcome was not recorded.
    func notLeased(_ id: TaskID) -> RPCError {
        let record = try? spool.get(id)
        switch record?.state {
        case .failed?:
            let error = record?.errorMessage.map { " (error: \($0))" } ?? ""
            return RPCError(
                code: .failedPrecondition,
                message: "task \(id) is in failed/ now\(error): it was cleared as stuck or cancelled while leased; this outcome was not recorded"
            )
        case .completed?:
            return RPCError(code: .failedPrecondition, message: "task \(id) is already completed; this outcome was not recorded")
        case let state?:
            return RPCError(code: .failedPrecondition, message: "task \(id) (in \(state)/) is not leased by any pipe worker of this sidecar")
        case nil:
            return RPCError(code: .notFound, message: "task \(id) is not in the spool of worker \(configuration.worker)")
        }
    }

    /// The error `clear-stuck` writes into task `id` just after moving it, for the report of
    /// that move when the report reads the file before the error is in it.
    func takeClearingReason(_ id: TaskID) -> String? {
        state.withLock { $0.clearing.removeValue(forKey: id) }
    }
}
