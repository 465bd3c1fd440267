#if canImport(Glibc)
import Glibc
#endif
import Foundation
public import Logging
import PipeBusCore
public import PipeBusPipes
import Synchronization

/// What runs beside one worker: serves the task, health and echo services over named pipes,
/// keeps the spool, reports every transition, writes heartbeats, supervises the worker (when
/// given a command), samples /proc and serves `/metrics`.
public final class Sidecar: Sendable {
    public struct Configuration: Sendable {
        public var worker: String
        /// Tells instances of one worker apart (the host name by default).
        public var instance: String
        /// The directory shared by the orchestrator and the workers (DESIGN §1).
        public var root: String = "/shared"
        /// `host:port` for `/metrics`; nil serves none.
        public var metricsAddress: String? = "127.0.0.1:9464"
        public var heartbeatInterval: Duration = .seconds(2)
        /// The worker to start and supervise; empty when the worker is started by someone else.
        public var command: [String] = []
        /// How the worker takes tasks: it moves spool files itself, or leases them over the pipe.
        public var mode: WorkerMode = .spool
        /// How long a supervised worker gets to exit after SIGTERM before SIGKILL.
        public var workerStopGrace: Duration = .seconds(10)
        public var pipes = PipeServer.Configuration.defaults

        public init(worker: String, instance: String = Sidecar.defaultInstance) {
            self.worker = worker
            self.instance = instance
        }
    }

    public enum WorkerMode: String, Sendable, CaseIterable {
        case spool
        case pipe
    }

    /// The host name: the same command line in two containers gives two instances.
    public static var defaultInstance: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "local" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "local" : name
    }

    public let configuration: Configuration
    let logger: Logger
    let spool: TaskSpool
    let config: WorkerConfigStore
    let metrics: SidecarMetrics
    let transport = TransportMetrics()
    let events = EventLog()
    let health = HealthService()
    let leases: LeaseManager
    let sampler = ResourceSampler()
    let state = Mutex(RuntimeState())
    private let supervisor: WorkerSupervisor?
    let startedAtInstant = ContinuousClock.now
    var supervisorIfAny: WorkerSupervisor? { supervisor }

    struct RuntimeState {
        var heartbeatSeq: UInt64 = 0
        var lastHeartbeat: Date?
        var spoolError: RPCError?
        var activeSince: [TaskID: Date] = [:]
        var pendingSince: [TaskID: Date] = [:]
        var recentFailures: [Date] = []
        var leaseCount = 0
        var watcher: SpoolWatcher?
        var metricsServer: MetricsHTTPServer?
        var metricsPort: Int?
        var server: PipeServer?
        var stopping = false
    }

    /// The directory of this worker's sidecar files: heartbeat, pipes.
    public var workerDirectory: String { "\(configuration.root)/workers/\(configuration.worker)" }
    /// Where clients connect.
    public var pipeDirectory: PipeDirectory { PipeDirectory(path: "\(workerDirectory)/pipes") }
    public var heartbeatPath: String { "\(workerDirectory)/heartbeat.json" }

    public init(configuration: Configuration, logger: Logger) throws {
        guard (try? TaskID(configuration.worker)) != nil, !configuration.worker.contains(".") else {
            throw RPCError(code: .invalidArgument, message: "worker name \"\(configuration.worker)\" must be letters, digits, _ or -")
        }
        self.configuration = configuration
        self.logger = logger
        self.spool = try TaskSpool(root: configuration.root, worker: configuration.worker, logger: logger)
        let config = WorkerConfigStore(root: configuration.root, worker: configuration.worker, logger: logger)
        self.config = config
        self.metrics = SidecarMetrics(worker: configuration.worker, instance: configuration.instance, transport: transport)
        self.leases = LeaseManager(spool: spool, batchSize: { config.batchSize }, logger: logger)
        if configuration.command.isEmpty {
            supervisor = nil
        } else {
            let pipes = "\(configuration.root)/workers/\(configuration.worker)/pipes"
            var environment = ProcessInfo.processInfo.environment
            environment["PIPEBUS_ROOT"] = configuration.root
            environment["PIPEBUS_WORKER"] = configuration.worker
            environment["PIPEBUS_INSTANCE"] = configuration.instance
            environment["PIPEBUS_PIPE_DIR"] = pipes
            environment["PIPEBUS_SIDECAR_PID"] = "\(getpid())"
            let holder = SidecarReference()
            supervisor = WorkerSupervisor(command: configuration.command, environment: environment, logger: logger) { exit in
                holder.sidecar?.workerExited(exit)
            }
            holder.sidecar = self
        }
    }

    /// Starts everything, serves until the task is cancelled, then shuts down gracefully:
    /// GOAWAY and drain, leases returned, the worker stopped, a final heartbeat.
    public func run() async throws {
        try start()
        while !Task.isCancelled {
            tick()
            try? await Task.sleep(for: configuration.heartbeatInterval)
        }
        await shutdown()
    }

    /// The port `/metrics` is served on, once started.
    public var metricsPort: Int? { state.withLock { $0.metricsPort } }

    func start() throws {
        // The pipe server's lock makes this instance the only one: take it before touching
        // anything a previous run may have left.
        var router = Router()
        health.register(in: &router)
        EchoService.register(in: &router)
        TaskService(sidecar: self).register(in: &router)
        let server = try PipeServer(directory: pipeDirectory, router: router, configuration: configuration.pipes, metrics: transport, logger: logger)
        try server.start()
        state.withLock { $0.server = server }
        _ = try spool.recover()
        // Temp files beside the heartbeat and the config are a dead writer's leftovers.
        for path in [heartbeatPath, config.path] {
            for name in SmallFile.removeLeftoverTemporaries(of: path) {
                logger.info("removed a leftover temp file", metadata: ["path": "\((path as NSString).deletingLastPathComponent)/\(name)"])
            }
        }
        if configuration.mode == .pipe { requeueOrphanedLeases() }
        state.withLock { $0.heartbeatSeq = Self.lastHeartbeatSeq(at: heartbeatPath) }
        config.reload()
        seedTimestamps()
        let watcher = try SpoolWatcher(layout: spool.layout, logger: logger) { [weak self] event in self?.handle(event) }
        state.withLock { $0.watcher = watcher }
        try supervisor?.start()
        metrics.workerUp(supervisor.map { $0.isAlive } ?? true)
        tick()
    }

    /// With pipe workers, a task in active/ at start was leased by this sidecar's previous run
    /// (it holds the lock now), whose leases died with it: back to pending/, at least once.
    private func requeueOrphanedLeases() {
        let orphans = (try? spool.list(.active)) ?? []
        for record in orphans {
            do {
                try spool.transition(record.id, from: .active, to: .pending)
                logger.warning("re-queued a task leased before a restart", metadata: ["task_id": "\(record.id)", "attempts": "\(record.attempts)"])
            } catch {
                logger.error("could not re-queue a task leased before a restart", metadata: ["task_id": "\(record.id)", "error": "\(error)"])
            }
        }
    }

    func tick() {
        config.reload()
        leases.pump()
        let sample = sampler.sample(treeRootedAt: supervisor.map { $0.pid })
        metrics.resourceSample(sample)
        evaluateHealth()
        writeHeartbeat()
    }

    func shutdown() async {
        let already = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return state.stopping
        }
        if already { return }
        logger.info("shutting down: returning leases, draining connections")
        health.setStatus(.notServing, message: "sidecar is shutting down")
        // Leases first: a lease stream never ends by itself, so draining would otherwise wait
        // out the drain timeout. Its unfinished tasks go back to pending/ (at least once).
        leases.stop()
        state.withLock { $0.server }?.shutdown(graceful: true)
        supervisor?.stop(grace: configuration.workerStopGrace)
        writeHeartbeat()
        let (watcher, metricsServer) = state.withLock { ($0.watcher, $0.metricsServer) }
        watcher?.stop()
        await metricsServer?.shutdown()
        events.finishAll()
        logger.info("stopped")
    }

    /// Starts serving `/metrics`; returns the bound port.
    public func startMetricsServer() async throws -> Int? {
        guard let address = configuration.metricsAddress else { return nil }
        let (host, port) = try Self.parse(address: address)
        let server = MetricsHTTPServer(metrics: metrics) { [weak self] in
            guard let self else { return (503, "stopping\n") }
            let status = self.health.status() ?? Health.CheckResponse(status: .unknown)
            return (status.status == .serving ? 200 : 503, "\(status.status)\(status.message.isEmpty ? "" : ": " + status.message)\n")
        }
        let bound = try await server.start(host: host, port: port)
        state.withLock { state in
            state.metricsServer = server
            state.metricsPort = bound
        }
        logger.info("serving /metrics", metadata: ["address": "\(host):\(bound)"])
        return bound
    }

    static func parse(address: String) throws -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw RPCError(code: .invalidArgument, message: "metrics address \"\(address)\" must be HOST:PORT")
        }
        return (String(address[..<colon]), port)
    }
}

/// Lets the supervisor's exit callback reach the sidecar without a retain cycle.
private final class SidecarReference: @unchecked Sendable {
    weak var sidecar: Sidecar?
}
