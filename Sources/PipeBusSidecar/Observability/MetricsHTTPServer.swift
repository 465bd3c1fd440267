import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Serves `GET /metrics` (Prometheus text format) and `GET /healthz` over HTTP/1.1, with SwiftNIO.
///
/// It runs on an event loop group of one thread that it owns, so `shutdown()` also closes the
/// keep-alive connections Prometheus holds open, and scrapes never wait behind other NIO work.
public final class MetricsHTTPServer: Sendable {
    private enum State: Sendable {
        case idle
        case starting
        case running(any Channel, MultiThreadedEventLoopGroup)
        case stopped
    }

    private let routes: MetricsHTTPRoutes
    private let state = Mutex(State.idle)

    /// - Parameters:
    ///   - metrics: renders the `/metrics` body; runs on the event loop, so it must be quick.
    ///   - health: the `/healthz` status code and body; also runs on the event loop.
    public init(
        metrics: @escaping @Sendable () -> String,
        health: @escaping @Sendable () -> (status: Int, body: String)
    ) {
        routes = MetricsHTTPRoutes(metrics: metrics, health: health)
    }

    /// Serves `metrics.render()`.
    public convenience init(
        metrics: SidecarMetrics,
        health: @escaping @Sendable () -> (status: Int, body: String)
    ) {
        self.init(metrics: { metrics.render() }, health: health)
    }

    /// Binds and starts serving; returns the bound port (pass port 0 to get a free one).
    /// Throws `MetricsHTTPServerError` with code `.addressInUse` when the port is taken.
    public func start(host: String = "127.0.0.1", port: Int) async throws -> Int {
        try state.withLock { state in
            switch state {
            case .idle: state = .starting
            case .starting, .running: throw MetricsHTTPServerError(code: .alreadyStarted, message: "already started")
            case .stopped: throw MetricsHTTPServerError(code: .shutDown, message: "the server was shut down")
            }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel: any Channel
        do {
            let socket = try Self.listeningSocket(host: host, port: port)
            channel = try await bootstrap(group: group).withBoundSocket(socket).get()
        } catch {
            try? await group.shutdownGracefully()
            state.withLock { if case .starting = $0 { $0 = .idle } }
            throw Self.bindError(error, host: host, port: port)
        }
        let stoppedMeanwhile = state.withLock { state -> Bool in
            guard case .starting = state else { return true }
            state = .running(channel, group)
            return false
        }
        if stoppedMeanwhile {
            try? await channel.close()
            try? await group.shutdownGracefully()
            throw MetricsHTTPServerError(code: .shutDown, message: "the server was shut down while starting")
        }
        return channel.localAddress?.port ?? port
    }

    /// Stops listening and closes every open connection. Safe to call more than once.
    public func shutdown() async {
        let running = state.withLock { state -> (any Channel, MultiThreadedEventLoopGroup)? in
            defer { state = .stopped }
            if case .running(let channel, let group) = state { return (channel, group) }
            return nil
        }
        guard let (channel, group) = running else { return }
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    private func bootstrap(group: MultiThreadedEventLoopGroup) -> ServerBootstrap {
        let routes = routes
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(routes: routes))
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 1)
    }

    /// A bound socket, close-on-exec, for NIO to listen on. NIO's own `bind(host:port:)`
    /// creates its socket without SOCK_CLOEXEC, so a process the sidecar starts (its worker)
    /// inherited it, and after the sidecar was killed kept the port: the restart failed with
    /// "address in use" and scrapes hung. SO_REUSEADDR lets a restarted sidecar bind again
    /// while old connections sit in TIME_WAIT; a port another socket listens on is still refused.
    private static func listeningSocket(host: String, port: Int) throws -> CInt {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let fd = socket(address.protocol.rawValue, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: CInt = 1
        let bound = address.withSockAddr { pointer, size in
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size)) == 0
                && bind(fd, pointer, socklen_t(size)) == 0
        }
        guard bound else {
            let code = errno
            close(fd)
            throw IOError(errnoCode: code, reason: "bind")
        }
        return fd
    }

    private static func bindError(_ error: any Error, host: String, port: Int) -> MetricsHTTPServerError {
        if let ioError = error as? IOError, ioError.errnoCode == EADDRINUSE {
            return MetricsHTTPServerError(
                code: .addressInUse,
                message: "\(host):\(port) is already in use (is another sidecar or exporter listening there?)",
                cause: "\(ioError)"
            )
        }
        return MetricsHTTPServerError(code: .bindFailed, message: "cannot listen on \(host):\(port)", cause: "\(error)")
    }
}
