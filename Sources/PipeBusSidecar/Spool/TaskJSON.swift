import Foundation
import PipeBusCore

/// The task file format: the user's JSON object plus the keys the sidecar owns (DESIGN §2).
/// JSONSerialization is fine here: the spool is not the pipe hot path, and its parser refuses
/// nesting deeper than 512, so a hostile file cannot exhaust the stack.
enum TaskJSON {
    /// Keys the sidecar owns; everything else in a task object belongs to the user.
    enum Key {
        static let id = "id"
        static let correlationID = "correlation_id"
        static let traceContext = "_trace_context"
        static let traceparent = "traceparent"
        static let tracestate = "tracestate"
        static let submittedAt = "submitted_at"
        static let attempts = "attempts"
        static let result = "result"
        static let error = "error"
        static let debug = "debug"
        static let replay = "replay"
        /// The id of the task a replay was copied from (the sidecar's, on a replay).
        static let replayOf = "replay_of"
        /// A worker's kind of failure, in a failed task (`ErrorKind`).
        static let errorKind = "error_kind"
    }

    /// Values of `error_kind` the sidecar acts on; others are kept and ignored.
    enum ErrorKind {
        /// The worker's Claude invocation failed: counted in `claude_api_errors_total`.
        static let claudeAPI = "claude_api"
    }

    /// Why some bytes are not a task object.
    enum Problem: Error {
        case invalidJSON(String)
        case notAnObject(String)
    }

    /// Parses `bytes` as a JSON object.
    static func parseObject(_ bytes: [UInt8]) throws(Problem) -> [String: Any] {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw .invalidJSON(String(describing: error))
        }
        guard let object = value as? [String: Any] else { throw .notAnObject(typeName(of: value)) }
        return object
    }

    /// Counts one more attempt in `attempts`, as a claim does. The file may say anything there
    /// (found by fuzz-task-json: `Int.max` trapped on `+ 1` and crashed the sidecar on every
    /// lease of that task): the count saturates.
    static func countAttempt(in object: inout [String: Any]) {
        let previous = (object[Key.attempts] as? Int) ?? 0
        let (next, overflow) = max(previous, 0).addingReportingOverflow(1)
        object[Key.attempts] = overflow ? Int.max : next
    }

    /// Encodes a task object: keys sorted so a file's diff stays readable, indented like the
    /// runbook's `json.dump(..., indent=2)`, with a final newline.
    static func encode(_ object: [String: Any]) throws -> [UInt8] {
        guard JSONSerialization.isValidJSONObject(object) else {
            throw RPCError(code: .invalidArgument, message: "the task object holds a value JSON cannot encode")
        }
        let data = try JSONSerialization.data(
            withJSONObject: object,
            options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        )
        return Array(data) + [UInt8(ascii: "\n")]
    }

    /// "array", "string", "number", … for error messages.
    static func typeName(of value: Any) -> String {
        switch value {
        case is [Any]: "an array"
        case is String: "a string"
        case is NSNull: "null"
        case is NSNumber: "a number or boolean"
        default: "\(type(of: value))"
        }
    }
}
