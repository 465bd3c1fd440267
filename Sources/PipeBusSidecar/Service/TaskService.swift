import Foundation
import PipeBusCore
public import PipeBusTasks
import Tracing

/// The `pipebus.tasks.v1.Tasks` handlers: the spool, leases, config and events over the pipe.
///
/// Unary handlers run inline on the connection's reader thread (`pipebus: inline` in tasks.proto):
/// they touch only files of this worker (an fsync at most), and blocking that thread delays only
/// that connection.
struct TaskService: Pipebus_Tasks_V1_Tasks.ServiceProtocol {
    let sidecar: Sidecar

    var spool: TaskSpool { sidecar.spool }

    func submit(request: Pipebus_Tasks_V1_SubmitRequest, context: ServerContext) throws -> Pipebus_Tasks_V1_Task {
        let id = try request.id.isEmpty ? TaskID.generate() : TaskID(request.id)
        let correlation = request.correlationID.isEmpty ? context.metadata[MetadataKey.correlationID] : request.correlationID
        // The caller's trace context, if it sent a valid one; the task descends from the
        // submit span (or, with tracing off, from the caller; else a new trace).
        let caller = context.metadata[MetadataKey.traceparent].flatMap { parent in
            TraceContext.isValid(traceparent: parent) ? TraceContext(traceparent: parent, tracestate: context.metadata[MetadataKey.tracestate]) : nil
        }
        let span = sidecar.tracing.startSubmit(id, caller: caller)
        defer { span.end() }
        let trace = TaskTracing.traceContext(of: span) ?? caller ?? TraceContext.fresh()
        let record: TaskRecord
        do {
            record = try spool.submit(json: request.json, id: id, correlationID: correlation, traceContext: trace)
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error, message: "\(error)"))
            if let error = error as? RPCError, error.code == .resourceExhausted || error.code == .unavailable { sidecar.spoolWriteFailed(error) }
            throw error
        }
        sidecar.taskSubmitted(record)
        return Pipebus_Tasks_V1_Task(record)
    }

    func get(request: Pipebus_Tasks_V1_TaskRef, context: ServerContext) throws -> Pipebus_Tasks_V1_Task {
        let id = try TaskID(request.id)
        guard let record = try spool.get(id) else {
            throw RPCError(code: .notFound, message: "no task \(request.id) in worker \(sidecar.configuration.worker)'s spool")
        }
        return Pipebus_Tasks_V1_Task(record)
    }

    /// Kept for older clients: at most `limit` (0: 1000) tasks, oldest first, in one response.
    func list(request: Pipebus_Tasks_V1_ListRequest, context: ServerContext) throws -> Pipebus_Tasks_V1_TaskList {
        var query = TaskListingQuery()
        query.states = request.state == .unspecified ? TaskState.allCases : [TaskState(request.state)].compactMap { $0 }
        query.olderThan = request.olderThanMs > 0 ? .milliseconds(Int64(clamping: request.olderThanMs)) : nil
        query.oldestFirst = true
        query.limit = request.limit == 0 ? 1000 : Int(request.limit)
        var listing = try spool.listing(query)
        var tasks: [Pipebus_Tasks_V1_Task] = []
        while let record = try listing.next() { tasks.append(Pipebus_Tasks_V1_Task(record)) }
        return Pipebus_Tasks_V1_TaskList(tasks: tasks)
    }

    func listStream(request: Pipebus_Tasks_V1_ListStreamRequest, response: ResponseWriter<Pipebus_Tasks_V1_TaskList>, context: ServerContext) async throws {
        try await TaskService.stream(TaskListingQuery(request), of: sidecar, to: response, context: context)
    }

    func cancel(request: Pipebus_Tasks_V1_TaskRef, context: ServerContext) throws -> Pipebus_Tasks_V1_Task {
        let id = try TaskID(request.id)
        let reason = "cancelled: " + (request.reason.isEmpty ? "by request" : request.reason)
        guard let record = try spool.get(id) else {
            throw RPCError(code: .notFound, message: "no task \(request.id)")
        }
        guard record.state == .pending || record.state == .active else {
            throw RPCError(code: .failedPrecondition, message: "task \(request.id) is already \(record.state)")
        }
        let moved = try spool.transition(id, from: record.state, to: .failed) { $0["error"] = reason }
        try? sidecar.leases.release(id)
        return Pipebus_Tasks_V1_Task(moved)
    }

    func replay(request: Pipebus_Tasks_V1_TaskRef, context: ServerContext) throws -> Pipebus_Tasks_V1_Task {
        Pipebus_Tasks_V1_Task(try spool.replay(TaskID(request.id)))
    }

    func clearStuck(request: Pipebus_Tasks_V1_ClearStuckRequest, context: ServerContext) throws -> Pipebus_Tasks_V1_TaskList {
        guard request.olderThanMs > 0 else {
            throw RPCError(code: .invalidArgument, message: "clear-stuck needs a positive age threshold")
        }
        let reason = request.reason.isEmpty ? "stuck in active for more than \(request.olderThanMs / 1000)s; cleared" : request.reason
        let moved = try spool.clearStuck(
            olderThan: .milliseconds(Int64(clamping: request.olderThanMs)),
            reason: reason,
            dryRun: request.dryRun
        ) { record in
            // The error is written just after the move: its report names it all the same.
            sidecar.state.withLock { $0.clearing[record.id] = reason }
        }
        if !request.dryRun {
            for record in moved { try? sidecar.leases.release(record.id) }
            // A task that finished first was not moved: its reason must not linger.
            let movedIDs = Set(moved.map(\.id))
            sidecar.state.withLock { runtime in
                for id in runtime.clearing.keys where !movedIDs.contains(id) { runtime.clearing[id] = nil }
            }
        }
        return Pipebus_Tasks_V1_TaskList(tasks: moved.map(Pipebus_Tasks_V1_Task.init))
    }

    func getConfig(request: Pipebus_Tasks_V1_Empty, context: ServerContext) throws -> Pipebus_Tasks_V1_ConfigMessage {
        sidecar.config.reload()
        return Pipebus_Tasks_V1_ConfigMessage(json: sidecar.config.json)
    }

    func setConfig(request: Pipebus_Tasks_V1_ConfigMessage, context: ServerContext) throws -> Pipebus_Tasks_V1_ConfigMessage {
        let json = try sidecar.config.merge(request.json)
        sidecar.leases.pump()
        return Pipebus_Tasks_V1_ConfigMessage(json: json)
    }

    func status(request: Pipebus_Tasks_V1_Empty, context: ServerContext) throws -> Pipebus_Tasks_V1_WorkerStatus {
        sidecar.currentStatus()
    }

    func reportWorkerErrors(request: Pipebus_Tasks_V1_WorkerReport, context: ServerContext) throws -> Pipebus_Tasks_V1_Empty {
        sidecar.metrics.claudeAPIErrors(Int(request.claudeApiErrors))
        return Pipebus_Tasks_V1_Empty()
    }

    /// Not inline: a pipe worker's finishes on one connection run side by side on the spool's
    /// pool, so that their fsyncs share group commits (one after another, each paid its own).
    func finish(request: Pipebus_Tasks_V1_FinishRequest, context: ServerContext) async throws -> Pipebus_Tasks_V1_Task {
        let id = try TaskID(request.id)
        guard sidecar.leases.holds(id) else { throw sidecar.notLeased(id) }
        return try await sidecar.spoolWork.run { [self] in try finish(id, request) }
    }

    private func finish(_ id: TaskID, _ request: Pipebus_Tasks_V1_FinishRequest) throws -> Pipebus_Tasks_V1_Task {
        let started = Date()
        let record: TaskRecord
        do {
            if !request.failed {
                let result: Any = request.resultJson.isEmpty ? NSNull() : try JSONSerialization.jsonObject(with: Data(request.resultJson), options: [.fragmentsAllowed])
                record = try spool.complete(id, result: result)
            } else if request.retry {
                record = try spool.transition(id, from: .active, to: .pending) { $0["error"] = request.error }
            } else {
                record = try spool.fail(id, error: request.error.isEmpty ? "failed" : request.error)
            }
        } catch {
            let current = try? spool.get(id)
            if let current { sidecar.tracing.call("finish", current, startedAt: started, error: error) }
            if let error = error as? RPCError, error.code == .aborted || error.code == .notFound, current?.state != .active {
                // Cleared or cancelled while the worker ran it: the other move won.
                try? sidecar.leases.release(id)
                sidecar.leases.pump()
                throw sidecar.notLeased(id)
            }
            throw error
        }
        sidecar.tracing.call("finish", record, startedAt: started)
        // Released only once the spool has it: a failed completion stays with the lease,
        // which re-queues it if the worker goes away.
        try? sidecar.leases.release(id)
        sidecar.leases.pump()
        return Pipebus_Tasks_V1_Task(record)
    }

    func lease(request: Pipebus_Tasks_V1_LeaseRequest, response: ResponseWriter<Pipebus_Tasks_V1_Task>, context: ServerContext) async throws {
        let (tasks, leaseID) = sidecar.leases.open(maxInFlight: request.maxInFlight == 0 ? Int.max : Int(request.maxInFlight))
        sidecar.leaseOpened()
        defer {
            sidecar.leases.close(leaseID)
            sidecar.leaseClosed()
        }
        for await task in tasks {
            try await response.write(Pipebus_Tasks_V1_Task(task))
        }
    }

    func watchEvents(request: Pipebus_Tasks_V1_WatchRequest, response: ResponseWriter<Pipebus_Tasks_V1_Event>, context: ServerContext) async throws {
        let (events, cancel) = try sidecar.events.subscribe(after: request.afterSeq)
        defer { cancel() }
        for try await event in events {
            try await response.write(event)
        }
    }
}

extension Pipebus_Tasks_V1_Task {
    /// A task record as the task service sends it.
    public init(_ record: TaskRecord) {
        self.init(
            id: record.id.rawValue,
            state: Pipebus_Tasks_V1_TaskState(record.state),
            json: record.json,
            correlationID: record.correlationID ?? "",
            traceparent: record.traceContext?.traceparent ?? "",
            attempts: UInt32(clamping: record.attempts),
            submittedAtMs: record.submittedAt.map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0,
            modifiedAtMs: Int64(record.enteredState.timeIntervalSince1970 * 1000)
        )
    }
}

extension TraceContext {
    /// A new trace for a task submitted without one: W3C `traceparent`, sampled.
    static func fresh() -> TraceContext {
        func hex(_ bytes: Int) -> String {
            (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        }
        return TraceContext(traceparent: "00-\(hex(16))-\(hex(8))-01")
    }
}
