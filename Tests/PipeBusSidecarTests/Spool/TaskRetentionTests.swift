import Foundation
import PipeBusCore
import PipeBusTasks
import Testing

@testable import PipeBusSidecar

/// Retention (issue 18, item 2): finished tasks past the worker config's limits move from
/// `completed/` and `failed/` to the archive, and nothing else does. Ages on a clock the test
/// moves (`TestClock`): the time a task entered its folder is stamped from the spool's clock.
@Suite("Task retention")
struct TaskRetentionTests {
    @Test("an arrival costs the same behind a queue of 50,000 finished tasks as behind none: the queue is appended to in place, not copied")
    func arrivalCostIsFlat() throws {
        try withSpool { spool, _ in
            let now = SpoolClock.timespec(Date())
            // Ids as long as generated ones, so a copy of the queue would retain each one.
            func ids(_ prefix: String, _ count: Int) throws -> [TaskID] {
                try (0..<count).map { try TaskID("\(prefix)-\($0)-0123456789abcdef0123456789abcdef") }
            }
            let long = TaskRetention(spool: spool, window: 100_000)
            long.seed(try ids("old", 50_000).map { RecentArrivals.Entry(id: $0, state: .completed, entered: now) })
            #expect(long.queued(.completed) == 50_000)
            let clock = ContinuousClock()
            // The fastest of five rounds each, so a preemption in one round does not decide.
            var fastest: (empty: Duration, long: Duration) = (.seconds(3600), .seconds(3600))
            for round in 0..<5 {
                let empty = TaskRetention(spool: spool, window: 100_000)
                let batch = try ids("new\(round)", 5_000)
                fastest.empty = min(fastest.empty, clock.measure { for id in batch { empty.noteArrival(id, in: .completed, at: now) } })
                fastest.long = min(fastest.long, clock.measure { for id in batch { long.noteArrival(id, in: .completed, at: now) } })
            }
            #expect(long.queued(.completed) == 75_000)
            // Copying the queue on each append made the long one thousands of times slower.
            #expect(fastest.long < fastest.empty * 10, "5,000 arrivals: \(fastest.long) behind 50,000, \(fastest.empty) behind none")
        }
    }

    @Test("a queue holds at most its window of the oldest tasks; passes list the folder again for the rest, and archive each task once")
    func window() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            let old = (1...10).map { "old-\($0)" }
            for name in old {
                try finish(spool, [name], to: .completed)
                clock.advance(by: .seconds(1))
            }
            let retention = TaskRetention(spool: spool, window: 3)
            retention.seed(try spool.arrivals())
            #expect(retention.queued(.completed) == 3)
            // Arrivals after the seed: newer than the tasks left out, so not queued either.
            clock.advance(by: .seconds(100))
            for record in try finish(spool, ["new-1", "new-2"], to: .completed) {
                retention.noteArrival(record.id, in: .completed, at: SpoolClock.timespec(record.enteredState))
            }
            #expect(retention.queued(.completed) == 3)
            clock.advance(by: .seconds(60))
            // old-* are 160 to 170 s old, new-* 60 s.
            let policy = RetentionPolicy(completed: .init(maxAgeSeconds: 150), failed: .init())
            func passes() -> [Int] {
                var archived: [Int] = []
                while archived.count < 20 {
                    let pass = retention.pass(policy: policy)
                    #expect(pass.problems.isEmpty, "\(pass.problems)")
                    archived.append(pass.archived[.completed] ?? 0)
                    if !pass.more { break }
                }
                return archived
            }
            let first = passes()
            #expect(first.reduce(0, +) == 10, "archived per pass: \(first)")
            #expect(first.allSatisfy { $0 <= 3 }, "a pass took more than the window: \(first)")
            #expect(try ids(spool, .completed) == ["new-1", "new-2"])
            // Found by a listing once they are due, though their arrivals were never queued.
            clock.advance(by: .seconds(100))
            #expect(passes().reduce(0, +) == 2)
            #expect(try ids(spool, .completed).isEmpty)
            let archived = try archivedTasks(retention.archive).map(\.id.rawValue)
            #expect(archived.sorted() == (old + ["new-1", "new-2"]).sorted(), "each task archived once")
        }
    }

    @Test("age limits: exactly the completed and failed tasks in their folder longer than their limit move to the archive")
    func ageLimits() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            try finish(spool, ["c-old-1", "c-old-2"], to: .completed)
            try finish(spool, ["f-old"], to: .failed)
            clock.advance(by: .seconds(100))
            try finish(spool, ["c-mid"], to: .completed)
            try finish(spool, ["f-mid"], to: .failed)
            clock.advance(by: .seconds(80))
            try finish(spool, ["c-new"], to: .completed)
            try finish(spool, ["f-new"], to: .failed)
            try spool.submit(object: [:], id: TaskID("p-old"))
            clock.advance(by: .seconds(20))
            // Now: c-old-*, f-old 200 s in their folder; c-mid, f-mid 100 s; c-new, f-new 20 s.
            let retention = seeded(spool)
            let policy = RetentionPolicy(completed: .init(maxAgeSeconds: 150), failed: .init(maxAgeSeconds: 50))
            let pass = retention.pass(policy: policy)
            #expect(pass.problems.isEmpty, "\(pass.problems)")
            #expect(pass.archived == [.completed: 2, .failed: 2])
            #expect(try ids(spool, .completed) == ["c-mid", "c-new"])
            #expect(try ids(spool, .failed) == ["f-new"])
            #expect(try ids(spool, .pending) == ["p-old"], "only finished tasks are archived")
            let archived = try archivedTasks(retention.archive)
            #expect(archived.map { "\($0.state.folderName)/\($0.id)" }.sorted() == ["completed/c-old-1", "completed/c-old-2", "failed/f-mid", "failed/f-old"])
            // Nothing more is due until time passes; then c-mid (age 160 s > 150 s) is.
            #expect(retention.pass(policy: policy).archived.values.reduce(0, +) == 0)
            clock.advance(by: .seconds(60))
            #expect(retention.pass(policy: policy).archived == [.completed: 1, .failed: 1])
            #expect(try ids(spool, .completed) == ["c-new"])
        }
    }

    @Test("count limits: the oldest tasks beyond the count move, the newest stay, per state")
    func countLimits() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            for index in 1...6 {
                try finish(spool, ["c\(index)"], to: .completed)
                try finish(spool, ["f\(index)"], to: .failed)
                clock.advance(by: .seconds(1))
            }
            let retention = seeded(spool)
            let pass = retention.pass(policy: RetentionPolicy(completed: .init(maxCount: 4), failed: .init(maxCount: 1)))
            #expect(pass.archived == [.completed: 2, .failed: 5])
            #expect(try ids(spool, .completed) == ["c3", "c4", "c5", "c6"])
            #expect(try ids(spool, .failed) == ["f6"])
            #expect(try archivedTasks(retention.archive).map(\.id.rawValue).sorted() == ["c1", "c2", "f1", "f2", "f3", "f4", "f5"])
        }
    }

    @Test("passes in a row while the census has not yet seen the last pass's unlinks: a count limit never archives below its count")
    func countWithLaggingCensus() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            for index in 1...10 {
                try finish(spool, ["c\(index)"], to: .completed)
                clock.advance(by: .seconds(1))
            }
            let retention = TaskRetention(spool: spool, maxPerPass: 3)
            retention.seed(try spool.arrivals())
            let policy = RetentionPolicy(completed: .init(maxCount: 5), failed: .init())
            // The watcher has reported nothing since the seed: the census still says 10.
            let stale: (TaskState) -> Int = { $0 == .completed ? 10 : 0 }
            let first = retention.pass(policy: policy, count: stale)
            #expect(first.archived == [.completed: 3])
            #expect(first.more, "more was past the limit than one pass takes")
            let second = retention.pass(policy: policy, count: stale)
            #expect(second.archived == [.completed: 2])
            #expect(!second.more)
            #expect(try ids(spool, .completed) == ["c10", "c6", "c7", "c8", "c9"])
            // Once the watcher reports the removals, the census is right again and nothing moves.
            for index in 1...5 { retention.noteRemoval(try TaskID("c\(index)"), from: .completed) }
            #expect(retention.pass(policy: policy, count: { $0 == .completed ? 5 : 0 }).archived == [.completed: 0])
        }
    }

    @Test("arrivals fed after the seed are archived in their order; a task that left by other means is skipped")
    func arrivalsAfterSeed() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            let retention = seeded(spool)
            for id in ["a", "b", "c"] {
                let record = try finish(spool, [id], to: .completed)[0]
                retention.noteArrival(record.id, in: .completed, at: SpoolClock.timespec(record.enteredState))
                clock.advance(by: .seconds(1))
            }
            try spool.remove(TaskID("a"))
            let pass = retention.pass(policy: RetentionPolicy(completed: .init(maxCount: 1), failed: .init()))
            #expect(pass.archived == [.completed: 1])
            #expect(try ids(spool, .completed) == ["c"])
            #expect(try archivedTasks(retention.archive).map(\.id.rawValue) == ["b"])
        }
    }

    @Test("a source whose replay is pending or active stays past its limit until the replay has finished; replay reads an archived task")
    func replaySourceKept() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            try finish(spool, ["src", "other"], to: .failed)
            let replay = try spool.replay(TaskID("src"))
            clock.advance(by: .seconds(100))
            let retention = seeded(spool)
            let policy = RetentionPolicy(completed: .init(), failed: .init(maxAgeSeconds: 10))
            var pass = retention.pass(policy: policy)
            #expect(pass.archived == [.failed: 1])
            #expect(pass.held == 1)
            #expect(try ids(spool, .failed) == ["src"])
            try spool.claim(replay.id)
            #expect(retention.pass(policy: policy).held == 1, "an active replay holds its source too")
            try spool.complete(replay.id, result: ["ok": true])
            pass = retention.pass(policy: policy)
            #expect(pass.archived == [.failed: 1])
            #expect(try ids(spool, .failed).isEmpty)
            // Replaying it again reads it from the archive.
            try spool.remove(replay.id)
            let again = try spool.replay(TaskID("src"))
            #expect(again.id.rawValue == "src_replay")
            #expect(try again.object()["replay_of"] as? String == "src")
        }
    }

    @Test("a SIGKILL between the append and the unlink leaves a task in both places: the next run only unlinks it, the archive holds it once")
    func restartAfterAppendBeforeUnlink() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            try finish(spool, ["t1", "t2", "t3"], to: .completed)
            // The killed run: its batch is in the segment, its unlinks never happened.
            let killed = TaskRetention(spool: spool)
            let records = try ["t1", "t2", "t3"].compactMap { try spool.get(TaskID($0), in: .completed) }
            try killed.writer.append(records.map(Self.archived), to: TaskArchive.segmentName(for: records[0].enteredState))
            #expect(try archivedTasks(killed.archive).count == 3)
            #expect(try ids(spool, .completed) == ["t1", "t2", "t3"])
            // The next run: a new writer, which reads the segment's last frame.
            let restarted = seeded(spool)
            let pass = restarted.pass(policy: RetentionPolicy(completed: .init(maxCount: 1), failed: .init()))
            #expect(pass.archived == [.completed: 2])
            #expect(try ids(spool, .completed) == ["t3"])
            let archived = try archivedTasks(restarted.archive)
            #expect(archived.map(\.id.rawValue).sorted() == ["t1", "t2", "t3"], "each task once")
            let raw = try lines(of: restarted.archive)
            #expect(raw == 3, "nothing appended twice: \(raw) lines")
        }
    }

    @Test("a segment cut short at its end is reported, its whole frames read, and the next append cuts the torn frame off")
    func truncatedSegment() throws {
        try withSpool { spool, _ in
            let retention = TaskRetention(spool: spool)
            let segment = "2026-12-01.jsonl.lz4"
            try retention.writer.append([task("a"), task("b")], to: segment)
            try retention.writer.append([task("c")], to: segment)
            let path = "\(retention.archive.path)/\(segment)"
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
            let whole = bytes.count
            let third = try LZ4Frame.compress(TaskArchive.line(for: task("d")))
            bytes += third.prefix(third.count / 2)
            try Data(bytes).write(to: URL(fileURLWithPath: path))

            let read = try retention.archive.read(segment: segment)
            #expect(read.tasks.map(\.id.rawValue) == ["a", "b", "c"])
            #expect(read.problems.count == 1)
            #expect(read.problems.first?.contains("cut short at byte \(whole)") == true, "\(read.problems)")

            var repairs: [String] = []
            let restarted = TaskRetention(spool: spool)
            try restarted.writer.append([task("e")], to: segment) { repairs.append($0) }
            #expect(repairs.count == 1, "\(repairs)")
            let repaired = try restarted.archive.read(segment: segment)
            #expect(repaired.problems.isEmpty, "\(repaired.problems)")
            #expect(repaired.tasks.map(\.id.rawValue) == ["a", "b", "c", "e"])
        }
    }

    @Test("a corrupt frame in the middle of a segment is reported and loses only its own tasks")
    func corruptFrame() throws {
        try withSpool { spool, _ in
            let retention = TaskRetention(spool: spool)
            let segment = "2026-12-02.jsonl.lz4"
            try retention.writer.append([task("a")], to: segment)
            let first = try Data(contentsOf: URL(fileURLWithPath: "\(retention.archive.path)/\(segment)")).count
            try retention.writer.append([task("b"), task("c")], to: segment)
            try retention.writer.append([task("d")], to: segment)
            let path = "\(retention.archive.path)/\(segment)"
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
            // Flip bytes inside the second frame's compressed block (past its 7-byte header).
            for offset in (first + 12)..<(first + 20) { bytes[offset] ^= 0xA5 }
            try Data(bytes).write(to: URL(fileURLWithPath: path))

            let read = try retention.archive.read(segment: segment)
            #expect(read.tasks.map(\.id.rawValue) == ["a", "d"])
            #expect(read.problems.count == 1)
            #expect(read.problems.first?.contains("damaged at byte \(first)") == true, "\(read.problems)")
            // `find` and listings still reach the tasks around it.
            #expect(try retention.archive.find(TaskID("d"))?.id.rawValue == "d")
        }
    }

    @Test("retention settings: a bad value is refused with a sentence naming the key and the value; defaults keep a week")
    func settings() throws {
        let defaults = WorkerConfig.retention(in: [:])
        #expect(defaults.completed == .init(maxAgeSeconds: 604_800, maxCount: 0))
        #expect(defaults.failed == .init(maxAgeSeconds: 604_800, maxCount: 0))
        let custom = WorkerConfig.retention(in: ["completed_max_count": 100, "failed_max_age_seconds": 3600])
        #expect(custom.completed == .init(maxAgeSeconds: 604_800, maxCount: 100))
        #expect(custom.failed == .init(maxAgeSeconds: 3600, maxCount: 0))
        #expect(WorkerConfig.problems(in: ["completed_max_age_seconds": "7d"]) == [
            "completed_max_age_seconds must be a whole number ≥ 0, got the string \"7d\""
        ])
        #expect(WorkerConfig.problems(in: ["failed_max_count": -1]) == ["failed_max_count must be a whole number ≥ 0, got -1"])
        #expect(WorkerConfig.suggestion(for: "completed-max-count") == "completed_max_count")
    }

    // MARK: - Helpers

    /// Submits, claims and finishes each task; returns them in their final folder.
    @discardableResult
    private func finish(_ spool: TaskSpool, _ names: [String], to state: TaskState) throws -> [TaskRecord] {
        try names.map { name in
            let id = try TaskID(name)
            try spool.submit(object: ["name": name], id: id)
            try spool.claim(id)
            return state == .completed ? try spool.complete(id, result: ["ok": true]) : try spool.fail(id, error: "boom")
        }
    }

    /// A retention seeded as the sidecar seeds it: from one listing of the spool.
    private func seeded(_ spool: TaskSpool) -> TaskRetention {
        let retention = TaskRetention(spool: spool)
        retention.seed((try? spool.arrivals()) ?? [])
        return retention
    }

    private func ids(_ spool: TaskSpool, _ state: TaskState) throws -> [String] {
        try spool.list(state).map(\.id.rawValue).sorted()
    }

    private func archivedTasks(_ archive: TaskArchive) throws -> [TaskArchive.Task] {
        try archive.segmentNames().flatMap { try archive.read(segment: $0).tasks }
    }

    private func lines(of archive: TaskArchive) throws -> Int {
        try archive.segmentNames().reduce(0) { count, name in
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: "\(archive.path)/\(name)")))
            return count + LZ4Frame.frames(in: bytes).frames.reduce(0) { $0 + $1.content.count { $0 == UInt8(ascii: "\n") } }
        }
    }

    private static func archived(_ record: TaskRecord) -> TaskArchive.Task {
        TaskArchive.Task(record, archivedAt: Date())
    }

    private func task(_ id: String) -> TaskArchive.Task {
        TaskArchive.Task(
            id: try! TaskID(id), state: .completed, enteredState: Date(timeIntervalSince1970: 1_764_547_200), archivedAt: Date(),
            json: Array("{\"id\":\"\(id)\",\"result\":{\"ok\":true}}".utf8)
        )
    }
}
