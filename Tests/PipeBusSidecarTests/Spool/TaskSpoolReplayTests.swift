import Foundation
import PipeBusCore
import PipeBusTasks
import PipeBusTestSupport
import Testing

@testable import PipeBusSidecar

@Suite("TaskSpool replay and clearStuck")
struct TaskSpoolReplayTests {
    static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    /// A task that ran and failed, with every kind of key.
    private func failedTask(_ spool: TaskSpool, _ name: String) throws -> TaskID {
        let id = try TaskID(name)
        try spool.submit(
            object: ["prompt": "slow one", "options": ["n": 1]],
            id: id,
            correlationID: "corr-456",
            traceContext: TraceContext(traceparent: Self.traceparent)
        )
        try spool.claim(id)
        try spool.fail(id, error: "timed out")
        return id
    }

    @Test("replay does what the runbook does: <id>_replay.json in pending/, no _trace_context, debug and replay true")
    func replay() throws {
        try withSpool { spool, _ in
            let id = try failedTask(spool, "task-123")
            let record = try spool.replay(id)
            #expect(record.id.rawValue == "task-123_replay")
            #expect(record.state == .pending)
            let object = try readObject(spool.layout.directory(for: .pending) + "/task-123_replay.json")
            #expect(object["_trace_context"] == nil)
            #expect(object["debug"] as? Bool == true)
            #expect(object["replay"] as? Bool == true)
            #expect(object["prompt"] as? String == "slow one")
            #expect((object["options"] as? [String: Any])?["n"] as? Int == 1)
            #expect(object["correlation_id"] as? String == "corr-456")
            // As a new task: its own id, no attempts, no outcome.
            #expect(object["id"] as? String == "task-123_replay")
            #expect(object["attempts"] as? Int == 0)
            #expect(object["error"] == nil && object["result"] == nil)
            // The original stays where it was.
            #expect(try spool.get(id)?.state == .failed)
            expectRPCError(.alreadyExists) { try spool.replay(id) }
        }
    }

    @Test("replay looks in failed/ first, then completed/; elsewhere it is NOT_FOUND")
    func replaySources() throws {
        try withSpool { spool, _ in
            let done = try TaskID("done")
            try spool.submit(object: [:], id: done)
            try spool.claim(done)
            try spool.complete(done, result: "ok")
            #expect(try spool.replay(done).id.rawValue == "done_replay")
            let waiting = try TaskID("waiting")
            try spool.submit(object: [:], id: waiting)
            expectRPCError(.notFound) { try spool.replay(waiting) }
        }
    }

    @Test("the runbook's own replay (Python) yields the same task, and the spool reads it")
    func matchesRunbookPython() throws {
        guard
            let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(
                where: FileManager.default.isExecutableFile
            )
        else {
            // scripts/install-deps.sh installs python3: the runbook's snippets are Python.
            Issue.record("python3 is not installed (scripts/install-deps.sh installs it)")
            return
        }
        try withTemporaryDirectory { root in
            let runbookSpool = try TaskSpool(root: root + "/runbook", worker: "marie", logger: LogRecorder().logger)
            let ourSpool = try TaskSpool(root: root + "/ours", worker: "marie", logger: LogRecorder().logger)
            let id = try failedTask(runbookSpool, "task-123")
            try FileManager.default.copyItem(
                atPath: runbookSpool.layout.path(of: id, in: .failed),
                toPath: ourSpool.layout.path(of: id, in: .failed)
            )
            // The runbook's "Task Replay" function, verbatim but for the root.
            let script = """
                from pathlib import Path
                import json
                def replay_slow_task(task_id, worker_name):
                    task_file = Path(f"\(root)/runbook/tasks/{worker_name}/failed/{task_id}.json")
                    if not task_file.exists():
                        task_file = Path(f"\(root)/runbook/tasks/{worker_name}/completed/{task_id}.json")
                    if not task_file.exists():
                        print(f"Task {task_id} not found")
                        return
                    with open(task_file) as f:
                        task_data = json.load(f)
                    if '_trace_context' in task_data:
                        del task_data['_trace_context']
                    task_data['debug'] = True
                    task_data['replay'] = True
                    replay_file = Path(f"\(root)/runbook/tasks/{worker_name}/pending/{task_id}_replay.json")
                    with open(replay_file, 'w') as f:
                        json.dump(task_data, f, indent=2)
                replay_slow_task("task-123", "marie")
                """
            let process = try ChildProcess([python, "-c", script])
            let exit = process.waitBlocking(timeout: .seconds(60))
            #expect(exit == .code(0), "\(process)")

            let replayID = try TaskID("task-123_replay")
            let theirs = try #require(try runbookSpool.get(replayID))
            #expect(theirs.state == .pending)
            #expect(theirs.traceContext == nil)
            let ours = try ourSpool.replay(id)
            var theirObject = try theirs.object()
            var ourObject = try ours.object()
            // Keys the sidecar sets on any new task (on the runbook's copy too, once it adopts
            // it: `replay_of` among them); the runbook leaves the old values.
            for key in ["id", "attempts", "submitted_at", "error", "result", "replay_of"] {
                theirObject[key] = nil
                ourObject[key] = nil
            }
            // Compared as canonical JSON text: bridged NSNumber booleans do not compare reliably.
            func canonical(_ object: [String: Any]) throws -> String {
                String(
                    decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
                    as: UTF8.self
                )
            }
            #expect(try canonical(theirObject) == canonical(ourObject))
            #expect(try canonical(theirObject).contains(#""debug":true"#))
        }
    }

    @Test("clearStuck moves active tasks older than the threshold to failed/ with the reason")
    func clearStuck() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            let ids = try ["old-1", "old-2", "fresh"].map { try TaskID($0) }
            for id in ids { try spool.submit(object: [:], id: id) }
            // Ages come from the time each entered active/ (an mtime set back does not age one).
            try spool.claim(ids[1])
            clock.advance(by: .seconds(3200))
            try spool.claim(ids[0])
            clock.advance(by: .seconds(400))
            try spool.claim(ids[2])
            let moved = try spool.clearStuck(olderThan: .seconds(300), reason: "stuck for more than 5 minutes")
            #expect(Set(moved.map(\.id)) == [ids[0], ids[1]])
            #expect(moved.allSatisfy { $0.state == .failed && $0.errorMessage == "stuck for more than 5 minutes" })
            #expect(try spool.get(ids[2])?.state == .active)
            #expect(try spool.counts() == [.pending: 0, .active: 1, .completed: 0, .failed: 2])
            #expect(try spool.clearStuck(olderThan: .seconds(300), reason: "again").isEmpty)
        }
    }
}
