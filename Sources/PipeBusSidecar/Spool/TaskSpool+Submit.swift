import PipeBusCore
public import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

extension TaskSpool {
    /// Adds a task to `pending/` and returns once its file is durable there.
    ///
    /// The user's keys are kept as given; the sidecar's keys are set: `id` (the argument, else a
    /// valid `id` already in the object, else generated), `correlation_id` (the argument, else
    /// the object's, else generated), `_trace_context` (the argument, else the object's),
    /// `submitted_at` (now), `attempts` (0); `result` and `error` are dropped.
    /// Throws ALREADY_EXISTS if the id is in any state, RESOURCE_EXHAUSTED if the task is over
    /// the size limit or the disk is full (nothing is left half-written).
    @discardableResult
    public func submit(
        object: [String: Any],
        id: TaskID? = nil,
        correlationID: String? = nil,
        traceContext: TraceContext? = nil
    ) throws -> TaskRecord {
        var object = object
        let id = try id ?? (object[TaskFile.Key.id] as? String).map(TaskID.init) ?? TaskID.generate()
        TaskFile.stampNew(
            &object,
            id: id.rawValue,
            correlationID: correlationID,
            traceContext: traceContext,
            now: SpoolClock.now(),
            resetting: true
        )
        return try create(object, id: id)
    }

    /// `submit(object:…)` for JSON text; throws INVALID_ARGUMENT unless it is a JSON object.
    @discardableResult
    public func submit(
        json: [UInt8],
        id: TaskID? = nil,
        correlationID: String? = nil,
        traceContext: TraceContext? = nil
    ) throws -> TaskRecord {
        try checkSize(json.count)
        let object: [String: Any]
        do {
            object = try TaskFile.parseObject(json)
        } catch .invalidJSON(let detail) {
            throw RPCError(code: .invalidArgument, message: "task is not valid JSON: \(detail)")
        } catch .notAnObject(let type) {
            throw RPCError(code: .invalidArgument, message: "task JSON must be an object, not \(type)")
        }
        return try submit(object: object, id: id, correlationID: correlationID, traceContext: traceContext)
    }

    /// Writes a new task file into `pending/`, refusing an id present in any state.
    func create(_ object: [String: Any], id: TaskID) throws -> TaskRecord {
        let bytes = try TaskFile.encode(object)
        try checkSize(bytes.count)
        return try translatingSystemErrors(subject: "spool") {
            if let state = try locate(id) {
                throw RPCError(code: .alreadyExists, message: "task \(id) already exists (in \(state)/)")
            }
            willMove(id, from: nil, to: .pending)
            do {
                try DurableFile.write(
                    bytes,
                    directory: layout.directoryPath(.pending),
                    name: id.fileName,
                    placement: .create,
                    syncDirectory: false
                )
            } catch let error as SystemCallError where error.errno == .fileExists {
                throw RPCError(code: .alreadyExists, message: "task \(id) already exists (in pending/)")
            } catch let error as SystemCallError {
                logger.error(
                    "task submit failed",
                    metadata: ["task_id": "\(id)", "error": "\(error)", "errno": "\(error.errno)"]
                )
                throw error
            }
            stampMoved(id, at: layout.filePath(id, .pending))
            // Acknowledged only once an fsync of pending/ that began after the rename is done;
            // concurrent submits share it.
            try groupCommit.sync([layout.directoryPath(.pending)])
            // Another consumer may have claimed the task already: it is durable all the same.
            guard let record = try recordWritten(id, in: .pending, bytes: bytes, object: object) ?? get(id) else {
                throw RPCError(code: .aborted, message: "task \(id) was submitted, then removed by someone else")
            }
            logger.info("task submitted", metadata: record.logMetadata)
            return record
        }
    }

    func checkSize(_ count: Int) throws {
        if count > configuration.maxTaskBytes {
            throw RPCError(
                code: .resourceExhausted,
                message: "task is \(count) bytes; the spool's limit is \(configuration.maxTaskBytes)"
            )
        }
    }
}
