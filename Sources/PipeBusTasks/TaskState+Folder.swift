/// A task's state is the spool folder it is in: `pending`, `active`, `completed`, `failed`.
/// The one place where the task service's state and its folder (`TaskState`) meet: CLI
/// arguments, task files, logs and the spool all go through here.
extension Pipebus_Tasks_V1_TaskState: CustomStringConvertible {
    /// The states a task can be in (every value but `unspecified`), in the order it moves.
    public static let folders: [Self] = TaskState.allCases.map(Self.init)

    /// The wire form of a folder's state.
    public init(_ state: TaskState) {
        switch state {
        case .pending: self = .pending
        case .active: self = .active
        case .completed: self = .completed
        case .failed: self = .failed
        }
    }

    /// The spool folder, e.g. `pending`.
    public var description: String {
        switch self {
        case .unspecified: "unspecified"
        case .pending, .active, .completed, .failed: TaskState(self)?.folderName ?? "unspecified"
        case .unrecognized(let value): "state \(value)"
        }
    }

    /// The state whose folder is `name`; nil for anything else.
    public init?(name: String) {
        guard let state = TaskState(folderName: name) else { return nil }
        self.init(state)
    }
}

extension TaskState {
    /// The folder of a wire state; nil for `unspecified` and values this code does not know.
    public init?(_ state: Pipebus_Tasks_V1_TaskState) {
        switch state {
        case .pending: self = .pending
        case .active: self = .active
        case .completed: self = .completed
        case .failed: self = .failed
        case .unspecified, .unrecognized: return nil
        }
    }
}
