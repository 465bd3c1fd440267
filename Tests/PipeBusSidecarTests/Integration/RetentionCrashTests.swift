import Foundation
import PipeBusCore
import PipeBusTasks
import PipeBusTestSupport
import Testing

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

/// Retention in a real sidecar process killed in the middle of a move (issue 18, item 2): the
/// test hook `PIPEBUS_TEST_RETENTION_PAUSE` stops the pass once its batch is fsynced in the
/// archive and before any of its files is unlinked, and the test SIGKILLs the sidecar there.
@Suite("Retention across a SIGKILL", .serialized)
struct RetentionCrashTests {
    @Test("SIGKILL between the archive's fsync and the unlinks: after the restart every task is in the archive or completed/ exactly once, counted and census right")
    func killedMidMove() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let ids = (1...20).map { String(format: "task-%02d", $0) }
        for id in ids {
            try root.write(#"{"id": "\#(id)",\#n "result": {"ok": true}}"#, to: root.taskPath(id, "completed"))
        }
        // Keep one: the other 19 are past the count limit.
        try root.write(#"{"completed_max_count": 1}"#, to: root.configPath)
        let marker = "\(root.path)/retention-paused"
        var environment = ProcessInfo.processInfo.environment
        environment[Sidecar.retentionTestPauseVariable] = marker
        let arguments = ["--retention-interval", "200ms"]
        let paused = try await Integration.SidecarProcess(root: root, extraArguments: arguments, environment: environment)
        do {
            try await eventually("the retention pass to stop after its append; log:\n\(paused.logTail())", timeout: .seconds(20)) {
                FileManager.default.fileExists(atPath: marker)
            }
        } catch {
            await paused.process.killAndReap()
            throw error
        }
        await paused.process.killAndReap()

        // Killed mid-move: the batch is in the archive, and every file still in completed/.
        let archive = try TaskArchive(root: root.path, worker: root.worker)
        #expect(Set(root.taskIDs("completed")) == Set(ids))
        let before = try archivedIDs(archive)
        #expect(before.count == 19, "\(before)")

        environment[Sidecar.retentionTestPauseVariable] = nil
        let restarted = try await Integration.SidecarProcess(root: root, metrics: true, extraArguments: arguments, environment: environment)
        do {
            try await check(restarted, root: root, ids: ids, archive: archive, before: before)
        } catch {
            await restarted.process.killAndReap()
            throw error
        }
        await restarted.process.killAndReap()
    }

    private func check(_ restarted: Integration.SidecarProcess, root: Integration.Root, ids: [String], archive: TaskArchive, before: [String]) async throws {
        try await eventually("the restarted sidecar to finish the move; log:\n\(restarted.logTail())", timeout: .seconds(20)) {
            root.taskIDs("completed").count == 1
        }
        let after = try archivedIDs(archive)
        let kept = root.taskIDs("completed")
        #expect(after.count == 19, "nothing appended twice: \(after)")
        #expect(Set(after).count == 19)
        #expect((after + kept).sorted() == ids, "each task exactly once, in the archive or in completed/")
        #expect(Set(after) == Set(before), "the restart finished the killed run's batch")
        // The census saw the files leave, and the move is counted once (by the run that unlinked).
        let client = try await Integration.Client.connect(root, timeout: .seconds(5))
        defer { client.close() }
        try await eventually("status to count 1 completed task") { try await client.status().completed == 1 }
        let metrics = try await LoopbackHTTPClient(port: try await restarted.metricsPort()).scrapeMetrics()
        #expect(metrics.contains(#"task_archived_total{worker="marie",instance="it",state="completed"} 19"#), "\(metrics)")
        #expect(metrics.contains(#"task_archived_total{worker="marie",instance="it",state="failed"} 0"#))
    }

    /// Every line of every segment (a task appended twice shows twice here).
    private func archivedIDs(_ archive: TaskArchive) throws -> [String] {
        try archive.segmentNames().flatMap { name -> [String] in
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: "\(archive.path)/\(name)")))
            return LZ4Frame.frames(in: bytes).frames.flatMap { frame in
                frame.content.split(separator: UInt8(ascii: "\n")).compactMap { TaskArchive.parseLine(Array($0))?.id.rawValue }
            }
        }.sorted()
    }
}
