import Foundation
import PipeBusCore
import PipeBusTasks
import Testing

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

/// A task's age is its time in its current state folder (DESIGN §2), and `clear-stuck` acts on
/// nothing else: not on how long it waited before, not on when it was submitted.
@Suite("TaskSpool: age in state, clear-stuck")
struct TaskSpoolAgeTests {
    @Test("a task renamed into active/ by a spool worker is as old as the rename, not as its mtime")
    func foreignRenameCountsFromTheRename() throws {
        try withSpool { spool, _ in
            let id = try TaskID("waited")
            try spool.submit(object: [:], id: id)
            // It waited 6 minutes in pending/ (its mtime says so) ...
            try makeOld(spool.layout.path(of: id, in: .pending), by: .seconds(360))
            // ... and a spool worker has just claimed it, with os.rename: the mtime stays.
            try renameByHand(spool.layout.path(of: id, in: .pending), spool.layout.path(of: id, in: .active))
            let record = try #require(try spool.get(id, in: .active))
            #expect(SpoolClock.age(of: record.modified) > .seconds(300), "the mtime still says 6 minutes")
            #expect(spool.timeInState(record) < .seconds(60))
            #expect(try spool.list(.active, olderThan: .seconds(300)).isEmpty)
            #expect(try spool.clearStuck(olderThan: .seconds(300), reason: "stuck").isEmpty)
            #expect(try spool.get(id)?.state == .active)
        }
    }

    @Test("stampEntry sets the mtime to the rename, once, so the runbook's mtime age is right too")
    func stampEntryRecordsTheRename() throws {
        try withSpool { spool, _ in
            let id = try TaskID("claimed")
            try spool.submit(object: [:], id: id)
            try makeOld(spool.layout.path(of: id, in: .pending), by: .seconds(360))
            let active = spool.layout.path(of: id, in: .active)
            try renameByHand(spool.layout.path(of: id, in: .pending), active)
            let renamed = try fileStatus(active)

            #expect(try spool.stampEntry(id, in: .active))
            let stamped = try fileStatus(active)
            #expect(stamped.st_mtim.tv_sec == renamed.st_ctim.tv_sec && stamped.st_mtim.tv_nsec == renamed.st_ctim.tv_nsec)
            #expect(SpoolClock.age(of: SpoolClock.date(stamped.st_mtim)) < .seconds(60))
            // Stamped already (the stamp moved the ctime only by the time it took): nothing to do.
            #expect(try spool.stampEntry(id, in: .active) == false)
            // A task written in place, or gone, is left alone.
            #expect(try spool.stampEntry(try TaskID("absent"), in: .active) == false)
        }
    }

    @Test("clearStuck moves only tasks in active/ longer than the threshold; dry run moves none")
    func clearStuckByTimeInState() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            let old = try TaskID("old")
            let fresh = try TaskID("fresh")
            try spool.submit(object: [:], id: old)
            try spool.submit(object: [:], id: fresh)
            try spool.claim(old)
            clock.advance(by: .seconds(400))
            // `fresh` waited 400 s in pending/ and starts now.
            try spool.claim(fresh)

            let wouldMove = try spool.clearStuck(olderThan: .seconds(300), reason: "stuck", dryRun: true)
            #expect(wouldMove.map(\.id) == [old])
            #expect(try spool.counts() == [.pending: 0, .active: 2, .completed: 0, .failed: 0])

            let moved = try spool.clearStuck(olderThan: .seconds(300), reason: "stuck")
            #expect(moved.map(\.id) == [old])
            #expect(moved.first?.state == .failed && moved.first?.errorMessage == "stuck")
            #expect(try spool.get(fresh)?.state == .active)
            // In failed/ from the clear: its time in state starts again.
            let cleared = try #require(try spool.get(old, in: .failed))
            #expect(spool.timeInState(cleared) < .seconds(60))
        }
    }

    @Test("a worker that renames the task first wins: clearStuck skips it and writes nothing into it")
    func workerWinsTheRace() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            let id = try TaskID("racing")
            try spool.submit(object: [:], id: id)
            try spool.claim(id)
            clock.advance(by: .seconds(400))
            // The worker finishes it just before the clear's rename (after anything the clear did
            // to the file before renaming it).
            let layout = spool.layout
            spool.observeMoves { move in
                if move.from == .active && move.to == .failed {
                    try? renameByHand(layout.path(of: move.id, in: .active), layout.path(of: move.id, in: .completed))
                }
            }
            let moved = try spool.clearStuck(olderThan: .seconds(300), reason: "stuck")
            #expect(moved.isEmpty)
            let completed = try #require(try spool.get(id, in: .completed))
            #expect(completed.errorMessage == nil, "the clear's error must not end up in a completed task")
            #expect(try spool.counts() == [.pending: 0, .active: 0, .completed: 1, .failed: 0])
        }
    }

    @Test("a cleared task is gone from active/: the worker's rename fails, the task is in one folder")
    func clearWinsTheRace() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            let id = try TaskID("cleared")
            try spool.submit(object: [:], id: id)
            try spool.claim(id)
            clock.advance(by: .seconds(400))
            #expect(try spool.clearStuck(olderThan: .seconds(300), reason: "stuck").map(\.id) == [id])
            // The spool worker finishes it now: os.rename(active/X, completed/X).
            #expect(rename(spool.layout.path(of: id, in: .active), spool.layout.path(of: id, in: .completed)) == -1)
            #expect(errno == ENOENT)
            #expect(try spool.counts() == [.pending: 0, .active: 0, .completed: 0, .failed: 1])
            // A pipe worker's Finish goes through complete(): it lost, and is told where the task is.
            let error = expectRPCError(.aborted) { try spool.complete(id, result: "done") }
            #expect(error?.message.contains("failed/") == true, "\(String(describing: error))")
            #expect(try spool.get(id)?.errorMessage == "stuck")
        }
    }

    @Test("a second outcome written as a new file is moved aside: the first one stands")
    func duplicateOutcomeIsMovedAside() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, recorder in
            let id = try TaskID("twice")
            try spool.submit(object: [:], id: id)
            try spool.claim(id)
            clock.advance(by: .seconds(400))
            try spool.clearStuck(olderThan: .seconds(300), reason: "stuck")
            // A worker that writes completed/X itself, then unlinks active/X.
            try writeByHand(spool.layout.path(of: id, in: .completed), #"{"id":"twice","result":"late"}"#)

            let aside = try #require(try spool.resolveDuplicateOutcome(id, arrivedIn: .completed))
            #expect(aside.reason == .duplicateOutcome(keptIn: .failed))
            #expect(try spool.get(id)?.state == .failed)
            #expect(try spool.counts() == [.pending: 0, .active: 0, .completed: 0, .failed: 1])
            let quarantined = try entries(spool.layout.quarantineDirectory)
            #expect(quarantined.count == 1 && quarantined.first?.hasSuffix("twice.json") == true, "\(quarantined)")
            #expect(recorder.lines.contains { $0.level == .error && $0.message.contains("completed/ and failed/ at once") })
            // Nothing left to resolve.
            #expect(try spool.resolveDuplicateOutcome(id, arrivedIn: .failed) == nil)
        }
    }

    @Test("an empty file in active/ is left while it may be being written, then quarantined once")
    func unreadableEntryIsQuarantinedOnceStale() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, recorder in
            try writeByHand(spool.layout.directory(for: .active) + "/empty.json", "")
            guard case .unreadableForNow = try spool.checkEntry(named: "empty.json", in: .active) else {
                Issue.record("a file written just now is left alone")
                return
            }
            #expect(try spool.entriesNotTasks(in: .active) == ["empty.json"])
            clock.advance(by: .seconds(3))
            guard case .quarantined(let entry) = try spool.checkEntry(named: "empty.json", in: .active) else {
                Issue.record("an empty file left for longer than the grace is quarantined")
                return
            }
            #expect(entry.quarantinedPath != nil)
            #expect(try spool.entriesNotTasks(in: .active).isEmpty)
            #expect(try spool.counts()[.active] == 0)
            #expect(try spool.checkEntry(named: "empty.json", in: .active) == .taskOrGone)
            #expect(recorder.lines.count { $0.message.contains("quarantined a spool entry") } == 1)
        }
    }
}
