/// The sidecar's task service (`pipebus.tasks.v1.Tasks`): its methods and enums. The messages
/// are in TasksMessages.swift.
public enum Tasks {
    public static let serviceName = "pipebus.tasks.v1.Tasks"

    /// Unary: a task, acknowledged once it is durably in pending/.
    public static let submit = MethodDescriptor(service: serviceName, method: "Submit")
    public static let get = MethodDescriptor(service: serviceName, method: "Get")
    /// Unary: at most `limit` tasks at once, oldest first (kept for older clients; a big
    /// listing is one big response held in memory: prefer `listStream`).
    public static let list = MethodDescriptor(service: serviceName, method: "List")
    /// Server streaming: the tasks that match, in `TaskList` pages sent as the files are read.
    public static let listStream = MethodDescriptor(service: serviceName, method: "ListStream")
    /// Unary: a pending or active task moves to failed/ with the reason.
    public static let cancel = MethodDescriptor(service: serviceName, method: "Cancel")
    /// Unary: the runbook's replay of a failed or completed task, as `<id>_replay`.
    public static let replay = MethodDescriptor(service: serviceName, method: "Replay")
    public static let clearStuck = MethodDescriptor(service: serviceName, method: "ClearStuck")
    public static let getConfig = MethodDescriptor(service: serviceName, method: "GetConfig")
    public static let setConfig = MethodDescriptor(service: serviceName, method: "SetConfig")
    /// Unary: the worker's current status (what a heartbeat carries).
    public static let status = MethodDescriptor(service: serviceName, method: "Status")
    /// Server streaming: heartbeats and transitions, resumable from a sequence number.
    public static let watchEvents = MethodDescriptor(service: serviceName, method: "WatchEvents")
    /// Server streaming: a pipe worker's lease on tasks.
    public static let lease = MethodDescriptor(service: serviceName, method: "Lease")
    /// Unary: a leased task completed or failed.
    public static let finish = MethodDescriptor(service: serviceName, method: "Finish")
    public static let reportWorkerErrors = MethodDescriptor(service: serviceName, method: "ReportWorkerErrors")

    /// A task's state folder.
    public enum State: UInt32, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        case unspecified = 0
        case pending = 1
        case active = 2
        case completed = 3
        case failed = 4

        /// The spool folder, e.g. `pending`.
        public var description: String {
            switch self {
            case .unspecified: "unspecified"
            case .pending: "pending"
            case .active: "active"
            case .completed: "completed"
            case .failed: "failed"
            }
        }

        public init?(name: String) {
            guard let state = Self.allCases.first(where: { $0.description == name && $0 != .unspecified }) else { return nil }
            self = state
        }
    }

    public enum EventKind: UInt32, Hashable, Sendable {
        case unspecified = 0
        case heartbeat = 1
        case transition = 2
    }
}
