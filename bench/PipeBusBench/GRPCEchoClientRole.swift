#if GRPC
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Glibc
import PipeBusCore
import PipeBusEcho
import PipeBusGRPC

/// The client peer of the `grpc-bridge` scenario: waits for the server's socket, then times
/// `count` unary 64 B echo calls (after `warmup` unmeasured ones) through the client users call:
/// `GRPCCaller` (what `SidecarClient` of a `unix:` or `grpc://` target calls through) for the
/// bridge, a plain `GRPCClient` with the same transport settings for the bare server.
enum GRPCEchoClientRole: PeerRole {
    struct Configuration: Codable, Sendable {
        var socketPath: String
        var kind: GRPCEchoKind
        var coalescesFlushes: Bool
        var payloadSize: Int
        var warmup: Int
        var count: Int
    }

    struct Report: Codable, Sendable {
        var measurement: WorkloadMeasurement
    }

    static let name = "grpc-echo-client"

    /// How long the server peer may take to listen and answer.
    private static let serverStartTimeout: Duration = .seconds(30)

    static func run(_ configuration: Configuration) async throws -> Report {
        var callerConfiguration = GRPCCaller.Configuration()
        callerConfiguration.coalescesFlushes = configuration.coalescesFlushes
        let payload = PayloadContent.random.bytes(count: configuration.payloadSize)
        try waitForSocket(configuration.socketPath)
        switch configuration.kind {
        case .bridge:
            let caller = try GRPCCaller(target: GRPCTarget(parsing: "unix:\(configuration.socketPath)"), configuration: callerConfiguration)
            defer { caller.close() }
            let call: @Sendable () async throws -> [UInt8] = {
                try await caller.unary(
                    Pipebus_Testing_V1_Echo.Method.Echo.descriptor,
                    request: payload,
                    metadata: [:],
                    timeout: nil,
                    responseType: [UInt8].self
                )
            }
            return Report(measurement: try await measure(call, payload: payload, configuration))
        case .bare:
            let transport = try HTTP2ClientTransport.Posix(
                target: .unixDomainSocket(path: configuration.socketPath),
                transportSecurity: .plaintext,
                config: callerConfiguration.transportConfig
            )
            let client = GRPCClient(transport: transport)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.runConnections() }
                defer { client.beginGracefulShutdown() }
                var callOptions = CallOptions.defaults
                callOptions.waitForReady = false  // as GRPCCaller's
                let options = callOptions
                let call: @Sendable () async throws -> [UInt8] = {
                    try await client.unary(
                        request: ClientRequest(message: payload),
                        descriptor: BareEchoService.method,
                        serializer: IdentityCoder(),
                        deserializer: IdentityCoder(),
                        options: options
                    ) { try $0.message }
                }
                return Report(measurement: try await measure(call, payload: payload, configuration))
            }
        }
    }

    private static func waitForSocket(_ path: String) throws {
        let giveUp = MonotonicClock.nanoseconds() + UInt64(serverStartTimeout.inNanoseconds)
        var info = stat()
        while lstat(path, &info) != 0 {
            guard MonotonicClock.nanoseconds() < giveUp else {
                throw BenchError("no gRPC server listened at \(path) within \(serverStartTimeout)")
            }
            usleep(2_000)
        }
    }

    private static func measure(
        _ call: @Sendable () async throws -> [UInt8],
        payload: [UInt8],
        _ configuration: Configuration
    ) async throws -> WorkloadMeasurement {
        // One checked call first, retried while the connection is made: a broken echo must not
        // look fast.
        let giveUp = MonotonicClock.nanoseconds() + UInt64(serverStartTimeout.inNanoseconds)
        while true {
            do {
                guard try await call() == payload else {
                    throw BenchError("the \(configuration.kind) echo did not echo the \(payload.count)-byte payload")
                }
                break
            } catch let error as PipeBusCore.RPCError where error.code == .unavailable && MonotonicClock.nanoseconds() < giveUp {
                usleep(20_000)
            } catch let error as GRPCCore.RPCError where error.code == .unavailable && MonotonicClock.nanoseconds() < giveUp {
                usleep(20_000)
            }
        }
        for _ in 0..<configuration.warmup { _ = try await call() }
        var samples: [UInt64] = []
        samples.reserveCapacity(configuration.count)
        let start = MonotonicClock.nanoseconds()
        for _ in 0..<configuration.count {
            let before = MonotonicClock.nanoseconds()
            let response = try await call()
            samples.append(MonotonicClock.nanoseconds() - before)
            guard response.count == payload.count else {
                throw BenchError("the \(configuration.kind) echo answered \(response.count) bytes to \(payload.count)")
            }
        }
        let end = MonotonicClock.nanoseconds()
        return WorkloadMeasurement(
            samples: samples,
            count: configuration.count,
            startNanoseconds: start,
            endNanoseconds: end,
            bytesSent: 0,
            bytesReceived: 0
        )
    }
}
#endif
