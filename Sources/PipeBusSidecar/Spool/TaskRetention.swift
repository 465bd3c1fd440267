import Foundation
import Logging
import PipeBusCore
import PipeBusTasks
import Synchronization

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

/// How long and how many finished tasks stay in `completed/` and `failed/` (the worker config's
/// `*_max_age_seconds` and `*_max_count`; 0 turns a limit off).
public struct RetentionPolicy: Hashable, Sendable {
    public struct Limits: Hashable, Sendable {
        public var maxAgeSeconds: Int
        public var maxCount: Int

        public init(maxAgeSeconds: Int = 0, maxCount: Int = 0) {
            self.maxAgeSeconds = maxAgeSeconds
            self.maxCount = maxCount
        }

        var isOff: Bool { maxAgeSeconds <= 0 && maxCount <= 0 }
    }

    public var completed: Limits
    public var failed: Limits

    public init(completed: Limits, failed: Limits) {
        self.completed = completed
        self.failed = failed
    }

    subscript(state: TaskState) -> Limits {
        state == .failed ? failed : completed
    }
}

/// Moves finished tasks past their retention limits from `completed/` and `failed/` to the
/// archive (`TaskArchive`), oldest first.
///
/// Its cost follows what it moves, not the spool's size: it keeps the finished tasks in the order
/// they entered their folder (seeded by the sidecar's one listing at start, then fed by the
/// watcher's events), takes from the front only what is past a limit, and learns the folders'
/// sizes from the census. An entry whose task has left its folder by other means is dropped
/// when it reaches the front.
///
/// Its memory does not follow the spool's size either: each state keeps at most `window` of its
/// oldest tasks (32 bytes each). Tasks beyond that are left in the folder, unlisted, and the
/// queue is filled again from a listing of the folder once the pass has taken every entry it
/// holds: one listing per `window` tasks archived. (A week of a busy worker is 10⁶ finished
/// tasks, 32 MB of queue.)
///
/// A task is appended to its segment and fsynced before its file is unlinked, so a crash
/// between the two leaves it in both places, which the next pass resolves (`TaskArchiveWriter`).
/// A task whose replay (`<id>_replay`) is pending or active is kept until the replay is done.
final class TaskRetention: Sendable {
    struct Entry {
        var id: TaskID
        var entered: timespec
    }

    /// One state's entries, oldest first; `head` is the front (taken entries are dropped in bulk).
    private struct Queue {
        var entries: [Entry] = []
        var head = 0
        /// Tasks newer than the last entry were left out (the window was full): none is appended
        /// until the queue has run dry and been filled again from a listing of the folder.
        var truncated = false
        /// Arrivals while the folder is being listed to fill the queue again (`truncated`), in
        /// case the listing missed them; nil when no listing runs.
        var arrivalsWhileListing: [Entry]?

        var count: Int { entries.count - head }

        mutating func append(_ entry: Entry, window: Int) {
            if truncated {
                arrivalsWhileListing?.append(entry)
            } else if count >= window {
                truncated = true
            } else {
                entries.append(entry)
            }
        }

        /// Starts again from `sorted` (a listing, oldest first): its first `window` entries.
        mutating func fill(_ sorted: [Entry], window: Int) {
            entries = Array(sorted.prefix(window))
            head = 0
            truncated = sorted.count > window
            if !truncated, let arrivals = arrivalsWhileListing {
                for entry in arrivals { append(entry, window: window) }
            }
            arrivalsWhileListing = nil
        }

        var first: Entry? { head < entries.count ? entries[head] : nil }

        mutating func removeFirst() {
            head += 1
            if head >= 4096, head * 2 >= entries.count {
                entries.removeFirst(head)
                head = 0
            }
        }

        /// Puts entries taken in this pass back at the front, in their order.
        mutating func putBack(_ taken: [Entry]) {
            guard !taken.isEmpty else { return }
            if head >= taken.count {
                head -= taken.count
                for (offset, entry) in taken.enumerated() { entries[head + offset] = entry }
            } else {
                entries.replaceSubrange(head..<head, with: taken)
            }
        }
    }

    private struct Queues {
        var completed = Queue()
        var failed = Queue()

        /// A state's queue, changed in place: with a plain `set` the queue was copied whole on
        /// every change, so each arrival and each archived task cost O(queue), 10⁶ entries at a
        /// week of a busy worker's finished tasks.
        subscript(state: TaskState) -> Queue {
            get { state == .failed ? failed : completed }
            _modify {
                if state == .failed { yield &failed } else { yield &completed }
            }
        }
    }

    /// What a pass did.
    struct Pass: Sendable {
        var archived: [TaskState: Int] = [:]
        /// Past a limit but kept: their replay is running.
        var held = 0
        var problems: [String] = []
        /// A state had more past its limits than `maxPerPass`: another pass is due at once.
        var more = false
    }

    let spool: TaskSpool
    let writer: TaskArchiveWriter
    /// The most tasks one pass moves: a pass after the limits were lowered on a big spool takes a
    /// few passes rather than one long one.
    let maxPerPass: Int
    /// The most tasks a state's queue holds (the oldest).
    let window: Int
    /// Called once a batch is durably in the archive and before its files are unlinked: a test
    /// stops the process there to check what a restart does with a task in both places.
    private let afterAppend: (@Sendable () -> Void)?
    private let queues = Mutex(Queues())
    /// Files this retention unlinked whose removal the watcher has not reported yet: the census
    /// still counts them, so a pass right after another subtracts them (a count limit would
    /// otherwise archive them twice over).
    private let unreported = Mutex<[TaskState: Set<TaskID>]>([:])

    init(spool: TaskSpool, maxPerPass: Int = 5000, window: Int = 65_536, afterAppend: (@Sendable () -> Void)? = nil) {
        precondition(window > 0)
        self.spool = spool
        self.writer = TaskArchiveWriter(archive: TaskArchive(layout: spool.layout))
        self.maxPerPass = maxPerPass
        self.window = window
        self.afterAppend = afterAppend
    }

    var archive: TaskArchive { writer.archive }

    /// Starts again from a listing of the spool (the sidecar's one listing at start, and after
    /// the watcher lost events): the finished tasks, by the time each entered its folder.
    func seed(_ entries: [RecentArrivals.Entry]) {
        var seeded = Queues()
        for state in [TaskState.completed, .failed] {
            seeded[state].fill(Self.oldestFirst(entries.filter { $0.state == state }), window: window)
        }
        queues.withLock { $0 = seeded }
        unreported.withLock { $0.removeAll() }  // the listing no longer holds them
    }

    /// The watcher reported that task `id` left `state`.
    func noteRemoval(_ id: TaskID, from state: TaskState) {
        unreported.withLock { _ = $0[state]?.remove(id) }
    }

    /// Task `id` entered `state` at `time` (a watcher's event).
    func noteArrival(_ id: TaskID, in state: TaskState, at time: timespec) {
        guard state == .completed || state == .failed else { return }
        queues.withLock { $0[state].append(Entry(id: id, entered: time), window: window) }
    }

    /// Tasks waiting in each finished state's order (stale entries included), for tests.
    func queued(_ state: TaskState) -> Int {
        queues.withLock { $0[state].count }
    }

    /// The number of tasks in `state`'s folder without a census: the queue's length, unless tasks
    /// were left out of it.
    private func folderCount(_ state: TaskState) -> Int {
        let (queued, truncated) = queues.withLock { ($0[state].count, $0[state].truncated) }
        guard truncated else { return queued }
        return (try? spool.counts()[state]) ?? queued
    }

    private static func oldestFirst(_ listed: [RecentArrivals.Entry]) -> [Entry] {
        listed.map { Entry(id: $0.id, entered: $0.entered) }.sorted { RecentArrivals.earlier($0.entered, $1.entered) }
    }

    /// The front of `state`'s queue; when the queue has run dry and tasks were left out of it,
    /// after filling it again from a listing of the folder.
    /// `mayList`: at most one listing a pass, so entries held back (a replay running) that fill
    /// the window cannot make a pass list the folder over and over.
    private func front(_ state: TaskState, mayList: inout Bool, problems: inout [String]) -> Entry? {
        let (first, mustList) = queues.withLock { queues -> (Entry?, Bool) in
            guard mayList, queues[state].first == nil, queues[state].truncated else { return (queues[state].first, false) }
            queues[state].arrivalsWhileListing = []
            return (nil, true)
        }
        guard mustList else { return first }
        mayList = false
        var query = TaskListingQuery()
        query.states = [state]
        let listed: [RecentArrivals.Entry]
        do {
            listed = try spool.listing(query).entries
        } catch {
            queues.withLock { $0[state].arrivalsWhileListing = nil }
            problems.append("could not list \(state.folderName)/ for the tasks past retention: \(error)")
            return nil
        }
        let sorted = Self.oldestFirst(listed)
        let refilled = queues.withLock { queues in
            queues[state].fill(sorted, window: window)
            return queues[state].first
        }
        // The listing of a big folder took tens of megabytes for a moment: give them back.
        MallocArenas.releaseFree()
        return refilled
    }

    /// Archives what is past `policy`'s limits now. `count` gives a folder's number of tasks (the
    /// census); nil uses the queue's length.
    func pass(policy: RetentionPolicy, count: ((TaskState) -> Int)? = nil) -> Pass {
        var pass = Pass()
        let now = spool.configuration.clock()
        for state in [TaskState.completed, .failed] {
            let limits = policy[state]
            guard !limits.isOff else { continue }
            let cutoff = limits.maxAgeSeconds > 0 ? SpoolClock.timespec(now.addingTimeInterval(-Double(limits.maxAgeSeconds))) : nil
            var remaining = count.map { count in max(0, count(state) - unreported.withLock { $0[state]?.count ?? 0 }) } ?? folderCount(state)
            var mayList = true
            // A listing in the middle of a pass lists again what the pass has taken already.
            var taken = Set<TaskID>()
            var due: [(entry: Entry, record: TaskRecord)] = []
            var held: [Entry] = []
            while due.count < maxPerPass {
                guard let entry = front(state, mayList: &mayList, problems: &pass.problems) else { break }
                let overCount = limits.maxCount > 0 && remaining > limits.maxCount
                let overAge = cutoff.map { RecentArrivals.earlier(entry.entered, $0) } ?? false
                guard overCount || overAge else { break }
                queues.withLock { $0[state].removeFirst() }
                guard taken.insert(entry.id).inserted else { continue }
                let record: TaskRecord?
                do {
                    record = try spool.get(entry.id, in: state)
                } catch {
                    pass.problems.append("task \(entry.id) in \(state.folderName)/ is not archived: \(error)")
                    continue
                }
                // Gone by other means: nothing to do. Back in the folder since (an older entry of
                // a task that left and came back): its newer entry decides.
                guard let record else {
                    // The queue's length counted it; the census did not.
                    if count == nil { remaining -= 1 }
                    continue
                }
                if !overCount, let cutoff, !RecentArrivals.earlier(SpoolClock.timespec(record.enteredState), cutoff) { continue }
                if replayRunning(of: entry.id) {
                    held.append(entry)
                    continue
                }
                due.append((entry, record))
                remaining -= 1
            }
            // More is due at once when the pass was full, or when it emptied a window and may
            // list the folder only once.
            if due.count >= maxPerPass || (!due.isEmpty && queues.withLock({ $0[state].first == nil && $0[state].truncated })) {
                pass.more = true
            }
            pass.held += held.count
            let failed = archive(due.map(\.record), state: state, problems: &pass.problems)
            pass.archived[state] = due.count - failed.count
            let putBack = held + due.filter { failed.contains($0.record.id) }.map(\.entry)
            queues.withLock { $0[state].putBack(putBack.sorted { RecentArrivals.earlier($0.entered, $1.entered) }) }
        }
        return pass
    }

    /// Whether `<id>_replay` is waiting or running: its source stays where the replay found it.
    private func replayRunning(of id: TaskID) -> Bool {
        guard let replay = try? TaskID(id.rawValue + "_replay") else { return false }
        return [TaskState.pending, .active].contains { (try? spool.layout.filePath(replay, $0).lstat()) != nil }
    }

    /// Appends `records` to their segments and unlinks their files; returns the ids not archived.
    private func archive(_ records: [TaskRecord], state: TaskState, problems: inout [String]) -> Set<TaskID> {
        guard !records.isEmpty else { return [] }
        let archivedAt = spool.configuration.clock()
        var failed = Set<TaskID>()
        let bySegment = Dictionary(grouping: records) { TaskArchive.segmentName(for: $0.enteredState) }
        for (segment, records) in bySegment.sorted(by: { $0.key < $1.key }) {
            let tasks = records.map { TaskArchive.Task($0, archivedAt: archivedAt) }
            do {
                try writer.append(tasks, to: segment) { problems.append($0) }
            } catch {
                problems.append("could not append \(tasks.count) tasks to archive segment \(segment); they stay in \(state.folderName)/: \(error)")
                failed.formUnion(records.map(\.id))
                continue
            }
            afterAppend?()
            for record in records {
                do {
                    try unlinkIfUnchanged(record)
                } catch {
                    problems.append("task \(record.id) is archived but could not leave \(state.folderName)/: \(error)")
                }
            }
        }
        do {
            try translatingSystemErrors(subject: "spool") { try spool.groupCommit.sync([spool.layout.directoryPath(state)]) }
        } catch {
            problems.append("could not sync \(state.folderName)/ after archiving: \(error)")
        }
        return failed
    }

    /// Unlinks the file of `record` if it is still the file that was read: one rewritten since
    /// (its ctime moved) stays, and the next pass archives it again.
    private func unlinkIfUnchanged(_ record: TaskRecord) throws {
        try translatingSystemErrors(subject: "spool") {
            let path = spool.layout.filePath(record.id, record.state)
            guard let info = try path.lstat(), SpoolClock.enteredState(info) == record.enteredState, Int(info.size) == record.json.count else {
                throw RPCError(code: .aborted, message: "it changed while it was archived")
            }
            // Noted before the unlink: the watcher may report it before `remove` returns.
            unreported.withLock { _ = $0[record.state, default: []].insert(record.id) }
            do {
                if try !path.remove() { noteRemoval(record.id, from: record.state) }
            } catch {
                noteRemoval(record.id, from: record.state)
                throw error
            }
        }
    }
}
