import PipeBusCore
import PipeBusPipes
import PipeBusTestSupport
import Synchronization
import Testing
import PipeBusHealth
import PipeBusEcho

#if canImport(Glibc)
import Glibc
#endif

/// The transports the conformance suite runs one test body against (STYLE: the same test body
/// in memory and over the real thing).
enum TransportFixture: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// `InProcessTransport` connections, each served by a `ServerConnection` on an `OSThread`.
    case inProcess
    /// A `PipeServer` in a temporary directory, clients through `PipeConnector`.
    case namedPipes
    /// The same, with both sides' reads spinning before they wait (`ReadPolicy(spin:)`), so
    /// every behaviour holds on the spin path too (wake-ups, deadlines, close, end of stream).
    case spinningPipes

    /// The read policy of both sides of a named-pipe fixture.
    var readPolicy: FIFOConnectionIO.ReadPolicy {
        self == .spinningPipes ? .init(spin: .microseconds(50)) : .init()
    }

    /// Whether the fixture runs over FIFOs (`TestServer.pipeServer` is there).
    var usesPipes: Bool { self != .inProcess }

    var testDescription: String { rawValue }

    /// Starts a server for `router` (EchoService, HealthService and ProbeService when nil).
    func startServer(
        configuration: ServerConnection.Configuration = .defaults,
        router: Router? = nil
    ) throws -> TestServer {
        let board = ProbeBoard()
        let health = HealthService()
        health.setStatus(.serving)
        let router = router ?? TestServer.standardRouter(health: health, board: board)
        switch self {
        case .inProcess:
            return TestServer(
                kind: .inProcess(InProcessServer(router: router, configuration: configuration)),
                health: health,
                board: board
            )
        case .namedPipes, .spinningPipes:
            let directory = try TemporaryDirectory()
            var pipeConfiguration = PipeServer.Configuration.defaults
            pipeConfiguration.connection = configuration
            pipeConfiguration.readPolicy = readPolicy
            let server = try PipeServer(directory: directory.pipes, router: router, configuration: pipeConfiguration)
            try server.start()
            return TestServer(kind: .namedPipes(server, directory), health: health, board: board, clientReadPolicy: readPolicy)
        }
    }
}

/// A running server of either transport, and the way to connect to it.
final class TestServer: Sendable {
    enum Kind: Sendable {
        case inProcess(InProcessServer)
        case namedPipes(PipeServer, TemporaryDirectory)
    }

    let kind: Kind
    /// The health service the standard router serves ("" is SERVING).
    let health: HealthService
    /// What the probe handlers saw.
    let board: ProbeBoard
    /// How the named-pipe clients of `connect` read.
    let clientReadPolicy: FIFOConnectionIO.ReadPolicy

    init(kind: Kind, health: HealthService, board: ProbeBoard, clientReadPolicy: FIFOConnectionIO.ReadPolicy = .init()) {
        self.kind = kind
        self.health = health
        self.board = board
        self.clientReadPolicy = clientReadPolicy
    }

    static func standardRouter(health: HealthService, board: ProbeBoard) -> Router {
        var router = Router()
        router.register(EchoService())
        router.register(health)
        ProbeService.register(in: &router, board: board)
        return router
    }

    /// The `PipeServer` and its temporary directory (named-pipe servers only).
    var pipeServer: PipeServer {
        guard case .namedPipes(let server, _) = kind else { preconditionFailure("not a named-pipe server") }
        return server
    }

    var temporaryDirectory: TemporaryDirectory {
        guard case .namedPipes(_, let directory) = kind else { preconditionFailure("not a named-pipe server") }
        return directory
    }

    var metrics: TransportMetrics {
        switch kind {
        case .inProcess(let server): server.metrics
        case .namedPipes(let server, _): server.metrics
        }
    }

    /// A new client connection, handshake done.
    func connect(configuration: ClientConnection.Configuration = .defaults) async throws -> ClientConnection {
        switch kind {
        case .inProcess(let server):
            return try await onThread("test-connect") { try server.connect(configuration: configuration) }
        case .namedPipes(let server, _):
            var connector = PipeConnector.Configuration.defaults
            connector.connection = configuration
            connector.readPolicy = clientReadPolicy
            let directory = server.directory
            return try await onThread("test-connect") { [connector] in
                try PipeConnector.connect(to: directory, configuration: connector)
            }
        }
    }

    /// Shuts the server down as `PipeServer.shutdown(graceful:)` does; returns when every
    /// connection has ended.
    func shutdown(graceful: Bool) async throws {
        switch kind {
        case .inProcess(let server):
            try await onThread("test-shutdown") { server.shutdown(graceful: graceful) }
        case .namedPipes(let server, _):
            try await onThread("test-shutdown") { server.shutdown(graceful: graceful) }
        }
    }

    /// Ends everything at once and removes the temporary directory. For `defer`.
    func stop() {
        switch kind {
        case .inProcess(let server):
            server.shutdown(graceful: false)
        case .namedPipes(let server, let directory):
            server.shutdown(graceful: false)
            directory.remove()
        }
    }
}

/// Serves in-process connections as `PipeServer` serves FIFO pairs: one `ServerConnection` on
/// its own thread per connection, sharing one `TransportMetrics`.
final class InProcessServer: Sendable {
    private struct State {
        var connections: [(connection: ServerConnection, thread: OSThread)] = []
        var stopped = false
    }

    let metrics = TransportMetrics()
    private let router: Router
    private let configuration: ServerConnection.Configuration
    private let state = Mutex(State())

    init(router: Router, configuration: ServerConnection.Configuration) {
        self.router = router
        self.configuration = configuration
    }

    /// Blocks for the handshake (at most two seconds).
    func connect(configuration clientConfiguration: ClientConnection.Configuration) throws -> ClientConnection {
        let (clientIO, serverIO) = InProcessTransport.makeConnection()
        let connection = ServerConnection(io: serverIO, router: router, configuration: configuration, metrics: metrics)
        try state.withLock { state in
            guard !state.stopped else {
                throw RPCError(code: .unavailable, message: "the in-process server has shut down")
            }
            state.connections.append((connection, OSThread(name: "test-server-conn") { _ = connection.run() }))
        }
        var decoder = FrameDecoder(maxFrameSize: clientConfiguration.maxFrameSize)
        let hello = try ClientConnection.readServerHello(from: clientIO, decoder: &decoder, timeout: .seconds(2))
        return try ClientConnection(
            io: clientIO,
            serverHello: hello,
            decoder: decoder,
            configuration: clientConfiguration
        )
    }

    /// GOAWAY (graceful) or cancel on every connection; returns when their threads have ended.
    func shutdown(graceful: Bool) {
        let connections = state.withLock { state in
            state.stopped = true
            defer { state.connections.removeAll() }
            return state.connections
        }
        for (connection, _) in connections { connection.shutdown(graceful: graceful) }
        for (_, thread) in connections { thread.join() }
    }
}

extension TemporaryDirectory {
    /// The pipe directory of a test's server: `pipes` inside, left for `PipeServer.prepare()` to
    /// create.
    var pipes: PipeDirectory { PipeDirectory(path: path + "/pipes") }
}
