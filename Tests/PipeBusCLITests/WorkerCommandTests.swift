import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing

/// The demo pipe worker, run by hand beside a sidecar.
@Suite struct WorkerCommandTests {
    @Test func reconnectsAfterTheSidecarRestartsAndExitsOnSIGTERM() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie", mode: "pipe")
            let worker = try CLI.start([
                "worker", "--root", deployment.root, "--worker", "marie", "--min-ms", "10", "--max-ms", "50",
            ])
            let client = deployment.client("marie")
            defer { client.close() }
            try await eventually("the worker to lease") { (try? await client.status().leases) == 1 }
            try await deployment.submit("marie", #"{"n": 1}"#, id: "before")
            try await deployment.waitForState(.completed, of: "before", worker: "marie")

            #expect(await deployment.stopSidecar("marie") == .code(0))
            #expect(worker.isRunning, "the worker waits for its sidecar")
            try await deployment.startSidecar("marie", mode: "pipe", waitForLease: true)
            try await deployment.submit("marie", #"{"n": 2}"#, id: "after")
            try await deployment.waitForState(.completed, of: "after", worker: "marie")
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(deployment.root)/tasks/marie/completed/after.json"))
            let result = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["result"] as? [String: Any]
            #expect(result?["worker"] as? String == "marie")

            #expect(await worker.terminate() == .code(0), "\(worker)")
        }
    }

    @Test func holdsTasksConcurrentlyUpToTheBatchSize() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startPipeSidecar("marie")
            let config = try await deployment.run(["config", "--worker", "marie", "batch_size=4"])
            #expect(config.status == 0, "\(config)")
            for number in 1...5 { try await deployment.submit("marie", #"{"stuck": true}"#, id: "s-\(number)") }
            let client = deployment.client("marie")
            defer { client.close() }
            try await eventually("four tasks active at once, one waiting") {
                guard let status = try? await client.status() else { return false }
                return status.active == 4 && status.pending == 1
            }
        }
    }
}
