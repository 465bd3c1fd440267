import Foundation
import PipeBusCore
public import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

/// Which tasks a listing yields and in what order. Times are the time a task entered its state
/// (`TaskRecord.enteredState`).
public struct TaskListingQuery: Sendable {
    /// The state folders listed, merged into one order.
    public var states: [TaskState] = TaskState.allCases
    /// Only tasks in their state for longer than this.
    public var olderThan: Duration?
    /// Only tasks that entered their state at most this long ago.
    public var enteredWithin: Duration?
    /// Only tasks with this `correlation_id`.
    public var correlationID: String?
    /// Oldest first (the runbook's order for stuck tasks); newest first otherwise.
    public var oldestFirst = false
    /// At most this many tasks; nil for all.
    public var limit: Int?

    public init() {}
}

/// A listing of a spool's tasks that reads each task file only as it yields it: it holds the
/// names and mtimes of the folders listed (tens of bytes a task), never the tasks, so a
/// listing of 20,000 tasks costs no more memory than one of 20 beyond those names.
///
/// Tasks move while they are listed: one that left its folder after the names were read is
/// skipped, as is an entry that is not a task file (reported to `skipped`; `recover()` moves
/// it aside).
public struct TaskListing {
    private struct Candidate {
        var id: TaskID
        var state: TaskState
        var modified: timespec
    }

    private let layout: SpoolLayout
    private let maxTaskBytes: Int
    private let query: TaskListingQuery
    private let skipped: (FilePath, String) -> Void
    /// Oldest first; walked from the end for newest first.
    private var candidates: [Candidate] = []
    private var walked = 0
    private var yielded = 0

    /// Task files opened so far (yielded, or read and filtered out).
    public private(set) var filesRead = 0

    /// Reads the names and mtimes of the folders `query` lists, and sorts them.
    init(
        layout: SpoolLayout,
        maxTaskBytes: Int,
        query: TaskListingQuery,
        now: Date = SpoolClock.now(),
        skipped: @escaping (FilePath, String) -> Void
    ) throws {
        self.layout = layout
        self.maxTaskBytes = maxTaskBytes
        self.query = query
        self.skipped = skipped
        for state in TaskState.allCases where query.states.contains(state) {
            let directory = layout.directoryPath(state)
            for entry in try directory.entries() where !entry.isHidden {
                guard entry.type == DT_REG || entry.type == DT_UNKNOWN, let id = TaskID(fileName: entry.name),
                    let info = try directory.appending(rawName: entry.rawName).lstat(),
                    info.type == .regular
                else { continue }
                let entered = SpoolClock.enteredStateTime(info)
                if query.olderThan != nil || query.enteredWithin != nil {
                    let age = SpoolClock.age(of: SpoolClock.date(entered), now: now)
                    if let olderThan = query.olderThan, age <= olderThan { continue }
                    if let within = query.enteredWithin, age > within { continue }
                }
                candidates.append(Candidate(id: id, state: state, modified: entered))
            }
        }
        // Field by field: a comparison of tuples is generic (type metadata looked up for every
        // call), which made this sort most of a listing's CPU time.
        candidates.sort { a, b in
            if a.modified.tv_sec != b.modified.tv_sec { return a.modified.tv_sec < b.modified.tv_sec }
            if a.modified.tv_nsec != b.modified.tv_nsec { return a.modified.tv_nsec < b.modified.tv_nsec }
            if a.id != b.id { return a.id < b.id }
            return a.state.rawValue < b.state.rawValue
        }
    }

    /// A newest-first listing of `entries` (newest first, as `RecentArrivals` answers), read as
    /// it is walked: no folder is listed.
    init(
        layout: SpoolLayout,
        maxTaskBytes: Int,
        query: TaskListingQuery,
        newestFirst entries: [RecentArrivals.Entry],
        skipped: @escaping (FilePath, String) -> Void
    ) {
        precondition(!query.oldestFirst, "a listing of recent arrivals is newest first")
        self.layout = layout
        self.maxTaskBytes = maxTaskBytes
        self.query = query
        self.skipped = skipped
        candidates = entries.reversed().compactMap { entry in
            entry.state.map { Candidate(id: entry.id, state: $0, modified: entry.entered) }
        }
    }

    /// Every task name the listing found, with its state and the time it entered it.
    var entries: [RecentArrivals.Entry] {
        candidates.map { RecentArrivals.Entry(id: $0.id, state: $0.state, entered: $0.modified) }
    }

    /// The next task that matches, or nil at the end. `beforeEachFile` runs before each task
    /// file is opened: a caller serving a client stops the listing there (by throwing) when the
    /// client went away, however many files a filter passes over.
    public mutating func next(beforeEachFile: () throws -> Void = {}) throws -> TaskRecord? {
        try translatingSystemErrors(subject: "spool") {
            while walked < candidates.count {
                if let limit = query.limit, yielded >= limit { return nil }
                let candidate = candidates[query.oldestFirst ? walked : candidates.count - 1 - walked]
                walked += 1
                try beforeEachFile()
                filesRead += 1
                let path = layout.filePath(candidate.id, candidate.state)
                switch try TaskFileReader.read(path, limit: maxTaskBytes) {
                case .missing:
                    continue  // moved on since its name was read
                case .hostile(let reason):
                    skipped(path, "\(reason)")
                case .task(let bytes, let object, let info):
                    if let correlationID = query.correlationID,
                        object[TaskFile.Key.correlationID] as? String != correlationID
                    {
                        continue
                    }
                    yielded += 1
                    return TaskRecord(id: candidate.id, state: candidate.state, bytes: bytes, object: object, info: info)
                }
            }
            return nil
        }
    }
}

extension TaskSpool {
    /// The tasks `query` asks for, read one at a time as the listing is walked.
    public func listing(_ query: TaskListingQuery) throws -> TaskListing {
        try translatingSystemErrors(subject: "spool") {
            try TaskListing(layout: layout, maxTaskBytes: configuration.maxTaskBytes, query: query, now: configuration.clock()) { [logger] path, reason in
                // Logged where it is quarantined (`checkEntry`), once, not at every listing.
                logger.debug("skipping a spool entry that is not a task", metadata: ["path": "\(path.printable)", "reason": "\(reason)"])
            }
        }
    }

    /// The listing `query` asks for, from `recent` when it can answer it exactly (newest first,
    /// no age floor: see `RecentArrivals`), else from the folders.
    func listing(_ query: TaskListingQuery, recent: RecentArrivals) throws -> TaskListing {
        guard !query.oldestFirst, query.olderThan == nil else { return try listing(query) }
        let now = configuration.clock()
        let since = query.enteredWithin.map { SpoolClock.timespec(now.addingTimeInterval(-Double($0.components.seconds) - Double($0.components.attoseconds) / 1e18)) }
        // A filter on the file's contents may skip any number of entries: the limit says nothing.
        let limit = query.correlationID == nil ? query.limit : nil
        guard let entries = recent.newestFirst(states: Set(query.states), since: since, limit: limit) else {
            return try listing(query)
        }
        return TaskListing(layout: layout, maxTaskBytes: configuration.maxTaskBytes, query: query, newestFirst: entries) { [logger] path, reason in
            logger.debug("skipping a spool entry that is not a task", metadata: ["path": "\(path.printable)", "reason": "\(reason)"])
        }
    }

    /// Every task in the spool with the time it entered its folder (one listing, no file read):
    /// what `RecentArrivals` is seeded with.
    func arrivals() throws -> [RecentArrivals.Entry] {
        try listing(TaskListingQuery()).entries
    }

    /// A listing of the spool under `root` read as plain files, for a client whose sidecar is
    /// not running: nothing is created or changed. Entries that are not task files are skipped.
    public static func listing(
        root: String,
        worker: String,
        query: TaskListingQuery,
        configuration: Configuration = .defaults
    ) throws -> TaskListing {
        let layout = try SpoolLayout(root: root, worker: worker)
        return try translatingSystemErrors(subject: "spool") {
            try TaskListing(layout: layout, maxTaskBytes: configuration.maxTaskBytes, query: query) { _, _ in }
        }
    }
}
