public import Foundation
import PipeBusCore
public import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

/// Finished tasks past retention (`TaskRetention`), out of the hot folders:
/// `<root>/tasks/<worker>/archive/<YYYY-MM-DD>.jsonl.lz4`, one segment per UTC day on which the
/// tasks entered `completed/` or `failed/`.
///
/// A segment is a series of LZ4 frames (the `lz4` tool's format: `lz4cat` prints it on any
/// Debian host), each a batch of JSON lines, one task a line:
/// `{"archived_at":"…","entered_at":"…","id":"…","state":"completed","task":{…the file's object…}}`.
/// A batch is appended as one frame and fsynced before its files leave the hot folder, so a
/// task is always in one place or the other, or for a moment in both (which a restart
/// recognises: see `TaskArchiveWriter`). Each frame stands alone: a damaged one is reported and
/// the frames around it are still read.
public struct TaskArchive: Sendable {
    /// One archived task: the task file's bytes as they were (line breaks made spaces, which
    /// JSON allows between tokens, and inside strings they are escaped anyway).
    public struct Task: Sendable, Hashable {
        public var id: TaskID
        public var state: TaskState
        public var enteredState: Date
        public var archivedAt: Date
        public var json: [UInt8]
    }

    /// A segment as read: its tasks, and what could not be read (one sentence each).
    public struct Segment: Sendable {
        public var name: String
        public var tasks: [Task]
        public var problems: [String]
    }

    static let suffix = ".jsonl.lz4"

    let directory: FilePath

    /// `<root>/tasks/<worker>/archive`.
    public var path: String { directory.string }

    public init(layout: SpoolLayout) {
        directory = FilePath(layout.archiveDirectory)
    }

    public init(root: String, worker: String) throws {
        self.init(layout: try SpoolLayout(root: root, worker: worker))
    }

    /// The segment of the tasks that entered their folder on `date`'s UTC day.
    static func segmentName(for date: Date) -> String {
        let day = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
        var time = time_t(day * 86_400)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday)) + suffix
    }

    /// The UTC day a segment holds, from its name; nil for another file.
    static func day(ofSegment name: String) -> Date? {
        guard name.hasSuffix(suffix) else { return nil }
        return Timestamp.date(String(name.dropLast(suffix.count)) + "T00:00:00Z")
    }

    /// The segments, oldest day first (none when nothing was ever archived).
    public func segmentNames() throws -> [String] {
        guard try directory.lstat() != nil else { return [] }
        return try translatingSystemErrors(subject: "archive") {
            try directory.entries().map(\.name).filter { !$0.hasPrefix(".") && Self.day(ofSegment: $0) != nil }.sorted()
        }
    }

    /// Every task of segment `name`, in the order archived. A task recorded twice (archived, then
    /// archived again after a crash before its file left the hot folder) is given once.
    public func read(segment name: String) throws -> Segment {
        let path = directory.appending(name)
        let bytes = try translatingSystemErrors(subject: "archive") { () -> [UInt8] in
            let fd = try path.open(.readOnly, options: .untrusted)
            defer { fd.closeIgnoringErrors() }
            let info = try fd.stat(path: path)
            return try fd.readAll(limit: Int.max - 1, expectedSize: Int(info.size), path: path)
        }
        return Self.decode(bytes, name: name)
    }

    static func decode(_ bytes: [UInt8], name: String) -> Segment {
        let (frames, damage) = LZ4Frame.frames(in: bytes)
        var segment = Segment(name: name, tasks: [], problems: [])
        for damaged in damage {
            segment.problems.append(
                "archive segment \(name): \(damaged.truncated ? "cut short" : "damaged") at byte \(damaged.offset) (\(damaged.reason)); the tasks of that frame are lost, the other frames are read"
            )
        }
        var seen = Set<TaskArchiveWriter.Key>()
        for frame in frames {
            for (number, line) in frame.content.split(separator: UInt8(ascii: "\n")).enumerated() {
                guard let task = parseLine(Array(line)) else {
                    segment.problems.append("archive segment \(name): line \(number + 1) of the frame at byte \(frame.start) is not an archived task")
                    continue
                }
                // Decoded tasks are canonical already: the key is cheap.
                if seen.insert(TaskArchiveWriter.Key(state: task.state, id: task.id, json: task.json)).inserted {
                    segment.tasks.append(task)
                }
            }
        }
        return segment
    }

    /// One line of a segment.
    static func line(for task: Task) -> [UInt8] {
        let header: [String: Any] = [
            "archived_at": Timestamp.iso8601(task.archivedAt),
            "entered_at": Timestamp.iso8601(task.enteredState),
            "id": task.id.rawValue,
            "state": task.state.folderName,
        ]
        var bytes = Array((try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8))
        bytes.removeLast()  // the closing brace: the task follows as the last key
        bytes += Array(",\"task\":".utf8) + task.json + [UInt8(ascii: "}"), UInt8(ascii: "\n")]
        return bytes
    }

    /// A task's object encoded one way (sorted keys), for comparing a file with a line.
    static func canonical(_ json: [UInt8]) -> [UInt8] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return json }
        return Array(data)
    }

    static func parseLine(_ line: [UInt8]) -> Task? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
            let idText = object["id"] as? String, let id = try? TaskID(idText),
            let stateText = object["state"] as? String, let state = TaskState.allCases.first(where: { $0.folderName == stateText }),
            let entered = (object["entered_at"] as? String).flatMap(Timestamp.date),
            let archived = (object["archived_at"] as? String).flatMap(Timestamp.date),
            let task = object["task"] as? [String: Any],
            let json = try? JSONSerialization.data(withJSONObject: task, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return nil }
        // Re-encoded: the line's bytes of the task are not kept apart by the parser.
        return Task(id: id, state: state, enteredState: entered, archivedAt: archived, json: Array(json))
    }

    /// Task `id` as last archived (newest segment first), or nil; the problems of the segments
    /// read on the way go to `problem`.
    public func find(_ id: TaskID, problem: (String) -> Void = { _ in }) throws -> Task? {
        for name in try segmentNames().reversed() {
            let segment = try read(segment: name)
            segment.problems.forEach(problem)
            if let task = segment.tasks.last(where: { $0.id == id }) { return task }
        }
        return nil
    }

    /// The archived tasks `query` asks for, in its order (by the time each entered its folder),
    /// reading only the segments of the days its time filters reach. Problems go to `problem`.
    public func tasks(_ query: TaskListingQuery, now: Date = Date(), problem: (String) -> Void = { _ in }) throws -> [Task] {
        let oldestEntry = query.enteredWithin.map { now.addingTimeInterval(-$0.archiveSeconds) }
        let newestEntry = query.olderThan.map { now.addingTimeInterval(-$0.archiveSeconds) }
        var found: [Task] = []
        for name in try segmentNames() {
            guard let day = Self.day(ofSegment: name) else { continue }
            if let oldestEntry, day.addingTimeInterval(86_400) <= oldestEntry { continue }
            if let newestEntry, day > newestEntry { continue }
            let segment = try read(segment: name)
            segment.problems.forEach(problem)
            found += segment.tasks.filter { task in
                query.states.contains(task.state)
                    && oldestEntry.map { task.enteredState >= $0 } ?? true
                    && newestEntry.map { task.enteredState < $0 } ?? true
                    && (query.correlationID.map { task.record.correlationID == $0 } ?? true)
            }
        }
        found.sort { $0.enteredState != $1.enteredState ? $0.enteredState < $1.enteredState : $0.id < $1.id }
        if !query.oldestFirst { found.reverse() }
        if let limit = query.limit { found = Array(found.prefix(limit)) }
        return found
    }
}

extension TaskArchive.Task {
    /// The task of `record` as archived at `archivedAt`: its bytes on one line (a line break is
    /// whitespace between JSON tokens, and never raw inside a JSON string, so a space is the same).
    init(_ record: TaskRecord, archivedAt: Date) {
        self.init(
            id: record.id, state: record.state, enteredState: record.enteredState, archivedAt: archivedAt,
            json: record.json.map { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") ? UInt8(ascii: " ") : $0 }
        )
    }

    /// As a task record, for the callers that show or replay spool tasks.
    public var record: TaskRecord {
        TaskRecord(archived: self)
    }
}

extension Duration {
    fileprivate var archiveSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
