import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing
import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif

/// What the spool means, as a live `pipebus sidecar` keeps it while spool workers, pipe
/// workers and the runbook's snippets move files: a task's age is its time in its state,
/// FAIL 5m survives a restart, what is not a task is moved aside once, a failed task file can
/// declare a Claude error, and a copy dropped into pending/ is a new task.
@Suite("Sidecar integration: spool semantics (age in state, failures, quarantine, replays)", .serialized)
struct SpoolSemanticsTests {
    /// Seconds since `path`'s mtime, as the runbook computes a task's age.
    private func mtimeAge(_ path: String) throws -> Double {
        let info = try fileStatus(path)
        return Date().timeIntervalSince1970 - (Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
    }

    @Test("clear-stuck takes a task by its time in active/, not by how long it waited in pending/")
    func clearStuckByTimeInState() async throws {
        try await Integration.withRunbookSidecar { root, _, client, scripts in
            let threshold: Duration = .seconds(10)
            _ = try await client.submit(#"{"prompt":"p"}"#, id: "stuck")
            _ = try await client.submit(#"{"prompt":"p"}"#, id: "waited")
            // A spool worker took "stuck", which has been running longer than the threshold since.
            try root.move("stuck", from: "pending", to: "active")
            let stuckSince = ContinuousClock.now
            // "waited" sat in pending/ for 6 minutes (its mtime says so) ...
            _ = try await Integration.RunbookScripts.run("age_file.py", in: scripts, [root.taskPath("waited", "pending"), "360"])
            try await Task.sleep(until: stuckSince + threshold + .milliseconds(500), clock: .continuous)
            // ... and a spool worker has just started it (os.rename keeps the mtime).
            try root.move("waited", from: "pending", to: "active")
            let waitedSince = ContinuousClock.now

            let dryRun = try await client.clearStuck(olderThan: threshold, dryRun: true)
            let cleared = try await client.clearStuck(olderThan: threshold)
            let fiveMinutes = try await client.clearStuck(olderThan: .seconds(300))
            let callsTook = waitedSince.duration(to: .now)
            #expect(dryRun.map(\.id) == ["stuck"])
            #expect(cleared.map(\.id) == ["stuck"])
            #expect(fiveMinutes.isEmpty, "waited 6 minutes in pending/, active for \(callsTook)")
            #expect(root.locations()["waited"] == ["active"])
            #expect(root.locations()["stuck"] == ["failed"])
            #expect(try root.object("stuck", "failed")["error"] as? String != nil)

            // The sidecar stamps the claim on the file: the runbook's mtime-based snippets agree.
            try await eventually("the sidecar to stamp waited's move into active/ on its mtime") {
                try mtimeAge(root.taskPath("waited", "active")) < 60
            }
            let clearOutput = try await Integration.RunbookScripts.run("clear_stuck_tasks.py", in: scripts, [root.path])
            #expect(!clearOutput.contains("waited"), "the runbook's clear-stuck moved a task that has just started:\n\(clearOutput)")
            #expect(root.locations()["waited"] == ["active"])
            let health = try await Integration.RunbookScripts.run("check_worker_health.py", in: scripts, [root.path])
            let marie = try #require(health.components(separatedBy: "=== Worker: ").first { $0.hasPrefix("marie ===") })
            let ageLine = try #require(marie.split(separator: "\n").first { $0.hasPrefix("Oldest task: waited.json, Age: ") }, "\(health)")
            let printedAge = try #require(Double(ageLine.dropFirst("Oldest task: waited.json, Age: ".count).dropLast()))
            let status = try await client.status()
            let bound = waitedSince.duration(to: .now)
            #expect(printedAge >= 0 && printedAge <= Double(bound.components.seconds) + 1, "runbook age \(printedAge) s, active for \(bound)")
            #expect(status.oldestActiveID == "waited")
            #expect(Double(status.oldestActiveAgeMs) / 1000 <= Double(bound.components.seconds) + 1, "status age \(status.oldestActiveAgeMs) ms, active for \(bound)")
            // Tasks.Get's modified_at_ms is the same instant: when it entered active/.
            let info = try await client.get("waited")
            #expect(abs(Double(info.modifiedAtMs) / 1000 - (Date().timeIntervalSince1970 - printedAge)) < Double(bound.components.seconds) + 1)
        }
    }

    @Test("a pipe worker's Finish of a task cleared while leased fails clearly; the task stays in failed/ only")
    func finishOfAClearedTask() async throws {
        try await Integration.withRunbookSidecar(mode: "pipe") { root, _, client, _ in
            let worker = try await Integration.Client.connect(root, timeout: .seconds(10))
            defer { worker.close() }
            let lease = Integration.LeaseCollector(worker, Pipebus_Tasks_V1_Tasks.Method.Lease.descriptor, request: Pipebus_Tasks_V1_LeaseRequest(maxInFlight: 0))
            defer { lease.stop() }
            _ = try await client.submit(#"{"prompt":"long"}"#, id: "long-1")
            try await lease.first("long-1 leased") { $0.id == "long-1" }
            let leasedAt = ContinuousClock.now
            try await Task.sleep(until: leasedAt + .milliseconds(1500), clock: .continuous)
            #expect(try await client.clearStuck(olderThan: .seconds(1)).map(\.id) == ["long-1"])

            do {
                _ = try await worker.finish("long-1")
                Issue.record("Finish of a cleared task succeeded")
            } catch let error as RPCError {
                #expect(error.code == .failedPrecondition, "\(error)")
                #expect(error.message.contains("failed/"), "\(error)")
            }
            #expect(root.locations()["long-1"] == ["failed"])
            let object = try root.object("long-1", "failed")
            #expect(object["result"] == nil)
            #expect((object["error"] as? String)?.contains("stuck") == true, "\(object)")
        }
    }

    @Test("a spool worker's outcome written as a new file beside a cleared task is moved aside")
    func duplicateOutcomeIsResolved() async throws {
        try await Integration.withRunbookSidecar { root, sidecar, client, _ in
            _ = try await client.submit(#"{"prompt":"p"}"#, id: "dup-1")
            try root.move("dup-1", from: "pending", to: "active")
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await client.clearStuck(olderThan: .seconds(1)).map(\.id) == ["dup-1"])
            // The worker writes its result as completed/dup-1.json (then would unlink active/).
            try root.write(#"{"id":"dup-1","result":"late"}"#, to: root.taskPath("dup-1", "completed"))
            try await eventually("the late copy to leave completed/") {
                root.locations()["dup-1"] == ["failed"]
            }
            #expect(root.names(in: root.quarantine).contains { $0.hasPrefix("completed.") && $0.hasSuffix("dup-1.json") })
            try await eventually("an error log line naming dup-1") {
                !sidecar.logLines(containing: "completed/ and failed/ at once", fields: ["task_id": "dup-1"]).isEmpty
            }
        }
    }

    @Test("FAIL 5m is read from failed/: a restarted sidecar shows the same count")
    func recentFailuresSurviveARestart() async throws {
        try await Integration.withRunbookSidecar { root, sidecar, client, _ in
            for n in 1...3 {
                _ = try await client.submit(#"{"prompt":"p"}"#, id: "fail-\(n)")
                try root.move("fail-\(n)", from: "pending", to: "active")
                try root.move("fail-\(n)", from: "active", to: "failed")
            }
            _ = try await client.submit(#"{"prompt":"p"}"#, id: "ok-1")
            try root.move("ok-1", from: "pending", to: "active")
            try root.move("ok-1", from: "active", to: "completed")
            try await eventually("status to count 3 failures") { try await client.status().failuresLast5M == 3 }
            client.close()

            sidecar.process.signal(SIGTERM)
            #expect(await sidecar.process.wait(timeout: .seconds(30)) != nil)
            try await sidecar.restart()
            let again = try await Integration.Client.connect(root, timeout: .seconds(10))
            defer { again.close() }
            #expect(try await again.status().failuresLast5M == 3)
            let events = try await Integration.subscribeToEvents(again)
            defer { events.stop() }
            let beat = try await events.first("a heartbeat after the restart") { $0.kind == .heartbeat }
            #expect(beat.status?.failuresLast5M == 3)
        }
    }

    @Test("an empty file in active/ is quarantined once and counted nowhere")
    func emptyFileInActiveIsQuarantinedOnce() async throws {
        try await Integration.withRunbookSidecar(metrics: true) { root, sidecar, client, _ in
            let port = try await sidecar.metricsPort()
            _ = try await client.submit(#"{"prompt":"p"}"#, id: "real-1")
            try root.move("real-1", from: "pending", to: "active")
            try root.write("", to: "\(root.folder("active"))/empty-1.json")

            try await eventually("empty-1.json to be quarantined") {
                root.names(in: root.quarantine).contains { $0.hasSuffix("empty-1.json") }
            }
            // A few heartbeats later (0.5 s apart): still one log line, one task everywhere.
            let seq = try await client.status().heartbeatSeq
            try await eventually("three more heartbeats") { try await client.status().heartbeatSeq >= seq + 3 }
            #expect(sidecar.logLines(containing: "quarantined a spool entry").count == 1)
            #expect(sidecar.logLines(containing: "skipping a spool entry").isEmpty, "warned about at every heartbeat")
            #expect(try await client.status().active == 1)
            #expect(((root.heartbeat()?["counts"] as? [String: Any])?["active"] as? Int) == 1)
            #expect(Integration.metricValue("active_tasks", in: try await LoopbackHTTPClient(port: port).scrapeMetrics()) == 1)
            #expect(root.taskIDs("active") == ["real-1"])
        }
    }

    @Test("a spool worker's failed task with error_kind claude_api counts in claude_api_errors_total")
    func claudeErrorKindIsCounted() async throws {
        try await Integration.withRunbookSidecar(metrics: true) { root, sidecar, client, _ in
            let port = try await sidecar.metricsPort()
            let before = Integration.metricValue("claude_api_errors_total", in: try await LoopbackHTTPClient(port: port).scrapeMetrics()) ?? 0
            for (id, kind) in [("claude-1", #","error_kind":"claude_api""#), ("other-1", "")] {
                _ = try await client.submit(#"{"prompt":"p"}"#, id: id)
                try root.move(id, from: "pending", to: "active")
                // The worker records the failure in its task file, then renames it to failed/.
                var object = try root.object(id, "active")
                object["error"] = "claude exited with status 1"
                let data = try JSONSerialization.data(withJSONObject: object)
                let text = String(decoding: data, as: UTF8.self).dropLast() + kind + "}"
                try root.write(String(text), to: root.taskPath(id, "active"))
                try root.move(id, from: "active", to: "failed")
            }
            try await eventually("both failures reported") { try await client.status().failuresLast5M == 2 }
            try await eventually("claude_api_errors_total to count the claude_api failure") {
                Integration.metricValue("claude_api_errors_total", in: try await LoopbackHTTPClient(port: port).scrapeMetrics()) == before + 1
            }
            try await Task.sleep(for: .seconds(1))
            #expect(Integration.metricValue("claude_api_errors_total", in: try await LoopbackHTTPClient(port: port).scrapeMetrics()) == before + 1)
        }
    }

    @Test("the runbook's replay is a new task: its own id, submitted_at and attempts, replay_of the original")
    func runbookReplayIsANewTask() async throws {
        try await Integration.withRunbookSidecar { root, _, client, scripts in
            let original = try await client.submit(#"{"prompt":"slow one"}"#, id: "slow-1", correlationID: "corr-slow-1")
            try root.move("slow-1", from: "pending", to: "active")
            var object = try root.object("slow-1", "active")
            object["attempts"] = 3
            object["error"] = "timed out"
            try root.write(String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self), to: root.taskPath("slow-1", "active"))
            try root.move("slow-1", from: "active", to: "failed")
            let replayedAt = Date()

            _ = try await Integration.RunbookScripts.run("replay_slow_task.py", in: scripts, [root.path, "slow-1", "marie"])
            let replay = try await eventuallyValue("slow-1_replay adopted by the sidecar") { () -> [String: Any]? in
                let object = try? root.object("slow-1_replay", "pending")
                return object?["id"] as? String == "slow-1_replay" ? object : nil
            }
            #expect(replay["replay_of"] as? String == "slow-1")
            #expect(replay["attempts"] as? Int == 0)
            #expect(replay["error"] == nil)
            #expect(replay["correlation_id"] as? String == "corr-slow-1")
            #expect(replay["replay"] as? Bool == true)
            let info = try await client.get("slow-1_replay")
            #expect(info.submittedAtMs > original.submittedAtMs)
            #expect(Double(info.submittedAtMs) / 1000 >= replayedAt.timeIntervalSince1970 - 1)
            #expect(info.attempts == 0)
        }
    }
}
