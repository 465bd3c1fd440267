public import Foundation
public import PipeBusTasks
import Logging

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A task as it is in the spool: its file's bytes, with the fields the sidecar reads parsed
/// eagerly, so that the record is `Sendable` (a `[String: Any]` is not).
public struct TaskRecord: Hashable, Sendable {
    /// From the file name, which is authoritative: the runbook's replay writes `<id>_replay.json`
    /// and leaves the old `id` inside.
    public var id: TaskID
    public var state: TaskState
    /// The file's bytes: a JSON object.
    public var json: [UInt8]
    public var correlationID: String?
    public var traceContext: TraceContext?
    /// `submitted_at` as written.
    public var submittedAtText: String?
    /// `submitted_at` parsed, when it is ISO 8601.
    public var submittedAt: Date?
    public var attempts: Int
    public var hasResult: Bool
    public var hasError: Bool
    /// `error` when it is a string (what `clearStuck` and most workers write).
    public var errorMessage: String?
    /// `error_kind`: what kind of failure a worker says this was; `"claude_api"` counts in
    /// `claude_api_errors_total` when the task enters `failed/` (README, "Task files").
    public var errorKind: String?
    /// The file's mtime, what the runbook's snippets read: the sidecar stamps it to the moment
    /// the task entered its state folder, but a move it has not seen yet is not stamped.
    public var modified: Date
    /// When the task entered its state folder (`SpoolClock.enteredState`): its age in that state
    /// is measured from here, by `clear-stuck`, `tasks --older-than` and the oldest-task age.
    public var enteredState: Date
    /// Whether the file has every key the sidecar sets on a new task, its inner `id` being the
    /// file's (what a submit writes; a file dropped in by hand may lack them: `adopt`).
    var hasSidecarKeys: Bool

    /// The whole task object, parsed again (the record keeps bytes to stay `Sendable`).
    public func object() throws -> [String: Any] {
        try TaskFile.parseObject(json)
    }

    init(id: TaskID, state: TaskState, bytes: [UInt8], object: [String: Any], info: Stat) {
        self.init(
            id: id, state: state, bytes: bytes, file: TaskFile(object: object),
            modified: SpoolClock.date(info.st_mtim), enteredState: SpoolClock.enteredState(info)
        )
    }

    /// A task from the archive: its times are those it had in its folder.
    init(archived task: TaskArchive.Task) {
        self.init(
            id: task.id, state: task.state, bytes: task.json, file: TaskFile(object: (try? TaskFile.parseObject(task.json)) ?? [:]),
            modified: task.enteredState, enteredState: task.enteredState
        )
    }

    private init(id: TaskID, state: TaskState, bytes: [UInt8], file: TaskFile, modified: Date, enteredState: Date) {
        self.id = id
        self.state = state
        self.json = bytes
        self.correlationID = file.correlationID
        self.traceContext = file.traceContext
        self.submittedAtText = file.submittedAt
        self.submittedAt = file.submittedAtDate
        self.attempts = file.attempts ?? 0
        self.hasResult = file.hasResult
        self.hasError = file.hasError
        self.errorMessage = file.errorMessage
        self.errorKind = file.errorKind
        self.modified = modified
        self.enteredState = enteredState
        self.hasSidecarKeys =
            file.id == id.rawValue && file.correlationID != nil && file.traceContext != nil
            && file.submittedAt != nil && file.attempts != nil
    }
}

extension TaskRecord {
    /// The log fields DESIGN §2 asks for where known: `task_id`, `correlation_id`, `trace_id`.
    var logMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["task_id": "\(id)", "state": "\(state)"]
        if let correlationID { metadata["correlation_id"] = "\(correlationID)" }
        if let traceID = traceContext?.traceID { metadata["trace_id"] = "\(traceID)" }
        return metadata
    }
}
