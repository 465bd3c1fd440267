import Foundation
import Logging
import PipeBusCore
import PipeBusTasks
import Tracing

/// How the sidecar reacts to what happens in the spool and to the worker.
extension Sidecar {
    /// A spool change, from the watcher: whoever moved the file (this instance, another
    /// instance of the worker, the worker, the runbook's scripts), it is reported once across
    /// the worker's instances (see `reportOnce`); every instance keeps its own timings.
    func handle(_ event: SpoolEvent, cookie: UInt32 = 0) {
        noteArrival(event)
        switch event {
        case .transition(let id, let from, let to):
            inspectArrival(id, in: to)
            let now = Date()
            let (processing, queueWait) = noteTransition(id, from: from, to: to, at: now)
            reportOnce(TaskSpool.SpoolMove(id: id, from: from, to: to), cookie: cookie) { [weak self] in
                self?.emitTransition(id, from: from, to: to, at: now, processing: processing, queueWait: queueWait)
            }
            // Every instance competes for what is freed, whoever reports the move.
            if to == .pending || from == .active { leases.pump() }
        case .appeared(let id, let state):
            inspectArrival(id, in: state)
            if state == .failed {
                // Written straight into failed/ (a worker that writes its outcome as a new file).
                let now = Date()
                noteFailure(at: now)
                let emit: @Sendable () -> Void = { [weak self] in self?.countWorkerError(of: id) }
                if cookie != 0 {
                    reportOnce(TaskSpool.SpoolMove(id: id, from: nil, to: .failed), cookie: cookie, emit: emit)
                } else if isLeader {
                    emit()
                }
            }
            if state == .active {
                // Written or moved straight into active/: it counts for the oldest active task.
                let now = Date()
                self.state.withLock { $0.activeSince[id] = $0.activeSince[id] ?? now }
            }
            if state == .pending {
                let now = Date()
                self.state.withLock { $0.pendingSince[id] = now }
                let emit: @Sendable () -> Void = { [weak self] in self?.emitNewTask(id, at: now) }
                if cookie != 0 {
                    reportOnce(TaskSpool.SpoolMove(id: id, from: nil, to: .pending), cookie: cookie, emit: emit)
                } else if isLeader {
                    // Written in place (no rename to name it by): the leader reports it.
                    emit()
                }
                leases.pump()
            }
        case .removed(let id, let state):
            self.state.withLock { runtime in
                runtime.pendingSince[id] = nil
                runtime.activeSince[id] = nil
            }
            logger.info("task removed", metadata: ["task_id": "\(id)", "state": "\(state)"])
        case .updated(let id, let state):
            // A rewrite of this sidecar's own is a task file: nothing to check.
            if spool.ownRecord(id, in: state) == nil { checkEntry(id.fileName, in: state) }
        case .unexpected(let name, let state, let reason):
            do {
                // The spool logs what it moves aside; only a vanished or benign entry is said here.
                if try spool.quarantineIfHostile(named: name, in: state) == nil {
                    logger.info("unexpected spool entry is gone or a task after all", metadata: ["name": "\(name)", "state": "\(state)", "reason": "\(reason)"])
                }
            } catch {
                logger.error("hostile entry in the spool could not be quarantined", metadata: ["name": "\(name)", "state": "\(state)", "error": "\(error)"])
            }
        case .rescanNeeded:
            logger.warning("spool events were lost (inotify queue overflow); the watcher listed the folders again")
            // Timings of tasks whose moves were lost start again from their files' mtimes; tasks
            // that left meanwhile are forgotten.
            seedTimestamps(keepingKnown: true)
            seedRecentFailures()
            seedRecentArrivals()
            sweepUnreadableEntries(in: TaskState.allCases)
            MallocArenas.releaseFree()
            leases.pump()
        }
    }

    /// A new task is the first transition of its life: into pending/. It gets the sidecar's
    /// keys if it came without them.
    private func emitNewTask(_ id: TaskID, at now: Date) {
        adopt(id)
        let record = currentRecord(of: id, movedTo: .pending)
        events.append(Pipebus_Tasks_V1_Event(
            timestampMs: Int64(now.timeIntervalSince1970 * 1000),
            kind: .transition,
            taskID: id.rawValue,
            fromState: .unspecified,
            toState: .pending,
            correlationID: record?.correlationID ?? "",
            traceID: record?.traceContext?.traceID ?? ""
        ))
        logger.info("task appeared", metadata: taskMetadata(id, .pending, record: record).merging(["state": "pending"]) { $1 })
    }

    /// Every instance times every task, whoever reports its moves.
    private func noteTransition(_ id: TaskID, from: TaskState, to: TaskState, at now: Date) -> (processing: Double?, queueWait: Double?) {
        state.withLock { runtime -> (Double?, Double?) in
            var processing: Double?
            var queueWait: Double?
            if to == .active {
                queueWait = runtime.pendingSince.removeValue(forKey: id).map { now.timeIntervalSince($0) }
                runtime.activeSince[id] = now
            }
            if from == .active, let since = runtime.activeSince.removeValue(forKey: id) {
                processing = now.timeIntervalSince(since)
            }
            if to == .pending { runtime.pendingSince[id] = now }
            if to == .failed { runtime.noteFailure(at: now) }
            return (from == .active && (to == .completed || to == .failed) ? processing : nil, queueWait)
        }
    }

    private func emitTransition(_ id: TaskID, from: TaskState, to: TaskState, at now: Date, processing: Double?, queueWait: Double?) {
        metrics.transition(from: from, to: to, processingSeconds: processing, queueWaitSeconds: queueWait)
        let record = currentRecord(of: id, movedTo: to)
        let clearing = to == .failed ? takeClearingReason(id) : nil
        if to == .failed { countWorkerError(in: record) }
        if from == .active, to == .completed || to == .failed, let record {
            tracing.finished(record, activeSince: processing.map { now.addingTimeInterval(-$0) }, at: now)
        }
        var event = Pipebus_Tasks_V1_Event(
            timestampMs: Int64(now.timeIntervalSince1970 * 1000),
            kind: .transition,
            taskID: id.rawValue,
            fromState: Pipebus_Tasks_V1_TaskState(from),
            toState: Pipebus_Tasks_V1_TaskState(to),
            correlationID: record?.correlationID ?? "",
            traceID: record?.traceContext?.traceID ?? "",
            durationSeconds: processing ?? 0,
            error: to == .failed ? (record?.errorMessage ?? clearing ?? "") : ""
        )
        event.seq = events.append(event)
        var metadata = taskMetadata(id, to, record: record)
        metadata["from"] = "\(from)"
        metadata["to"] = "\(to)"
        if let processing { metadata["duration_seconds"] = "\(processing)" }
        if to == .failed, let error = record?.errorMessage ?? clearing { metadata["error"] = "\(error)" }
        logger.info("task \(from) → \(to)", metadata: metadata)
    }

    /// A task dropped into pending/ by hand (or by the runbook's replay) gets the keys the
    /// sidecar owns, so it can be followed by correlation and trace id like a submitted one.
    ///
    /// A file whose inner `id` is not its name is a new task copied from another (the runbook's
    /// replay writes `<id>_replay.json` with the original's object): the sidecar then owns its
    /// `id`, `submitted_at` and `attempts` (its `pipebus.task` span starts at the copy, not at
    /// the original's submission), keeps the original's id as `replay_of`, and drops the
    /// original's `result` and `error`, as `pipebus replay` does.
    private func adopt(_ id: TaskID) {
        do {
            // A task submitted over the pipe has every key already: no second durable write.
            if spool.ownRecord(id, in: .pending)?.hasSidecarKeys == true { return }
            if let record = try spool.get(id, in: .pending),
                let object = try? record.object(),
                object[TaskFile.Key.id] as? String == id.rawValue,
                [TaskFile.Key.correlationID, TaskFile.Key.traceContext, TaskFile.Key.submittedAt, TaskFile.Key.attempts]
                    .allSatisfy({ object[$0] != nil })
            {
                return
            }
            // A task without a trace context starts a new trace, at a span of its own.
            var enqueue: (any Span)?
            defer { enqueue?.end() }
            var copiedFrom: String?
            try spool.update(id, in: .pending) { object in
                if let inner = object[TaskFile.Key.id], inner as? String != id.rawValue {
                    let original = (inner as? String) ?? "\(inner)"
                    copiedFrom = original
                    if object[TaskFile.Key.replayOf] == nil { object[TaskFile.Key.replayOf] = original }
                    object[TaskFile.Key.submittedAt] = nil
                    object[TaskFile.Key.attempts] = nil
                    object[TaskFile.Key.result] = nil
                    object[TaskFile.Key.error] = nil
                    object[TaskFile.Key.errorKind] = nil
                }
                TaskFile.stampNew(&object, id: id.rawValue, freshTrace: {
                    let span = enqueue ?? tracing.startSubmit(id, caller: nil, adopted: true)
                    enqueue = span
                    return TaskTracing.traceContext(of: span) ?? TraceContext.fresh()
                }, resetting: false)
            }
            if let copiedFrom {
                logger.info("a copy of another task was dropped into pending/: adopted as a new task", metadata: ["task_id": "\(id)", "replay_of": "\(copiedFrom)"])
            }
        } catch let error as RPCError where error.code == .notFound || error.code == .aborted {
            return  // already taken by a worker
        } catch {
            logger.warning("could not add the sidecar's keys to a task dropped into pending/", metadata: ["task_id": "\(id)", "error": "\(error)"])
        }
    }

    /// The task's file for a report of its move into `state`. A fast worker may have moved it on
    /// before the move is reported (leased within a millisecond of appearing), so it is looked for
    /// further along its life too: the report still names the task's correlation and trace.
    private func currentRecord(of id: TaskID, movedTo state: TaskState) -> TaskRecord? {
        if let record = spool.ownRecord(id, in: state) ?? (try? spool.get(id, in: state)) { return record }
        return try? spool.get(id)
    }

    func taskMetadata(_ id: TaskID, _ state: TaskState, record: TaskRecord? = nil) -> Logger.Metadata {
        var record = record
        if record == nil { record = try? spool.get(id, in: state) }
        var metadata: Logger.Metadata = ["task_id": "\(id)"]
        if let correlation = record?.correlationID { metadata["correlation_id"] = "\(correlation)" }
        if let trace = record?.traceContext?.traceID { metadata["trace_id"] = "\(trace)" }
        return metadata
    }

    /// A task was submitted over the pipe and is durable.
    func taskSubmitted(_ record: TaskRecord) {
        metrics.taskSubmitted()
        state.withLock { $0.spoolError = nil }  // the spool log line says the rest
    }

    /// A spool write failed in a way that says the spool is not usable (disk full, read-only).
    func spoolWriteFailed(_ error: RPCError) {
        state.withLock { $0.spoolError = error }
        logger.error("spool write failed", metadata: ["error": "\(error)"])
        evaluateHealth()
    }

    func workerExited(_ exit: WorkerSupervisor.Exit) {
        metrics.workerUp(false)
        evaluateHealth()
        writeHeartbeat()
    }

    func leaseOpened() {
        state.withLock { $0.leaseCount += 1 }
        evaluateHealth()
    }

    func leaseClosed() {
        state.withLock { $0.leaseCount -= 1 }
        evaluateHealth()
    }

    /// Queue-wait and processing times for tasks already in the spool at start: from the time
    /// each entered its folder (`TaskRecord.enteredState`). With `keepingKnown` (after lost
    /// events), times already known are kept and tasks no longer in `pending/` or `active/` are
    /// dropped, so the oldest active task is one that is there.
    func seedTimestamps(keepingKnown: Bool = false) {
        guard let pending = try? spool.list(.pending), let active = try? spool.list(.active) else {
            logger.warning("could not list pending/ and active/ to time the tasks in them")
            return
        }
        state.withLock { runtime in
            if keepingKnown {
                let pendingIDs = Set(pending.map(\.id))
                let activeIDs = Set(active.map(\.id))
                runtime.pendingSince = runtime.pendingSince.filter { pendingIDs.contains($0.key) }
                runtime.activeSince = runtime.activeSince.filter { activeIDs.contains($0.key) }
            } else {
                runtime.pendingSince.removeAll()
                runtime.activeSince.removeAll()
            }
            for record in pending where !keepingKnown || runtime.pendingSince[record.id] == nil {
                runtime.pendingSince[record.id] = record.enteredState
            }
            for record in active where !keepingKnown || runtime.activeSince[record.id] == nil {
                runtime.activeSince[record.id] = record.enteredState
            }
        }
    }
}
