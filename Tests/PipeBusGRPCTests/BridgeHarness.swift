#if GRPC
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import PipeBusCore
import PipeBusEcho
import PipeBusGRPC
import PipeBusHealth
import Synchronization

/// A test service beside Echo and Health: a handler that fails, one that reports the metadata
/// and deadline it saw, and one that waits until cancelled (and says so).
struct ProbeService: PipeBusCore.RegistrableService {
    static let fail = PipeBusCore.MethodDescriptor(service: "pipebus.testing.v1.Probe", method: "Fail")
    static let context = PipeBusCore.MethodDescriptor(service: "pipebus.testing.v1.Probe", method: "Context")
    static let hang = PipeBusCore.MethodDescriptor(service: "pipebus.testing.v1.Probe", method: "Hang")

    /// How often `Hang`'s handler started, and saw its cancellation.
    final class Counters: Sendable {
        let hangStarted = Atomic<Int>(0)
        let hangCancelled = Atomic<Int>(0)
    }

    let counters = Counters()

    func registerMethods(with router: inout PipeBusCore.Router) {
        router.registerUnary(Self.fail, request: [UInt8].self, response: [UInt8].self) { request, _ in
            throw PipeBusCore.RPCError(code: .failedPrecondition, message: "refused: \(String(decoding: request, as: UTF8.self))")
        }
        router.registerUnary(Self.context, request: [UInt8].self, response: [UInt8].self) { _, context in
            let remaining = context.deadline.map { ContinuousClock.now.duration(to: $0) }
            let text = "correlation-id=\(context.metadata["correlation-id"] ?? "-") traceparent=\(context.metadata["traceparent"] ?? "-") deadline=\(remaining.map { $0 > .zero && $0 <= .seconds(30) ? "set" : "wrong \($0)" } ?? "none") method=\(context.method)"
            return Array(text.utf8)
        }
        let counters = counters
        router.registerUnary(Self.hang, request: [UInt8].self, response: [UInt8].self) { _, _ in
            counters.hangStarted.add(1, ordering: .relaxed)
            do {
                try await Task.sleep(for: .seconds(600))
            } catch {
                counters.hangCancelled.add(1, ordering: .relaxed)
                throw error
            }
            return []
        }
    }
}

/// Serves `router` through the bridge on a loopback port for the duration of `body`, which gets
/// a caller for it.
func withBridge<Result>(
    _ router: PipeBusCore.Router,
    maxRequestBytes: Int = 4 * 1024 * 1024,
    _ body: (GRPCCaller, Int) async throws -> Result
) async throws -> Result {
    let transport = HTTP2ServerTransport.Posix(
        address: .ipv4(host: "127.0.0.1", port: 0),
        transportSecurity: .plaintext,
        config: .defaults { $0.rpc.maxRequestPayloadSize = maxRequestBytes }
    )
    let server = GRPCServer(transport: transport, services: [GRPCBridge(router: router)])
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.serve() }
        guard let port = try await transport.listeningAddress.ipv4?.port else { throw PipeBusCore.RPCError(code: .internal, message: "no IPv4 port") }
        let caller = try GRPCCaller(target: GRPCTarget(parsing: "grpc://127.0.0.1:\(port)"))
        defer {
            caller.close()
            server.beginGracefulShutdown()
        }
        return try await body(caller, port)
    }
}
#endif
