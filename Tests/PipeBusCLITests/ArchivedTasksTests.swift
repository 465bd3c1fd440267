import Foundation
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Finished tasks that retention moved to the archive (issue 18, item 2) are still found by the
/// runbook's commands: `tasks`, `replay` and `incident`; and a bad retention setting is refused.
@Suite struct ArchivedTasksTests {
    @Test("tasks, replay and incident find tasks retention archived")
    func archivedTasksAreFound() async throws {
        try await TestDeployment.with { deployment in
            let spool = "\(deployment.root)/tasks/marie"
            for folder in ["pending", "active", "completed", "failed"] {
                try FileManager.default.createDirectory(atPath: "\(spool)/\(folder)", withIntermediateDirectories: true)
            }
            try FileManager.default.createDirectory(atPath: "\(deployment.root)/config", withIntermediateDirectories: true)
            // Each folder keeps one task: the older of each pair goes to the archive.
            try Data(#"{"completed_max_count": 1, "failed_max_count": 1}"#.utf8)
                .write(to: URL(fileURLWithPath: "\(deployment.root)/config/marie.json"))
            let submitted = "2026-01-01T00:00:00.000Z"
            for (folder, id, extra) in [
                ("completed", "old-done", #""correlation_id": "req-42", "result": {"ok": true}"#),
                ("failed", "old-failed", #""correlation_id": "req-7", "error": "boom""#),
                ("completed", "new-done", #""correlation_id": "req-1", "result": {"ok": true}"#),
                ("failed", "new-failed", #""correlation_id": "req-2", "error": "boom""#),
            ] {
                try Data("{\"id\": \"\(id)\", \"submitted_at\": \"\(submitted)\", \(extra)}".utf8)
                    .write(to: URL(fileURLWithPath: "\(spool)/\(folder)/\(id).json"))
                usleep(20_000)  // an order of arrival, not a bound: the ctime tells them apart
            }
            try await deployment.startSidecar("marie", extraArguments: ["--retention-interval", "100ms"])
            try await eventually("retention to archive old-done and old-failed") {
                !FileManager.default.fileExists(atPath: "\(spool)/completed/old-done.json")
                    && !FileManager.default.fileExists(atPath: "\(spool)/failed/old-failed.json")
            }
            #expect(FileManager.default.fileExists(atPath: "\(spool)/completed/new-done.json"))
            #expect(FileManager.default.fileExists(atPath: "\(spool)/failed/new-failed.json"))

            let all = try await deployment.run(["tasks", "--worker", "marie", "--json", "--limit", "0"])
            #expect(all.status == 0, "\(all)")
            let rows = (all.json as? [[String: Any]]) ?? []
            #expect(Set(rows.compactMap { $0["id"] as? String }) == ["old-done", "old-failed", "new-done", "new-failed"], "\(all)")
            let byCorrelation = try await deployment.run(["tasks", "--worker", "marie", "--correlation-id", "req-42"])
            #expect(byCorrelation.status == 0, "\(byCorrelation)")
            #expect(byCorrelation.stdout.contains("old-done"), "\(byCorrelation)")
            #expect(byCorrelation.stderr.contains("read from the archive"), "\(byCorrelation)")
            let failedOnly = try await deployment.run(["tasks", "--worker", "marie", "--state", "failed", "--json"])
            #expect(Set(((failedOnly.json as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }) == ["old-failed", "new-failed"], "\(failedOnly)")

            let replay = try await deployment.run(["replay", "--worker", "marie", "old-failed"])
            #expect(replay.status == 0, "\(replay)")
            let copy = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(spool)/pending/old-failed_replay.json"))) as? [String: Any]
            #expect(copy?["replay_of"] as? String == "old-failed", "\(String(describing: copy))")
            #expect(copy?["correlation_id"] as? String == "req-7")
            #expect(copy?["error"] == nil)

            let incident = try await deployment.run(["incident", "--since", "1h", "--json"])
            #expect(incident.status == 0, "\(incident)")
            #expect((incident.json as? [String: Any])?["finished"] as? Int == 4, "archived tasks count in the window: \(incident)")
        }
    }

    @Test("a retention setting that is not a whole number ≥ 0 is refused, naming the key and the value")
    func badSettingIsRefused() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            let refused = try await deployment.run(["config", "--worker", "marie", "completed_max_age_seconds=\"1 week\""])
            #expect(refused.status == 2, "\(refused)")
            #expect(refused.stderr.contains(#"completed_max_age_seconds must be a whole number ≥ 0, got the string "1 week""#), "\(refused)")
            let negative = try await deployment.run(["config", "--worker", "marie", "failed_max_count=-1"])
            #expect(negative.status == 2, "\(negative)")
            #expect(negative.stderr.contains("failed_max_count must be a whole number ≥ 0, got -1"), "\(negative)")
            let shown = try await deployment.run(["config", "--worker", "marie"])
            #expect(shown.stdout.contains("completed_max_age_seconds  604800"), "the defaults keep a week: \(shown)")
        }
    }
}
