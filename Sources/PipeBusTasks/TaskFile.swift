public import Foundation
import PipeBusCore

/// A task file (DESIGN §2): the user's JSON object, kept as given, plus the keys the sidecar
/// owns. The one definition of the format, for the spool that writes it and the sidecar, the
/// client, the CLI and the demo worker that read it.
///
/// The type holds the sidecar's keys only. The spool keeps the whole object as a
/// `[String: Any]` from `JSONSerialization` and reads and writes these keys in it
/// (`init(object:)`, `apply(to:)`), so a user's keys and numbers go back to disk exactly as they
/// came; `Codable` reads the same keys from JSON text for whoever needs nothing else.
/// JSONSerialization is fine here: the spool is not the pipe hot path, and its parser refuses
/// nesting deeper than 512, so a hostile file cannot exhaust the stack.
public struct TaskFile: Codable, Hashable, Sendable {
    /// `id`: the task's id when it was written; the file name is authoritative (the runbook's
    /// replay writes `<id>_replay.json` and leaves the old `id` inside).
    public var id: String?
    public var correlationID: String?
    /// `_trace_context`: the W3C trace the task belongs to.
    public var traceContext: TraceContext?
    /// `submitted_at` as written (ISO 8601, `Timestamp`).
    public var submittedAt: String?
    /// `attempts`: how many times a worker claimed it.
    public var attempts: Int?
    /// Whether a `result` is there (a completed task).
    public var hasResult: Bool
    /// Whether an `error` is there (a failed task).
    public var hasError: Bool
    /// `error` as text: a string as written, anything else as its JSON value's description.
    public var error: String?
    /// `error` when it is a string (what `clear-stuck` and most workers write).
    public var errorMessage: String?
    /// `error_kind`: what kind of failure a worker says this was (`ErrorKind`).
    public var errorKind: String?
    /// `replay_of`: the id of the task a replay was copied from.
    public var replayOf: String?

    /// The keys the sidecar owns, spelled once; everything else in a task object belongs to the user.
    public enum Key {
        public static let id = "id"
        public static let correlationID = "correlation_id"
        public static let traceContext = "_trace_context"
        public static let traceparent = "traceparent"
        public static let tracestate = "tracestate"
        public static let submittedAt = "submitted_at"
        public static let attempts = "attempts"
        public static let result = "result"
        public static let error = "error"
        public static let debug = "debug"
        public static let replay = "replay"
        /// The id of the task a replay was copied from (the sidecar's, on a replay).
        public static let replayOf = "replay_of"
        /// A worker's kind of failure, in a failed task (`ErrorKind`).
        public static let errorKind = "error_kind"
    }

    /// Values of `error_kind` the sidecar acts on; others are kept and ignored.
    public enum ErrorKind {
        /// The worker's Claude invocation failed: counted in `claude_api_errors_total`.
        public static let claudeAPI = "claude_api"
    }

    public init(
        id: String? = nil,
        correlationID: String? = nil,
        traceContext: TraceContext? = nil,
        submittedAt: String? = nil,
        attempts: Int? = nil,
        error: String? = nil,
        errorKind: String? = nil,
        replayOf: String? = nil,
        hasResult: Bool = false
    ) {
        self.id = id
        self.correlationID = correlationID
        self.traceContext = traceContext
        self.submittedAt = submittedAt
        self.attempts = attempts
        self.error = error
        self.errorMessage = error
        self.hasError = error != nil
        self.errorKind = errorKind
        self.replayOf = replayOf
        self.hasResult = hasResult
    }

    /// The sidecar's keys of a parsed task object; a key of the wrong type reads as missing.
    public init(object: [String: Any]) {
        self.id = object[Key.id] as? String
        self.correlationID = object[Key.correlationID] as? String
        if let context = object[Key.traceContext] as? [String: Any], let traceparent = context[Key.traceparent] as? String {
            self.traceContext = TraceContext(traceparent: traceparent, tracestate: context[Key.tracestate] as? String)
        }
        self.submittedAt = object[Key.submittedAt] as? String
        self.attempts = (object[Key.attempts] as? NSNumber)?.intValue
        self.hasResult = object[Key.result] != nil
        self.hasError = object[Key.error] != nil
        self.error = object[Key.error].map { $0 as? String ?? "\($0)" }
        self.errorMessage = object[Key.error] as? String
        self.errorKind = object[Key.errorKind] as? String
        self.replayOf = object[Key.replayOf] as? String
    }

    /// `submitted_at` as a date, when it is ISO 8601.
    public var submittedAtDate: Date? { submittedAt.flatMap(Timestamp.date) }

    // MARK: Codable, for JSON text

    enum CodingKeys: String, CodingKey {
        case id, correlationID = "correlation_id", traceContext = "_trace_context", submittedAt = "submitted_at"
        case attempts, result, error, errorKind = "error_kind", replayOf = "replay_of"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func value<Value: Decodable>(_ key: CodingKeys) -> Value? { (try? container.decodeIfPresent(Value.self, forKey: key)) ?? nil }
        self.init(
            id: value(.id),
            correlationID: value(.correlationID),
            traceContext: value(.traceContext),
            submittedAt: value(.submittedAt),
            attempts: value(.attempts),
            error: value(.error),
            errorKind: value(.errorKind),
            replayOf: value(.replayOf),
            hasResult: container.contains(.result)
        )
        self.hasError = container.contains(.error)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(id, forKey: .id)
        try container.encodeIfPresent(correlationID, forKey: .correlationID)
        try container.encodeIfPresent(traceContext, forKey: .traceContext)
        try container.encodeIfPresent(submittedAt, forKey: .submittedAt)
        try container.encodeIfPresent(attempts, forKey: .attempts)
        try container.encodeIfPresent(error, forKey: .error)
        try container.encodeIfPresent(errorKind, forKey: .errorKind)
        try container.encodeIfPresent(replayOf, forKey: .replayOf)
    }
}

// MARK: The whole object

extension TaskFile {
    /// Why some bytes are not a task object.
    public enum Problem: Error {
        case invalidJSON(String)
        case notAnObject(String)
    }

    /// Parses `bytes` as a JSON object.
    public static func parseObject(_ bytes: [UInt8]) throws(Problem) -> [String: Any] {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw .invalidJSON(String(describing: error))
        }
        guard let object = value as? [String: Any] else { throw .notAnObject(typeName(of: value)) }
        return object
    }

    /// Encodes a task object: keys sorted so a file's diff stays readable, indented like the
    /// runbook's `json.dump(..., indent=2)`, with a final newline.
    public static func encode(_ object: [String: Any]) throws -> [UInt8] {
        guard JSONSerialization.isValidJSONObject(object) else {
            throw RPCError(code: .invalidArgument, message: "the task object holds a value JSON cannot encode")
        }
        let data = try JSONSerialization.data(
            withJSONObject: object,
            options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        )
        return Array(data) + [UInt8(ascii: "\n")]
    }

    /// Counts one more attempt in `attempts`, as a claim does. The file may say anything there
    /// (found by fuzz-task-json: `Int.max` trapped on `+ 1` and crashed the sidecar on every
    /// lease of that task): the count saturates.
    public static func countAttempt(in object: inout [String: Any]) {
        let previous = (object[Key.attempts] as? Int) ?? 0
        let (next, overflow) = max(previous, 0).addingReportingOverflow(1)
        object[Key.attempts] = overflow ? Int.max : next
    }

    /// Sets the keys a new task gets from the sidecar, keeping the user's own: `id`, a
    /// `correlation_id` (`correlationID`, else the object's, else a fresh `CorrelationID`), the
    /// trace (`traceContext`, else the object's, else `freshTrace()`'s), `submitted_at` and
    /// `attempts` (the object's unless `resetting`), and, when `resetting`, no `result` or
    /// `error`. Submit resets; a file dropped into `pending/` keeps what it has.
    public static func stampNew(
        _ object: inout [String: Any],
        id: String,
        correlationID: String? = nil,
        traceContext: TraceContext? = nil,
        freshTrace: () -> TraceContext? = { nil },
        now: Date = Date(),
        resetting: Bool
    ) {
        object[Key.id] = id
        if let correlationID {
            object[Key.correlationID] = correlationID
        } else if !(object[Key.correlationID] is String) && (resetting || object[Key.correlationID] == nil) {
            object[Key.correlationID] = CorrelationID.generate()
        }
        if let context = traceContext ?? (object[Key.traceContext] == nil ? freshTrace() : nil) {
            var fields: [String: Any] = [Key.traceparent: context.traceparent]
            if let tracestate = context.tracestate { fields[Key.tracestate] = tracestate }
            object[Key.traceContext] = fields
        }
        if resetting || object[Key.submittedAt] == nil { object[Key.submittedAt] = Timestamp.iso8601(now) }
        if resetting || object[Key.attempts] == nil { object[Key.attempts] = 0 }
        if resetting {
            object[Key.result] = nil
            object[Key.error] = nil
        }
    }

    /// "array", "string", "number", … for error messages.
    public static func typeName(of value: Any) -> String {
        switch value {
        case is [Any]: "an array"
        case is String: "a string"
        case is NSNull: "null"
        case is NSNumber: "a number or boolean"
        default: "\(type(of: value))"
        }
    }
}
