import Foundation
public import PipeBusCore
public import PipeBusTasks
public import PipeBusHealth
public import PipeBusPipes
import Tracing

/// The orchestrator's (and the CLI's) client of one worker's sidecar: typed calls for every
/// service, through a circuit breaker, reconnecting after the sidecar restarts.
///
/// A worker scaled out has a sidecar per instance: without `instance`, the client talks to any
/// instance that is listening (and moves to another when its instance goes away); with one,
/// to that instance only.
///
/// A sidecar on another host is reached through a remote caller instead of the pipes
/// (`init(worker:target:caller:)`, e.g. a `PipeBusGRPC.GRPCCaller` for `grpc://host:port`): the
/// same typed calls, breaker and timeouts.
public final class SidecarClient: Sendable {
    public let root: String
    public let worker: String
    /// The instance asked for; nil for any.
    public let instance: String?
    public let paths: SidecarPaths
    public let breaker: CircuitBreaker
    /// Applied to every unary call that does not give its own.
    public let defaultTimeout: Duration
    /// Where a remote sidecar is (`grpc://host:port`); nil for this host's pipes.
    public let target: String?
    let channel: Channel

    /// How calls reach the sidecar.
    enum Channel: Sendable {
        /// This host's pipes, reconnecting to any (or the one) serving instance.
        case pipe(PipeClient)
        /// Another transport to a sidecar elsewhere.
        case remote(any ClosableRPCCaller)
    }

    public init(
        root: String,
        worker: String,
        instance: String? = nil,
        breaker: CircuitBreaker = CircuitBreaker(),
        defaultTimeout: Duration = .seconds(5),
        configuration: PipeConnector.Configuration = .defaults
    ) {
        self.root = root
        self.worker = worker
        self.instance = instance
        let paths = SidecarPaths(root: root, worker: worker)
        self.paths = paths
        self.breaker = breaker
        self.defaultTimeout = defaultTimeout
        var configuration = configuration
        if configuration.connection.clientName == ClientConnection.Configuration.defaults.clientName {
            configuration.connection.clientName = "pipebus-client"
        }
        self.target = nil
        self.channel = .pipe(PipeClient(directories: Self.pipeDirectories(paths, instance: instance), configuration: configuration))
    }

    /// A client of `worker`'s sidecar at `target` (which names it in errors), called through
    /// `caller`; closing this client closes the caller. There are no local paths: `root` is
    /// empty, and calls that read local files (the heartbeat) do not apply.
    public init(
        worker: String,
        target: String,
        caller: any ClosableRPCCaller,
        breaker: CircuitBreaker = CircuitBreaker(),
        defaultTimeout: Duration = .seconds(5)
    ) {
        self.root = ""
        self.worker = worker
        self.instance = nil
        self.paths = SidecarPaths(root: "", worker: worker)
        self.breaker = breaker
        self.defaultTimeout = defaultTimeout
        self.target = target
        self.channel = .remote(caller)
    }

    /// Where the sidecars of a worker listen: the one instance asked for, or every instance
    /// that is serving, in an order that spreads clients over them.
    public static func pipeDirectories(_ paths: SidecarPaths, instance: String?) -> @Sendable () -> [PipeDirectory] {
        if let instance { return { [paths.pipeDirectory(instance: instance)] } }
        let offset = Int.random(in: 0..<64)
        return {
            let serving = paths.servingInstances()
            guard !serving.isEmpty else { return paths.instances().map { paths.pipeDirectory(instance: $0) } }
            let start = offset % serving.count
            return (serving[start...] + serving[..<start]).map { paths.pipeDirectory(instance: $0) }
        }
    }

    /// The instance's heartbeat when one was asked for, else the worker's.
    public var heartbeatPath: String { instance.map { paths.heartbeatPath(instance: $0) } ?? paths.heartbeatPath }

    /// The instance this client is (or was last) connected to.
    public var connectedInstance: String? {
        guard case .pipe(let client) = channel else { return nil }
        return client.directory.map { ($0.path as NSString).deletingLastPathComponent }.map { ($0 as NSString).lastPathComponent }
    }

    public func close() {
        switch channel {
        case .pipe(let client): client.close()
        case .remote(let caller): caller.close()
        }
    }

    /// The task service's typed calls, through the breaker.
    public var tasksService: Pipebus_Tasks_V1_Tasks.Client<SidecarClient> { .init(wrapping: self) }

    /// The health service's typed calls, through the breaker.
    public var healthService: Pipebus_Health_V1_Health.Client<SidecarClient> { .init(wrapping: self) }

    // MARK: Tasks

    /// Submits a task (a JSON object); returns once it is durably in pending/. The task joins
    /// the caller's trace: `traceparent` in `metadata`, else the current span's (through
    /// swift-distributed-tracing), else the sidecar starts a new trace.
    public func submit(json: [UInt8], id: String? = nil, correlationID: String? = nil, metadata: Metadata = [:]) async throws -> Pipebus_Tasks_V1_Task {
        try await tasksService.submit(Pipebus_Tasks_V1_SubmitRequest(id: id ?? "", json: json, correlationID: correlationID ?? ""), metadata: Self.withTraceContext(metadata))
    }

    /// `metadata` with the current trace context's `traceparent`/`tracestate` added, unless it
    /// has a `traceparent` already.
    public static func withTraceContext(_ metadata: Metadata) -> Metadata {
        guard metadata[MetadataKey.traceparent] == nil, let context = ServiceContext.current else { return metadata }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: MetadataInjector())
        var metadata = metadata
        if let parent = carrier["traceparent"] {
            metadata.set(MetadataKey.traceparent, parent)
            if let state = carrier["tracestate"] { metadata.set(MetadataKey.tracestate, state) }
        }
        return metadata
    }

    public func task(_ id: String) async throws -> Pipebus_Tasks_V1_Task {
        try await tasksService.get(Pipebus_Tasks_V1_TaskRef(id: id))
    }

    /// At most `limit` tasks in one response, oldest first (the unary List; a big listing is
    /// better streamed with `withTaskListing`).
    public func tasks(state: Pipebus_Tasks_V1_TaskState = .unspecified, olderThan: Duration? = nil, limit: Int = 1000) async throws -> [Pipebus_Tasks_V1_Task] {
        let request = Pipebus_Tasks_V1_ListRequest(state: state, olderThanMs: olderThan.map { Self.milliseconds($0) } ?? 0, limit: UInt32(clamping: limit))
        return try await tasksService.list(request).tasks
    }

    /// A streamed listing (ListStream): `body` reads the tasks as the sidecar reads them from
    /// the spool, newest first unless `request.oldestFirst`; the sidecar holds none of them in
    /// memory. The call ends, and the sidecar stops reading, when `body` returns. `timeout`
    /// (default: none) covers the whole listing, not each task.
    public func withTaskListing<Result>(
        _ request: Pipebus_Tasks_V1_ListStreamRequest,
        timeout: Duration? = nil,
        _ body: (TaskListingStream) async throws -> Result
    ) async throws -> Result {
        try await tasksService.listStream(request, timeout: timeout) { pages in
            try await body(TaskListingStream(pages: pages))
        }
    }

    public func cancel(_ id: String, reason: String = "") async throws -> Pipebus_Tasks_V1_Task {
        try await tasksService.cancel(Pipebus_Tasks_V1_TaskRef(id: id, reason: reason))
    }

    /// The runbook's replay: re-queues a failed or completed task as `<id>_replay`.
    public func replay(_ id: String) async throws -> Pipebus_Tasks_V1_Task {
        try await tasksService.replay(Pipebus_Tasks_V1_TaskRef(id: id))
    }

    /// The runbook's "clear stuck tasks": tasks in active/ for longer than `olderThan` (time in
    /// state, not since submission) move to failed/; with `dryRun`, the ones that would.
    public func clearStuck(olderThan: Duration, reason: String = "", dryRun: Bool = false) async throws -> [Pipebus_Tasks_V1_Task] {
        let request = Pipebus_Tasks_V1_ClearStuckRequest(olderThanMs: Self.milliseconds(olderThan), reason: reason, dryRun: dryRun)
        return try await tasksService.clearStuck(request).tasks
    }

    /// The worker config as JSON.
    public func config() async throws -> [UInt8] {
        try await tasksService.getConfig(Pipebus_Tasks_V1_Empty()).json
    }

    /// Merges `changes` (a JSON object) into the worker config; returns the whole config.
    public func setConfig(_ changes: [UInt8]) async throws -> [UInt8] {
        try await tasksService.setConfig(Pipebus_Tasks_V1_ConfigMessage(json: changes)).json
    }

    public func status(timeout: Duration? = nil) async throws -> Pipebus_Tasks_V1_WorkerStatus {
        try await tasksService.status(Pipebus_Tasks_V1_Empty(), timeout: timeout)
    }

    // MARK: Pipe workers

    /// A pipe worker's lease: `body` receives tasks, at most `maxInFlight` unfinished (and at
    /// most the worker's `batch_size`); finish each with `finish`. When `body` returns or the
    /// connection breaks, unfinished tasks go back to pending/.
    public func withLease<Result>(
        maxInFlight: Int,
        _ body: (ResponseStream<Pipebus_Tasks_V1_Task>) async throws -> Result
    ) async throws -> Result {
        let request = Pipebus_Tasks_V1_LeaseRequest(maxInFlight: UInt32(clamping: max(1, maxInFlight)))
        return try await tasksService.lease(request, body)
    }

    /// Completes a leased task with its result (JSON), or fails it (`retry` re-queues it).
    /// `traceparent` is the task's (the lease gave it), so the call is part of its trace.
    public func finish(_ id: String, result: [UInt8]? = nil, error: String? = nil, retry: Bool = false, traceparent: String? = nil) async throws -> Pipebus_Tasks_V1_Task {
        let request = Pipebus_Tasks_V1_FinishRequest(id: id, failed: error != nil, resultJson: result ?? [], error: error ?? "", retry: retry)
        var metadata: Metadata = [:]
        if let traceparent, !traceparent.isEmpty { metadata.set(MetadataKey.traceparent, traceparent) }
        return try await tasksService.finish(request, metadata: metadata)
    }

    /// Counts Claude API errors the worker saw (`claude_api_errors_total`).
    public func reportClaudeAPIErrors(_ count: Int) async throws {
        _ = try await tasksService.reportWorkerErrors(Pipebus_Tasks_V1_WorkerReport(claudeApiErrors: UInt32(clamping: count)))
    }

    // MARK: Health

    /// grpc.health.v1 Check: `""` asks about the whole sidecar.
    public func health(service: String = "", timeout: Duration? = nil) async throws -> Pipebus_Health_V1_HealthCheckResponse {
        try await healthService.check(Pipebus_Health_V1_HealthCheckRequest(service: service), timeout: timeout)
    }

    /// grpc.health.v1 Watch: `body` gets the current status, then each change.
    public func watchHealth<Result>(
        service: String = "",
        _ body: (ResponseStream<Pipebus_Health_V1_HealthCheckResponse>) async throws -> Result
    ) async throws -> Result {
        try await healthService.watch(Pipebus_Health_V1_HealthCheckRequest(service: service), body)
    }

    // MARK: Events

    /// Heartbeats and transitions after `afterSeq` (0: from now on), until `body` returns.
    public func withEvents<Result>(
        after afterSeq: UInt64 = 0,
        _ body: (ResponseStream<Pipebus_Tasks_V1_Event>) async throws -> Result
    ) async throws -> Result {
        try await tasksService.watchEvents(Pipebus_Tasks_V1_WatchRequest(afterSeq: afterSeq), body)
    }

    // MARK: Heartbeat file

    /// The heartbeat file as the sidecar last wrote it (nil when there is none).
    public func heartbeat() -> HeartbeatFile? {
        guard target == nil, let data = FileManager.default.contents(atPath: heartbeatPath) else { return nil }
        return try? HeartbeatFile(json: data)
    }

    static func milliseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) * 1000 + UInt64(max(0, attoseconds) / 1_000_000_000_000_000)
    }
}

private struct MetadataInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}
