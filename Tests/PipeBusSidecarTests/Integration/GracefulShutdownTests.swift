import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing
import PipeBusHealth

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM under load: a clean exit, a final heartbeat, leased tasks handed back, nothing lost.
@Suite("Sidecar integration: SIGTERM drains", .serialized)
struct GracefulShutdownTests {
    @Test("SIGTERM under submit load with tasks leased: exit 0, final heartbeat, leased tasks back in pending/, nothing lost")
    func sigtermDrains() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let sidecar = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.5, mode: "pipe")
        // A pipe worker that holds what it leases (never finishes), and a steady submit load.
        let worker = Integration.LeaseWorker(root, maxInFlight: 4, hold: true)
        let load = Integration.SubmitLoad(root, prefix: "term")
        do {
            try await eventually("4 tasks leased and 50 submits acknowledged", timeout: .seconds(20)) {
                worker.received.count >= 4 && load.acknowledged.count >= 50
            }
        } catch {
            await load.stop()
            await worker.stop()
            await sidecar.killEverything()
            throw error
        }
        let held = worker.received
        let seqBefore = try #require(root.heartbeat()?["seq"] as? Int)
        let signalled = Date()

        sidecar.process.signal(SIGTERM)
        let exit = await sidecar.process.wait(timeout: .seconds(30))
        await load.stop()
        await worker.stop()
        if exit == nil {
            Issue.record("the sidecar did not exit within 30 s of SIGTERM; log tail:\n\(sidecar.logTail(40))")
            await sidecar.killEverything()
        }
        #expect(exit?.code == 0, "exit after SIGTERM: \(String(describing: exit)); log tail:\n\(sidecar.logTail(20))")
        let drainSeconds = -signalled.timeIntervalSinceNow

        // A final heartbeat, written during the shutdown.
        let heartbeat = try #require(root.heartbeat())
        let seqAfter = try #require(heartbeat["seq"] as? Int)
        #expect(seqAfter > seqBefore)
        #expect(heartbeat["health"] as? String == "\(Pipebus_Health_V1_HealthCheckResponse.ServingStatus.notServing)")
        #expect((heartbeat["health_message"] as? String)?.contains("shutting down") == true, "\(heartbeat)")
        if let stamp = heartbeat["timestamp"] as? String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let date = try #require(formatter.date(from: stamp))
            #expect(date >= signalled.addingTimeInterval(-0.01), "the last heartbeat (\(stamp)) predates the SIGTERM")
        }
        #expect(!sidecar.logLines(containing: "stopped").isEmpty)

        // Leased tasks are back in pending/ (one claim counted); nothing is active; nothing lost.
        #expect(root.taskIDs("active").isEmpty, "still active: \(root.taskIDs("active"))")
        for id in held {
            #expect(root.state(of: id) == "pending", "\(id) is in \(root.locations()[id] ?? [])")
            #expect((try? root.object(id, "pending"))?["attempts"] as? Int == 1)
        }
        let acknowledged = load.acknowledged
        let problems = Integration.spoolProblems(root, acknowledged: acknowledged)
        #expect(problems.isEmpty, "\(problems.prefix(20).joined(separator: "\n"))")
        #expect(Integration.temporaryFiles(under: root.path).isEmpty)
        print("SIGTERM drain: exited \(String(describing: exit)) after \(String(format: "%.2f", drainSeconds)) s; \(acknowledged.count) acknowledged; \(held.count) leased and returned")
    }
}
