import Foundation
import PipeBusCore
import PipeBusTasks
import Synchronization
import Testing

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

/// The folder counts a watcher keeps from its events (`SpoolCensus`) against what the folders
/// really hold, through the spool's own moves, moves by hand, and lost events.
@Suite("SpoolCensus", .timeLimit(.minutes(2)))
struct SpoolCensusTests {
    /// What the folders hold, by listing them (task names only, as the census counts them).
    private func listed(_ spool: TaskSpool) throws -> SpoolCensus.Counts {
        var counts = SpoolCensus.Counts()
        for (state, count) in try spool.counts() { counts[state] = count }
        return counts
    }

    /// Waits until the census agrees with the folders (the watcher runs a little behind the
    /// moves); returns the last counts seen.
    @discardableResult
    private func settled(_ census: SpoolCensus, _ spool: TaskSpool, _ what: Comment) throws -> SpoolCensus.Counts {
        let expected = try listed(spool)
        let deadline = Date().addingTimeInterval(10)
        while census.counts != expected, Date() < deadline { usleep(2_000) }
        #expect(census.counts == expected, what)
        return census.counts
    }

    @Test("counts follow submits, claims, completions, failures, renames and removals by hand, files written in place")
    func followsMoves() throws {
        try withSpool { spool, log in
            // Tasks already there when the watcher starts are counted by its first listing.
            for index in 0..<5 { try spool.submit(object: ["n": index], id: TaskID("before-\(index)")) }
            let watcher = try SpoolWatcher(layout: spool.layout, logger: log.logger) { _ in }
            defer { watcher.stop() }
            #expect(watcher.census.counts.pending == 5, "seeded at start")

            for index in 0..<40 { try spool.submit(object: ["n": index], id: TaskID("t-\(index)")) }
            try settled(watcher.census, spool, "after 40 submits")
            for index in 0..<30 { try spool.claim(TaskID("t-\(index)")) }
            try settled(watcher.census, spool, "after 30 claims")
            for index in 0..<20 { try spool.complete(TaskID("t-\(index)"), result: ["ok": true]) }
            for index in 20..<25 { try spool.fail(TaskID("t-\(index)"), error: "boom") }
            // A rewrite in place is not a new task.
            try spool.update(TaskID("t-26"), in: .active) { $0["note"] = "rewritten" }
            try settled(watcher.census, spool, "after completions, failures and a rewrite")

            // A spool worker's own renames, files dropped in and deleted by hand.
            let layout = spool.layout
            try renameByHand(layout.path(of: TaskID("t-25"), in: .active), layout.path(of: TaskID("t-25"), in: .completed))
            try renameByHand(layout.path(of: TaskID("t-35"), in: .pending), layout.path(of: TaskID("t-35"), in: .active))
            try writeByHand(layout.directory(for: .pending) + "/by-hand.json", #"{"prompt":"x"}"#)
            try writeByHand(layout.directory(for: .failed) + "/written-failed.json", #"{"error":"x"}"#)
            #expect(unlink(layout.path(of: try TaskID("t-0"), in: .completed)) == 0)
            // Moved out of the spool altogether, and in from outside it.
            try renameByHand(layout.path(of: TaskID("t-1"), in: .completed), "\(layout.root)/outside.json")
            try renameByHand("\(layout.root)/outside.json", layout.directory(for: .failed) + "/from-outside.json")
            // Not tasks: hidden temp files, names that are not task ids.
            try writeByHand(layout.directory(for: .completed) + "/.hidden.tmp-1-2", "{}")
            let counts = try settled(watcher.census, spool, "after moves by hand")
            #expect(counts.pending == 5 + 10 - 1 + 1)
            #expect(counts.completed == 20 + 1 - 2)
            #expect(counts.failed == 5 + 2)
            #expect(watcher.census.reseeds == 0)
        }
    }

    @Test("a file quarantined while another folder keeps changing leaves the counts")
    func quarantineLeavesTheCountsWhileBusy() throws {
        try withSpool { spool, log in
            let watcher = try SpoolWatcher(layout: spool.layout, logger: log.logger) { _ in }
            defer { watcher.stop() }
            try spool.submit(object: ["n": 1], id: TaskID("real-1"))
            try spool.claim(TaskID("real-1"))
            try writeByHand(spool.layout.directory(for: .active) + "/empty-1.json", "")
            let deadline = Date().addingTimeInterval(10)
            while watcher.census.counts.active != 2, Date() < deadline { usleep(2_000) }
            #expect(watcher.census.counts.active == 2, "counted until it is moved aside")

            // Moved to .quarantine/ (not watched: no partner for the rename ever comes) while
            // pending/ changes more often than a departure waits for its partner, as the
            // sidecar's disk probe does at every heartbeat and a busy spool does always.
            #expect(try spool.quarantineIfHostile(named: "empty-1.json", in: .active) != nil)
            let probe = spool.layout.directory(for: .pending) + "/.pipebus-probe-test"
            let later = Date().addingTimeInterval(10)
            while watcher.census.counts.active != 1, Date() < later {
                try writeByHand(probe, "x")
                #expect(unlink(probe) == 0)
                usleep(20_000)
            }
            #expect(watcher.census.counts.active == 1, "still counted after it was quarantined")
            try settled(watcher.census, spool, "after the quarantine")
        }
    }

    @Test("after lost events (the watcher's backlog overflowing behind a stalled handler) the census is re-seeded by one listing and agrees again")
    func reseededAfterOverflow() throws {
        // The kernel's queue no longer overflows behind a slow handler (a thread of its own
        // drains it), so the overflow comes from the watcher's own backlog, made small here:
        // 256 KiB, about 2,700 files' records.
        let backlogLimit = 256 << 10
        try withSpool { spool, log in
            // The handler blocks on the first event, so the backlog fills behind it.
            let gate = NSCondition()
            let open = Mutex(false)
            let watcher = try SpoolWatcher(layout: spool.layout, logger: log.logger, backlogLimit: backlogLimit) { event, _ in
                gate.lock()
                while !open.withLock({ $0 }) { gate.wait() }
                gate.unlock()
            }
            defer { watcher.stop() }
            try spool.submit(object: [:], id: TaskID("first"))
            // Each file written by hand queues two records (create, close): enough to overflow.
            let completed = spool.layout.directory(for: .completed)
            let files = 6_000
            for index in 0..<files { try writeByHand("\(completed)/done-\(index).json", "{}") }
            // Some moves the lost events would have told about.
            for index in 0..<50 { #expect(unlink("\(completed)/done-\(index).json") == 0) }
            try renameByHand(spool.layout.path(of: TaskID("first"), in: .pending), spool.layout.path(of: TaskID("first"), in: .active))
            open.withLock { $0 = true }
            gate.lock()
            gate.broadcast()
            gate.unlock()

            let deadline = Date().addingTimeInterval(60)
            while watcher.census.reseeds == 0, Date() < deadline { usleep(5_000) }
            #expect(watcher.census.reseeds == 1, "the backlog did not overflow (\(files) files, limit \(backlogLimit) bytes)")
            let counts = try settled(watcher.census, spool, "after the re-seed")
            #expect(counts.completed == files - 50)
            #expect(counts.active == 1)
            #expect(counts.pending == 0)
            // And it keeps counting from there.
            try writeByHand("\(completed)/after.json", "{}")
            try settled(watcher.census, spool, "after the re-seed, a new file")
        }
    }
}
