import Foundation
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, item 16: `pipebus diagnose` against real sidecars, one situation each. The host
/// bounds are lifted to 100 % so that a busy test machine is not a finding.
@Suite struct DiagnoseCommandTests {
    static let quick = ["--sample", "100ms", "--cpu-bound", "100", "--memory-bound", "100"]

    /// Runs `diagnose --json`; its findings.
    func diagnose(_ deployment: TestDeployment, _ extra: [String] = []) async throws -> (CommandResult, [[String: Any]]) {
        let result = try await deployment.run(["diagnose", "--json"] + Self.quick + extra)
        let object = try #require(result.json as? [String: Any], "\(result)")
        let findings = try #require(object["findings"] as? [[String: Any]], "\(result)")
        #expect(object["needs_action"] as? Bool == (result.status == 1), "\(result)")
        return (result, findings)
    }

    @Test func aHealthyDeploymentHasNoFindingsAndExitsZero() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startPipeSidecar("marie")
            try await deployment.startSidecar("anga")
            let id = try await deployment.submit("marie", #"{"n": 1}"#)
            try await deployment.waitForState(.completed, of: id, worker: "marie")

            let (result, findings) = try await diagnose(deployment)
            #expect(result.status == 0, "\(result)")
            #expect(findings.isEmpty, "\(result)")

            let text = try await deployment.run(["diagnose"] + Self.quick)
            #expect(text.status == 0, "\(text)")
            #expect(text.stdout.contains("No findings"), "\(text)")
        }
    }

    @Test func aStuckTaskIsCriticalWithTheClearStuckCommandNotRun() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startPipeSidecar("marie")
            try await deployment.submit("marie", #"{"stuck": true}"#, id: "stuck-1")
            try await deployment.waitForState(.active, of: "stuck-1", worker: "marie")
            // Its time in active/ must pass the bound given below.
            try await Task.sleep(for: .milliseconds(1500))

            let (result, findings) = try await diagnose(deployment, ["--stuck-after", "1s"])
            #expect(result.status == 1, "\(result)")
            let stuck = try #require(findings.first { $0["kind"] as? String == "stuck_tasks" }, "\(result)")
            #expect(stuck["severity"] as? String == "critical")
            #expect(stuck["worker"] as? String == "marie")
            #expect((stuck["evidence"] as? [String])?.contains { $0.hasPrefix("stuck-1 active for") } == true, "\(stuck)")
            let commands = stuck["commands"] as? [String] ?? []
            #expect(commands.contains("pipebus clear-stuck --root \(deployment.root) --worker marie --older-than 1s"), "\(commands)")
            // Printed, never run: the task is still active.
            #expect(try await deployment.state(of: "stuck-1", worker: "marie") == .active)

            // Under the bound, the same task is no finding.
            let (calm, calmFindings) = try await diagnose(deployment, ["--stuck-after", "1h"])
            #expect(calm.status == 0 && calmFindings.isEmpty, "\(calm)")
        }
    }

    @Test func aDeadSidecarIsCritical() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startPipeSidecar("marie")
            let anga = try await deployment.startSidecar("anga")
            // Killed once it has written a heartbeat (it answers calls before its first one).
            let heartbeat = "\(deployment.root)/workers/anga/heartbeat.json"
            try await eventually("anga's first heartbeat") { FileManager.default.fileExists(atPath: heartbeat) }
            anga.signal(SIGKILL)
            _ = await anga.wait(timeout: .seconds(10))

            let (result, findings) = try await diagnose(deployment)
            #expect(result.status == 1, "\(result)")
            #expect(findings.count == 1, "\(result)")
            let down = try #require(findings.first, "\(result)")
            #expect(down["kind"] as? String == "sidecar_down")
            #expect(down["severity"] as? String == "critical")
            #expect(down["worker"] as? String == "anga")
            #expect((down["evidence"] as? [String])?.contains { $0.hasPrefix("heartbeat.json:") } == true, "\(down)")
            #expect((down["commands"] as? [String])?.first == "pipebus health --root \(deployment.root) --worker anga", "\(down)")

            let text = try await deployment.run(["diagnose"] + Self.quick)
            #expect(text.status == 1)
            #expect(text.stdout.contains("CRITICAL  anga: the sidecar of anga does not answer"), "\(text)")

            // The incident report can carry the same findings.
            let incident = try await deployment.run(["incident", "--diagnose"])
            #expect(incident.status == 0, "\(incident)")
            let report = try String(contentsOfFile: incident.stdout.trimmingCharacters(in: .whitespacesAndNewlines), encoding: .utf8)
            #expect(report.contains("## Diagnosis (pipebus diagnose)"), "\(report)")
            #expect(report.contains("- **critical** anga: the sidecar of anga does not answer"), "\(report)")
        }
    }

    /// Six of eight tasks fail, and one more is stuck: both found, the critical one first.
    @Test func aHighFailureRateIsAWarningRankedAfterAStuckTask() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startPipeSidecar("marie")
            var ids: [String] = []
            for index in 0..<8 {
                ids.append(try await deployment.submit("marie", index < 6 ? #"{"fail": true}"# : #"{"n": 1}"#))
            }
            for (index, id) in ids.enumerated() {
                try await deployment.waitForState(index < 6 ? .failed : .completed, of: id, worker: "marie")
            }
            try await deployment.submit("marie", #"{"stuck": true}"#, id: "stuck-1")
            try await deployment.waitForState(.active, of: "stuck-1", worker: "marie")
            try await Task.sleep(for: .milliseconds(1500))

            let (result, findings) = try await diagnose(deployment, ["--stuck-after", "1s"])
            #expect(result.status == 1, "\(result)")
            #expect(findings.map { $0["kind"] as? String } == ["stuck_tasks", "failure_rate"], "\(result)")
            let failures = try #require(findings.last)
            #expect(failures["severity"] as? String == "warning")
            #expect((failures["evidence"] as? [String])?.first?.hasPrefix("6 of 8 tasks finished") == true, "\(failures)")
            #expect(
                (failures["commands"] as? [String])?.contains("pipebus tasks --root \(deployment.root) --worker marie --state failed --limit 10") == true,
                "\(failures)"
            )
        }
    }
}
