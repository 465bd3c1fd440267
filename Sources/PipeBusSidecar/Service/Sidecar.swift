#if canImport(Glibc)
import Glibc
#endif
import Foundation
public import Logging
public import PipeBusCore
import PipeBusTasks
public import PipeBusPipes
import Synchronization
import PipeBusHealth
import PipeBusEcho
import PipeBusSystem
import SystemPackage

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
        /// Time between retention passes (`TaskRetention`): modest, off the pipe's hot path.
        public var retentionInterval: Duration = .seconds(60)
        /// The worker to start and supervise; empty when the worker is started by someone else.
        public var command: [String] = []
        /// How the worker takes tasks: it moves spool files itself, or leases them over the pipe.
        public var mode: WorkerMode = .spool
        /// How long a supervised worker gets to exit after SIGTERM before SIGKILL.
        public var workerStopGrace: Duration = .seconds(10)
        public var pipes = PipeServer.Configuration.defaults
        /// Starts on a root on a network file system (NFS, CIFS, …), which is refused otherwise:
        /// inotify and `flock` do not work across hosts there, so a spool shared by sidecars on
        /// several hosts would lose and double-run tasks. One spool per host.
        public var allowNetworkFileSystem = false

        public init(worker: String, instance: String = Sidecar.defaultInstance) {
            self.worker = worker
            self.instance = instance
        }
    }

    public enum WorkerMode: String, Sendable, CaseIterable {
        case spool
        case pipe
    }

    /// The host's short name: the same command line in two containers gives two instances.
    public static var defaultInstance: String { SidecarPaths.defaultInstance }

    /// How long an instance waits before reporting a move it did not make, so that the instance
    /// that made it (which reports at once) is the one that counts it.
    static let reportGrace: Duration = .milliseconds(500)

    /// How many claims and finishes may wait for the disk at once. A group commit is shared by
    /// the callers waiting at the same time, so this bounds a batch; past a few dozen, fsyncs
    /// of one journal stop overlapping and threads only cost memory.
    static let spoolWorkWidth = 32

    public let configuration: Configuration
    public let paths: SidecarPaths
    let leaseLedger: LeaseLedger
    let reports: ReportLedger
    let tracing: TaskTracing
    let logger: Logger
    let spool: TaskSpool
    let config: WorkerConfigStore
    let metrics: SidecarMetrics
    let transport = TransportMetrics()
    let events = EventLog()
    let health = HealthService()
    let leases: LeaseManager
    /// Threads for the spool's blocking calls that may run side by side (claims, finishes),
    /// so that their fsyncs share group commits; closed once the server has drained.
    let spoolWork = BlockingPool(name: "pipebus-spool", width: Sidecar.spoolWorkWidth)
    let sampler = ResourceSampler()
    /// Moves finished tasks past their limits to the archive (`Sidecar+Retention`).
    let retention: TaskRetention
    let state = Mutex(RuntimeState())
    /// The latest arrivals in the state folders, for newest-first listings (`Sidecar+Listing`).
    let recentArrivals = Mutex(RecentArrivals())
    private let supervisor: WorkerSupervisor?
    /// Serves `/metrics` and `/healthz`; nil when `metricsAddress` is.
    let metricsServer: MetricsHTTPServer?
    /// Wakes the reporter of deferred moves (`Sidecar+Instances`) when one is added.
    let deferredReportAdded: AsyncStream<Void>.Continuation
    let deferredReportAdditions: AsyncStream<Void>
    let startedAtInstant = ContinuousClock.now
    /// What the sidecar serves, on its pipes and on any other transport (the gRPC bridge): one
    /// set of handlers.
    public var router: Router { state.withLock { $0.router } }
    var supervisorIfAny: WorkerSupervisor? { supervisor }

    struct RuntimeState {
        var heartbeatSeq: UInt64 = 0
        var lastHeartbeat: Date?
        var spoolError: RPCError?
        var activeSince: [TaskID: Date] = [:]
        var pendingSince: [TaskID: Date] = [:]
        /// When each failure of the last 5 minutes entered failed/ (`Sidecar+Failures`).
        var recentFailures: [Date] = []
        /// Spool entries that did not parse when they arrived, checked again at each tick.
        var unreadableEntries: Set<UnreadableEntry> = []
        /// Tasks `clear-stuck` is moving to failed/, with the error it writes (`takeClearingReason`).
        var clearing: [TaskID: String] = [:]
        var leaseCount = 0
        var watcher: SpoolWatcher?
        var metricsPort: Int?
        /// Made by `init`, started by `start` once the spool is recovered.
        var server: PipeServer?
        /// Shutting down: NOT_SERVING, leases ended (`stopServing`).
        var stopping = false
        /// `shutdown` has run.
        var shutDown = false
        var instanceLock: FileLock?
        /// This run made the instance's directory: a start that fails removes it again.
        var createdInstanceDirectory = false
        var leaderLock: FileLock?
        /// Whether another instance of this worker was serving at the last tick.
        var othersServing = false
        /// Renames this instance is making or made, not yet seen by its watcher.
        var ownMoves: [TaskSpool.SpoolMove: ContinuousClock.Instant] = [:]
        /// How many notes `ownMoves` may hold before its stale ones are pruned (`noteOwnMove`).
        var ownMovesPruneAt = 4096
        var deferredReports: [DeferredReport] = []
        var ticks = 0
        /// Whether the start succeeded (nil: not over yet), and who waits to know (`started()`).
        var router = Router()
        var startOutcome: Bool?
        var startWaiters: [CheckedContinuation<Bool, Never>] = []
    }

    /// A move made by someone else, reported after `reportGrace` unless its maker claimed it.
    struct DeferredReport: Sendable {
        var due: ContinuousClock.Instant
        var key: String
        var emit: @Sendable () -> Void
    }

    /// The directory of this worker's sidecar files: the worker's heartbeat, the instances.
    public var workerDirectory: String { paths.workerDirectory }
    /// This instance's files: pipes, heartbeat, lock, leases.
    public var instanceDirectory: String { paths.instanceDirectory(configuration.instance) }
    /// Where clients connect to this instance.
    public var pipeDirectory: PipeDirectory { paths.pipeDirectory(instance: configuration.instance) }
    /// This instance's heartbeat.
    public var heartbeatPath: String { paths.heartbeatPath(instance: configuration.instance) }
    /// The worker's heartbeat, which every instance beats (the runbook reads this one).
    public var workerHeartbeatPath: String { paths.heartbeatPath }
    /// Whether this instance holds the worker's leader lock: it exports the worker-wide gauges
    /// and reports tasks written straight into `pending/`.
    var isLeader: Bool { state.withLock { $0.leaderLock != nil } }

    public init(configuration: Configuration, logger: Logger) throws {
        if let problem = NameRule.component.problem(with: configuration.worker) {
            throw RPCError(code: .invalidArgument, message: "worker name \(NameRule.quoted(configuration.worker)): \(problem)")
        }
        if let problem = NameRule.component.problem(with: configuration.instance) {
            throw RPCError(code: .invalidArgument, message: "instance name \(NameRule.quoted(configuration.instance)): \(problem)")
        }
        self.configuration = configuration
        let paths = SidecarPaths(root: configuration.root, worker: configuration.worker)
        self.paths = paths
        self.leaseLedger = LeaseLedger(directory: paths.leaseDirectory(instance: configuration.instance))
        self.reports = ReportLedger(directory: RootLayout(root: configuration.root).reportedDirectory(worker: configuration.worker), logger: logger)
        let tracing = TaskTracing(worker: configuration.worker, instance: configuration.instance)
        self.tracing = tracing
        self.logger = logger
        self.spool = try TaskSpool(root: configuration.root, worker: configuration.worker, logger: logger)
        self.retention = TaskRetention(spool: spool, afterAppend: Self.retentionTestPause())
        let config = WorkerConfigStore(root: configuration.root, worker: configuration.worker, logger: logger)
        self.config = config
        self.metrics = SidecarMetrics(worker: configuration.worker, instance: configuration.instance, transport: transport)
        self.leases = LeaseManager(spool: spool, ledger: leaseLedger, tracing: tracing, pool: spoolWork, batchSize: { config.batchSize }, logger: logger)
        (deferredReportAdditions, deferredReportAdded) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let holder = SidecarReference()
        if configuration.metricsAddress == nil {
            metricsServer = nil
        } else {
            metricsServer = MetricsHTTPServer(metrics: metrics) {
                guard let sidecar = holder.sidecar else { return (503, "stopping\n") }
                let status = sidecar.health.status() ?? Pipebus_Health_V1_HealthCheckResponse(status: .unknown)
                return (status.status == .serving ? 200 : 503, "\(status.status)\(status.message.isEmpty ? "" : ": " + status.message)\n")
            }
        }
        if configuration.command.isEmpty {
            supervisor = nil
        } else {
            let pipes = paths.pipeDirectory(instance: configuration.instance).path
            var environment = ProcessInfo.processInfo.environment
            environment["PIPEBUS_ROOT"] = configuration.root
            environment["PIPEBUS_WORKER"] = configuration.worker
            environment["PIPEBUS_INSTANCE"] = configuration.instance
            environment["PIPEBUS_PIPE_DIR"] = pipes
            environment["PIPEBUS_SIDECAR_PID"] = "\(getpid())"
            let record = WorkerRecord(path: paths.workerRecordPath(instance: configuration.instance))
            supervisor = WorkerSupervisor(command: configuration.command, environment: environment, record: record, logger: logger) { exit in
                holder.sidecar?.workerExited(exit)
            }
        }
        holder.sidecar = self
        // Made now, so that it can join a ServiceGroup (`services`); started by `start`, only
        // once the spool is recovered: a client never sees the spool before recovery.
        var router = Router()
        router.register(health)
        router.register(EchoService())
        router.register(TaskService(sidecar: self))
        state.withLock { $0.router = router }
        let server = try PipeServer(directory: pipeDirectory, router: router, configuration: configuration.pipes, metrics: transport, logger: logger)
        state.withLock { $0.server = server }
    }

    /// The port `/metrics` is served on, once started.
    public var metricsPort: Int? { state.withLock { $0.metricsPort } }

    /// Makes this sidecar the only one of its instance, before it binds or serves anything
    /// (`run` calls it first): checks the worker command, takes the instance
    /// lock, and stops a worker that the instance's previous sidecar left running (see
    /// `WorkerRecord`). A second sidecar of the instance fails here at once, having bound nothing.
    func claimInstance() throws {
        if state.withLock({ $0.instanceLock != nil }) { return }
        try supervisor?.checkCommand()
        try checkRootIsLocal()
        var existing = stat()
        let created = stat(instanceDirectory, &existing) != 0
        // The instance lock makes this sidecar the only one of its instance: take it before
        // touching anything a previous run may have left. A peer reaping this instance's
        // leases holds it for a moment, hence the patience; a running owner has recorded
        // itself in the lock file, and then there is nothing to wait for.
        try leaseLedger.prepare()
        let lockPath = paths.lockPath(instance: configuration.instance)
        let instanceLock = try FileLock.acquire(lockPath, patience: .seconds(5)) {
            FileLock.recordedHolder(of: lockPath)?.isRunning == true
        }
        guard let instanceLock else {
            let holder = FileLock.recordedHolder(of: lockPath).flatMap { $0.isRunning ? " (pid \($0.pid))" : nil } ?? ""
            throw RPCError(
                code: .failedPrecondition,
                message: "another sidecar\(holder) is running as instance \(configuration.instance) of worker \(configuration.worker) (it holds \(lockPath)); stop it, or give this one another --instance"
            )
        }
        if let me = ProcessIdentity.current { instanceLock.record(holder: me) }
        state.withLock { state in
            state.instanceLock = instanceLock
            state.createdInstanceDirectory = created
        }
        WorkerRecord(path: paths.workerRecordPath(instance: configuration.instance))
            .stopLeftover(grace: configuration.workerStopGrace, logger: logger)
    }

    /// Refuses a root on a network file system (see `allowNetworkFileSystem`), or warns loudly
    /// when allowed.
    func checkRootIsLocal() throws {
        let kind: String?
        do {
            kind = try FilePath(configuration.root).networkFileSystem()
        } catch {
            throw error.rpcError(subject: "root")
        }
        guard let kind else { return }
        guard configuration.allowNetworkFileSystem else {
            throw RPCError(
                code: .failedPrecondition,
                message: "the root \(configuration.root) is on \(kind), a network file system: inotify and flock do not work across hosts there, so sidecars on several hosts sharing this spool would lose and double-run tasks. Keep one spool per host (a local disk), or pass --allow-network-filesystem if only this host uses it"
            )
        }
        logger.warning("the root is on a network file system; inotify and flock do not work across hosts there: only this host may use this spool", metadata: ["root": "\(configuration.root)", "filesystem": "\(kind)"])
    }

    func start() throws {
        try claimInstance()
        _ = try spool.recover(checkedBefore: watchedUntil())
        // Temp files beside the heartbeat and the config are a dead writer's leftovers.
        for path in [heartbeatPath, workerHeartbeatPath, config.path] {
            for name in SmallFile.removeLeftoverTemporaries(of: path) {
                logger.info("removed a leftover temp file", metadata: ["path": "\((path as NSString).deletingLastPathComponent)/\(name)"])
            }
        }
        try reports.prepare()
        // Leases this instance held when it last stopped died with it; it holds its lock now.
        let requeued = leaseLedger.reap(into: spool, logger: logger, owner: configuration.instance)
        if requeued > 0 { logger.warning("re-queued tasks leased before a restart", metadata: ["count": "\(requeued)"]) }
        state.withLock { $0.heartbeatSeq = Self.lastHeartbeatSeq(at: heartbeatPath) }
        prepareRunbookFiles()
        config.reload()
        seedTimestamps()
        seedRecentFailures()
        seedRecentArrivals()
        takeLeadershipIfFree()
        state.withLock { $0.othersServing = otherInstancesServing() }
        spool.observeMoves { [weak self] move in self?.noteOwnMove(move) }
        let watcher = try SpoolWatcher(layout: spool.layout, logger: logger) { [weak self] event, cookie in
            self?.handle(event, cookie: cookie)
        }
        state.withLock { $0.watcher = watcher }
        // Recovery, the seeds and the watcher listed the whole spool: give back what that took.
        MallocArenas.releaseFree()
        // Served only now: a client never sees the spool before recovery, and every task
        // submitted is seen by the watcher.
        try state.withLock { $0.server }?.start()
        try supervisor?.start()
        metrics.workerUp(supervisor.map { $0.isAlive } ?? true)
        tick()
        settleStart(true)
    }

    /// Until when a watcher of this worker's spool surely ran, checking every file that arrived:
    /// the latest of the heartbeats it writes on every tick while it watches (this instance's
    /// and the worker's), less `watcherLagAllowance` for a watcher that was behind when it
    /// stopped. Nil when there is no heartbeat (a new spool, or one never watched).
    func watchedUntil() -> Date? {
        let beats = [heartbeatPath, workerHeartbeatPath].compactMap { path -> Date? in
            guard let info = try? FilePath(path).lstat() else { return nil }
            return SpoolClock.date(info.st_mtim)
        }
        return beats.max()?.addingTimeInterval(-Self.watcherLagAllowance)
    }

    /// How far behind its last heartbeat a stopping watcher may have been (`watchedUntil`).
    static let watcherLagAllowance: TimeInterval = 600

    func tick() {
        let ticks = state.withLock { state -> Int in
            state.ticks += 1
            return state.ticks
        }
        takeLeadershipIfFree()
        let othersServing = otherInstancesServing()
        state.withLock { $0.othersServing = othersServing }
        reapDeadInstances()
        if ticks % 30 == 1 { reports.prune(olderThan: .seconds(600)) }
        config.reload()
        recheckUnreadableEntries()
        leases.pump()
        let sample = sampler.sample(treeRootedAt: supervisor.map { $0.pid })
        metrics.resourceSample(sample)
        evaluateHealth()
        writeHeartbeat()
    }

    /// Stops gracefully: NOT_SERVING, leases returned, GOAWAY and drain, the worker stopped, a
    /// final heartbeat, the locks released. Blocks (joins, waits for the worker): `run` calls
    /// it on a thread of its own. `/metrics` stays up until its own service stops, after this.
    func shutdown() {
        let already = state.withLock { state -> Bool in
            defer { state.shutDown = true }
            return state.shutDown
        }
        if already { return }
        settleStart(false)
        stopServing()
        state.withLock { $0.server }?.shutdown(graceful: true)
        spoolWork.close()
        supervisor?.stop(grace: configuration.workerStopGrace)
        writeHeartbeat()
        state.withLock { $0.watcher }?.stop()
        flushDeferredReports()
        events.finishAll()
        let locks = state.withLock { state in
            defer {
                state.leaderLock = nil
                state.instanceLock = nil
            }
            return [state.leaderLock, state.instanceLock]
        }
        for lock in locks { lock?.release() }
        logger.info("stopped")
    }

    /// The first step of a shutdown, once: NOT_SERVING, and the leases ended. A lease stream
    /// never ends by itself, so draining would otherwise wait out the drain timeout; its
    /// unfinished tasks go back to pending/ (at least once).
    func stopServing() {
        let already = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return state.stopping
        }
        if already { return }
        health.setStatus(.notServing, message: "sidecar is shutting down")
        logger.info("shutting down: returning leases, draining connections")
        leases.stop()
    }

    /// Starts serving `/metrics` (once the instance is claimed); returns the bound port.
    func startMetricsServer() async throws -> Int? {
        guard let metricsServer, let address = configuration.metricsAddress else { return nil }
        let (host, port) = try Self.parse(address: address)
        let bound = try await metricsServer.start(host: host, port: port)
        state.withLock { $0.metricsPort = bound }
        logger.info("serving /metrics", metadata: ["address": "\(host):\(bound)"])
        return bound
    }

    /// Undoes a start that failed: nothing it made stays behind (the connect FIFO a client
    /// would write to in vain; the instance's directory, if this run created it).
    /// Blocks (joins): `run` calls it on a thread of its own, then stops `/metrics`.
    func abandonStart() {
        settleStart(false)
        let (server, watcher) = state.withLock { state in
            state.stopping = true
            state.shutDown = true
            return (state.server, state.watcher)
        }
        server?.shutdown(graceful: false)
        spoolWork.close()
        watcher?.stop()
        let (locks, created) = state.withLock { state in
            defer {
                state.leaderLock = nil
                state.instanceLock = nil
            }
            return ([state.leaderLock, state.instanceLock], state.createdInstanceDirectory && state.instanceLock != nil)
        }
        if created { try? FileManager.default.removeItem(atPath: instanceDirectory) }
        for lock in locks { lock?.release() }
    }

    static func parse(address: String) throws -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw RPCError(code: .invalidArgument, message: "metrics address \"\(address)\" must be HOST:PORT")
        }
        return (String(address[..<colon]), port)
    }
}

/// Lets the supervisor's exit callback and `/healthz` reach the sidecar without a retain cycle.
private final class SidecarReference: @unchecked Sendable {
    weak var sidecar: Sidecar?
}
