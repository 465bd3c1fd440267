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

@Suite("TaskSpool recover")
struct TaskSpoolRecoveryTests {
    @Test("leftover temp files are removed once stale; a fresh one may be a write in flight")
    func temporaryFiles() throws {
        // Writers the test controls, never the machine's process table: this process (alive),
        // and a child it started and reaped (gone).
        let alive = getpid()
        let gone = try Self.pidOfAReapedChild()
        // A threshold no pause of a loaded machine reaches between writing a file and recovery;
        // the old files are older by far.
        var configuration = TaskSpool.Configuration.defaults
        configuration.staleTemporaryAge = .seconds(3600)
        try withSpool(configuration: configuration) { spool, _ in
            let pending = spool.layout.directory(for: .pending)
            let active = spool.layout.directory(for: .active)
            try writeByHand("\(pending)/.task-1.json.tmp-\(alive)-abc", #"{"half": "writ"#)
            try writeByHand("\(active)/.task-2.json.tmp-\(alive)-ff", "{}")
            try writeByHand("\(pending)/.task-3.json.tmp-\(alive)-01", "{}")
            try writeByHand("\(pending)/.task-4.json.tmp-\(gone)-02", "{}")
            try makeOld("\(pending)/.task-1.json.tmp-\(alive)-abc", by: .seconds(10 * 3600))
            try makeOld("\(active)/.task-2.json.tmp-\(alive)-ff", by: .seconds(2 * 3600))
            try spool.submit(object: [:], id: TaskID("real"))
            let report = try spool.recover()
            // Old ones go whoever wrote them; a fresh one goes only when its writer is gone.
            #expect(report.removedTemporaryFiles == 3)
            #expect(report.quarantined.isEmpty)
            #expect(try entries(pending) == [".task-3.json.tmp-\(alive)-01", "real.json"])
            #expect(try entries(active).isEmpty)
            #expect(report.counts == [.pending: 1, .active: 0, .completed: 0, .failed: 0])
        }
    }

    /// The pid of a process that has ended: a child started and reaped here.
    static func pidOfAReapedChild() throws -> Int32 {
        let child = try ChildProcess(["true"], stdout: .null, stderr: .null)
        guard child.waitBlocking(timeout: .seconds(10)) != nil else { throw TestSupportError("`true` did not end: \(child)") }
        return child.pid
    }

    @Test("hostile entries are quarantined, logged, never followed or opened", .timeLimit(.minutes(1)))
    func hostileEntries() throws {
        try withTemporaryDirectory { outside in
            try withSpool { spool, log in
                let pending = spool.layout.directory(for: .pending)
                let active = spool.layout.directory(for: .active)
                let failed = spool.layout.directory(for: .failed)
                // A file outside the spool that a symlink points at.
                let secret = "\(outside)/secret.json"
                try writeByHand(secret, #"{"password": "hunter2"}"#)
                try makeOld(secret, by: .seconds(7200))
                let secretBefore = try Data(contentsOf: URL(fileURLWithPath: secret))
                var secretStat = stat()
                lstat(secret, &secretStat)
                #expect(symlink(secret, "\(pending)/evil.json") == 0)
                // A FIFO with no writer: opening it for reading without O_NONBLOCK would hang.
                #expect(mkfifo("\(pending)/fifo.json", 0o644) == 0)
                #expect(mkfifo("\(active)/oddly named fifo", 0o644) == 0)
                try writeByHand("\(active)/huge.json", "{\"blob\": \"" + String(repeating: "x", count: 2 << 20) + "\"}")
                try writeByHand("\(failed)/broken.json", #"{"unterminated": "#)
                try writeByHand("\(failed)/array.json", "[1, 2, 3]")
                try writeByHand("\(pending)/notes.txt", "hello")
                // Hidden, but the runbook's Path.glob("*.json") would count it as a task.
                try writeByHand("\(failed)/.sneaky.json", "{}")
                try FileManager.default.createDirectory(
                    atPath: "\(pending)/dir.json",
                    withIntermediateDirectories: false
                )
                // A name that is not UTF-8: a String would repair it into a name not on disk.
                var rawName =
                    Array("\(pending)/bad".utf8CString.dropLast()) + [CChar(bitPattern: 0xff), CChar(bitPattern: 0xfe)]
                rawName.append(0)
                let fd = open(rawName, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
                #expect(fd >= 0)
                close(fd)
                try spool.submit(object: [:], id: TaskID("good-pending"))
                try spool.submit(object: [:], id: TaskID("good-active"))
                try spool.claim(TaskID("good-active"))

                let report = try spool.recover()

                #expect(report.counts == [.pending: 1, .active: 1, .completed: 0, .failed: 0])
                let reasons = Dictionary(
                    uniqueKeysWithValues: report.quarantined.map { ("\($0.state)/\($0.name)", $0.reason) }
                )
                #expect(reasons["pending/evil.json"] == .symlink)
                #expect(reasons["pending/fifo.json"] == .notRegularFile(kind: "a FIFO"))
                #expect(reasons["active/oddly named fifo"] == .notRegularFile(kind: "a FIFO"))
                #expect(reasons["active/huge.json"] == .tooLarge(size: (2 << 20) + 12, limit: 1 << 20))
                if case .invalidJSON = reasons["failed/broken.json"] {
                } else {
                    Issue.record("broken.json: \(String(describing: reasons["failed/broken.json"]))")
                }
                #expect(reasons["failed/array.json"] == .notAnObject("an array"))
                #expect(reasons["pending/notes.txt"] == .invalidName)
                #expect(reasons["pending/dir.json"] == .notRegularFile(kind: "a directory"))
                #expect(reasons["pending/bad\u{FFFD}\u{FFFD}"] == .invalidName)
                #expect(reasons["failed/.sneaky.json"] == .invalidName)
                #expect(report.quarantined.count == 10)
                #expect(report.quarantined.allSatisfy { $0.quarantinedPath != nil })

                // Only the good tasks are left in the state folders.
                #expect(try entries(pending) == ["good-pending.json"])
                #expect(try entries(active) == ["good-active.json"])
                #expect(try entries(failed).isEmpty)
                // The symlink was moved as a symlink; its target is untouched, not even read.
                let quarantined = try entries(spool.layout.quarantineDirectory)
                #expect(quarantined.count == 10)
                let movedLink = try #require(quarantined.first { $0.hasSuffix("evil.json") })
                var linkInfo = stat()
                #expect(lstat("\(spool.layout.quarantineDirectory)/\(movedLink)", &linkInfo) == 0)
                #expect(linkInfo.st_mode & S_IFMT == S_IFLNK)
                #expect(try Data(contentsOf: URL(fileURLWithPath: secret)) == secretBefore)
                var secretAfter = stat()
                lstat(secret, &secretAfter)
                #expect(secretAfter.st_mtim.tv_sec == secretStat.st_mtim.tv_sec)
                #expect(secretAfter.st_atim.tv_sec == secretStat.st_atim.tv_sec)
                // One warning per quarantined entry.
                let warnings = log.lines.filter { $0.message.contains("quarantined") && $0.level == .warning }
                #expect(warnings.count == 10)
            }
        }
    }

    @Test("checkedBefore: finished tasks that arrived before it are trusted from their status; later ones, and pending/ and active/, are read")
    func checkedBefore() throws {
        try withSpool { spool, _ in
            let pending = spool.layout.directory(for: .pending)
            let completed = spool.layout.directory(for: .completed)
            let failed = spool.layout.directory(for: .failed)
            // Before the time the watcher was last known to run. `old-garbage` stands for a file
            // that time says was checked: recovery must not read it to count it.
            try writeByHand("\(completed)/old-task.json", "{}")
            try writeByHand("\(completed)/old-garbage.json", "not json")
            try writeByHand("\(pending)/old-pending-garbage.json", "not json")
            #expect(symlink("/nonexistent", "\(failed)/old-link.json") == 0)
            try writeByHand("\(failed)/old-huge.json", "{\"blob\": \"" + String(repeating: "x", count: 2 << 20) + "\"}")
            let horizon = try ["\(completed)/old-task.json", "\(completed)/old-garbage.json", "\(failed)/old-huge.json"]
                .map { SpoolClock.enteredState(try #require(try FilePath($0).lstat())) }
                .max()!.addingTimeInterval(0.001)
            // After it: read and checked. File times come from a coarse clock; wait it out.
            while Date() < horizon.addingTimeInterval(0.05) { usleep(10_000) }
            try writeByHand("\(completed)/new-garbage.json", "not json")
            try writeByHand("\(failed)/new-task.json", "{}")
            let newTime = SpoolClock.enteredState(try #require(try FilePath("\(completed)/new-garbage.json").lstat()))
            try #require(newTime > horizon)

            let report = try spool.recover(checkedBefore: horizon)

            let reasons = Dictionary(uniqueKeysWithValues: report.quarantined.map { ("\($0.state)/\($0.name)", $0.reason) })
            #expect(reasons.count == 4, "\(reasons)")
            #expect(reasons["failed/old-link.json"] == .symlink)
            #expect(reasons["failed/old-huge.json"] == .tooLarge(size: (2 << 20) + 12, limit: 1 << 20))
            if case .invalidJSON = reasons["pending/old-pending-garbage.json"] {} else {
                Issue.record("old-pending-garbage.json: \(String(describing: reasons["pending/old-pending-garbage.json"]))")
            }
            if case .invalidJSON = reasons["completed/new-garbage.json"] {} else {
                Issue.record("new-garbage.json: \(String(describing: reasons["completed/new-garbage.json"]))")
            }
            #expect(try entries(completed) == ["old-garbage.json", "old-task.json"])
            #expect(report.counts == [.pending: 0, .active: 0, .completed: 2, .failed: 1])
        }
    }

    @Test("reading refuses hostile entries: get is FAILED_PRECONDITION, list skips them")
    func readsRefuseHostile() throws {
        try withTemporaryDirectory { outside in
            try withSpool { spool, _ in
                let pending = spool.layout.directory(for: .pending)
                try writeByHand("\(outside)/target.json", #"{"id": "target"}"#)
                #expect(symlink("\(outside)/target.json", "\(pending)/link.json") == 0)
                #expect(mkfifo("\(pending)/pipe.json", 0o644) == 0)
                try spool.submit(object: [:], id: TaskID("fine"))
                expectRPCError(.failedPrecondition) { _ = try spool.get(TaskID("link")) }
                expectRPCError(.failedPrecondition) { _ = try spool.get(TaskID("pipe")) }
                #expect(try spool.list(.pending).map(\.id.rawValue) == ["fine"])
                expectRPCError(.failedPrecondition) { try spool.claim(TaskID("link")) }
                #expect(try entries(spool.layout.directory(for: .active)).isEmpty)
            }
        }
    }

    @Test("one entry named by the watcher can be quarantined on its own")
    func quarantineOne() throws {
        try withSpool { spool, _ in
            let pending = spool.layout.directory(for: .pending)
            #expect(mkfifo("\(pending)/fifo.json", 0o644) == 0)
            try spool.submit(object: [:], id: TaskID("fine"))
            let entry = try #require(try spool.quarantineIfHostile(named: "fifo.json", in: .pending))
            #expect(entry.reason == .notRegularFile(kind: "a FIFO"))
            #expect(try spool.quarantineIfHostile(named: "fine.json", in: .pending) == nil)
            #expect(try spool.quarantineIfHostile(named: "../../etc/passwd", in: .pending) == nil)
            #expect(try entries(pending) == ["fine.json"])
        }
    }
}
