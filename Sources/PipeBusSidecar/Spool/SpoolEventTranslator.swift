import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage
import PipeBusCore

/// Turns inotify records from the four state folders into `SpoolEvent`s. Pure but for `probe`
/// (an lstat, never a follow or an open), so it is tested with made-up records.
///
/// It remembers which task names each folder holds (as fingerprints: `TaskNameSet`), to tell a
/// new file from a rewrite (both are a rename of a temp file onto the name), and pairs
/// IN_MOVED_FROM with IN_MOVED_TO by cookie.
struct SpoolEventTranslator {
    /// What is at a path now.
    enum Probe: Equatable {
        case regular
        case missing
        case other(HostileEntry.Reason)
    }

    private var known: [TaskState: TaskNameSet]
    /// IN_MOVED_FROM records waiting for their IN_MOVED_TO, in arrival order, with when each
    /// was read: each waits its own grace, however busy the folders are meanwhile.
    private var departures: [(cookie: UInt32, state: TaskState, name: String, seen: ContinuousClock.Instant)] = []
    /// Renames of a hidden temp file onto a task name whose second half is still to come: a
    /// RENAME_EXCHANGE reports the temp name moving onto the task name first, then the task
    /// name moving to the temp name, which must not read as a removal. Keyed by folder and temp
    /// name, because several writers (sidecar instances, connections) exchange files in one
    /// folder at once and their halves interleave.
    private var swapsIn: [SwapKey: String] = [:]

    private struct SwapKey: Hashable {
        var state: TaskState
        var temporary: String
    }
    private let probe: (TaskState, String) -> Probe

    init(known: [TaskState: TaskNameSet], probe: @escaping (TaskState, String) -> Probe) {
        self.known = known
        self.probe = probe
    }

    /// From plain names (tests).
    init(known: [TaskState: Set<String>], probe: @escaping (TaskState, String) -> Probe) {
        self.init(known: known.mapValues { TaskNameSet($0) }, probe: probe)
    }

    /// Whether IN_MOVED_FROM records are waiting for a partner; the caller then waits briefly
    /// for more records before calling `flushDepartures(seenBefore:)`.
    var awaitsPartners: Bool { !departures.isEmpty }

    /// When the longest-waiting IN_MOVED_FROM record was read; nil when none waits.
    var oldestDeparture: ContinuousClock.Instant? { departures.first?.seen }

    /// How many task names each folder holds now, by what was seen (no listing).
    var counts: SpoolCensus.Counts {
        var counts = SpoolCensus.Counts()
        for (state, names) in known { counts[state] = names.count }
        return counts
    }

    /// Forgets what it knew, after an overflow: the folders are listed again.
    mutating func reset(known: [TaskState: TaskNameSet]) {
        self.known = known
        departures.removeAll()
        swapsIn.removeAll()
    }

    /// The events for one record from the folder of `state`.
    /// `now`: when the record was read, to time a departure's wait for its partner.
    mutating func translate(_ record: InotifyRecord, in state: TaskState, at now: ContinuousClock.Instant = .now) -> [SpoolEvent] {
        let name = record.name
        // Hidden names are temp files, except `.x.json`, which the runbook's `glob("*.json")`
        // would take for a task: that one is reported as unexpected.
        let hidden = record.rawName.first == UInt8(ascii: ".") && !name.hasSuffix(".json")
        if record.has(IN_MOVED_FROM) {
            departures.append((record.cookie, state, name, now))
            return []
        }
        if record.has(IN_MOVED_TO) {
            let index = departures.firstIndex { $0.cookie == record.cookie }
            let source = index.map { departures.remove(at: $0) }
            let arrived = arrival(name, hidden: hidden, in: state, isDirectory: record.has(IN_ISDIR), from: source)
            if let source, !arrived.contains(where: \.isTransition) {
                return arrived + departure(source.name, from: source.state, to: (state, name))
            }
            return arrived
        }
        if hidden { return [] }
        if record.has(IN_CREATE) {
            // A regular file is reported when closed after writing; anything else (a symlink, a
            // FIFO, a directory) never will be, and must not be opened to find out.
            if record.has(IN_ISDIR) {
                return [.unexpected(name: escaped(name), state: state, reason: .notRegularFile(kind: "a directory"))]
            }
            if case .other(let reason) = probe(state, name) {
                return [.unexpected(name: escaped(name), state: state, reason: reason)]
            }
            return []
        }
        if record.has(IN_CLOSE_WRITE) {
            guard let id = TaskID(fileName: name) else {
                return [.unexpected(name: escaped(name), state: state, reason: .invalidName)]
            }
            return [known[state, default: []].insert(name) ? .appeared(id, state) : .updated(id, state)]
        }
        if record.has(IN_DELETE) {
            guard let id = TaskID(fileName: name) else { return [] }
            known[state, default: []].remove(name)
            return [.removed(id, state)]
        }
        return []
    }

    /// Departures whose partner never came: moved out of the state folders (a quarantine, a
    /// file moved out by hand). With `cutoff`, only those read before it; the others wait on.
    mutating func flushDepartures(seenBefore cutoff: ContinuousClock.Instant? = nil) -> [SpoolEvent] {
        // In arrival order, so the due ones are a prefix.
        let due = departures.prefix { waiting in cutoff.map { waiting.seen < $0 } ?? true }
        departures.removeFirst(due.count)
        return due.flatMap { departure($0.name, from: $0.state, to: nil) }
    }

    private mutating func arrival(
        _ name: String,
        hidden: Bool,
        in state: TaskState,
        isDirectory: Bool,
        from source: (cookie: UInt32, state: TaskState, name: String, seen: ContinuousClock.Instant)?
    ) -> [SpoolEvent] {
        if hidden { return [] }
        if isDirectory {
            return [.unexpected(name: escaped(name), state: state, reason: .notRegularFile(kind: "a directory"))]
        }
        if case .other(let reason) = probe(state, name) {
            return [.unexpected(name: escaped(name), state: state, reason: reason)]
        }
        guard let id = TaskID(fileName: name) else {
            return [.unexpected(name: escaped(name), state: state, reason: .invalidName)]
        }
        if let source, source.state != state, source.name == name {
            known[source.state, default: []].remove(name)
            known[state, default: []].insert(name)
            return [.transition(id, from: source.state, to: state)]
        }
        if let source, source.state == state, source.name.hasPrefix(".") {
            // An exchange's second half follows within microseconds; a plain rename of a temp
            // file has none, so its entry is dropped when too many pile up.
            if swapsIn.count >= 256 { swapsIn.removeAll() }
            swapsIn[SwapKey(state: state, temporary: source.name)] = name
        }
        return [known[state, default: []].insert(name) ? .appeared(id, state) : .updated(id, state)]
    }

    /// A task name that moved away, to `destination` if that was seen.
    private mutating func departure(
        _ name: String,
        from state: TaskState,
        to destination: (state: TaskState, name: String)?
    ) -> [SpoolEvent] {
        guard !name.hasPrefix("."), let id = TaskID(fileName: name) else { return [] }
        // The second half of a RENAME_EXCHANGE: the task name is still there, rewritten.
        if let destination, destination.state == state {
            let key = SwapKey(state: state, temporary: destination.name)
            if swapsIn[key] == name {
                swapsIn[key] = nil
                return []
            }
        }
        known[state, default: []].remove(name)
        return [.removed(id, state)]
    }

    private func escaped(_ name: String) -> String { NameRule.escaped(name, quoted: false) }
}

extension SpoolEvent {
    var isTransition: Bool {
        if case .transition = self { return true }
        return false
    }
}
