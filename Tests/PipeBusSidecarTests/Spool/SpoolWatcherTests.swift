import Foundation
import PipeBusCore
import PipeBusTasks
import PipeBusTestSupport
import Testing

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

@Suite("SpoolWatcher", .timeLimit(.minutes(1)))
struct SpoolWatcherTests {
    /// A spool and a running watcher on it, stopped after `body`.
    private func withWatcher(_ body: (TaskSpool, EventRecorder) throws -> Void) throws {
        try withSpool { spool, log in
            let recorder = EventRecorder()
            let watcher = try SpoolWatcher(layout: spool.layout, logger: log.logger, handler: recorder.handler)
            defer { watcher.stop() }
            try body(spool, recorder)
        }
    }

    /// Writes a sentinel task by hand and waits for it, so that every event caused before it
    /// has been delivered; returns the events before the sentinel's.
    private func eventsBeforeSentinel(
        _ spool: TaskSpool,
        _ recorder: EventRecorder,
        name: String = "sentinel"
    ) throws -> [SpoolEvent] {
        let sentinel = SpoolEvent.appeared(try TaskID(name), .failed)
        try writeByHand(spool.layout.directory(for: .failed) + "/\(name).json", "{}")
        let events = recorder.wait { $0.contains(sentinel) }
        let index = try #require(events.firstIndex(of: sentinel), "the sentinel never arrived: \(events)")
        return Array(events[..<index])
    }

    @Test("a handler that stalls while more records arrive than the kernel queues loses none of them (no overflow, no rescan)")
    func stalledHandlerLosesNothing() throws {
        // More records than fs.inotify.max_queued_events: two a file (created, closed).
        let queued = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 16_384
        let files = min(queued, 200_000) / 2 + 1_000
        try withSpool { spool, log in
            let recorder = EventRecorder()
            let gate = DispatchSemaphore(value: 0)
            let first = NSLock()
            nonisolated(unsafe) var stalled = false
            let watcher = try SpoolWatcher(layout: spool.layout, logger: log.logger) { event in
                // The first event holds the handler until every file is written.
                let stall = first.withLock { () -> Bool in
                    defer { stalled = true }
                    return !stalled
                }
                if stall { gate.wait() }
                recorder.handler(event)
            }
            defer { watcher.stop() }
            let pending = spool.layout.directory(for: .pending)
            try writeByHand("\(pending)/first.json", "{}")
            for index in 0..<files {
                try writeByHand("\(pending)/f-\(index).json", "{}")
            }
            gate.signal()
            let last = SpoolEvent.appeared(try TaskID("f-\(files - 1)"), .pending)
            let events = recorder.wait(timeout: .seconds(40)) { $0.count >= files + 1 }
            let rescanned = events.contains(.rescanNeeded)
            #expect(!rescanned, "the watcher lost events behind a stalled handler")
            let appeared = events.filter { if case .appeared(_, .pending) = $0 { true } else { false } }
            #expect(appeared.count == files + 1, "\(appeared.count) of \(files + 1) files reported")
            #expect(appeared.last == last, "the files were reported out of order")
        }
    }

    @Test("a rename by hand from pending/ to active/ is a transition")
    func transitionByHand() throws {
        try withWatcher { spool, recorder in
            let id = try TaskID("task-1")
            try spool.submit(object: [:], id: id)
            #expect(recorder.waitFor(.appeared(id, .pending)))
            #expect(rename(spool.layout.path(of: id, in: .pending), spool.layout.path(of: id, in: .active)) == 0)
            #expect(recorder.waitFor(.transition(id, from: .pending, to: .active)))
            #expect(
                try eventsBeforeSentinel(spool, recorder) == [
                    .appeared(id, .pending), .transition(id, from: .pending, to: .active),
                ]
            )
        }
    }

    @Test("a file written into pending/ by hand appears once it is closed")
    func appearedByHand() throws {
        try withWatcher { spool, recorder in
            try writeByHand(spool.layout.directory(for: .pending) + "/by-hand.json", #"{"prompt": "x"}"#)
            #expect(recorder.waitFor(.appeared(try TaskID("by-hand"), .pending)))
        }
    }

    @Test("an in-place update is .updated, not a transition nor a removal; temp files produce nothing")
    func updatedInPlace() throws {
        try withWatcher { spool, recorder in
            let id = try TaskID("task-1")
            try spool.submit(object: ["n": 1], id: id)
            #expect(recorder.waitFor(.appeared(id, .pending)))
            try spool.update(id, in: .pending) { $0["n"] = 2 }
            #expect(recorder.waitFor(.updated(id, .pending)))
            // A temp file's whole life, by hand: created, written, renamed, deleted.
            let pending = spool.layout.directory(for: .pending)
            try writeByHand("\(pending)/.x.json.tmp-1-2", "{}")
            #expect(rename("\(pending)/.x.json.tmp-1-2", "\(pending)/.y.json.tmp-1-3") == 0)
            #expect(unlink("\(pending)/.y.json.tmp-1-3") == 0)
            #expect(try eventsBeforeSentinel(spool, recorder) == [.appeared(id, .pending), .updated(id, .pending)])
        }
    }

    @Test("the spool's own claim and completion read as transitions")
    func spoolTransitions() throws {
        try withWatcher { spool, recorder in
            let id = try TaskID("task-1")
            try spool.submit(object: [:], id: id)
            try spool.claim(id)
            try spool.complete(id, result: "ok")
            let events = try eventsBeforeSentinel(spool, recorder)
            #expect(
                events.filter(\.isTransition) == [
                    .transition(id, from: .pending, to: .active), .transition(id, from: .active, to: .completed),
                ]
            )
            #expect(!events.contains { if case .removed = $0 { true } else { false } })
            #expect(events.first == .appeared(id, .pending))
        }
    }

    @Test("removal: a deleted task and a task moved out of the spool are .removed")
    func removed() throws {
        try withTemporaryDirectory { outside in
            try withWatcher { spool, recorder in
                let a = try TaskID("a")
                let b = try TaskID("b")
                try spool.submit(object: [:], id: a)
                try spool.submit(object: [:], id: b)
                try spool.remove(a)
                #expect(recorder.waitFor(.removed(a, .pending)))
                #expect(rename(spool.layout.path(of: b, in: .pending), "\(outside)/b.json") == 0)
                #expect(recorder.waitFor(.removed(b, .pending)))
            }
        }
    }

    @Test("a symlink or a FIFO dropped into pending/ is reported, never followed or opened")
    func hostileDrops() throws {
        try withTemporaryDirectory { outside in
            try withWatcher { spool, recorder in
                let pending = spool.layout.directory(for: .pending)
                try writeByHand("\(outside)/target.json", "{}")
                #expect(symlink("\(outside)/target.json", "\(pending)/link.json") == 0)
                #expect(mkfifo("\(pending)/fifo.json", 0o644) == 0)
                #expect(recorder.waitFor(.unexpected(name: "link.json", state: .pending, reason: .symlink)))
                #expect(
                    recorder.waitFor(
                        .unexpected(name: "fifo.json", state: .pending, reason: .notRegularFile(kind: "a FIFO"))
                    )
                )
                #expect(!recorder.snapshot.contains { if case .appeared = $0 { true } else { false } })
            }
        }
    }

    @Test("the runbook's replay (a plain write of <id>_replay.json) appears as a new pending task")
    func runbookReplayAppears() throws {
        try withWatcher { spool, recorder in
            let path = spool.layout.directory(for: .pending) + "/task-123_replay.json"
            try writeByHand(path, "{\n  \"debug\": true,\n  \"replay\": true\n}")
            #expect(recorder.waitFor(.appeared(try TaskID("task-123_replay"), .pending)))
        }
    }

    @Test("stop returns promptly and nothing is delivered after it")
    func stop() throws {
        try withSpool { spool, log in
            let recorder = EventRecorder()
            let watcher = try SpoolWatcher(layout: spool.layout, logger: log.logger, handler: recorder.handler)
            let started = ContinuousClock.now
            watcher.stop()
            watcher.stop()
            #expect(ContinuousClock.now - started < .seconds(2))
            try spool.submit(object: [:], id: TaskID("late"))
            #expect(recorder.snapshot.isEmpty)
        }
    }
}
