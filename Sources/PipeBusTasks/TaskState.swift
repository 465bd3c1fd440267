/// The four state folders of a worker's spool; a task is in exactly one of them.
///
/// The folder names are part of the spool contract (DESIGN §2) and are spelled here only; the
/// task service's `Pipebus_Tasks_V1_TaskState` maps to and from this type and takes its names
/// from it (`TaskState+Folder.swift`).
public enum TaskState: String, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case pending
    case active
    case completed
    case failed

    /// The folder's name under `<root>/tasks/<worker>/`.
    public var folderName: String { rawValue }

    /// The state whose folder is `folderName`, or nil when it names none.
    public init?(folderName: String) {
        self.init(rawValue: folderName)
    }

    public var description: String { rawValue }
}
