import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing

/// submit, tasks, replay and clear-stuck against live sidecars.
@Suite struct TaskCommandsTests {
    @Test func submitFromFileAndStdinThenList() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            let file = deployment.root + "/task.json"
            try Data(#"{"prompt": "summarise", "priority": 2}"#.utf8).write(to: URL(fileURLWithPath: file))

            let fromFile = try await deployment.run(["submit", "--worker", "marie", "--id", "t-1", file])
            #expect(fromFile.status == 0, "\(fromFile)")
            #expect(fromFile.stdout == "t-1\n", "\(fromFile)")
            #expect(FileManager.default.fileExists(atPath: "\(deployment.root)/tasks/marie/pending/t-1.json"))

            let fromStdin = try await deployment.run(
                ["submit", "--worker", "marie", "--json", "-"],
                stdin: #"{"prompt": "review"}"#
            )
            #expect(fromStdin.status == 0, "\(fromStdin)")
            let submitted = fromStdin.json as? [String: Any]
            let generated = try #require(submitted?["id"] as? String)
            #expect((submitted?["correlation_id"] as? String)?.isEmpty == false)
            #expect((submitted?["task"] as? [String: Any])?["prompt"] as? String == "review")

            let duplicate = try await deployment.run(["submit", "--worker", "marie", "--id", "t-1", file])
            #expect(duplicate.status == 1, "\(duplicate)")
            #expect(duplicate.stderr.contains("already exists"), "\(duplicate)")

            let table = try await deployment.run(["tasks", "--worker", "marie"])
            #expect(table.status == 0, "\(table)")
            #expect(table.stdout.contains("t-1") && table.stdout.contains(generated), "\(table)")
            #expect(table.stdout.contains("pending"), "\(table)")

            let pending = try await deployment.run(["tasks", "--worker", "marie", "--state", "pending", "--json"])
            #expect((pending.json as? [[String: Any]])?.count == 2, "\(pending)")
            let active = try await deployment.run(["tasks", "--worker", "marie", "--state", "active", "--json"])
            #expect((active.json as? [[String: Any]])?.isEmpty == true, "\(active)")
            let old = try await deployment.run(["tasks", "--worker", "marie", "--older-than", "1h"])
            #expect(old.status == 0, "\(old)")
            #expect(old.stdout.contains("no tasks"), "\(old)")
        }
    }

    @Test func malformedTaskFileIsRefused() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            let file = deployment.root + "/broken.json"
            try Data(#"{"prompt": "unterminated"#.utf8).write(to: URL(fileURLWithPath: file))
            let broken = try await deployment.run(["submit", "--worker", "marie", file])
            #expect(broken.status == 1, "\(broken)")
            #expect(broken.stderr.contains("is not valid JSON"), "\(broken)")

            let array = try await deployment.run(["submit", "--worker", "marie", "-"], stdin: "[1, 2]")
            #expect(array.status == 1, "\(array)")
            #expect(array.stderr.contains("a task must be a JSON object, got an array"), "\(array)")

            let missing = try await deployment.run(["submit", "--worker", "marie", deployment.root + "/nope.json"])
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.stderr.contains("no such file"), "\(missing)")

            let pending = try FileManager.default.contentsOfDirectory(atPath: "\(deployment.root)/tasks/marie/pending")
            #expect(pending.filter { !$0.hasPrefix(".") }.isEmpty, "nothing was submitted: \(pending)")
        }
    }

    @Test func replayFailedTaskAndUnknownTask() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startPipeSidecar("marie")
            try await deployment.submit("marie", #"{"fail": true, "duration_ms": 10}"#, id: "bad-1")
            try await deployment.submit("marie", #"{"duration_ms": 10}"#, id: "good-1")
            try await deployment.waitForState(.failed, of: "bad-1", worker: "marie")
            try await deployment.waitForState(.completed, of: "good-1", worker: "marie")

            let failed = try await deployment.run(["tasks", "--worker", "marie", "--state", "failed"])
            #expect(failed.stdout.contains("bad-1") && failed.stdout.contains("asked to fail"), "\(failed)")

            let replay = try await deployment.run(["replay", "--worker", "marie", "bad-1"])
            #expect(replay.status == 0, "\(replay)")
            #expect(replay.stdout.contains("queued for replay as bad-1_replay"), "\(replay)")
            // The replay fails again (it keeps "fail": true) and carries debug and replay.
            try await deployment.waitForState(.failed, of: "bad-1_replay", worker: "marie")
            let data = try Data(
                contentsOf: URL(fileURLWithPath: "\(deployment.root)/tasks/marie/failed/bad-1_replay.json")
            )
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            #expect(object?["replay"] as? Bool == true && object?["debug"] as? Bool == true)

            let unknown = try await deployment.run(["replay", "--worker", "marie", "no-such-task"])
            #expect(unknown.status == 1, "\(unknown)")
            #expect(unknown.stderr.contains("no-such-task") && unknown.stderr.contains("not found"), "\(unknown)")
        }
    }

    @Test func clearStuckMovesOnlyOldActiveTasks() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startPipeSidecar("marie")
            try await deployment.submit("marie", #"{"stuck": true}"#, id: "stuck-1")
            try await deployment.waitForState(.active, of: "stuck-1", worker: "marie")

            let tooYoung = try await deployment.run(["clear-stuck", "--worker", "marie", "--older-than", "1h"])
            #expect(tooYoung.status == 0, "\(tooYoung)")
            #expect(tooYoung.stdout.contains("no active task"), "\(tooYoung)")

            let old = try await deployment.run([
                "tasks", "--worker", "marie", "--state", "active", "--older-than", "1h", "--json",
            ])
            #expect((old.json as? [[String: Any]])?.isEmpty == true, "\(old)")

            var cleared: CommandResult?
            try await eventually("clear-stuck to move stuck-1") {
                let result = try await deployment.run(["clear-stuck", "--worker", "marie", "--older-than", "300ms"])
                cleared = result
                return result.stdout.contains("Moved stuck task: stuck-1")
            }
            #expect(cleared?.status == 0)
            // Its time in active/, not its few milliseconds in failed/ since the move.
            #expect(cleared?.stdout.contains("(in active/ for more than 300ms,") == true, "\(String(describing: cleared))")
            #expect(try await deployment.state(of: "stuck-1", worker: "marie") == .failed)
            let failed = try await deployment.run(["tasks", "--worker", "marie", "--state", "failed", "--json"])
            let error = ((failed.json as? [[String: Any]])?.first?["task"] as? [String: Any])?["error"] as? String
            #expect(error?.contains("stuck") == true, "\(failed)")
        }
    }

    @Test func unknownTaskAndUnreachableSidecarAreErrors() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            await deployment.stopSidecar("marie")
            // (`tasks` reads the spool itself then: TasksListingTests.)
            let result = try await deployment.run(["replay", "--worker", "marie", "task-1"])
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("sidecar of worker marie is not reachable"), "\(result)")
            // An answer at once, not after a timeout: as long as starting the CLI, give or take.
            let startup = try await deployment.startupBaseline()
            #expect(result.elapsed < startup + .seconds(1), "took \(result.elapsed); starting the CLI takes \(startup)")
        }
    }
}
