internal import CPipeBusProto
internal import CProtobufC

// The one place where the task service's messages meet their protobuf-c structs.

/// Tasks one TaskList may carry; more is RESOURCE_EXHAUSTED before unpacking.
let maxTasksPerList = 100_000

extension Tasks.TaskInfo: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__Task, arena: inout CArena) {
        pipebus__tasks__v1__task__init(&c)
        if !id.isEmpty { c.id = arena.cString(id) }
        c.state = Pipebus__Tasks__V1__TaskState(rawValue: state.rawValue)
        c.json = arena.bytes(json)
        if !correlationID.isEmpty { c.correlation_id = arena.cString(correlationID) }
        if !traceparent.isEmpty { c.traceparent = arena.cString(traceparent) }
        c.attempts = attempts
        c.submitted_at_ms = submittedAtMs
        c.modified_at_ms = modifiedAtMs
    }

    init(_ c: Pipebus__Tasks__V1__Task) {
        self.init(
            id: ProtobufC.string(c.id),
            state: Tasks.State(rawValue: c.state.rawValue) ?? .unspecified,
            json: ProtobufC.bytes(c.json),
            correlationID: ProtobufC.string(c.correlation_id),
            traceparent: ProtobufC.string(c.traceparent),
            attempts: c.attempts,
            submittedAtMs: c.submitted_at_ms,
            modifiedAtMs: c.modified_at_ms
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__Task()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "Task")
        self = try ProtobufC.unpack(
            body,
            name: "Task",
            unpack: { pipebus__tasks__v1__task__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__task__free_unpacked($0, nil) }
        ) { Tasks.TaskInfo($0) }
    }
}

extension Tasks.TaskList: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__TaskList, arena: inout CArena) {
        pipebus__tasks__v1__task_list__init(&c)
        let structs = arena.allocate(Pipebus__Tasks__V1__Task.self, count: tasks.count)
        let pointers = arena.allocate(UnsafeMutablePointer<Pipebus__Tasks__V1__Task>?.self, count: tasks.count)
        for (index, element) in tasks.enumerated() {
            var sub = Pipebus__Tasks__V1__Task()
            element.fill(&sub, arena: &arena)
            (structs + index).initialize(to: sub)
            (pointers + index).initialize(to: structs + index)
        }
        c.n_tasks = tasks.count
        c.tasks = pointers
    }

    init(_ c: Pipebus__Tasks__V1__TaskList) {
        self.init(
            tasks: (0..<c.n_tasks).compactMap { c.tasks[$0].map { Tasks.TaskInfo($0.pointee) } }
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__TaskList()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, repeatedFields: [1], limit: maxTasksPerList, messageName: "TaskList", nestedFields: [1])
        self = try ProtobufC.unpack(
            body,
            name: "TaskList",
            unpack: { pipebus__tasks__v1__task_list__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__task_list__free_unpacked($0, nil) }
        ) { Tasks.TaskList($0) }
    }
}

extension Tasks.SubmitRequest: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__SubmitRequest, arena: inout CArena) {
        pipebus__tasks__v1__submit_request__init(&c)
        if !id.isEmpty { c.id = arena.cString(id) }
        c.json = arena.bytes(json)
        if !correlationID.isEmpty { c.correlation_id = arena.cString(correlationID) }
    }

    init(_ c: Pipebus__Tasks__V1__SubmitRequest) {
        self.init(
            id: ProtobufC.string(c.id),
            json: ProtobufC.bytes(c.json),
            correlationID: ProtobufC.string(c.correlation_id)
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__SubmitRequest()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "SubmitRequest")
        self = try ProtobufC.unpack(
            body,
            name: "SubmitRequest",
            unpack: { pipebus__tasks__v1__submit_request__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__submit_request__free_unpacked($0, nil) }
        ) { Tasks.SubmitRequest($0) }
    }
}

extension Tasks.TaskRef: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__TaskRef, arena: inout CArena) {
        pipebus__tasks__v1__task_ref__init(&c)
        if !id.isEmpty { c.id = arena.cString(id) }
        if !reason.isEmpty { c.reason = arena.cString(reason) }
    }

    init(_ c: Pipebus__Tasks__V1__TaskRef) {
        self.init(
            id: ProtobufC.string(c.id),
            reason: ProtobufC.string(c.reason)
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__TaskRef()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "TaskRef")
        self = try ProtobufC.unpack(
            body,
            name: "TaskRef",
            unpack: { pipebus__tasks__v1__task_ref__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__task_ref__free_unpacked($0, nil) }
        ) { Tasks.TaskRef($0) }
    }
}

extension Tasks.ListRequest: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__ListRequest, arena: inout CArena) {
        pipebus__tasks__v1__list_request__init(&c)
        c.state = Pipebus__Tasks__V1__TaskState(rawValue: state.rawValue)
        c.older_than_ms = olderThanMs
        c.limit = limit
    }

    init(_ c: Pipebus__Tasks__V1__ListRequest) {
        self.init(
            state: Tasks.State(rawValue: c.state.rawValue) ?? .unspecified,
            olderThanMs: c.older_than_ms,
            limit: c.limit
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__ListRequest()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "ListRequest")
        self = try ProtobufC.unpack(
            body,
            name: "ListRequest",
            unpack: { pipebus__tasks__v1__list_request__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__list_request__free_unpacked($0, nil) }
        ) { Tasks.ListRequest($0) }
    }
}

extension Tasks.ListStreamRequest: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__ListStreamRequest, arena: inout CArena) {
        pipebus__tasks__v1__list_stream_request__init(&c)
        c.state = Pipebus__Tasks__V1__TaskState(rawValue: state.rawValue)
        c.older_than_ms = olderThanMs
        c.entered_within_ms = enteredWithinMs
        c.limit = limit
        c.oldest_first = oldestFirst ? 1 : 0
        if !correlationID.isEmpty { c.correlation_id = arena.cString(correlationID) }
    }

    init(_ c: Pipebus__Tasks__V1__ListStreamRequest) {
        self.init(
            state: Tasks.State(rawValue: c.state.rawValue) ?? .unspecified,
            olderThanMs: c.older_than_ms,
            enteredWithinMs: c.entered_within_ms,
            limit: c.limit,
            oldestFirst: c.oldest_first != 0,
            correlationID: ProtobufC.string(c.correlation_id)
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__ListStreamRequest()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "ListStreamRequest")
        self = try ProtobufC.unpack(
            body,
            name: "ListStreamRequest",
            unpack: { pipebus__tasks__v1__list_stream_request__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__list_stream_request__free_unpacked($0, nil) }
        ) { Tasks.ListStreamRequest($0) }
    }
}

extension Tasks.ClearStuckRequest: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__ClearStuckRequest, arena: inout CArena) {
        pipebus__tasks__v1__clear_stuck_request__init(&c)
        c.older_than_ms = olderThanMs
        if !reason.isEmpty { c.reason = arena.cString(reason) }
        c.dry_run = dryRun ? 1 : 0
    }

    init(_ c: Pipebus__Tasks__V1__ClearStuckRequest) {
        self.init(
            olderThanMs: c.older_than_ms,
            reason: ProtobufC.string(c.reason),
            dryRun: c.dry_run != 0
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__ClearStuckRequest()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "ClearStuckRequest")
        self = try ProtobufC.unpack(
            body,
            name: "ClearStuckRequest",
            unpack: { pipebus__tasks__v1__clear_stuck_request__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__clear_stuck_request__free_unpacked($0, nil) }
        ) { Tasks.ClearStuckRequest($0) }
    }
}

extension Tasks.ConfigMessage: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__ConfigMessage, arena: inout CArena) {
        pipebus__tasks__v1__config_message__init(&c)
        c.json = arena.bytes(json)
    }

    init(_ c: Pipebus__Tasks__V1__ConfigMessage) {
        self.init(
            json: ProtobufC.bytes(c.json)
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__ConfigMessage()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "ConfigMessage")
        self = try ProtobufC.unpack(
            body,
            name: "ConfigMessage",
            unpack: { pipebus__tasks__v1__config_message__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__config_message__free_unpacked($0, nil) }
        ) { Tasks.ConfigMessage($0) }
    }
}

extension Tasks.Empty: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__Empty, arena: inout CArena) {
        pipebus__tasks__v1__empty__init(&c)
    }

    init(_ c: Pipebus__Tasks__V1__Empty) {
        self.init()
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__Empty()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "Empty")
        self = try ProtobufC.unpack(
            body,
            name: "Empty",
            unpack: { pipebus__tasks__v1__empty__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__empty__free_unpacked($0, nil) }
        ) { Tasks.Empty($0) }
    }
}

extension Tasks.WorkerStatus: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__WorkerStatus, arena: inout CArena) {
        pipebus__tasks__v1__worker_status__init(&c)
        if !worker.isEmpty { c.worker = arena.cString(worker) }
        if !instance.isEmpty { c.instance = arena.cString(instance) }
        c.pid = pid
        c.worker_pid = workerPID
        c.worker_alive = workerAlive ? 1 : 0
        c.health = health
        if !healthMessage.isEmpty { c.health_message = arena.cString(healthMessage) }
        c.pending = pending
        c.active = active
        c.completed = completed
        c.failed = failed
        if !oldestActiveID.isEmpty { c.oldest_active_id = arena.cString(oldestActiveID) }
        c.oldest_active_age_ms = oldestActiveAgeMs
        c.failures_last_5m = failuresLast5m
        c.p95_write_latency_seconds = p95WriteLatencySeconds
        c.heartbeat_seq = heartbeatSeq
        c.heartbeat_at_ms = heartbeatAtMs
        c.batch_size = batchSize
        c.leases = leases
        c.heartbeat_interval_seconds = heartbeatIntervalSeconds
    }

    init(_ c: Pipebus__Tasks__V1__WorkerStatus) {
        self.init(
            worker: ProtobufC.string(c.worker),
            instance: ProtobufC.string(c.instance),
            pid: c.pid,
            workerPID: c.worker_pid,
            workerAlive: c.worker_alive != 0,
            health: c.health,
            healthMessage: ProtobufC.string(c.health_message),
            pending: c.pending,
            active: c.active,
            completed: c.completed,
            failed: c.failed,
            oldestActiveID: ProtobufC.string(c.oldest_active_id),
            oldestActiveAgeMs: c.oldest_active_age_ms,
            failuresLast5m: c.failures_last_5m,
            p95WriteLatencySeconds: c.p95_write_latency_seconds,
            heartbeatSeq: c.heartbeat_seq,
            heartbeatAtMs: c.heartbeat_at_ms,
            batchSize: c.batch_size,
            leases: c.leases,
            heartbeatIntervalSeconds: c.heartbeat_interval_seconds
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__WorkerStatus()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "WorkerStatus")
        self = try ProtobufC.unpack(
            body,
            name: "WorkerStatus",
            unpack: { pipebus__tasks__v1__worker_status__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__worker_status__free_unpacked($0, nil) }
        ) { Tasks.WorkerStatus($0) }
    }
}

extension Tasks.WatchRequest: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__WatchRequest, arena: inout CArena) {
        pipebus__tasks__v1__watch_request__init(&c)
        c.after_seq = afterSeq
    }

    init(_ c: Pipebus__Tasks__V1__WatchRequest) {
        self.init(
            afterSeq: c.after_seq
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__WatchRequest()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "WatchRequest")
        self = try ProtobufC.unpack(
            body,
            name: "WatchRequest",
            unpack: { pipebus__tasks__v1__watch_request__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__watch_request__free_unpacked($0, nil) }
        ) { Tasks.WatchRequest($0) }
    }
}

extension Tasks.Event: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__Event, arena: inout CArena) {
        pipebus__tasks__v1__event__init(&c)
        c.seq = seq
        c.timestamp_ms = timestampMs
        c.kind = Pipebus__Tasks__V1__EventKind(rawValue: kind.rawValue)
        if let status {
            let pointer = arena.allocate(Pipebus__Tasks__V1__WorkerStatus.self, count: 1)
            var sub = Pipebus__Tasks__V1__WorkerStatus()
            status.fill(&sub, arena: &arena)
            pointer.initialize(to: sub)
            c.status = pointer
        }
        if !taskID.isEmpty { c.task_id = arena.cString(taskID) }
        c.from_state = Pipebus__Tasks__V1__TaskState(rawValue: fromState.rawValue)
        c.to_state = Pipebus__Tasks__V1__TaskState(rawValue: toState.rawValue)
        if !correlationID.isEmpty { c.correlation_id = arena.cString(correlationID) }
        if !traceID.isEmpty { c.trace_id = arena.cString(traceID) }
        c.duration_seconds = durationSeconds
        if !error.isEmpty { c.error = arena.cString(error) }
    }

    init(_ c: Pipebus__Tasks__V1__Event) {
        self.init(
            seq: c.seq,
            timestampMs: c.timestamp_ms,
            kind: Tasks.EventKind(rawValue: c.kind.rawValue) ?? .unspecified,
            status: c.status.map { Tasks.WorkerStatus($0.pointee) },
            taskID: ProtobufC.string(c.task_id),
            fromState: Tasks.State(rawValue: c.from_state.rawValue) ?? .unspecified,
            toState: Tasks.State(rawValue: c.to_state.rawValue) ?? .unspecified,
            correlationID: ProtobufC.string(c.correlation_id),
            traceID: ProtobufC.string(c.trace_id),
            durationSeconds: c.duration_seconds,
            error: ProtobufC.string(c.error)
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__Event()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "Event", nestedFields: [4])
        self = try ProtobufC.unpack(
            body,
            name: "Event",
            unpack: { pipebus__tasks__v1__event__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__event__free_unpacked($0, nil) }
        ) { Tasks.Event($0) }
    }
}

extension Tasks.LeaseRequest: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__LeaseRequest, arena: inout CArena) {
        pipebus__tasks__v1__lease_request__init(&c)
        c.max_in_flight = maxInFlight
    }

    init(_ c: Pipebus__Tasks__V1__LeaseRequest) {
        self.init(
            maxInFlight: c.max_in_flight
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__LeaseRequest()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "LeaseRequest")
        self = try ProtobufC.unpack(
            body,
            name: "LeaseRequest",
            unpack: { pipebus__tasks__v1__lease_request__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__lease_request__free_unpacked($0, nil) }
        ) { Tasks.LeaseRequest($0) }
    }
}

extension Tasks.FinishRequest: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__FinishRequest, arena: inout CArena) {
        pipebus__tasks__v1__finish_request__init(&c)
        if !id.isEmpty { c.id = arena.cString(id) }
        c.failed = failed ? 1 : 0
        c.result_json = arena.bytes(resultJSON)
        if !error.isEmpty { c.error = arena.cString(error) }
        c.retry = retry ? 1 : 0
    }

    init(_ c: Pipebus__Tasks__V1__FinishRequest) {
        self.init(
            id: ProtobufC.string(c.id),
            failed: c.failed != 0,
            resultJSON: ProtobufC.bytes(c.result_json),
            error: ProtobufC.string(c.error),
            retry: c.retry != 0
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__FinishRequest()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "FinishRequest")
        self = try ProtobufC.unpack(
            body,
            name: "FinishRequest",
            unpack: { pipebus__tasks__v1__finish_request__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__finish_request__free_unpacked($0, nil) }
        ) { Tasks.FinishRequest($0) }
    }
}

extension Tasks.WorkerReport: MessageCodable {
    func fill(_ c: inout Pipebus__Tasks__V1__WorkerReport, arena: inout CArena) {
        pipebus__tasks__v1__worker_report__init(&c)
        c.claude_api_errors = claudeAPIErrors
    }

    init(_ c: Pipebus__Tasks__V1__WorkerReport) {
        self.init(
            claudeAPIErrors: c.claude_api_errors
        )
    }

    public func serialize(into buffer: inout [UInt8]) {
        var arena = CArena()
        var c = Pipebus__Tasks__V1__WorkerReport()
        fill(&c, arena: &arena)
        ProtobufC.pack(&c, appendingTo: &buffer)
    }

    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        try WireScan.check(body, limit: 0, messageName: "WorkerReport")
        self = try ProtobufC.unpack(
            body,
            name: "WorkerReport",
            unpack: { pipebus__tasks__v1__worker_report__unpack(nil, $0, $1) },
            free: { pipebus__tasks__v1__worker_report__free_unpacked($0, nil) }
        ) { Tasks.WorkerReport($0) }
    }
}
