import PipeBusCore

extension TaskSpool {
    /// The runbook's "Task Replay": the task is looked up in `failed/`, then `completed/`; its
    /// object is copied without `_trace_context` (a fresh trace), with `debug` and `replay` set
    /// to true, and written as `pending/<id>_replay.json`. As a new task it also gets the owned
    /// keys a new task has: `id` `<id>_replay`, `attempts` 0, a new `submitted_at`, and no
    /// `result` or `error`. Throws NOT_FOUND if the task is in neither folder, ALREADY_EXISTS if
    /// its replay is already in the spool.
    @discardableResult
    public func replay(_ id: TaskID) throws -> TaskRecord {
        let original = try translatingSpoolErrors {
            try read(id, in: .failed) ?? read(id, in: .completed)
        }
        guard let original else {
            throw RPCError(code: .notFound, message: "task \(id) not found in failed/ or completed/")
        }
        let replayID = try TaskID(id.rawValue + "_replay")
        var object = try original.object()
        object[TaskJSON.Key.traceContext] = nil
        object[TaskJSON.Key.debug] = true
        object[TaskJSON.Key.replay] = true
        object[TaskJSON.Key.id] = replayID.rawValue
        object[TaskJSON.Key.attempts] = 0
        object[TaskJSON.Key.submittedAt] = SpoolClock.iso8601(SpoolClock.now())
        object[TaskJSON.Key.result] = nil
        object[TaskJSON.Key.error] = nil
        let record = try create(object, id: replayID)
        logger.info("task queued for replay", metadata: record.logMetadata.merging(["replay_of": "\(id)"]) { $1 })
        return record
    }

    /// The runbook's "Clear stuck tasks": active tasks whose mtime is older than `olderThan` are
    /// moved to `failed/` with `error` set to `reason`. A task that finishes or is cleared by
    /// someone else meanwhile is skipped. Returns the tasks moved.
    @discardableResult
    public func clearStuck(olderThan: Duration, reason: String) throws -> [TaskRecord] {
        var moved: [TaskRecord] = []
        for stuck in try list(.active, olderThan: olderThan) {
            do {
                moved.append(
                    try transition(stuck.id, from: .active, to: .failed) { object in
                        object[TaskJSON.Key.error] = reason
                    }
                )
                logger.warning("moved stuck task", metadata: stuck.logMetadata.merging(["reason": "\(reason)"]) { $1 })
            } catch let error as RPCError where error.code == .aborted || error.code == .notFound {
                continue
            }
        }
        return moved
    }
}
