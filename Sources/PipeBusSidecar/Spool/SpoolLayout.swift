import PipeBusCore

/// Where a worker's spool lives: `<root>/tasks/<worker>/{pending,active,completed,failed}/<id>.json`
/// (DESIGN §2), plus the hidden `.quarantine/` beside the state folders.
public struct SpoolLayout: Hashable, Sendable {
    public let root: String
    public let worker: String

    /// Checks that `worker` is usable as one path component (the same rules as a task id).
    public init(root: String, worker: String) throws {
        if let problem = TaskID.problem(with: worker) {
            throw RPCError(code: .invalidArgument, message: "invalid worker name for the spool: \(problem)")
        }
        self.root = root
        self.worker = worker
    }

    /// `<root>/tasks/<worker>`.
    public var workerDirectory: String { "\(root)/tasks/\(worker)" }

    public func directory(for state: TaskState) -> String { "\(workerDirectory)/\(state.folderName)" }

    public func path(of id: TaskID, in state: TaskState) -> String { "\(directory(for: state))/\(id.fileName)" }

    /// Where hostile entries are moved; hidden, so no state folder glob and no watcher sees it.
    public var quarantineDirectory: String { "\(workerDirectory)/.quarantine" }

    func directoryPath(_ state: TaskState) -> SpoolPath { SpoolPath(directory(for: state)) }

    func filePath(_ id: TaskID, _ state: TaskState) -> SpoolPath { SpoolPath(path(of: id, in: state)) }
}
