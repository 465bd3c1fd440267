import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing
import PipeBusTasks

/// The runbook's own Python snippets (runbook/slow-task-processing.md), run with `python3`
/// against a live `pipebus sidecar`, and what the sidecar reports about their effects.
@Suite("Sidecar integration: the runbook's Python snippets", .serialized)
struct RunbookScriptTests {
    /// A root with the scripts installed in `<root>/runbook`, a sidecar for "marie", a client.
    private func withRunbookSidecar(
        metrics: Bool = false,
        _ body: (Integration.Root, Integration.SidecarProcess, Integration.Client, String) async throws -> Void
    ) async throws {
        try await Integration.withRunbookSidecar(metrics: metrics, body)
    }

    @Test("check_worker_health prints the sidecar's last heartbeat and the active tasks it counts")
    func checkWorkerHealth() async throws {
        try await withRunbookSidecar { root, _, client, scripts in
            let ids = ["health-a", "health-b", "health-c"]
            for id in ids { _ = try await client.submit(#"{"prompt":"p"}"#, id: id) }
            // A spool worker took two of them; one has been running for 100 s (by its mtime, set
            // once the sidecar has seen the moves: it stamps a move it sees on the mtime).
            let events = try await Integration.subscribeToEvents(client)
            defer { events.stop() }
            try root.move("health-a", from: "pending", to: "active")
            try root.move("health-b", from: "pending", to: "active")
            for id in ["health-a", "health-b"] {
                try await events.first("\(id) pending → active") { $0.kind == .transition && $0.taskID == id && $0.toState == .active }
            }
            _ = try await Integration.RunbookScripts.run("age_file.py", in: scripts, [root.taskPath("health-a", "active"), "100"])
            try await eventually("a heartbeat counting 2 active tasks") {
                ((root.heartbeat()?["counts"] as? [String: Any])?["active"] as? Int) == 2
            }

            let output = try await Integration.RunbookScripts.run("check_worker_health.py", in: scripts, [root.path])
            let heartbeat = try #require(root.heartbeat())
            let sections = output.components(separatedBy: "=== Worker: ")
            let marie = try #require(sections.first { $0.hasPrefix("marie ===") }, "output:\n\(output)")
            // The heartbeat printed is the sidecar's (it may have written a newer one since).
            let printed = try #require(
                marie.split(separator: "\n").first { $0.hasPrefix("Last heartbeat: ") }.map { String($0.dropFirst(16)) },
                "output:\n\(output)"
            )
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let printedDate = try #require(formatter.date(from: printed), "not ISO 8601: \(printed)")
            #expect(printed.hasSuffix("Z"), "heartbeat timestamp should be UTC: \(printed)")
            #expect(abs(printedDate.timeIntervalSinceNow) < 10)
            #expect(heartbeat["timestamp"] is String)
            #expect(marie.contains("Active tasks: 2"), "output:\n\(output)")
            #expect(marie.contains("Oldest task: health-a.json, Age: "), "output:\n\(output)")
            if let ageText = marie.split(separator: "\n").first(where: { $0.hasPrefix("Oldest task:") })?
                .components(separatedBy: "Age: ").last?.dropLast(), let age = Double(ageText)
            {
                #expect(age >= 100 && age < 130, "age \(age)")
            }
            // The other workers of the runbook's loop have no sidecar here: no heartbeat, no tasks.
            for other in ["anga", "fabien"] {
                let section = try #require(sections.first { $0.hasPrefix("\(other) ===") })
                #expect(!section.contains("Last heartbeat"))
                #expect(section.contains("Active tasks: 0"))
            }

            // The sidecar counts the same over the pipe. Its ages are times in state, which an
            // mtime set into the past does not change (the ctime of the os.utime bounds them).
            let status = try await client.status()
            #expect(status.active == 2)
            #expect(status.pending == 1)
            #expect(status.oldestActiveAgeMs < 100_000)
        }
    }

    @Test("replay_slow_task writes <id>_replay.json into pending/; the sidecar adopts and reports it")
    func replaySlowTask() async throws {
        try await withRunbookSidecar { root, sidecar, client, scripts in
            let original = try await client.submit(#"{"prompt":"slow one","model":"x"}"#, id: "slow-1", correlationID: "corr-slow-1")
            let events = try await Integration.subscribeToEvents(client)
            defer { events.stop() }
            // A spool worker took it and failed it.
            try root.move("slow-1", from: "pending", to: "active")
            try root.move("slow-1", from: "active", to: "failed")
            try await events.first("slow-1 active → failed") {
                $0.kind == .transition && $0.taskID == "slow-1" && $0.fromState == .active && $0.toState == .failed
            }

            let output = try await Integration.RunbookScripts.run("replay_slow_task.py", in: scripts, [root.path, "slow-1", "marie"])
            #expect(output.contains("Task slow-1 queued for replay at \(root.taskPath("slow-1_replay", "pending"))"), "output:\n\(output)")

            // The sidecar saw it appear: on the event stream (new → pending) ...
            let arrival = try await events.first("the event stream reporting slow-1_replay arriving in pending/") {
                $0.kind == .transition && $0.taskID == "slow-1_replay"
            }
            #expect(arrival.toState == .pending)
            #expect(arrival.fromState == .unspecified)
            // ... in a log line with the task id ...
            try await eventually("a \"task appeared\" log line for slow-1_replay") {
                !sidecar.logLines(containing: "task appeared", fields: ["task_id": "slow-1_replay"]).isEmpty
            }
            let appeared = try #require(sidecar.logLines(containing: "task appeared", fields: ["task_id": "slow-1_replay"]).first)
            #expect(appeared["state"] as? String == "pending")
            #expect(appeared["correlation_id"] as? String == "corr-slow-1", "the replay keeps the original's correlation id: \(appeared)")
            #expect(appeared["job"] as? String == "agent-orchestrator")
            #expect(appeared["worker"] as? String == "marie")

            // ... and serves it as a pending task, with the runbook's flags and a fresh trace.
            let replay = try await eventuallyValue("Tasks.Get slow-1_replay with the sidecar's keys") { () -> Pipebus_Tasks_V1_Task? in
                let info = try await client.get("slow-1_replay")
                return info.traceparent.isEmpty ? nil : info
            }
            #expect(replay.state == .pending)
            #expect(replay.correlationID == "corr-slow-1")
            #expect(replay.traceparent != original.traceparent)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(replay.json)) as? [String: Any])
            #expect(object["debug"] as? Bool == true)
            #expect(object["replay"] as? Bool == true)
            #expect(object["prompt"] as? String == "slow one")
            #expect(root.state(of: "slow-1") == "failed")
            #expect(root.state(of: "slow-1_replay") == "pending")
        }
    }

    @Test("clear-stuck (os.utime-aged active task) moves it to failed/: the sidecar reports active → failed and counts it")
    func clearStuckTasks() async throws {
        try await withRunbookSidecar(metrics: true) { root, sidecar, client, scripts in
            let port = try await sidecar.metricsPort()
            let events = try await Integration.subscribeToEvents(client)
            defer { events.stop() }
            for id in ["stuck-1", "busy-1"] {
                _ = try await client.submit(#"{"prompt":"p"}"#, id: id)
                try root.move(id, from: "pending", to: "active")
                try await events.first("\(id) pending → active") { $0.kind == .transition && $0.taskID == id && $0.toState == .active }
            }
            // stuck-1 has been active for 10 minutes (by its mtime); busy-1 just started.
            _ = try await Integration.RunbookScripts.run("age_file.py", in: scripts, [root.taskPath("stuck-1", "active"), "600"])
            let failedBefore = Integration.metricValue("task_failed_total", in: try await LoopbackHTTPClient(port: port).scrapeMetrics()) ?? 0

            let output = try await Integration.RunbookScripts.run("clear_stuck_tasks.py", in: scripts, [root.path])
            #expect(output.contains("Moved stuck task: stuck-1.json"), "output:\n\(output)")
            #expect(!output.contains("busy-1"), "output:\n\(output)")

            // Wait for the transition into failed/, which is the one under test.
            let event = try await events.first("the event stream reporting stuck-1 active → failed") {
                $0.kind == .transition && $0.taskID == "stuck-1" && $0.toState == .failed
            }
            #expect(event.fromState == .active)
            #expect(event.toState == .failed)
            #expect(!event.correlationID.isEmpty)
            try await eventually("task_failed_total to count the cleared task") {
                Integration.metricValue("task_failed_total", in: try await LoopbackHTTPClient(port: port).scrapeMetrics()) == failedBefore + 1
            }
            #expect(!sidecar.logLines(containing: "task active → failed", fields: ["task_id": "stuck-1"]).isEmpty)
            #expect(root.state(of: "stuck-1") == "failed")
            #expect(root.state(of: "busy-1") == "active")
            #expect(try await client.get("stuck-1").state == .failed)
        }
    }
}
