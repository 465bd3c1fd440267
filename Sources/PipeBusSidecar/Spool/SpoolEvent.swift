public import PipeBusTasks
/// What `SpoolWatcher` saw happen in a spool's state folders.
public enum SpoolEvent: Hashable, Sendable, CustomStringConvertible {
    /// A new task file: written and closed, or moved in from outside the state folders (a task
    /// dropped into `pending/` by hand, the runbook's replay, a durable submit).
    case appeared(TaskID, TaskState)
    /// A task moved between state folders under the same name.
    case transition(TaskID, from: TaskState, to: TaskState)
    /// A task file rewritten where it is (a temp file renamed over it, or rewritten in place).
    /// One not seen before counts as new: a consumer should treat it like `appeared`.
    case updated(TaskID, TaskState)
    /// A task file deleted, or moved out of the state folders.
    case removed(TaskID, TaskState)
    /// An entry that is not a task file (a symlink, a FIFO, a directory, a bad name); it was not
    /// followed or opened. The sidecar should quarantine it (`TaskSpool.recover()`).
    case unexpected(name: String, state: TaskState, reason: HostileEntry.Reason)
    /// Events were lost (the kernel queue overflowed, or a state folder went away): list the
    /// folders again rather than trust what was seen.
    case rescanNeeded

    public var description: String {
        switch self {
        case .appeared(let id, let state): "appeared \(state)/\(id)"
        case .transition(let id, let from, let to): "transition \(id) \(from) → \(to)"
        case .updated(let id, let state): "updated \(state)/\(id)"
        case .removed(let id, let state): "removed \(state)/\(id)"
        case .unexpected(let name, let state, let reason): "unexpected \(state)/\(name): \(reason)"
        case .rescanNeeded: "rescan needed"
        }
    }
}
