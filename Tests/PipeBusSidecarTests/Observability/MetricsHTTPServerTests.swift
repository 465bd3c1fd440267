import Foundation
import PipeBusCore
import PipeBusTestSupport
import Synchronization
import Testing

@testable import PipeBusSidecar

@Suite("Metrics HTTP server")
struct MetricsHTTPServerTests {
    /// Runs `body` against a started server, and shuts it down whatever happens.
    func withServer(
        health: @escaping @Sendable () -> (status: Int, body: String) = { (200, "SERVING\n") },
        _ body: (MetricsHTTPServer, LoopbackHTTPClient) async throws -> Void
    ) async throws {
        let metrics = SidecarMetricsTests.exercised().0
        let server = MetricsHTTPServer(metrics: metrics, health: health)
        let port = try await server.start(host: "127.0.0.1", port: 0)
        do {
            try await body(server, LoopbackHTTPClient(port: port))
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    @Test
    func servesMetricsWithThePrometheusContentType() async throws {
        try await withServer { _, client in
            let response = try client.request("GET", "/metrics")
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(response.headers["content-length"] == String(response.body.utf8.count))
            #expect(response.body.contains("# TYPE pipe_write_latency_seconds histogram"))
            #expect(response.body.contains(#"task_failed_total{worker="marie",instance="marie-1"} 1"#))
        }
    }

    @Test
    func healthzAnswersWithTheClosuresStatusAndBody() async throws {
        let serving = Mutex(true)
        let health: @Sendable () -> (status: Int, body: String) = {
            serving.withLock { $0 } ? (200, "SERVING\n") : (503, "NOT_SERVING\n")
        }
        try await withServer(health: health) { _, client in
            let up = try client.request("GET", "/healthz")
            #expect(up.status == 200 && up.body == "SERVING\n")
            serving.withLock { $0 = false }
            let down = try client.request("GET", "/healthz")
            #expect(down.status == 503 && down.body == "NOT_SERVING\n")
        }
    }

    @Test
    func unknownPathsAre404AndOtherMethods405() async throws {
        try await withServer { _, client in
            #expect(try client.request("GET", "/nope").status == 404)
            #expect(try client.request("GET", "/").status == 404)
            let post = try client.request("POST", "/metrics")
            #expect(post.status == 405)
            #expect(post.headers["allow"] == "GET")
            #expect(try client.request("DELETE", "/healthz").status == 405)
            // A query string does not change the route.
            #expect(try client.request("GET", "/metrics?x=1").status == 200)
        }
    }

    @Test
    func aTakenPortIsReportedAsAddressInUse() async throws {
        try await withServer { _, client in
            let second = MetricsHTTPServer(metrics: { "" }, health: { (200, "") })
            let error = await #expect(throws: MetricsHTTPServerError.self) {
                _ = try await second.start(host: "127.0.0.1", port: client.port)
            }
            #expect(error?.code == .addressInUse)
            #expect(error?.message.contains("127.0.0.1:\(client.port)") == true)
            await second.shutdown()
        }
    }

    @Test
    func shutdownStopsListeningAndTheServerCannotRestart() async throws {
        let server = MetricsHTTPServer(metrics: { "" }, health: { (200, "") })
        let port = try await server.start(port: 0)
        await server.shutdown()
        await server.shutdown()
        #expect(throws: LoopbackHTTPClient.Failure.self) {
            try LoopbackHTTPClient(port: port).request("GET", "/metrics")
        }
        let error = await #expect(throws: MetricsHTTPServerError.self) { _ = try await server.start(port: 0) }
        #expect(error?.code == .shutDown)
    }
}
