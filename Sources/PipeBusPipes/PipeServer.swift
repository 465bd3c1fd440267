#if canImport(Glibc)
import Glibc
#endif
public import Logging
public import PipeBusCore
import PipeBusSystem
import Synchronization
import SystemPackage

/// Serves a `Router` over named pipes in one `PipeDirectory`.
///
/// A listener thread reads connect records from the well-known FIFO; each accepted connection
/// gets its own thread running a `ServerConnection`. A record naming FIFOs the client never
/// opened is refused at once (the server's non-blocking open of the reply FIFO fails with
/// ENXIO), and a client that never completes the handshake is dropped after
/// `handshakeTimeout`, so neither can stall the listener or other clients.
public final class PipeServer: Sendable {
    public struct Configuration: Sendable {
        public var connection = ServerConnection.Configuration.defaults
        public var readPolicy = FIFOConnectionIO.ReadPolicy()
        /// Asked of the kernel for each reply FIFO; the per-user pipe budget may refuse it, in
        /// which case the default stays (DESIGN §5).
        public var pipeBufferSize = 256 * 1024
        /// How often the listener checks that its connect FIFO is still there, and sweeps
        /// abandoned connection FIFOs.
        public var directoryCheckInterval: Duration = .seconds(1)
        /// A connection FIFO still named in the directory after this long was abandoned: a
        /// client that connects unlinks its pair within its connect timeout (1 s), so one killed
        /// between its `mkfifo` and its connect record leaves FIFOs no one else removes.
        public var abandonedFIFOAge: Duration = .seconds(30)
        /// How long a graceful shutdown waits for calls in flight before cancelling them.
        public var drainTimeout: Duration = .seconds(5)

        public init() {}
        public static var defaults: Configuration { Configuration() }
    }

    private struct ConnectionEntry {
        let connection: ServerConnection
        let thread: OSThread
    }

    private struct State {
        var connections: [Int: ConnectionEntry] = [:]
        var finished: [OSThread] = []
        var nextID = 0
        var stopping = false
        var listener: OSThread?
        var lockFD: FileDescriptor?
    }

    public let directory: PipeDirectory
    private let router: Router
    private let configuration: Configuration
    public let metrics: TransportMetrics
    private let logger: Logger
    private let state = Mutex(State())
    private let wakeFD: FileDescriptor
    /// Signalled when a connection ends, for a graceful shutdown waiting for the drain.
    private let drained = ConditionLock()
    /// Held for the whole of a shutdown: a second caller waits until the first is done.
    private let shutdownLock = ConditionLock()

    public init(
        directory: PipeDirectory,
        router: Router,
        configuration: Configuration = .defaults,
        metrics: TransportMetrics = TransportMetrics(),
        logger: Logger = Logger(label: "pipebus.server")
    ) throws {
        self.directory = directory
        self.router = router
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.wakeFD = try translatingSystemErrors { try FileDescriptor.eventFD() }
    }

    deinit {
        wakeFD.closeIgnoringErrors()
    }

    /// Takes the directory's lock, creates the connect FIFO and starts listening. Throws
    /// FAILED_PRECONDITION when another server holds the directory, CANCELLED once it was shut down.
    public func start() throws {
        ignoreBrokenPipeSignal()
        try directory.prepare()
        let lockFD = try takeLock()
        let connectFD: FileDescriptor
        do {
            removeStaleFIFOs()
            connectFD = try openConnectFIFO()
        } catch {
            lockFD.closeIgnoringErrors()
            throw error
        }
        // One step, so that a shutdown sees either nothing started or a listener to stop.
        let shutDown = state.withLock { state in
            if state.stopping { return true }
            state.lockFD = lockFD
            state.listener = OSThread(name: "pipebus-listen") { [self] in listen(connectFD: connectFD) }
            return false
        }
        if shutDown {
            connectFD.closeIgnoringErrors()
            FilePath(directory.connectFIFO).removeIfPresent()
            lockFD.closeIgnoringErrors()
            throw RPCError(code: .cancelled, message: "the server of \(directory.path) was shut down before it started")
        }
        logger.info("listening", metadata: ["directory": "\(directory.path)"])
    }

    /// Stops accepting connections; graceful: GOAWAY to every connection, calls in flight
    /// finish (up to `drainTimeout`); otherwise they are cancelled. Returns when every
    /// connection thread has ended. Idempotent; a second call returns once the first is done.
    /// Blocks: async code calls it on a thread of its own (`OSThread.run`), as `run()` does.
    public func shutdown(graceful: Bool) {
        shutdownLock.withLock { shutDown(graceful: graceful) }
    }

    private func shutDown(graceful: Bool) {
        // Only a started server has a listener; one never started (or stopped already) has
        // nothing to stop, and must not unlink a connect FIFO that another server may own.
        guard let listener = state.withLock({ state -> OSThread? in
            state.stopping = true
            return state.listener
        }) else { return }
        wakeFD.signalEvent()
        listener.join()
        let entries = state.withLock { state in
            state.listener = nil
            return Array(state.connections.values)
        }
        for entry in entries { entry.connection.shutdown(graceful: graceful) }
        if graceful {
            let giveUp = ContinuousClock.now + configuration.drainTimeout
            drained.withLock {
                while state.withLock({ !$0.connections.isEmpty }) {
                    if !drained.wait(until: giveUp) { break }
                }
            }
            for entry in state.withLock({ Array($0.connections.values) }) { entry.connection.shutdown(graceful: false) }
        }
        for entry in entries { entry.thread.join() }
        // A connection that ended meanwhile also put its thread on `finished`: it is joined
        // already, and joining a thread twice is undefined (ThreadSanitizer's CHECK failed on it).
        let joined = Set(entries.map { ObjectIdentifier($0.thread) })
        state.withLock { $0.finished.removeAll { joined.contains(ObjectIdentifier($0)) } }
        reapFinished()
        FilePath(directory.connectFIFO).removeIfPresent()
        let lockFD = state.withLock { state in
            defer { state.lockFD = nil }
            return state.lockFD
        }
        lockFD?.closeIgnoringErrors()
        logger.info("stopped", metadata: ["directory": "\(directory.path)"])
    }

    /// The number of connections being served.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    // MARK: Setup

    private func takeLock() throws -> FileDescriptor {
        let path = FilePath(directory.lockFile)
        let fd = try translatingSystemErrors {
            try path.open(.readWrite, options: [.create, .closeOnExec, .noFollow], permissions: .ownerReadWrite)
        }
        do {
            try PipeDirectory.verifyRegularFile(fd, path: directory.lockFile)
            guard try translatingSystemErrors({ try fd.tryLock(path: path) }) else {
                var holder = [UInt8](repeating: 0, count: 31)
                let count = (try? holder.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: 0, into: $0) }) ?? 0
                let pid = count > 0 ? String(decoding: holder[0..<count].filter { $0 > 0x20 }, as: UTF8.self) : "?"
                throw RPCError(code: .failedPrecondition, message: "another server (pid \(pid)) is already serving \(directory.path)")
            }
            fd.replaceContents(with: Array("\(getpid())\n".utf8))
            return fd
        } catch {
            fd.closeIgnoringErrors()
            throw error
        }
    }

    /// Takes the lock again after the lock file vanished (with its directory), replacing the
    /// descriptor of the unlinked one. Throws if another server took the new lock first.
    private func relock() throws {
        let lockIdentity = state.withLock { $0.lockFD.map(fileIdentity) ?? [] }
        guard lockIdentity != pathIdentity(directory.lockFile) else { return }
        let fresh = try takeLock()
        let old = state.withLock { state in
            defer { state.lockFD = fresh }
            return state.lockFD
        }
        old?.closeIgnoringErrors()
    }

    /// Connection FIFOs left by clients of an earlier run (we hold the lock: none is live), or,
    /// with `olderThan`, by clients that died before connecting (found by scripts/soak.sh: one
    /// killed between its two `mkfifo` calls left its `.s2c` for good). Returns how many went.
    @discardableResult
    private func removeStaleFIFOs(olderThan age: Duration? = nil) -> Int {
        guard let entries = try? FilePath(directory.path).entries() else { return 0 }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var removed = 0
        for entry in entries {
            let name = entry.name
            guard name.hasSuffix(".c2s") || name.hasSuffix(".s2c") else { continue }
            let path = FilePath(directory.path + "/" + name)
            guard let info = try? path.lstat(), info.type == .fifo, info.userID == effectiveUserID else { continue }
            if let age {
                let created = Duration.seconds(info.st_ctim.tv_sec) + .nanoseconds(info.st_ctim.tv_nsec)
                let current = Duration.seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
                guard current - created > age else { continue }
            }
            path.removeIfPresent()
            removed += 1
        }
        return removed
    }

    /// Creates (or re-creates, if a stale FIFO of ours is there) the connect FIFO and opens it
    /// read-write, so that it always has a writer and never reports end of stream or POLLHUP.
    private func openConnectFIFO() throws -> FileDescriptor {
        let path = FilePath(directory.connectFIFO)
        if let info = try translatingSystemErrors({ try path.lstat() }) {
            guard info.type == .fifo, info.userID == effectiveUserID else {
                throw RPCError(code: .permissionDenied, message: "\(path) exists and is not a FIFO of ours; refusing to replace it")
            }
            path.removeIfPresent()
        }
        let fd = try translatingSystemErrors {
            try path.makeFIFO(permissions: .ownerReadWrite)
            return try path.open(.readWrite, options: [.noFollow, .closeOnExec, .nonBlocking])
        }
        do {
            try PipeDirectory.verifyFIFO(fd, path: directory.connectFIFO)
        } catch {
            fd.closeIgnoringErrors()
            throw error
        }
        return fd
    }

    // MARK: Listening

    private func listen(connectFD initialFD: FileDescriptor) {
        var connectFD = initialFD
        var decoder = FrameDecoder(maxFrameSize: ConnectRecord.maxEncodedSize)
        var fds = [pollfd(fd: connectFD.rawValue, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeFD.rawValue, events: Int16(POLLIN), revents: 0)]
        var identity = fileIdentity(connectFD)
        var lastSweep = ContinuousClock.now
        defer { connectFD.closeIgnoringErrors() }
        while !state.withLock({ $0.stopping }) {
            fds[0].fd = connectFD.rawValue
            fds[0].revents = 0
            fds[1].revents = 0
            do {
                try FileDescriptor.poll(&fds, timeout: configuration.directoryCheckInterval)
            } catch {
                logger.error("polling the connect FIFO failed", metadata: ["error": "\(error)"])
                usleep(100_000)
            }
            if fds[1].revents != 0 { wakeFD.drainEvent() }
            if fds[0].revents != 0 { readConnectRecords(connectFD, decoder: &decoder) }
            reapFinished()
            if lastSweep.duration(to: .now) >= configuration.directoryCheckInterval {
                lastSweep = .now
                let removed = removeStaleFIFOs(olderThan: configuration.abandonedFIFOAge)
                if removed > 0 {
                    logger.warning("removed connection FIFOs abandoned by clients that never connected", metadata: ["count": "\(removed)"])
                }
            }
            // The directory or the FIFO may be deleted under us: recreate it rather than keep
            // listening on a FIFO no client can reach.
            if identity != pathIdentity(directory.connectFIFO) && !state.withLock({ $0.stopping }) {
                logger.warning("connect FIFO vanished or was replaced; re-creating it", metadata: ["path": "\(directory.connectFIFO)"])
                metrics.recordConnectionError(reason: "connect_fifo_recreated")
                do {
                    try directory.prepare()
                    // A deleted directory took the lock file with it: lock the new one, or a
                    // second server could start on this directory beside us.
                    try relock()
                    let fresh = try openConnectFIFO()
                    connectFD.closeIgnoringErrors()
                    connectFD = fresh
                    identity = fileIdentity(fresh)
                    decoder = FrameDecoder(maxFrameSize: ConnectRecord.maxEncodedSize)
                } catch {
                    logger.error("cannot re-create the connect FIFO; clients cannot connect", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    private func readConnectRecords(_ fd: FileDescriptor, decoder: inout FrameDecoder) {
        while true {
            var failure: SystemCallError?
            let count = decoder.readInto(maximum: 64 * 1024) { buffer in
                do {
                    return try fd.readNonBlocking(into: buffer) ?? -1
                } catch let error as SystemCallError {
                    failure = error
                    return -1
                } catch {
                    return -1
                }
            }
            if let failure {
                logger.error("reading the connect FIFO failed", metadata: ["error": "\(failure)"])
                return
            }
            if count <= 0 {
                // Drained. Every record is one atomic write, so the start of a record left over
                // now is a writer's garbage; kept, it would swallow the next client's record.
                if decoder.bufferedByteCount > 0 {
                    metrics.recordConnectionError(reason: "bad_connect_record")
                    logger.warning("incomplete connect record dropped", metadata: ["bytes": "\(decoder.bufferedByteCount)"])
                    decoder = FrameDecoder(maxFrameSize: ConnectRecord.maxEncodedSize)
                }
                return
            }
            while true {
                do {
                    guard let record = try decoder.withNextFrameBody({ body, _ in try ConnectRecord(serializedBytes: body) }) else { break }
                    accept(record)
                } catch {
                    // Records are single atomic writes, so dropping what is buffered puts the
                    // next read back on a record boundary.
                    metrics.recordConnectionError(reason: "bad_connect_record")
                    logger.warning("malformed connect record dropped", metadata: ["error": "\(error)"])
                    decoder = FrameDecoder(maxFrameSize: ConnectRecord.maxEncodedSize)
                    break
                }
            }
        }
    }

    private func accept(_ record: ConnectRecord) {
        guard ConnectRecord.isValidConnectionID(record.connectionID) else {
            metrics.recordConnectionError(reason: "bad_connect_record")
            logger.warning("connect record with an invalid connection id refused")
            return
        }
        let id = record.connectionID
        let inbound = directory.clientToServer(id)
        let outbound = directory.serverToClient(id)
        let readFD: FileDescriptor
        let writeFD: FileDescriptor
        do {
            readFD = try PipeDirectory.openFIFO(inbound, writing: false)
        } catch {
            metrics.recordConnectionError(reason: "connect_refused")
            logger.warning("connection refused", metadata: ["connection": "\(id)", "error": "\(error)"])
            return
        }
        do {
            writeFD = try PipeDirectory.openFIFO(outbound, writing: true)
        } catch {
            readFD.closeIgnoringErrors()
            // The client's leftovers go; anything else at those paths is left untouched.
            PipeDirectory.unlinkIfOurFIFO(inbound)
            PipeDirectory.unlinkIfOurFIFO(outbound)
            metrics.recordConnectionError(reason: "connect_refused")
            logger.warning("connection refused: the client is not reading its FIFO", metadata: ["connection": "\(id)", "error": "\(error)"])
            return
        }
        if let refusal = record.hello.versionRefusal {
            return refuse(record, refusal, readFD: readFD, writeFD: writeFD)
        }
        writeFD.setPipeSize(configuration.pipeBufferSize)
        let io: FIFOConnectionIO
        do {
            io = try FIFOConnectionIO(readFD: readFD.rawValue, writeFD: writeFD.rawValue, readPolicy: configuration.readPolicy, metrics: metrics)
        } catch {
            readFD.closeIgnoringErrors()
            writeFD.closeIgnoringErrors()
            logger.error("cannot set up a connection", metadata: ["error": "\(error)"])
            return
        }
        let connection = ServerConnection(io: io, router: router, configuration: configuration.connection, metrics: metrics)
        let logger = self.logger
        state.withLock { registry in
            let key = registry.nextID
            registry.nextID += 1
            let thread = OSThread(name: "pipebus-conn") { [self] in
                let reason = connection.run()
                FilePath(inbound).removeIfPresent()
                FilePath(outbound).removeIfPresent()
                let peer = connection.peerHello.map { "\($0.peerName) pid \($0.pid)" } ?? "pid \(record.hello.pid)"
                if reason.metricReason != nil {
                    logger.warning("connection ended", metadata: ["connection": "\(id)", "peer": "\(peer)", "reason": "\(reason)"])
                } else {
                    logger.debug("connection ended", metadata: ["connection": "\(id)", "peer": "\(peer)", "reason": "\(reason)"])
                }
                state.withLock { state in
                    if let entry = state.connections.removeValue(forKey: key) { state.finished.append(entry.thread) }
                }
                drained.withLock { drained.broadcast() }
            }
            registry.connections[key] = ConnectionEntry(connection: connection, thread: thread)
        }
    }

    /// Turns away a client whose connect record speaks another protocol version: its first frame
    /// is a GOAWAY saying why, in place of HELLO_ACK (PROTOCOL.md §2 step 5), then end of file.
    /// Counted as `protocol_error`, as the same refusal of a HELLO is.
    private func refuse(_ record: ConnectRecord, _ refusal: Status, readFD: FileDescriptor, writeFD: FileDescriptor) {
        var frame: [UInt8] = []
        var encoder = FrameEncoder()
        try? encoder.appendFrame(to: &frame) { Envelope(streamID: 0, kind: .goAway, status: refusal).serialize(into: &$0) }
        // A small frame into a FIFO nothing was written to yet: one write, whole (PIPE_BUF), so a
        // non-blocking write cannot come up short.
        _ = frame.withUnsafeBytes { try? writeFD.writeNonBlocking($0) }
        readFD.closeIgnoringErrors()
        writeFD.closeIgnoringErrors()
        PipeDirectory.unlinkIfOurFIFO(directory.clientToServer(record.connectionID))
        PipeDirectory.unlinkIfOurFIFO(directory.serverToClient(record.connectionID))
        metrics.recordConnectionError(reason: "protocol_error")
        logger.warning(
            "connection refused: the client speaks another protocol version",
            metadata: ["connection": "\(record.connectionID)", "version": "\(record.hello.protocolVersion)"]
        )
    }

    private func reapFinished() {
        let finished = state.withLock { state in
            defer { state.finished.removeAll() }
            return state.finished
        }
        for thread in finished { thread.join() }
    }

    private func fileIdentity(_ fd: FileDescriptor) -> [UInt64] {
        guard let info = try? fd.stat(path: nil) else { return [] }
        return [UInt64(info.deviceID.rawValue), UInt64(info.inode.rawValue)]
    }

    private func pathIdentity(_ path: String) -> [UInt64] {
        guard let info = try? FilePath(path).lstat() else { return [] }
        return [UInt64(info.deviceID.rawValue), UInt64(info.inode.rawValue)]
    }
}

extension PipeDirectory {
    /// Removes `path` if it is a FIFO of ours (a refused client's), never a symlink, a file or
    /// someone else's FIFO (PROTOCOL.md §1: those are refused and left untouched).
    static func unlinkIfOurFIFO(_ path: String) {
        guard let info = try? FilePath(path).lstat(), info.type == .fifo, info.userID == effectiveUserID else { return }
        FilePath(path).removeIfPresent()
    }

    static func verifyRegularFile(_ fd: FileDescriptor, path: String) throws {
        let info = try translatingSystemErrors { try fd.stat(path: FilePath(path)) }
        guard info.type == .regular, info.userID == effectiveUserID else {
            throw RPCError(code: .permissionDenied, message: "\(path) is not a regular file of ours; refusing it")
        }
    }
}
