public import PipeBusTasks
import Synchronization

/// How many task files each state folder holds, kept by a `SpoolWatcher` from its inotify
/// events rather than counted with `readdir`: reading it costs the same at 0 and at a million
/// finished tasks. The watcher re-seeds it with one listing at start and after it lost events
/// (an inotify queue overflow), and counts the re-seeds.
public final class SpoolCensus: Sendable {
    /// Task files per state folder: the names the runbook's `glob("*.json")` counts, less hidden
    /// ones and names that are not task ids.
    public struct Counts: Hashable, Sendable {
        public var pending = 0
        public var active = 0
        public var completed = 0
        public var failed = 0

        public init() {}

        public subscript(state: TaskState) -> Int {
            get {
                switch state {
                case .pending: pending
                case .active: active
                case .completed: completed
                case .failed: failed
                }
            }
            set {
                switch state {
                case .pending: pending = newValue
                case .active: active = newValue
                case .completed: completed = newValue
                case .failed: failed = newValue
                }
            }
        }
    }

    private struct State {
        var counts = Counts()
        var reseeds = 0
    }

    private let state = Mutex(State())

    init() {}

    /// The counts as of the last event the watcher handled.
    public var counts: Counts { state.withLock { $0.counts } }

    /// How many times the counts were re-seeded by listing the folders after events were lost.
    public var reseeds: Int { state.withLock { $0.reseeds } }

    func update(_ counts: Counts) {
        state.withLock { $0.counts = counts }
    }

    func reseeded(_ counts: Counts) {
        state.withLock { state in
            state.counts = counts
            state.reseeds += 1
        }
    }
}
