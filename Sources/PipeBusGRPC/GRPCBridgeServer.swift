#if GRPC
import GRPCCore
package import GRPCNIOTransportHTTP2Posix
public import Logging
public import PipeBusCore
public import ServiceLifecycle

/// Serves a router's services over gRPC (HTTP/2) in a `ServiceGroup`, beside the pipe server:
/// `pipebus sidecar --grpc-listen`. It opens its port only once its owner serves (`whenReady`),
/// and on the group's graceful shutdown stops taking calls (GOAWAY) and lets those in flight
/// finish.
public final class GRPCBridgeServer: Service {
    public struct Configuration: Sendable {
        public var address: GRPCListenAddress
        /// TLS when set: the server's certificate chain and key; `trustedCA` set means mutual
        /// TLS (a client must present a certificate that chains to it).
        public var tls: GRPCTLSFiles?
        /// Allows plaintext on an address other machines can reach.
        public var allowInsecure = false
        /// The largest request message accepted: the pipe's frame limit.
        public var maxRequestMessageBytes = FrameHeader.defaultMaxFrameSize
        /// How often an idle connection is pinged, and how long the answer may take: a client
        /// that vanished (a host gone, a partition) is noticed and its calls end.
        public var keepaliveInterval: Duration = .seconds(30)
        public var keepaliveTimeout: Duration = .seconds(10)
        /// How long a graceful shutdown waits for calls in flight (as the pipe server's
        /// `drainTimeout`) before closing the connections: a client cut off by a partition never
        /// ends its stream, and must not hold the sidecar's stop.
        public var drainTimeout: Duration = .seconds(5)
        /// Whether the HTTP/2 connection holds its flushes back (up to 100 µs,
        /// grpc-swift-nio-transport's default) to batch writes: fewer syscalls under many
        /// concurrent calls, up to 100 µs more per reply when calls come one at a time.
        /// Off: one call at a time is what the bridge serves (probes, the CLI, a fleet's rows),
        /// and bench/PipeBusBench's grpc-bridge scenario measured off faster at p50 in both
        /// placements, for the bridge and for bare grpc-swift-2 alike.
        public var coalescesFlushes = false

        public init(address: GRPCListenAddress) { self.address = address }

        /// Refuses a configuration that would serve plaintext to the network, or half a TLS one.
        public func validate() throws {
            if let tls {
                guard tls.certificateChain != nil, tls.privateKey != nil else {
                    throw RPCError(code: .invalidArgument, message: "gRPC TLS needs both --grpc-tls-cert and --grpc-tls-key")
                }
            } else if !address.isLocalOnly && !allowInsecure {
                throw RPCError(
                    code: .invalidArgument,
                    message: "refusing to serve gRPC in plaintext on \(address), which other hosts can reach: give --grpc-tls-cert and --grpc-tls-key (and --grpc-tls-client-ca for mutual TLS), or --grpc-insecure to allow plaintext"
                )
            }
        }
    }

    public let configuration: Configuration
    private let bridge: GRPCBridge
    private let logger: Logger
    private let whenReady: @Sendable () async -> Bool

    /// - Parameter whenReady: waits until the owner serves; false means it never will (its
    ///   start failed), and then this service returns without listening.
    public init(router: PipeBusCore.Router, configuration: Configuration, logger: Logger, whenReady: @escaping @Sendable () async -> Bool) throws {
        try configuration.validate()
        self.configuration = configuration
        self.bridge = GRPCBridge(router: router)
        self.logger = logger
        self.whenReady = whenReady
    }

    public func run() async throws {
        guard await whenReady() else { return }
        let transport = HTTP2ServerTransport.Posix(address: socketAddress, transportSecurity: transportSecurity, config: configuration.transportConfig)
        let server = GRPCServer(transport: transport, services: [bridge])
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await server.serve()
                return true
            }
            let bound = try await transport.listeningAddress
            logger.info("serving gRPC", metadata: [
                "address": "\(Self.text(bound))",
                "tls": "\(configuration.tls == nil ? "off" : configuration.tls?.trustedCA == nil ? "on" : "mutual")",
            ])
            try? await gracefulShutdown()
            server.beginGracefulShutdown()
            // The drain ends when the last call does, or at its limit: then the connections are
            // closed (cancelling `serve` does that) and their calls end.
            let limit = configuration.drainTimeout
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let drained = try await group.next() ?? true
            group.cancelAll()
            if !drained {
                logger.warning("gRPC calls still in flight after the drain timeout; closing their connections", metadata: ["drain_timeout": "\(limit)"])
            }
        }
    }

    private var socketAddress: GRPCNIOTransportCore.SocketAddress {
        switch configuration.address {
        case .tcp(let host, let port): host.contains(":") ? .ipv6(host: host, port: port) : .ipv4(host: host == "localhost" ? "127.0.0.1" : host, port: port)
        case .unix(let path): .unixDomainSocket(path: path)
        }
    }

    private var transportSecurity: HTTP2ServerTransport.Posix.TransportSecurity {
        guard let tls = configuration.tls, let chain = tls.certificateChain, let key = tls.privateKey else { return .plaintext }
        let certificates: [TLSConfig.CertificateSource] = [.file(path: chain, format: .pem)]
        let privateKey = TLSConfig.PrivateKeySource.file(path: key, format: .pem)
        guard let ca = tls.trustedCA else { return .tls(certificateChain: certificates, privateKey: privateKey) }
        return .mTLS(certificateChain: certificates, privateKey: privateKey) { config in
            config.trustRoots = .certificates([.file(path: ca, format: .pem)])
            config.clientCertificateVerification = .noHostnameVerification
        }
    }


    /// `HOST:PORT` or `unix:PATH`, as `--grpc-listen` takes it (tests read the port from it).
    static func text(_ address: GRPCNIOTransportCore.SocketAddress) -> String {
        if let ipv4 = address.ipv4 { return "\(ipv4.host):\(ipv4.port)" }
        if let ipv6 = address.ipv6 { return "[\(ipv6.host)]:\(ipv6.port)" }
        if let unix = address.unixDomainSocket { return "unix:\(unix.path)" }
        return "\(address)"
    }
}

extension GRPCBridgeServer.Configuration {
    /// The HTTP/2 transport's settings; the benchmark serves its bare grpc-swift-2 echo with the
    /// very same ones.
    package var transportConfig: HTTP2ServerTransport.Posix.Config {
        .defaults { config in
            config.rpc.maxRequestPayloadSize = maxRequestMessageBytes
            config.connection.keepalive = .init(
                time: keepaliveInterval,
                timeout: keepaliveTimeout,
                clientBehavior: .init(minPingIntervalWithoutCalls: .seconds(5), allowWithoutCalls: true)
            )
            if !coalescesFlushes { config.connection.flushCoalescing = nil }
        }
    }
}
#endif
