import Foundation
import Testing

@Suite struct IncidentCommandTests {
    @Test func writesTheRunbookTemplateWithFigures() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startPipeSidecar("marie")
            try await deployment.submit("marie", #"{"duration_ms": 1500}"#, id: "slow-1")
            try await deployment.submit("marie", #"{"duration_ms": 10}"#, id: "fast-1")
            try await deployment.submit("marie", #"{"duration_ms": 10, "fail": true}"#, id: "bad-1")
            for id in ["slow-1", "fast-1"] { try await deployment.waitForState(.completed, of: id, worker: "marie") }
            try await deployment.waitForState(.failed, of: "bad-1", worker: "marie")

            let result = try await deployment.run(["incident", "--since", "10m"])
            #expect(result.status == 0, "\(result)")
            let path = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(path.hasPrefix("\(deployment.root)/incidents/") && path.hasSuffix("-slow-tasks.md"), "\(result)")
            let name = (path as NSString).lastPathComponent
            #expect(name.range(of: #"^\d{8}-\d{6}-slow-tasks\.md$"#, options: .regularExpression) != nil, "\(name)")
            let report = try String(contentsOfFile: path, encoding: .utf8)

            for line in [
                "# Incident Report: Slow Task Processing", "**Duration:** [FILL IN]", "**Impact:** [FILL IN]",
                "## Root Cause\n[FILL IN]", "## Resolution\n[FILL IN]", "## Action Items\n- [ ] [FILL IN]",
                "## Metrics",
            ] {
                #expect(report.contains(line), "\(line) missing:\n\(report)")
            }
            #expect(!report.contains("**Date:** [FILL IN]"))
            #expect(report.contains("- Peak latency: ") && report.contains("(task slow-1 on marie"), "\(report)")
            #expect(report.contains("- Error rate: 33.3% (1 failed / 3 finished)"), "\(report)")
            #expect(report.contains("- Tasks affected: 1 (1 failed, 0 slower than 30.0s"), "\(report)")
            let slowLine = report.split(separator: "\n").first { $0.hasPrefix("| slow-1 |") }
            let correlation = try await deployment.client("marie").task("slow-1").correlationID
            #expect(slowLine?.contains(correlation) == true, "\(report)")

            let second = try await deployment.run(["incident", "--json"])
            let object = second.json as? [String: Any]
            #expect((object?["path"] as? String) != path, "a second report does not overwrite the first")
            #expect(object?["finished"] as? Int == 3)
        }
    }

    @Test func noTasksLeavesFillIns() async throws {
        try await TestDeployment.with { deployment in
            let result = try await deployment.run(["incident"])
            #expect(result.status == 0, "\(result)")
            let report = try String(
                contentsOfFile: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                encoding: .utf8
            )
            #expect(report.contains("- Peak latency: [FILL IN]"), "\(report)")
            #expect(report.contains("- Error rate: [FILL IN]"), "\(report)")
        }
    }
}
