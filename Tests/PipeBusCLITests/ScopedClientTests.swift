import Foundation
import PipeBusClient
import PipeBusTestSupport
import Testing

/// `withSidecarClient { client in … }`: the client's connection lasts as long as the body, so
/// nobody has to remember `close()`. Seen from the sidecar: its open-connections gauge.
@Suite("withSidecarClient", .serialized)
struct ScopedClientTests {
    @Test("the connection is closed when the body returns, and when it throws")
    func connectionClosedWhenTheBodyEnds() async throws {
        try await TestDeployment.with { deployment in
            let sidecar = try CLI.start([
                "sidecar", "--worker", "marie", "--root", deployment.root, "--metrics-address", "127.0.0.1:0",
                "--heartbeat-interval", "0.5",
            ])
            do {
                try await Self.check(sidecar, root: deployment.root)
            } catch {
                await sidecar.killAndReap()
                throw error
            }
            #expect(await sidecar.terminate()?.code == 0, "\(sidecar)")
        }
    }

    private static func check(_ sidecar: ChildProcess, root: String) async throws {
        let line = try await sidecar.line("the \"serving /metrics\" log line", in: .stderr) { $0.contains("serving /metrics") }
        let port = try #require(Self.port(inLogLine: line), "\(line)")
        let metrics = LoopbackHTTPClient(port: port)
        func openConnections() async throws -> Int? {
            Self.sample("pipebus_pipe_open_connections", in: try await metrics.scrapeMetrics())
        }
        try await eventually("the sidecar to serve its pipes\n\(sidecar)") {
            await withSidecarClient(root: root, worker: "marie") { client in
                (try? await client.health()) != nil
            }
        }
        try await eventually("no connection open before the test") { try await openConnections() == 0 }

        let inside = try await withSidecarClient(root: root, worker: "marie") { client in
            _ = try await client.status()
            return try await openConnections()
        }
        #expect(inside == 1, "the body's connection is open while the body runs")
        try await eventually("the body's connection to be closed after it returned") { try await openConnections() == 0 }

        struct Failed: Error {}
        await #expect(throws: Failed.self) {
            try await withSidecarClient(root: root, worker: "marie") { client in
                _ = try await client.status()
                throw Failed()
            }
        }
        try await eventually("the body's connection to be closed after it threw") { try await openConnections() == 0 }
    }

    /// The port of a `serving /metrics` log line's `address` (`host:port`).
    static func port(inLogLine line: String) -> Int? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let address = object["address"] as? String, let colon = address.lastIndex(of: ":")
        else { return nil }
        return Int(address[address.index(after: colon)...])
    }

    /// The value of a metric's (only) sample in a Prometheus exposition.
    static func sample(_ name: String, in exposition: String) -> Int? {
        exposition.split(separator: "\n").first { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
            .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.map { Int($0) }
    }
}
