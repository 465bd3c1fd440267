import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif

/// The latest arrivals in a spool's state folders, in the order the watcher saw them, so that a
/// newest-first listing (`pipebus tasks --limit 10`, `--since 1h`) reads the names it yields
/// and not the whole spool: its cost follows the output, not the million finished tasks.
///
/// It holds at most `capacity` entries and drops the oldest; everything that arrived after the
/// newest dropped entry (the `horizon`) is in it, so a query whose answer lies after the horizon
/// is answered exactly, and any other falls back to listing the folders (`TaskListing`).
struct RecentArrivals {
    struct Entry {
        var id: TaskID
        /// nil: the task was removed from the spool (a tombstone, newer than its arrivals).
        var state: TaskState?
        var entered: timespec
    }

    let capacity: Int
    private var ring: [Entry] = []
    /// Index of the oldest entry once the ring is full.
    private var start = 0
    /// When the newest entry dropped so far (or left out of the seed) arrived; nil if none was.
    private(set) var horizon: timespec?

    init(capacity: Int = 16_384) {
        self.capacity = capacity
        ring.reserveCapacity(min(capacity, 1024))
    }

    /// Starts again from the tasks in the folders now, each with the time it entered its folder
    /// (one listing: at start, and after events were lost).
    /// `unknownUpTo`: arrivals up to then may be missing from `entries` (the listing failed).
    mutating func seed(_ entries: [Entry], unknownUpTo: timespec? = nil) {
        ring.removeAll(keepingCapacity: true)
        start = 0
        horizon = unknownUpTo
        // As a listing of the folders orders them: by time, then by id.
        let sorted = entries.sorted { a, b in
            if a.entered.tv_sec != b.entered.tv_sec || a.entered.tv_nsec != b.entered.tv_nsec {
                return Self.earlier(a.entered, b.entered)
            }
            return a.id < b.id
        }
        if sorted.count > capacity {
            let dropped = sorted[sorted.count - capacity - 1].entered
            if horizon.map({ Self.earlier($0, dropped) }) ?? true { horizon = dropped }
        }
        ring.append(contentsOf: sorted.suffix(capacity))
    }

    /// Task `id` arrived in `state` (nil: it left the spool) at `time`.
    mutating func record(_ id: TaskID, in state: TaskState?, at time: timespec) {
        let entry = Entry(id: id, state: state, entered: time)
        if ring.count < capacity {
            ring.append(entry)
            return
        }
        let dropped = ring[start]
        if horizon.map({ Self.earlier($0, dropped.entered) }) ?? true { horizon = dropped.entered }
        ring[start] = entry
        start = (start + 1) % capacity
    }

    /// The tasks in `states`, newest first, each at its latest arrival, that entered their folder
    /// after `since` (if given); nil when the answer may hold tasks that are no longer here: it
    /// reaches back past the horizon before `limit` tasks were found.
    func newestFirst(states: Set<TaskState>, since: timespec?, limit: Int?) -> [Entry]? {
        var seen = Set<TaskID>()
        var found: [Entry] = []
        for offset in 0..<ring.count {
            let entry = ring[(start + ring.count - 1 - offset) % ring.count]
            guard seen.insert(entry.id).inserted else { continue }
            if let since, Self.earlier(entry.entered, since) { return found }
            if let limit, found.count >= limit { return found }
            if let horizon, !Self.earlier(horizon, entry.entered) { return nil }
            if let state = entry.state, states.contains(state) { found.append(entry) }
        }
        if let limit, found.count >= limit { return found }
        // Ran out of entries: exact only if nothing was ever dropped before `since`.
        if let horizon, since.map({ !Self.earlier(horizon, $0) }) ?? true { return nil }
        return found
    }

    var count: Int { ring.count }

    static func earlier(_ a: timespec, _ b: timespec) -> Bool {
        a.tv_sec != b.tv_sec ? a.tv_sec < b.tv_sec : a.tv_nsec < b.tv_nsec
    }
}
