import PipeBusCore

/// Where a worker's spool lives: `<root>/tasks/<worker>/{pending,active,completed,failed}/<id>.json`
/// (DESIGN §2), plus the hidden `.quarantine/` beside the state folders; the paths come from
/// `RootLayout`.
public struct SpoolLayout: Hashable, Sendable {
    public let root: String
    public let worker: String

    /// Checks that `worker` is a worker name (`NameRule.component`), so one path component.
    public init(root: String, worker: String) throws {
        if let problem = NameRule.component.problem(with: worker) {
            throw RPCError(code: .invalidArgument, message: "invalid worker name \(NameRule.quoted(worker)): \(problem)")
        }
        self.root = root
        self.worker = worker
    }

    private var rootLayout: RootLayout { RootLayout(root: root) }

    /// `<root>/tasks/<worker>`.
    public var workerDirectory: String { rootLayout.spoolDirectory(worker: worker) }

    public func directory(for state: TaskState) -> String {
        rootLayout.stateDirectory(worker: worker, folder: state.folderName)
    }

    public func path(of id: TaskID, in state: TaskState) -> String { "\(directory(for: state))/\(id.fileName)" }

    /// Where hostile entries are moved; hidden, so no state folder glob and no watcher sees it.
    public var quarantineDirectory: String { rootLayout.quarantineDirectory(worker: worker) }

    /// `<root>/tasks/<worker>/archive`: finished tasks past retention (`TaskArchive`).
    public var archiveDirectory: String { rootLayout.archiveDirectory(worker: worker) }
}
