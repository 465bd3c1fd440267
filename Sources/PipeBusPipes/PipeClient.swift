public import PipeBusCore
import Synchronization

/// A client that keeps one connection to a server and reconnects, with exponential backoff,
/// after the server restarts. A call in flight when the connection breaks fails with
/// UNAVAILABLE; the next call reconnects (or fails fast with UNAVAILABLE while backing off).
///
/// Given several candidate directories (the instances of a scaled-out worker), it connects to
/// the first that answers, starting from the one it used last, so a dead instance costs one
/// failed non-blocking open.
public final class PipeClient: Sendable {
    public struct Backoff: Sendable, Hashable {
        public var initial: Duration = .milliseconds(50)
        public var maximum: Duration = .seconds(2)
        public var multiplier = 2.0
        public init() {}
    }

    private struct State {
        var connection: ClientConnection?
        var failures = 0
        var retryAt: ContinuousClock.Instant?
        var lastError: RPCError?
        var lastDirectory: PipeDirectory?
    }

    /// Where it connects: the candidates, asked again at every reconnect.
    private let candidates: @Sendable () -> [PipeDirectory]
    private let configuration: PipeConnector.Configuration
    private let backoff: Backoff
    private let metrics: TransportMetrics?
    private let state = Mutex(State())

    public convenience init(
        directory: PipeDirectory,
        configuration: PipeConnector.Configuration = .defaults,
        backoff: Backoff = Backoff(),
        metrics: TransportMetrics? = nil
    ) {
        self.init(directories: { [directory] }, configuration: configuration, backoff: backoff, metrics: metrics)
    }

    /// A client of whichever of `directories()` answers first.
    public init(
        directories: @escaping @Sendable () -> [PipeDirectory],
        configuration: PipeConnector.Configuration = .defaults,
        backoff: Backoff = Backoff(),
        metrics: TransportMetrics? = nil
    ) {
        self.candidates = directories
        self.configuration = configuration
        self.backoff = backoff
        self.metrics = metrics
    }

    /// The current connection, connecting first if there is none or it broke.
    public func connection() throws -> ClientConnection {
        enum Next { case use(ClientConnection), connect, wait(RPCError) }
        let next = state.withLock { state -> Next in
            if let connection = state.connection, connection.isUsable { return .use(connection) }
            state.connection = nil
            if let retryAt = state.retryAt, ContinuousClock.now < retryAt, let error = state.lastError {
                return .wait(RPCError(code: .unavailable, message: "\(error.message) (retrying in \(ContinuousClock.now.duration(to: retryAt)))", cause: error.cause))
            }
            return .connect
        }
        switch next {
        case .use(let connection): return connection
        case .wait(let error): throw error
        case .connect: break
        }
        do {
            let (connection, directory) = try connectToFirstAnswering()
            state.withLock { state in
                state.connection = connection
                state.lastDirectory = directory
                state.failures = 0
                state.retryAt = nil
                state.lastError = nil
            }
            return connection
        } catch {
            let rpcError = (error as? RPCError) ?? RPCError(code: .unavailable, message: "\(error)")
            state.withLock { state in
                state.failures += 1
                let factor = pow(backoff.multiplier, Double(state.failures - 1))
                let delay = min(backoff.maximum, backoff.initial * factor)
                state.retryAt = ContinuousClock.now + delay * Double.random(in: 0.8...1.2)
                state.lastError = rpcError
            }
            throw rpcError
        }
    }

    /// The directory of the current (or last) connection.
    public var directory: PipeDirectory? { state.withLock { $0.lastDirectory } }

    private func connectToFirstAnswering() throws -> (ClientConnection, PipeDirectory) {
        var directories = candidates()
        if let last = state.withLock({ $0.lastDirectory }), let index = directories.firstIndex(of: last) {
            directories.insert(directories.remove(at: index), at: 0)
        }
        guard !directories.isEmpty else {
            throw RPCError(code: .unavailable, message: "no server to connect to (no pipe directory found)")
        }
        var lastError: (any Error)?
        for directory in directories {
            do {
                return (try PipeConnector.connect(to: directory, configuration: configuration, metrics: metrics), directory)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? RPCError(code: .unavailable, message: "no server answered")
    }

    /// Closes the current connection.
    public func close() {
        state.withLock { state in
            defer { state.connection = nil }
            return state.connection
        }?.close()
    }

    /// A unary call on the current connection.
    public func unary<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        request: Request,
        metadata: Metadata = Metadata(),
        timeout: Duration? = nil,
        responseType: Response.Type = Response.self
    ) async throws -> Response {
        try await connection().unary(method, request: request, metadata: metadata, timeout: timeout, responseType: responseType)
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 {
        result *= base
        remaining -= 1
    }
    return result
}
