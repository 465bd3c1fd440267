public import Foundation
public import Logging
import PipeBusCore
public import PipeBusTasks
import Synchronization

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

/// A worker's durable task spool: the folders of DESIGN §2, written durably and never trusted
/// when read (DESIGN §6).
///
/// Several sidecar instances of one worker may share a spool as competing consumers, and spool
/// workers and operators rename files in it by hand, so the class keeps no state of its own:
/// the file system is the state, and every move is one atomic rename.
public final class TaskSpool: Sendable {
    /// Limits and timings; the defaults suit a production spool.
    public struct Configuration: Sendable {
        /// The largest task file read or written; bigger files are quarantined by `recover()`.
        public var maxTaskBytes = 1 << 20
        /// A temp file younger than this may belong to a write in flight in another sidecar
        /// sharing the spool, so `recover()` leaves it alone.
        public var staleTemporaryAge: Duration = .seconds(60)
        /// An entry that is not valid task JSON (empty, cut short) may be one a writer is still
        /// writing in place; it is quarantined once unchanged for this long.
        public var unreadableEntryGrace: Duration = .seconds(2)
        /// The wall clock ages in state are measured on, and the time stamped on the files this
        /// spool moves or creates (`SpoolClock.enteredState`). A test may set it ahead to age
        /// tasks: an mtime set into the past cannot (the ctime cannot be set).
        public var clock: @Sendable () -> Date = { SpoolClock.now() }

        public init() {}

        public static var defaults: Configuration { Configuration() }
    }

    public let layout: SpoolLayout
    public let configuration: Configuration
    let logger: Logger
    /// Folder fsyncs shared by the moves of concurrent callers (`GroupCommit`).
    let groupCommit = GroupCommit()
    /// In a struct, not as a bare closure: a closure stored in `Mutex`'s generic storage and
    /// read through `withLock`'s inout access came back wrapped in two more reabstraction
    /// thunks on every read, so each rename made the next call one level deeper. After ~20,000
    /// renames (17 minutes of soak) the call overflowed the stack and the sidecar died.
    private struct MoveObserver: Sendable {
        let call: @Sendable (SpoolMove) -> Void
    }
    private let moveObserver = Mutex<MoveObserver?>(nil)
    /// What this object wrote last, for the watcher's reports of it (`OwnWrites`).
    private let ownWrites = Mutex(OwnWrites())

    /// A rename this spool object is about to make: into `to` from `from` (nil for a new task).
    public struct SpoolMove: Hashable, Sendable {
        public var id: TaskID
        public var from: TaskState?
        public var to: TaskState
    }

    /// Calls `observer` just before each rename this object makes (a transition, an undo, a
    /// new task), whether or not the rename then succeeds. Lets a sidecar tell its own moves
    /// from those of others sharing the spool when the watcher reports them.
    /// Folder-fsync batches committed and fsyncs made by this spool's moves so far: with
    /// concurrent callers, fewer fsyncs than moves.
    public var commitStatistics: (batches: UInt64, fsyncs: UInt64) { groupCommit.statistics }

    public func observeMoves(_ observer: @escaping @Sendable (SpoolMove) -> Void) {
        moveObserver.withLock { $0 = MoveObserver(call: observer) }
    }

    func willMove(_ id: TaskID, from: TaskState?, to: TaskState) {
        moveObserver.withLock { $0 }?.call(SpoolMove(id: id, from: from, to: to))
    }

    /// Opens the spool of `worker` under `root`, creating its folders (0755) if missing.
    /// Throws if a folder cannot be created or is not a real directory (a symlink is refused).
    public init(root: String, worker: String, configuration: Configuration = .defaults, logger: Logger) throws {
        self.layout = try SpoolLayout(root: root, worker: worker)
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "worker"] = "\(worker)"
        self.logger = logger
        try translatingSystemErrors(subject: "spool") { try createFolders() }
    }

    private func createFolders() throws {
        let folders =
            [RootLayout(root: layout.root).tasksDirectory, layout.workerDirectory, layout.quarantineDirectory]
            + TaskState.allCases.map(layout.directory(for:))
        try FilePath(layout.root).makeDirectory(permissions: [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute])
        for folder in folders {
            let path = FilePath(folder)
            try path.makeDirectory(permissions: [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute])
            guard let info = try path.lstat(), info.type == .directory else {
                throw RPCError(
                    code: .failedPrecondition,
                    message: "spool folder \(path) is not a directory (a symlink or a file is refused)"
                )
            }
        }
    }

    /// The task with this id, searched in lifecycle order (pending, active, completed, failed)
    /// so that a task moving on while it is searched for is still found; nil if in none.
    /// Throws FAILED_PRECONDITION if the id names an entry that is not a task file.
    public func get(_ id: TaskID) throws -> TaskRecord? {
        try translatingSystemErrors(subject: "spool") {
            for state in TaskState.allCases {
                if let record = try read(id, in: state) { return record }
            }
            return nil
        }
    }

    /// The task `id` in `state`, or nil when it is not there.
    public func get(_ id: TaskID, in state: TaskState) throws -> TaskRecord? {
        try translatingSystemErrors(subject: "spool") { try read(id, in: state) }
    }

    /// Tasks in `state`, oldest first by mtime (like the runbook's checks), at most `limit`, only
    /// those older than `olderThan` if given. Entries that are not task files are skipped and
    /// logged; `recover()` moves them aside.
    public func list(_ state: TaskState, olderThan: Duration? = nil, limit: Int? = nil) throws -> [TaskRecord] {
        var query = TaskListingQuery()
        query.states = [state]
        query.olderThan = olderThan
        query.oldestFirst = true
        query.limit = limit
        var listing = try listing(query)
        var records: [TaskRecord] = []
        while let record = try listing.next() { records.append(record) }
        return records
    }

    /// The number of task files in each state folder: the names the runbook's
    /// `glob("*.json")` counts, less hidden and invalid ones. Cheap: no file is opened.
    public func counts() throws -> [TaskState: Int] {
        try translatingSystemErrors(subject: "spool") {
            var counts: [TaskState: Int] = [:]
            for state in TaskState.allCases {
                counts[state] = try layout.directoryPath(state).entries().count { entry in
                    !entry.isHidden && (entry.type == DT_REG || entry.type == DT_UNKNOWN)
                        && TaskID(fileName: entry.name) != nil
                }
            }
            return counts
        }
    }

    /// Deletes task `id` from `state` (searched in lifecycle order when nil), durably.
    /// Throws NOT_FOUND when it is not there.
    public func remove(_ id: TaskID, from state: TaskState? = nil) throws {
        try translatingSystemErrors(subject: "spool") {
            for candidate in state.map({ [$0] }) ?? TaskState.allCases {
                if try layout.filePath(id, candidate).remove() {
                    try groupCommit.sync([layout.directoryPath(candidate)])
                    logger.info("removed task", metadata: ["task_id": "\(id)", "state": "\(candidate)"])
                    return
                }
            }
            throw RPCError(code: .notFound, message: "task \(id) is not in the spool of \(layout.worker)")
        }
    }

    /// Reads task `id` in `state`: nil if absent, FAILED_PRECONDITION if it is not a task file.
    func read(_ id: TaskID, in state: TaskState) throws -> TaskRecord? {
        let path = layout.filePath(id, state)
        switch try TaskFileReader.read(path, limit: configuration.maxTaskBytes) {
        case .missing:
            return nil
        case .hostile(let reason):
            throw RPCError(code: .failedPrecondition, message: "spool entry \(path) is \(reason)")
        case .task(let bytes, let object, let info):
            return TaskRecord(id: id, state: state, bytes: bytes, object: object, info: info)
        }
    }

    /// The record of a task file this object has just written as `id` in `state` (`bytes`,
    /// parsed as `object`), built from them and the file's status rather than read back, and
    /// noted for the watcher (`ownRecord`); nil when the file has moved on already.
    func recordWritten(_ id: TaskID, in state: TaskState, bytes: [UInt8], object: [String: Any]) throws -> TaskRecord? {
        guard let info = try layout.filePath(id, state).lstat(), info.type == .regular else { return nil }
        let record = TaskRecord(id: id, state: state, bytes: bytes, object: object, info: info)
        ownWrites.withLock { $0.note(OwnWrites.Written(record: record, info: info)) }
        return record
    }

    /// The record of task `id` in `state` when the file there is still one this object wrote,
    /// unchanged (`OwnWrites`): a task file whose content is known, with no read or parse. Nil
    /// when the file is someone else's, changed since, or gone. One `lstat`.
    func ownRecord(_ id: TaskID, in state: TaskState) -> TaskRecord? {
        guard let written = ownWrites.withLock({ $0.written(id, in: state) }),
            let info = try? layout.filePath(id, state).lstat(), written.matches(info)
        else { return nil }
        return written.record
    }

    /// The state folder `id` is in now, without reading it; nil if in none.
    func locate(_ id: TaskID) throws -> TaskState? {
        for state in TaskState.allCases where try layout.filePath(id, state).lstat() != nil {
            return state
        }
        return nil
    }
}
