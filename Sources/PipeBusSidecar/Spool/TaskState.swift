/// The four state folders of a worker's spool; a task is in exactly one of them.
public enum TaskState: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case pending
    case active
    case completed
    case failed

    /// The folder's name under `<root>/tasks/<worker>/`, part of the spool contract (DESIGN §2).
    public var folderName: String { rawValue }

    public var description: String { rawValue }
}
