import Foundation
import PipeBusCore
import PipeBusTasks
import PipeBusTestSupport
import Testing
import PipeBusSystem
import SystemPackage

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

/// The records of the spool's own writes, handed to the watcher instead of a read
/// (`TaskSpool.ownRecord`, `OwnWrites`).
@Suite("TaskSpool own writes")
struct TaskSpoolOwnWritesTests {
    @Test("each write's record is what reading the file gives, and is the file's own record until it changes")
    func recordsAreTheFiles() throws {
        try withSpool { spool, _ in
            let user: [String: Any] = ["prompt": "p", "n": 3, "x": 1.5, "flag": true, "nested": ["a": [1, "b", NSNull()]]]
            let trace = TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: nil)
            let submitted = try spool.submit(object: user, id: TaskID("t1"), correlationID: "corr-1", traceContext: trace)
            #expect(try spool.get(TaskID("t1"), in: .pending) == submitted)
            #expect(try spool.ownRecord(TaskID("t1"), in: .pending) == submitted)
            #expect(submitted.hasSidecarKeys)

            let claimed = try spool.claim(TaskID("t1"))
            #expect(try spool.get(TaskID("t1"), in: .active) == claimed)
            #expect(try spool.ownRecord(TaskID("t1"), in: .active) == claimed)
            #expect(claimed.attempts == 1)
            // Moved away: the old folder's record is no longer the file's.
            #expect(try spool.ownRecord(TaskID("t1"), in: .pending) == nil)

            let completed = try spool.complete(TaskID("t1"), result: ["answer": 42])
            #expect(try spool.get(TaskID("t1"), in: .completed) == completed)
            #expect(try spool.ownRecord(TaskID("t1"), in: .completed) == completed)
            #expect(completed.hasResult)

            try spool.submit(object: [:], id: TaskID("t2"))
            try spool.claim(TaskID("t2"))
            let failed = try spool.fail(TaskID("t2"), error: "boom")
            #expect(try spool.get(TaskID("t2"), in: .failed) == failed)
            #expect(try spool.ownRecord(TaskID("t2"), in: .failed) == failed)
            #expect(failed.errorMessage == "boom")

            let updated = try spool.update(TaskID("t2"), in: .failed) { $0["note"] = "checked" }
            #expect(try spool.get(TaskID("t2"), in: .failed) == updated)
            #expect(try spool.ownRecord(TaskID("t2"), in: .failed) == updated)
        }
    }

    @Test("a file changed by someone else, in place or by a rename over it, is not taken for the spool's own")
    func changedFilesAreNotOwn() throws {
        try withSpool { spool, _ in
            let pending = spool.layout.directory(for: .pending)
            try spool.submit(object: ["a": 1], id: TaskID("in-place"))
            try spool.submit(object: ["a": 1], id: TaskID("renamed"))
            try spool.submit(object: ["a": 1], id: TaskID("removed"))
            #expect(try spool.ownRecord(TaskID("in-place"), in: .pending) != nil)

            // Same inode, other bytes: an editor writing in place, a script's `>`.
            try writeByHand("\(pending)/in-place.json", "not json")
            #expect(try spool.ownRecord(TaskID("in-place"), in: .pending) == nil)

            // Another file renamed onto the name.
            try writeByHand("\(pending)/.other", #"{"id": "renamed"}"#)
            try renameByHand("\(pending)/.other", "\(pending)/renamed.json")
            #expect(try spool.ownRecord(TaskID("renamed"), in: .pending) == nil)

            #expect(unlink("\(pending)/removed.json") == 0)
            #expect(try spool.ownRecord(TaskID("removed"), in: .pending) == nil)
            // Never written by this spool at all.
            try writeByHand("\(pending)/by-hand.json", "{}")
            #expect(try spool.ownRecord(TaskID("by-hand"), in: .pending) == nil)
        }
    }

    @Test("bounded: past its capacity the oldest writes are forgotten, a rewrite keeps its place")
    func bounded() throws {
        try withSpool { spool, _ in
            let records = try (0..<5).map { try spool.submit(object: [:], id: TaskID("t\($0)")) }
            var writes = OwnWrites(capacity: 3)
            for record in records.prefix(3) {
                writes.note(try Self.written(record, spool))
            }
            // A rewrite of t0 replaces its entry and keeps its place in the ring.
            writes.note(try Self.written(records[0], spool))
            #expect(writes.count == 3)
            writes.note(try Self.written(records[3], spool))
            writes.note(try Self.written(records[4], spool))
            #expect(writes.count == 3)
            #expect(try writes.written(TaskID("t0"), in: .pending) == nil)
            #expect(try writes.written(TaskID("t1"), in: .pending) == nil)
            #expect(try writes.written(TaskID("t2"), in: .pending)?.record == records[2])
            #expect(try writes.written(TaskID("t4"), in: .pending)?.record == records[4])
            // Keyed by state as well as id.
            #expect(try writes.written(TaskID("t4"), in: .active) == nil)
        }
    }

    private static func written(_ record: TaskRecord, _ spool: TaskSpool) throws -> OwnWrites.Written {
        let info = try #require(try spool.layout.filePath(record.id, record.state).lstat())
        return OwnWrites.Written(record: record, info: info)
    }
}
