import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `pipebus tasks` on a big spool: streamed from a real sidecar, newest first, filtered,
/// stopped when the client goes away, in constant memory; read from the files when the sidecar
/// is down.
@Suite(.serialized) struct TasksListingTests {
    /// Writes `count` completed task files straight into the spool (as a spool worker leaves
    /// them), `t-00000` first; ids sort in the order written, which breaks ties between files
    /// that entered the folder within one tick of the file system's clock.
    static func writeCompletedTasks(
        root: String,
        worker: String,
        count: Int,
        first: Int = 0,
        padding: Int = 200,
        correlationID: (Int) -> String = { "corr-\($0)" }
    ) throws {
        let folder = "\(root)/tasks/\(worker)/completed"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let filler = String(repeating: "x", count: padding)
        let submitted = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-60))
        for index in first..<(first + count) {
            let id = name(index)
            let json = """
                {"id": "\(id)", "correlation_id": "\(correlationID(index))", "attempts": 1, \
                "submitted_at": "\(submitted)", \
                "_trace_context": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, \
                "prompt": "\(filler)", "result": {"summary": "done"}}
                """
            // open/write/close: FileManager's atomic write costs ~3 ms a file on a busy machine.
            let fd = open("\(folder)/\(id).json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw TestFailure("could not create \(folder)/\(id).json: errno \(errno)") }
            defer { close(fd) }
            let bytes = Array(json.utf8)
            guard write(fd, bytes, bytes.count) == bytes.count else { throw TestFailure("short write of \(id)") }
        }
    }

    static func name(_ index: Int) -> String { "t-" + String(format: "%05d", index) }

    static func ids(_ result: CommandResult) throws -> [String] {
        guard let tasks = result.json as? [[String: Any]] else { throw TestFailure("not a JSON array of tasks:\n\(result)") }
        return tasks.map { $0["id"] as? String ?? "?" }
    }

    @Test func bigSpoolListsNewestFirstWithLimitAndOldestFirst() async throws {
        try await TestDeployment.with { deployment in
            try Self.writeCompletedTasks(root: deployment.root, worker: "marie", count: 5000)
            try await deployment.startSidecar("marie")

            let newest = try await deployment.run(["tasks", "--worker", "marie", "--limit", "3000", "--json"])
            #expect(newest.status == 0, "\(newest.stderr)")
            let expected = (2000..<5000).reversed().map(Self.name)
            #expect(try Self.ids(newest) == expected)

            let oldest = try await deployment.run([
                "tasks", "--worker", "marie", "--state", "completed", "--oldest-first", "--limit", "5", "--json",
            ])
            #expect(try Self.ids(oldest) == (0..<5).map(Self.name), "\(oldest)")

            let table = try await deployment.run(["tasks", "--worker", "marie", "--limit", "3"])
            let lines = table.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 5, "header, rule and 3 rows:\n\(table)")
            #expect(lines.first?.hasPrefix("ID") == true && lines.first?.contains("IN STATE") == true, "\(table)")
            #expect(lines.first?.contains("DURATION") == true, "\(table)")
            #expect(lines.dropFirst(2).first?.hasPrefix("t-04999 ") == true, "\(table)")
            // Completed a minute (and the time the files took to write) after its submission.
            #expect(lines.dropFirst(2).first?.contains(" 1m") == true, "\(table)")

            let all = try await deployment.run(["tasks", "--worker", "marie", "--limit", "0", "--json"])
            #expect(try Self.ids(all).count == 5000, "--limit 0 lists everything")
        }
    }

    @Test func filtersByCorrelationIDAndEntryTime() async throws {
        try await TestDeployment.with { deployment in
            try Self.writeCompletedTasks(root: deployment.root, worker: "marie", count: 1000) {
                $0 % 100 == 7 ? "incident-42" : "corr-\($0)"
            }
            try await deployment.startSidecar("marie")
            let correlated = try await deployment.run([
                "tasks", "--worker", "marie", "--correlation-id", "incident-42", "--json",
            ])
            #expect(try Self.ids(correlated) == stride(from: 907, through: 7, by: -100).map(Self.name), "\(correlated)")
            let none = try await deployment.run(["tasks", "--worker", "marie", "--correlation-id", "nobody"])
            #expect(none.status == 0 && none.stdout.contains("no tasks (correlation id nobody)"), "\(none)")

            // A second batch enters completed/ later; `--since` is set between the two batches,
            // with a margin on each side. The run must start within the margin after it was
            // set, which a loaded machine may miss: that run is repeated, not judged.
            let margin = 1.0
            let firstBatchDone = Date()
            try await Task.sleep(for: .seconds(2 * margin))
            try Self.writeCompletedTasks(root: deployment.root, worker: "marie", count: 10, first: 1000)
            var judged = false
            for _ in 0..<5 where !judged {
                let since = Date().timeIntervalSince(firstBatchDone) - margin
                let started = Date()
                let recent = try await deployment.run([
                    "tasks", "--worker", "marie", "--since", "\(Int(since * 1000))ms", "--json",
                ])
                let ids = try Self.ids(recent)
                #expect(!ids.contains { $0 < Self.name(1000) }, "the first batch entered before --since: \(ids)")
                if Date().timeIntervalSince(started) < margin {
                    #expect(ids == (1000..<1010).reversed().map(Self.name), "\(recent)")
                    judged = true
                }
            }
            #expect(judged, "every run took longer than the margin")
            let older = try await deployment.run(["tasks", "--worker", "marie", "--older-than", "1h"])
            #expect(older.stdout.contains("no tasks"), "\(older)")
        }
    }

    /// A client that goes away mid-listing stops the sidecar's work: its log says where it
    /// stopped, well short of the spool, and its CPU time afterwards is what it spends idle,
    /// not what the rest of the listing would cost (both measured in this test).
    @Test func clientGoingAwayStopsTheListing() async throws {
        try await TestDeployment.with { deployment in
            let count = 10_000
            try Self.writeCompletedTasks(root: deployment.root, worker: "marie", count: count, padding: 1000)
            // Few heartbeats (each counts the spool), so that idling costs little.
            let sidecar = try await deployment.startSidecar("marie", heartbeatInterval: 30)
            let window = Duration.seconds(2)

            let idleStart = try ProcessSample.cpuTicks(sidecar.pid)
            try await Task.sleep(for: window)
            let idleTicks = try ProcessSample.cpuTicks(sidecar.pid) - idleStart

            let wholeStart = try ProcessSample.cpuTicks(sidecar.pid)
            let whole = try await deployment.run(["tasks", "--worker", "marie", "--limit", "0", "--json"], timeout: .seconds(120))
            #expect(try Self.ids(whole).count == count)
            let wholeTicks = try ProcessSample.cpuTicks(sidecar.pid) - wholeStart

            let client = try CLI.start(["tasks", "--worker", "marie", "--limit", "0", "--root", deployment.root])
            try await eventually("the first rows", every: .milliseconds(2)) { client.stdoutLines.count > 2 }
            client.signal(SIGKILL)
            _ = await client.wait(timeout: .seconds(10))

            var stopLine: String?
            try await eventually("the sidecar to log that the listing stopped") {
                stopLine = sidecar.stderr.split(separator: "\n").map(String.init)
                    .first { $0.contains("task listing stopped") }
                return stopLine != nil
            }
            let logged = try #require(stopLine)
            let object = try JSONSerialization.jsonObject(with: Data(logged.utf8)) as? [String: Any]
            let filesRead = Int(object?["files_read"] as? String ?? "") ?? Int.max
            #expect(filesRead < count / 2, "stopped well short of the spool: \(logged)")

            let stoppedAt = try ProcessSample.cpuTicks(sidecar.pid)
            try await Task.sleep(for: window)
            let afterTicks = try ProcessSample.cpuTicks(sidecar.pid) - stoppedAt
            #expect(
                afterTicks - idleTicks < max(wholeTicks / 4, 2),
                "CPU ticks over \(window): idle \(idleTicks), after the stop \(afterTicks); whole listing \(wholeTicks)"
            )
        }
    }

    /// The sidecar holds no listed task: its RSS after listing 3,000 of 5,000 tasks (five times
    /// over) stays within a bound of its RSS after a small listing, measured in the same run.
    @Test func listingDoesNotGrowTheSidecar() async throws {
        try await TestDeployment.with { deployment in
            try Self.writeCompletedTasks(root: deployment.root, worker: "marie", count: 5000, padding: 2000)
            let sidecar = try await deployment.startSidecar("marie")
            let warmUp = try await deployment.run(["tasks", "--worker", "marie", "--limit", "10", "--json"])
            #expect(try Self.ids(warmUp).count == 10)
            let baseline = try ProcessSample.residentBytes(sidecar.pid)
            for _ in 0..<5 {
                let big = try await deployment.run(["tasks", "--worker", "marie", "--limit", "3000", "--json"])
                #expect(try Self.ids(big).count == 3000)
            }
            let after = try ProcessSample.residentBytes(sidecar.pid)
            // 3,000 tasks of ~2.3 KB are ~7 MB as bytes alone, several times that parsed.
            #expect(after - baseline < 8 << 20, "RSS \(baseline >> 10) KiB before, \(after >> 10) KiB after")
        }
    }

    @Test func sidecarDownReadsTheSpoolDirectly() async throws {
        try await TestDeployment.with { deployment in
            try Self.writeCompletedTasks(root: deployment.root, worker: "marie", count: 20) {
                $0 == 3 ? "incident-7" : "corr-\($0)"
            }
            try await deployment.startSidecar("marie")
            try await deployment.submit("marie", #"{"prompt": "waiting"}"#, id: "p-1")
            await deployment.stopSidecar("marie")

            let table = try await deployment.run(["tasks", "--worker", "marie", "--limit", "5"])
            #expect(table.status == 0, "\(table)")
            #expect(table.stderr.contains("sidecar of worker marie not reachable; read the spool directly"), "\(table)")
            let rows = table.stdout.split(separator: "\n").dropFirst(2)
            #expect(rows.count == 5 && rows.first?.hasPrefix("p-1 ") == true, "newest first:\n\(table)")

            let json = try await deployment.run(["tasks", "--worker", "marie", "--correlation-id", "incident-7", "--json"])
            #expect(json.status == 0, "\(json)")
            #expect(try Self.ids(json) == [Self.name(3)], "\(json)")
            let pending = try await deployment.run(["tasks", "--worker", "marie", "--state", "pending", "--json"])
            let task = (pending.json as? [[String: Any]])?.first?["task"] as? [String: Any]
            #expect(task?["prompt"] as? String == "waiting", "\(pending)")
        }
    }
}
