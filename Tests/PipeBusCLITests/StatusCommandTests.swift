import Foundation
import PipeBusTestSupport
import Testing

@Suite struct StatusCommandTests {
    @Test func oneRowPerWorker() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startPipeSidecar("marie")
            try await deployment.startSidecar("anga")
            try await deployment.submit("marie", #"{"stuck": true}"#, id: "stuck-1")
            try await deployment.submit("anga", #"{"n": 1}"#, id: "queued-1")
            try await deployment.waitForState(.active, of: "stuck-1", worker: "marie")

            let table = try await deployment.run(["status"])
            #expect(table.status == 0, "\(table)")
            let lines = table.stdout.split(separator: "\n").map(String.init)
            for column in [
                "WORKER", "HEALTH", "HEARTBEAT", "ACTIVE", "QUEUE", "OLDEST ACTIVE", "FAIL 5m", "P95 WRITE", "BREAKER",
            ] {
                #expect(lines.first?.contains(column) == true, "\(column) missing: \(table)")
            }
            let marie = try #require(lines.first { $0.hasPrefix("marie") })
            #expect(
                marie.contains("SERVING") && marie.contains("alive") && marie.contains("stuck-1")
                    && marie.contains("CLOSED"),
                "\(marie)"
            )
            let anga = try #require(lines.first { $0.hasPrefix("anga") })
            #expect(anga.contains("SERVING"), "\(anga)")

            let json = try await deployment.run(["status", "--json"])
            let rows = try #require(json.json as? [[String: Any]], "\(json)")
            #expect(rows.map { $0["worker"] as? String } == ["anga", "marie"])
            let angaStatus = rows[0]["status"] as? [String: Any]
            #expect(angaStatus?["pending"] as? Int == 1, "\(json)")
            let marieStatus = rows[1]["status"] as? [String: Any]
            #expect(marieStatus?["active"] as? Int == 1)
            #expect(marieStatus?["oldest_active_id"] as? String == "stuck-1")
            #expect((rows[1]["heartbeat"] as? [String: Any])?["liveness"] as? String == "alive")

            await deployment.stopSidecar("anga")
            let partial = try await deployment.run(["status"])
            #expect(partial.status == 1, "\(partial)")
            #expect(partial.stdout.contains("UNREACHABLE"), "\(partial)")
        }
    }

    @Test func watchRefreshesUntilInterrupted() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            let watch = try CLI.start(["status", "--watch", "--interval", "0.2", "--root", deployment.root])
            try await eventually("two refreshes") {
                watch.stdout.components(separatedBy: "pipebus status —").count >= 3
            }
            #expect(await watch.terminate() == .code(0), "\(watch)")
        }
    }
}
