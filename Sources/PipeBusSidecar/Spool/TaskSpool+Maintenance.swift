import PipeBusCore
public import PipeBusTasks
import PipeBusSystem
import SystemPackage

extension TaskSpool {
    /// The runbook's "Task Replay": the task is looked up in `failed/`, then `completed/`; its
    /// object is copied without `_trace_context` (a fresh trace), with `debug` and `replay` set
    /// to true, and written as `pending/<id>_replay.json`. As a new task it also gets the owned
    /// keys a new task has: `id` `<id>_replay`, `attempts` 0, a new `submitted_at`, `replay_of`
    /// the original's id, and no `result` or `error` (as the sidecar does for the runbook's own
    /// replay snippet, `adoptNewTask`). A task retention archived is read from the archive.
    /// Throws NOT_FOUND if the task is in neither folder nor the archive, ALREADY_EXISTS if
    /// its replay is already in the spool.
    @discardableResult
    public func replay(_ id: TaskID) throws -> TaskRecord {
        // The folders first, then the archive: retention appends a task to the archive before
        // its file leaves the folder, so a task missed in the folder is in the archive by then.
        var original = try translatingSystemErrors(subject: "spool") {
            try read(id, in: .failed) ?? read(id, in: .completed)
        }
        if original == nil {
            original = try TaskArchive(layout: layout).find(id) { problem in
                logger.warning("archive read while looking for a task to replay", metadata: ["task_id": "\(id)", "problem": "\(problem)"])
            }?.record
        }
        guard let original else {
            throw RPCError(code: .notFound, message: "task \(id) not found in failed/, completed/ or the archive")
        }
        let replayID = try TaskID(id.rawValue + "_replay")
        var object = try original.object()
        object[TaskFile.Key.traceContext] = nil
        object[TaskFile.Key.debug] = true
        object[TaskFile.Key.replay] = true
        object[TaskFile.Key.id] = replayID.rawValue
        object[TaskFile.Key.replayOf] = id.rawValue
        object[TaskFile.Key.attempts] = 0
        object[TaskFile.Key.submittedAt] = Timestamp.iso8601(SpoolClock.now())
        object[TaskFile.Key.result] = nil
        object[TaskFile.Key.error] = nil
        let record = try create(object, id: replayID)
        logger.info("task queued for replay", metadata: record.logMetadata.merging(["replay_of": "\(id)"]) { $1 })
        return record
    }

    /// The runbook's "Clear stuck tasks": active tasks in `active/` for longer than `olderThan`
    /// (their time in state, `timeInState`, not their age since submission) are moved to
    /// `failed/` with `error` set to `reason`. With `dryRun`, nothing moves: the tasks that
    /// would are returned. `willClear` is called just before each move.
    ///
    /// Each task moves by one rename of `active/X`, with the error written afterwards in
    /// `failed/`: a worker finishing the task renames the same file, so exactly one of the two
    /// wins and the loser finds it gone — a spool worker's rename fails, a pipe worker's Finish
    /// gets FAILED_PRECONDITION. (Writing the error first would leave it in a `completed/` file
    /// whenever the worker won.) A task that finishes, is cleared by someone else, or moved
    /// back into `active/` meanwhile is skipped. Returns the tasks moved.
    @discardableResult
    public func clearStuck(
        olderThan: Duration,
        reason: String,
        dryRun: Bool = false,
        willClear: (TaskRecord) -> Void = { _ in }
    ) throws -> [TaskRecord] {
        let stuck = try list(.active, olderThan: olderThan)
        if dryRun { return stuck }
        var moved: [TaskRecord] = []
        for candidate in stuck {
            // Checked again just before the move: it may have finished and been claimed again.
            guard let current = try get(candidate.id, in: .active), timeInState(current) > olderThan else { continue }
            willClear(current)
            do {
                try transition(current.id, from: .active, to: .failed)
            } catch let error as RPCError where error.code == .aborted || error.code == .notFound {
                continue
            }
            do {
                try update(current.id, in: .failed) { object in
                    object[TaskFile.Key.error] = reason
                    // A pipe worker's result written just before the move lost the race.
                    object[TaskFile.Key.result] = nil
                }
                let path = layout.filePath(current.id, .failed)
                stampMoved(current.id, at: path)
                moved.append(try get(current.id, in: .failed) ?? current)
            } catch let error as RPCError where error.code == .aborted || error.code == .notFound {
                // Moved on from failed/ already (removed, or replayed and deleted): it was cleared.
                moved.append(current)
            }
            logger.warning("moved stuck task", metadata: current.logMetadata.merging(["reason": "\(reason)"]) { $1 })
        }
        return moved
    }
}
