#if GRPC
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Glibc
import Logging
import PipeBusCore
import PipeBusEcho
import PipeBusGRPC
import ServiceLifecycle

/// Which gRPC echo a `grpc-bridge` peer serves or calls.
enum GRPCEchoKind: String, Codable, Sendable, CaseIterable {
    /// `GRPCBridgeServer` over a pipebus `Router` with `EchoService`; called through `GRPCCaller`.
    case bridge
    /// `BareEchoService` on a plain `GRPCServer`; called through a plain `GRPCClient`.
    case bare
}

/// The server peer of the `grpc-bridge` scenario: serves one kind of gRPC echo on a Unix socket
/// until its standard input closes, then shuts down gracefully.
enum GRPCEchoServerRole: PeerRole {
    struct Configuration: Codable, Sendable {
        var socketPath: String
        var kind: GRPCEchoKind
        var coalescesFlushes: Bool
    }

    struct Report: Codable, Sendable {}

    static let name = "grpc-echo-server"

    static func run(_ configuration: Configuration) async throws -> Report {
        var bridgeConfiguration = GRPCBridgeServer.Configuration(address: .unix(path: configuration.socketPath))
        bridgeConfiguration.coalescesFlushes = configuration.coalescesFlushes
        // Warnings only, and on stderr: stdout carries this peer's report.
        var logger = Logger(label: "pipebus-bench.grpc-server") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        switch configuration.kind {
        case .bridge:
            var router = PipeBusCore.Router()
            router.register(EchoService())
            // What `pipebus sidecar --grpc-listen` runs: the bridge server in a service group.
            let bridge = try GRPCBridgeServer(router: router, configuration: bridgeConfiguration, logger: logger) { true }
            let group = ServiceGroup(
                configuration: .init(
                    services: [
                        .init(service: bridge),
                        .init(service: EndOfStandardInput(), successTerminationBehavior: .gracefullyShutdownGroup),
                    ],
                    logger: logger
                )
            )
            try await group.run()
        case .bare:
            // The same transport settings as the bridge's.
            let transport = HTTP2ServerTransport.Posix(
                address: .unixDomainSocket(path: configuration.socketPath),
                transportSecurity: .plaintext,
                config: bridgeConfiguration.transportConfig
            )
            let server = GRPCServer(transport: transport, services: [BareEchoService()])
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.serve() }
                try await EndOfStandardInput().run()
                server.beginGracefulShutdown()
                try await group.waitForAll()
            }
        }
        return Report()
    }
}

/// Returns when standard input reaches end of file (the harness closed it). It polls without
/// blocking a thread: the peer is pinned to one CPU, and gRPC's handlers need the cooperative
/// pool's threads.
struct EndOfStandardInput: Service {
    func run() async throws {
        var byte: UInt8 = 0
        while true {
            var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 0) > 0 {
                let count = read(STDIN_FILENO, &byte, 1)
                if count == 0 || (count < 0 && errno != EINTR && errno != EAGAIN) { return }
                continue
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
#endif
