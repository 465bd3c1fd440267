import PipeBusCore
public import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

extension TaskSpool {
    /// Moves task `id` from one state folder to another with one atomic, never-overwriting
    /// rename, and makes it durable (both folders fsynced). The task's mtime is set to the move
    /// (`stampMoved`), so its age in the new state counts from there, as the runbook reads it.
    ///
    /// `update`, if given, rewrites the task object durably as part of the move: out of
    /// `pending/` the move comes first and the rewrite follows in the new folder (moved back if
    /// the rewrite fails), because rewriting a shared queue entry before claiming it could
    /// overwrite another consumer's claim; from any other state the rewrite comes first, so the
    /// file arrives complete (a `completed/` file already carries its `result`).
    ///
    /// Throws ABORTED when the task is no longer in `from` because someone else moved it — for a
    /// claim (`to == .active`) that means another consumer won, which callers should not treat
    /// as an error; NOT_FOUND when it is in no state at all; ALREADY_EXISTS when `to` already
    /// holds a file of that name (it is never replaced).
    @discardableResult
    public func transition(
        _ id: TaskID,
        from: TaskState,
        to: TaskState,
        update: ((inout [String: Any]) throws -> Void)? = nil
    ) throws -> TaskRecord {
        guard from != to else {
            throw RPCError(
                code: .invalidArgument,
                message: "a transition needs two states; use update(_:in:_:) to rewrite"
            )
        }
        return try translatingSystemErrors(subject: "spool") {
            let source = layout.filePath(id, from)
            let destination = layout.filePath(id, to)
            // Only a regular file is moved: a symlink or a FIFO is left for `recover()`.
            guard let info = try source.lstat() else { throw try lostRace(id, from: from, to: to) }
            if let reason = HostileEntry.Reason(nonRegular: info) {
                throw RPCError(code: .failedPrecondition, message: "spool entry \(source) is \(reason)")
            }
            if try destination.lstat() != nil {
                throw try conflict(id, source: source, destination: destination, states: (from, to))
            }
            var written: Written?
            if let update, from != .pending {
                written = try rewrite(id, in: from, lostRaceTarget: to, update)
                // Durable before the move, so the file that arrives in `to` is the rewritten one
                // whatever a crash keeps.
                try groupCommit.sync([layout.directoryPath(from)])
            }
            try move(id, from: source, to: destination, states: (from, to))
            if let update, from == .pending {
                do {
                    written = try rewrite(id, in: to, lostRaceTarget: to, update)
                } catch {
                    undoMove(id, from: destination, to: source, states: (to, from), after: error)
                    throw error
                }
            }
            // After any rewrite: a rewrite made before the move carries the time of the rewrite.
            stampMoved(id, at: destination)
            // Both folders in one batch, shared with concurrent moves.
            try groupCommit.sync([layout.directoryPath(to), layout.directoryPath(from)])
            // The rename was this call's: a task that another consumer moved on at once (a
            // re-queued task claimed within the fsyncs) is returned where it is now, not as a
            // lost race, or the caller would take its own move for someone else's.
            let record = try written.flatMap { try recordWritten(id, in: to, bytes: $0.bytes, object: $0.object) }
            guard let record = try record ?? read(id, in: to) ?? get(id) else {
                throw RPCError(code: .notFound, message: "task \(id) was moved to \(to)/ and then out of the spool")
            }
            logger.info("task moved", metadata: record.logMetadata.merging(["from": "\(from)"]) { $1 })
            return record
        }
    }

    /// Rewrites task `id` durably where it is, through a temp file swapped in only while the task
    /// is still there. Throws ABORTED if it moved away meanwhile, NOT_FOUND if it is in no state.
    @discardableResult
    public func update(
        _ id: TaskID,
        in state: TaskState,
        _ body: (inout [String: Any]) throws -> Void
    ) throws -> TaskRecord {
        try translatingSystemErrors(subject: "spool") {
            let written = try rewrite(id, in: state, lostRaceTarget: state, body)
            try groupCommit.sync([layout.directoryPath(state)])
            guard let record = try recordWritten(id, in: state, bytes: written.bytes, object: written.object) else {
                throw try lostRace(id, from: state, to: state)
            }
            return record
        }
    }

    /// Claims a pending task for processing: pending → active, `attempts` incremented.
    /// ABORTED means another consumer claimed it first.
    @discardableResult
    public func claim(_ id: TaskID) throws -> TaskRecord {
        try transition(id, from: .pending, to: .active) { object in
            TaskFile.countAttempt(in: &object)
        }
    }

    /// Completes an active task with its `result` (any JSON value): active → completed.
    @discardableResult
    public func complete(_ id: TaskID, result: Any) throws -> TaskRecord {
        try transition(id, from: .active, to: .completed) { object in
            object[TaskFile.Key.result] = result
            object[TaskFile.Key.error] = nil
        }
    }

    /// Fails an active task with an `error` message: active → failed.
    @discardableResult
    public func fail(_ id: TaskID, error message: String) throws -> TaskRecord {
        try transition(id, from: .active, to: .failed) { object in
            object[TaskFile.Key.error] = message
        }
    }

    private func move(
        _ id: TaskID,
        from source: FilePath,
        to destination: FilePath,
        states: (TaskState, TaskState)
    ) throws {
        willMove(id, from: states.0, to: states.1)
        do {
            try source.renameWithoutReplacing(to: destination)
        } catch let error as SystemCallError where error.errno == .noSuchFileOrDirectory {
            throw try lostRace(id, from: states.0, to: states.1)
        } catch let error as SystemCallError where error.errno == .fileExists {
            throw try conflict(id, source: source, destination: destination, states: states)
        }
    }

    /// A task object as a rewrite wrote it.
    private struct Written {
        var bytes: [UInt8]
        var object: [String: Any]
    }

    /// Reads, updates and durably rewrites task `id` in `state`; returns what it wrote.
    private func rewrite(
        _ id: TaskID,
        in state: TaskState,
        lostRaceTarget: TaskState,
        _ body: (inout [String: Any]) throws -> Void
    ) throws -> Written {
        let path = layout.filePath(id, state)
        var object: [String: Any]
        switch try TaskFileReader.read(path, limit: configuration.maxTaskBytes) {
        case .missing:
            throw try lostRace(id, from: state, to: lostRaceTarget)
        case .hostile(let reason):
            throw RPCError(code: .failedPrecondition, message: "spool entry \(path) is \(reason)")
        case .task(_, let parsed, _):
            object = parsed
        }
        try body(&object)
        let bytes = try TaskFile.encode(object)
        try checkSize(bytes.count)
        do {
            try DurableFile.write(
                bytes,
                directory: layout.directoryPath(state),
                name: id.fileName,
                placement: .replaceExisting,
                syncDirectory: false  // the caller syncs the folder, with its move if any
            )
        } catch let error as SystemCallError where error.errno == .noSuchFileOrDirectory {
            throw try lostRace(id, from: state, to: lostRaceTarget)
        }
        return Written(bytes: bytes, object: object)
    }

    /// Puts a claimed task back where it was after its rewrite failed, so it is not stuck in
    /// `active/` with no one working on it.
    private func undoMove(
        _ id: TaskID,
        from destination: FilePath,
        to source: FilePath,
        states: (TaskState, TaskState),
        after error: any Error
    ) {
        willMove(id, from: states.0, to: states.1)
        do {
            try destination.renameWithoutReplacing(to: source)
        } catch let moveError as SystemCallError where moveError.errno == .noSuchFileOrDirectory {
            return  // someone else moved it on meanwhile: nothing to undo
        } catch {
            logger.error(
                "could not move a task back after its update failed; clearStuck will pick it up",
                metadata: ["task_id": "\(id)", "path": "\(destination)", "error": "\(error)"]
            )
        }
        logger.warning("task move undone: its update failed", metadata: ["task_id": "\(id)", "error": "\(error)"])
    }

    /// The error for a destination that is taken: if the source is gone too, another consumer
    /// made this very move first (a lost race, ABORTED); if both exist, a real ALREADY_EXISTS.
    private func conflict(
        _ id: TaskID,
        source: FilePath,
        destination: FilePath,
        states: (TaskState, TaskState)
    ) throws -> RPCError {
        if try source.lstat() == nil { return try lostRace(id, from: states.0, to: states.1) }
        return RPCError(
            code: .alreadyExists,
            message: "\(destination) already exists; a transition never replaces a file"
        )
    }

    /// The error for a task that is not where it was expected: ABORTED when someone else moved it
    /// (or for a claim, whatever became of it), NOT_FOUND when it is in no state.
    func lostRace(_ id: TaskID, from: TaskState, to: TaskState) throws -> RPCError {
        let now = try locate(id)
        if now == nil && to != .active {
            return RPCError(code: .notFound, message: "task \(id) is not in \(from)/ nor in any other state")
        }
        let whereabouts = now.map { "it is in \($0)/ now" } ?? "it is no longer in the spool"
        return RPCError(
            code: .aborted,
            message: "lost the race for task \(id): not in \(from)/ any more; \(whereabouts)"
        )
    }
}
