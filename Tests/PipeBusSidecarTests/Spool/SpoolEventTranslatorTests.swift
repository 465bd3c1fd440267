import Testing
import PipeBusTasks

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

@Suite("SpoolEventTranslator")
struct SpoolEventTranslatorTests {
    private func record(_ flags: Int32, _ name: String, cookie: UInt32 = 0) -> InotifyRecord {
        InotifyRecord(watch: 1, mask: UInt32(bitPattern: flags), cookie: cookie, rawName: Array(name.utf8))
    }

    private func translator(
        known: [TaskState: Set<String>] = [:],
        probe: @escaping (TaskState, String) -> SpoolEventTranslator.Probe = { _, _ in .regular }
    ) -> SpoolEventTranslator {
        SpoolEventTranslator(known: known, probe: probe)
    }

    @Test("a move between folders under one name is a transition")
    func transition() throws {
        var t = translator(known: [.pending: ["x.json"]])
        #expect(t.translate(record(IN_MOVED_FROM, "x.json", cookie: 7), in: .pending).isEmpty)
        #expect(t.awaitsPartners)
        #expect(
            t.translate(record(IN_MOVED_TO, "x.json", cookie: 7), in: .active) == [
                .transition(try TaskID("x"), from: .pending, to: .active)
            ]
        )
        #expect(!t.awaitsPartners)
        #expect(t.flushDepartures().isEmpty)
        // It is now known in active/: a rewrite there is an update.
        #expect(t.translate(record(IN_CLOSE_WRITE, "x.json"), in: .active) == [.updated(try TaskID("x"), .active)])
    }

    @Test("a temp file renamed onto a new name is .appeared, onto a known one .updated")
    func tempRenames() throws {
        var t = translator(known: [.pending: ["old.json"]])
        _ = t.translate(record(IN_MOVED_FROM, ".new.json.tmp-1-a", cookie: 1), in: .pending)
        #expect(
            t.translate(record(IN_MOVED_TO, "new.json", cookie: 1), in: .pending) == [
                .appeared(try TaskID("new"), .pending)
            ]
        )
        _ = t.translate(record(IN_MOVED_FROM, ".old.json.tmp-1-b", cookie: 2), in: .pending)
        #expect(
            t.translate(record(IN_MOVED_TO, "old.json", cookie: 2), in: .pending) == [
                .updated(try TaskID("old"), .pending)
            ]
        )
    }

    @Test("RENAME_EXCHANGE (temp swapped in, task name swapped out to the temp) is one .updated")
    func exchange() throws {
        var t = translator(known: [.active: ["x.json"]])
        let temp = ".x.json.tmp-5-c"
        var events: [SpoolEvent] = []
        events += t.translate(record(IN_CREATE, temp), in: .active)
        events += t.translate(record(IN_CLOSE_WRITE, temp), in: .active)
        events += t.translate(record(IN_MOVED_FROM, temp, cookie: 3), in: .active)
        events += t.translate(record(IN_MOVED_TO, "x.json", cookie: 3), in: .active)
        events += t.translate(record(IN_MOVED_FROM, "x.json", cookie: 4), in: .active)
        events += t.translate(record(IN_MOVED_TO, temp, cookie: 4), in: .active)
        events += t.translate(record(IN_DELETE, temp), in: .active)
        events += t.flushDepartures()
        #expect(events == [.updated(try TaskID("x"), .active)])
    }

    @Test("two writers' exchanges in one folder, their halves interleaved, are two .updated and no removal")
    func interleavedExchanges() throws {
        // Seen with three sidecar instances completing tasks at once: the second half of one
        // exchange arrived after the first half of another, and read as x being removed.
        var t = translator(known: [.active: ["x.json", "y.json"]])
        let (tempX, tempY) = (".x.json.tmp-5-c", ".y.json.tmp-6-d")
        var events: [SpoolEvent] = []
        events += t.translate(record(IN_MOVED_FROM, tempX, cookie: 3), in: .active)
        events += t.translate(record(IN_MOVED_TO, "x.json", cookie: 3), in: .active)
        events += t.translate(record(IN_MOVED_FROM, tempY, cookie: 5), in: .active)
        events += t.translate(record(IN_MOVED_TO, "y.json", cookie: 5), in: .active)
        events += t.translate(record(IN_MOVED_FROM, "x.json", cookie: 4), in: .active)
        events += t.translate(record(IN_MOVED_TO, tempX, cookie: 4), in: .active)
        events += t.translate(record(IN_MOVED_FROM, "y.json", cookie: 6), in: .active)
        events += t.translate(record(IN_MOVED_TO, tempY, cookie: 6), in: .active)
        events += t.flushDepartures()
        #expect(events == [.updated(try TaskID("x"), .active), .updated(try TaskID("y"), .active)])
        // Both are still known in active/: their next move is a transition.
        _ = t.translate(record(IN_MOVED_FROM, "x.json", cookie: 8), in: .active)
        #expect(t.translate(record(IN_MOVED_TO, "x.json", cookie: 8), in: .completed) == [.transition(try TaskID("x"), from: .active, to: .completed)])
    }

    @Test("a task renamed to a hidden name without an exchange is removed")
    func hiddenAway() throws {
        var t = translator(known: [.pending: ["x.json"]])
        _ = t.translate(record(IN_MOVED_FROM, "x.json", cookie: 9), in: .pending)
        #expect(
            t.translate(record(IN_MOVED_TO, ".x.json.bak", cookie: 9), in: .pending) == [
                .removed(try TaskID("x"), .pending)
            ]
        )
    }

    @Test("a departure with no partner is a removal once flushed; an arrival with none is new")
    func unpaired() throws {
        var t = translator(known: [.pending: ["x.json"]])
        _ = t.translate(record(IN_MOVED_FROM, "x.json", cookie: 11), in: .pending)
        #expect(t.flushDepartures() == [.removed(try TaskID("x"), .pending)])
        #expect(
            t.translate(record(IN_MOVED_TO, "y.json", cookie: 12), in: .pending) == [
                .appeared(try TaskID("y"), .pending)
            ]
        )
    }

    @Test("each departure waits from when it was read: records in between do not hold it back")
    func departuresExpireByAge() throws {
        var t = translator(known: [.active: ["empty-1.json", "real-1.json"]])
        let start = ContinuousClock.now
        // A quarantine: moved out of active/ to .quarantine/, which is not watched.
        _ = t.translate(record(IN_MOVED_FROM, "empty-1.json", cookie: 9), in: .active, at: start)
        // The sidecar's disk probe in pending/, and a later departure, in between.
        _ = t.translate(record(IN_CREATE, ".pipebus-probe-1"), in: .pending, at: start + .milliseconds(300))
        _ = t.translate(record(IN_DELETE, ".pipebus-probe-1"), in: .pending, at: start + .milliseconds(300))
        _ = t.translate(record(IN_MOVED_FROM, "real-1.json", cookie: 10), in: .active, at: start + .milliseconds(400))
        #expect(t.oldestDeparture == start)
        #expect(t.flushDepartures(seenBefore: start).isEmpty, "nothing is due yet")
        #expect(t.flushDepartures(seenBefore: start + .milliseconds(350)) == [.removed(try TaskID("empty-1"), .active)])
        #expect(t.counts.active == 1)
        #expect(t.oldestDeparture == start + .milliseconds(400), "the later one waits on")
        #expect(t.flushDepartures() == [.removed(try TaskID("real-1"), .active)])
        #expect(t.counts.active == 0)
        #expect(!t.awaitsPartners)
    }

    @Test("hidden names produce nothing; bad names and non-files are .unexpected")
    func oddEntries() {
        var t = translator(probe: { _, name in name == "link.json" ? .other(.symlink) : .regular })
        #expect(t.translate(record(IN_CREATE, ".tmp"), in: .pending).isEmpty)
        #expect(t.translate(record(IN_CLOSE_WRITE, ".tmp"), in: .pending).isEmpty)
        #expect(t.translate(record(IN_DELETE, ".tmp"), in: .pending).isEmpty)
        #expect(
            t.translate(record(IN_CREATE, "link.json"), in: .pending) == [
                .unexpected(name: "link.json", state: .pending, reason: .symlink)
            ]
        )
        #expect(
            t.translate(record(IN_CREATE | IN_ISDIR, "d.json"), in: .pending) == [
                .unexpected(name: "d.json", state: .pending, reason: .notRegularFile(kind: "a directory"))
            ]
        )
        #expect(
            t.translate(record(IN_CLOSE_WRITE, "notes.txt"), in: .pending) == [
                .unexpected(name: "notes.txt", state: .pending, reason: .invalidName)
            ]
        )
        #expect(
            t.translate(record(IN_CLOSE_WRITE, "a\nb.json"), in: .pending) == [
                .unexpected(name: "a\\u{a}b.json", state: .pending, reason: .invalidName)
            ]
        )
        // Hidden, but the runbook's Path.glob("*.json") matches it.
        #expect(
            t.translate(record(IN_CLOSE_WRITE, ".sneaky.json"), in: .pending) == [
                .unexpected(name: ".sneaky.json", state: .pending, reason: .invalidName)
            ]
        )
        // A regular file being created is reported when it is closed, not before.
        #expect(t.translate(record(IN_CREATE, "new.json"), in: .pending).isEmpty)
    }

    @Test("records are parsed from the kernel's layout, names NUL-padded")
    func parse() {
        var bytes: [UInt8] = []
        func append(_ watch: Int32, _ mask: UInt32, _ cookie: UInt32, _ name: String, padded: Int) {
            withUnsafeBytes(of: watch.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: mask.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: cookie.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt32(padded).littleEndian) { bytes += $0 }
            bytes += Array(name.utf8) + [UInt8](repeating: 0, count: padded - name.utf8.count)
        }
        append(3, 0x40, 5, "a.json", padded: 16)
        append(4, 0x80, 5, "", padded: 0)
        let records = bytes.withUnsafeBytes { InotifyRecord.parse($0) }
        #expect(
            records == [
                InotifyRecord(watch: 3, mask: 0x40, cookie: 5, rawName: Array("a.json".utf8)),
                InotifyRecord(watch: 4, mask: 0x80, cookie: 5, rawName: []),
            ]
        )
        // A truncated record is dropped, not read past.
        #expect(Array(bytes.dropLast(3)).withUnsafeBytes { InotifyRecord.parse($0) }.count == 1)
    }
}
