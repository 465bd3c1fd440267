import Foundation
import Testing

/// `pipebus retire`: a worker gone for good stops failing `status` and `health --all`.
@Suite struct RetireCommandTests {
    @Test func aRetiredWorkerIsShownAsRetiredAndDoesNotFail() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            try await deployment.startSidecar("anga")
            await deployment.stopSidecar("anga")  // anga is gone for good

            let before = try await deployment.run(["status"])
            #expect(before.status == 1, "\(before)")
            #expect(try await deployment.run(["health", "--all"]).status == 1)

            let retire = try await deployment.run(["retire", "--worker", "anga", "--reason", "decommissioned"])
            #expect(retire.status == 0, "\(retire)")
            #expect(FileManager.default.fileExists(atPath: "\(deployment.root)/workers/anga/retired.json"))

            let status = try await deployment.run(["status"])
            #expect(status.status == 0, "\(status)")
            let angaRow = status.stdout.split(separator: "\n").first { $0.hasPrefix("anga ") }
            #expect(angaRow?.contains("RETIRED") == true, "\(status)")
            #expect(status.stdout.contains("decommissioned"), "\(status)")

            let json = try await deployment.run(["status", "--json"])
            let rows = json.json as? [[String: Any]] ?? []
            let anga = rows.first { $0["worker"] as? String == "anga" }
            #expect(anga?["health"] as? String == "RETIRED", "\(json)")
            #expect((anga?["retired"] as? [String: Any])?["reason"] as? String == "decommissioned", "\(json)")

            let health = try await deployment.run(["health", "--all"])
            #expect(health.status == 0, "\(health)")
            #expect(health.stdout.contains("anga: RETIRED"), "\(health)")
            #expect(health.stdout.contains("marie: SERVING"), "\(health)")
            // Asked by name, a retired worker is still not SERVING.
            #expect(try await deployment.run(["health", "--worker", "anga"]).status == 1)

            // A failure of a worker that is not retired still counts.
            await deployment.stopSidecar("marie")
            #expect(try await deployment.run(["status"]).status == 1)
            #expect(try await deployment.run(["health", "--all"]).status == 1)

            let undo = try await deployment.run(["retire", "--worker", "anga", "--undo"])
            #expect(undo.status == 0, "\(undo)")
            #expect(!FileManager.default.fileExists(atPath: "\(deployment.root)/workers/anga/retired.json"))
            let after = try await deployment.run(["status"])
            #expect(after.stdout.split(separator: "\n").first { $0.hasPrefix("anga ") }?.contains("UNREACHABLE") == true, "\(after)")
        }
    }

    @Test func retiringAWorkerThatStillRunsOrHasTasksWarns() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            try await deployment.submit("marie", #"{"prompt": "p"}"#, id: "left-1")
            let retire = try await deployment.run(["retire", "--worker", "marie"])
            #expect(retire.status == 0, "\(retire)")
            #expect(retire.stderr.contains("its sidecar is still running"), "\(retire)")
            #expect(retire.stderr.contains("1 pending task(s) remain"), "\(retire)")
            // Running and answering: shown as it answers, with a note.
            let status = try await deployment.run(["status"])
            #expect(status.status == 0)
            #expect(status.stdout.contains("but its sidecar answers"), "\(status)")

            let unknown = try await deployment.run(["retire", "--worker", "nobody"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no worker named \"nobody\""), "\(unknown)")
        }
    }
}
