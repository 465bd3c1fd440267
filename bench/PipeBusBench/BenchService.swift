import FoundationEssentials
import PipeBusCore
import PipeBusEcho

/// A method the benchmark's server serves beside `EchoService`: the server's write-latency
/// histogram, read over the bus the way a metrics scrape would read it from a sidecar.
enum BenchService {
    /// Unary, inline: the server's `TransportMetrics.writeLatency` as `WriteLatencyCounts` JSON.
    static let writeLatency = MethodDescriptor(service: "pipebus.bench.v1.Bench", method: "WriteLatency")

    static func register(in router: inout Router, metrics: TransportMetrics) {
        router.registerInline(writeLatency, request: [UInt8].self, response: [UInt8].self) { _, _ in
            let counts = WriteLatencyCounts(metrics.writeLatency.snapshot())
            return Array((try? JSONEncoder().encode(counts)) ?? Data())
        }
    }

    /// The server's histogram now. The response of this call is itself one server write,
    /// counted in the next snapshot: negligible against a load of thousands of writes.
    static func writeLatency(on connection: ClientConnection) async throws -> WriteLatencyCounts {
        let bytes = try await connection.unary(writeLatency, request: [UInt8](), responseType: [UInt8].self)
        return try JSONDecoder().decode(WriteLatencyCounts.self, from: Data(bytes))
    }
}
