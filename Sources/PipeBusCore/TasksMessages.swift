/// Messages of the task service (`pipebus.tasks.v1`): see proto/pipebus/tasks/v1/tasks.proto.
extension Tasks {
    /// A task as it is in the spool.
    public struct TaskInfo: Hashable, Sendable {
        public var id: String
        public var state: Tasks.State
        public var json: [UInt8]
        public var correlationID: String
        public var traceparent: String
        public var attempts: UInt32
        public var submittedAtMs: Int64
        public var modifiedAtMs: Int64

        public init(
            id: String = "",
            state: Tasks.State = .unspecified,
            json: [UInt8] = [],
            correlationID: String = "",
            traceparent: String = "",
            attempts: UInt32 = 0,
            submittedAtMs: Int64 = 0,
            modifiedAtMs: Int64 = 0
        ) {
            self.id = id
            self.state = state
            self.json = json
            self.correlationID = correlationID
            self.traceparent = traceparent
            self.attempts = attempts
            self.submittedAtMs = submittedAtMs
            self.modifiedAtMs = modifiedAtMs
        }
    }

    /// Tasks, e.g. the answer to List.
    public struct TaskList: Hashable, Sendable {
        public var tasks: [TaskInfo]

        public init(
            tasks: [TaskInfo] = []
        ) {
            self.tasks = tasks
        }
    }

    /// A new task: `json` is a JSON object; `id` may be empty (generated).
    public struct SubmitRequest: Hashable, Sendable {
        public var id: String
        public var json: [UInt8]
        public var correlationID: String

        public init(
            id: String = "",
            json: [UInt8] = [],
            correlationID: String = ""
        ) {
            self.id = id
            self.json = json
            self.correlationID = correlationID
        }
    }

    /// One task by id (Get, Cancel, Replay); `reason` says why (Cancel).
    public struct TaskRef: Hashable, Sendable {
        public var id: String
        public var reason: String

        public init(
            id: String = "",
            reason: String = ""
        ) {
            self.id = id
            self.reason = reason
        }
    }

    /// Tasks in one state (`.unspecified`: all), at least `olderThanMs` old, at most `limit`.
    public struct ListRequest: Hashable, Sendable {
        public var state: Tasks.State
        public var olderThanMs: UInt64
        public var limit: UInt32

        public init(
            state: Tasks.State = .unspecified,
            olderThanMs: UInt64 = 0,
            limit: UInt32 = 0
        ) {
            self.state = state
            self.olderThanMs = olderThanMs
            self.limit = limit
        }
    }

    /// A streamed listing (ListStream): tasks in one state (`.unspecified`: all), newest first
    /// unless `oldestFirst`, by the time each entered its state; `limit` 0 means no limit.
    public struct ListStreamRequest: Hashable, Sendable {
        public var state: Tasks.State
        /// In its state at least this long (0: any).
        public var olderThanMs: UInt64
        /// Entered its state at most this long ago (0: any time).
        public var enteredWithinMs: UInt64
        public var limit: UInt32
        public var oldestFirst: Bool
        /// Only tasks with this correlation id (empty: any).
        public var correlationID: String

        public init(
            state: Tasks.State = .unspecified,
            olderThanMs: UInt64 = 0,
            enteredWithinMs: UInt64 = 0,
            limit: UInt32 = 0,
            oldestFirst: Bool = false,
            correlationID: String = ""
        ) {
            self.state = state
            self.olderThanMs = olderThanMs
            self.enteredWithinMs = enteredWithinMs
            self.limit = limit
            self.oldestFirst = oldestFirst
            self.correlationID = correlationID
        }
    }

    /// Active tasks older than `olderThanMs` move to failed/ with `reason`.
    public struct ClearStuckRequest: Hashable, Sendable {
        public var olderThanMs: UInt64
        public var reason: String
        /// List the tasks that would move, move none.
        public var dryRun: Bool

        public init(
            olderThanMs: UInt64 = 0,
            reason: String = "",
            dryRun: Bool = false
        ) {
            self.olderThanMs = olderThanMs
            self.reason = reason
            self.dryRun = dryRun
        }
    }

    /// A worker config object as JSON (the keys to change, or the whole config).
    public struct ConfigMessage: Hashable, Sendable {
        public var json: [UInt8]

        public init(
            json: [UInt8] = []
        ) {
            self.json = json
        }
    }

    /// No fields.
    public struct Empty: Hashable, Sendable {
        public init() {}
    }

    /// A worker's state, as `pipebus status` shows it and heartbeats carry it.
    public struct WorkerStatus: Hashable, Sendable {
        public var worker: String
        public var instance: String
        public var pid: UInt32
        public var workerPID: UInt32
        public var workerAlive: Bool
        public var health: UInt32
        public var healthMessage: String
        public var pending: UInt32
        public var active: UInt32
        public var completed: UInt32
        public var failed: UInt32
        public var oldestActiveID: String
        public var oldestActiveAgeMs: UInt64
        public var failuresLast5m: UInt32
        public var p95WriteLatencySeconds: Double
        public var heartbeatSeq: UInt64
        public var heartbeatAtMs: Int64
        public var batchSize: UInt32
        public var leases: UInt32
        public var heartbeatIntervalSeconds: Double

        public init(
            worker: String = "",
            instance: String = "",
            pid: UInt32 = 0,
            workerPID: UInt32 = 0,
            workerAlive: Bool = false,
            health: UInt32 = 0,
            healthMessage: String = "",
            pending: UInt32 = 0,
            active: UInt32 = 0,
            completed: UInt32 = 0,
            failed: UInt32 = 0,
            oldestActiveID: String = "",
            oldestActiveAgeMs: UInt64 = 0,
            failuresLast5m: UInt32 = 0,
            p95WriteLatencySeconds: Double = 0,
            heartbeatSeq: UInt64 = 0,
            heartbeatAtMs: Int64 = 0,
            batchSize: UInt32 = 0,
            leases: UInt32 = 0,
            heartbeatIntervalSeconds: Double = 0
        ) {
            self.worker = worker
            self.instance = instance
            self.pid = pid
            self.workerPID = workerPID
            self.workerAlive = workerAlive
            self.health = health
            self.healthMessage = healthMessage
            self.pending = pending
            self.active = active
            self.completed = completed
            self.failed = failed
            self.oldestActiveID = oldestActiveID
            self.oldestActiveAgeMs = oldestActiveAgeMs
            self.failuresLast5m = failuresLast5m
            self.p95WriteLatencySeconds = p95WriteLatencySeconds
            self.heartbeatSeq = heartbeatSeq
            self.heartbeatAtMs = heartbeatAtMs
            self.batchSize = batchSize
            self.leases = leases
            self.heartbeatIntervalSeconds = heartbeatIntervalSeconds
        }
    }

    /// Events with a sequence number above `afterSeq` (0: from now on).
    public struct WatchRequest: Hashable, Sendable {
        public var afterSeq: UInt64

        public init(
            afterSeq: UInt64 = 0
        ) {
            self.afterSeq = afterSeq
        }
    }

    /// A heartbeat or a task state transition; `seq` increases by one per event.
    public struct Event: Hashable, Sendable {
        public var seq: UInt64
        public var timestampMs: Int64
        public var kind: Tasks.EventKind
        public var status: WorkerStatus?
        public var taskID: String
        public var fromState: Tasks.State
        public var toState: Tasks.State
        public var correlationID: String
        public var traceID: String
        public var durationSeconds: Double
        public var error: String

        public init(
            seq: UInt64 = 0,
            timestampMs: Int64 = 0,
            kind: Tasks.EventKind = .unspecified,
            status: WorkerStatus? = nil,
            taskID: String = "",
            fromState: Tasks.State = .unspecified,
            toState: Tasks.State = .unspecified,
            correlationID: String = "",
            traceID: String = "",
            durationSeconds: Double = 0,
            error: String = ""
        ) {
            self.seq = seq
            self.timestampMs = timestampMs
            self.kind = kind
            self.status = status
            self.taskID = taskID
            self.fromState = fromState
            self.toState = toState
            self.correlationID = correlationID
            self.traceID = traceID
            self.durationSeconds = durationSeconds
            self.error = error
        }
    }

    /// A pipe worker's lease: at most `maxInFlight` unfinished tasks at a time.
    public struct LeaseRequest: Hashable, Sendable {
        public var maxInFlight: UInt32

        public init(
            maxInFlight: UInt32 = 0
        ) {
            self.maxInFlight = maxInFlight
        }
    }

    /// A leased task completed (`resultJSON`) or failed (`error`; `retry` re-queues it).
    public struct FinishRequest: Hashable, Sendable {
        public var id: String
        public var failed: Bool
        public var resultJSON: [UInt8]
        public var error: String
        public var retry: Bool

        public init(
            id: String = "",
            failed: Bool = false,
            resultJSON: [UInt8] = [],
            error: String = "",
            retry: Bool = false
        ) {
            self.id = id
            self.failed = failed
            self.resultJSON = resultJSON
            self.error = error
            self.retry = retry
        }
    }

    /// Counts a pipe worker reports, e.g. Claude API errors.
    public struct WorkerReport: Hashable, Sendable {
        public var claudeAPIErrors: UInt32

        public init(
            claudeAPIErrors: UInt32 = 0
        ) {
            self.claudeAPIErrors = claudeAPIErrors
        }
    }
}
