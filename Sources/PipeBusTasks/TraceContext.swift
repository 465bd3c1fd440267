/// The W3C trace context a task carries in its `_trace_context` key (`TaskFile`).
public struct TraceContext: Codable, Hashable, Sendable {
    public var traceparent: String
    public var tracestate: String?

    public init(traceparent: String, tracestate: String? = nil) {
        self.traceparent = traceparent
        self.tracestate = tracestate
    }

    /// The trace id (the second field of `traceparent`), for the `trace_id` log field.
    public var traceID: String? {
        let fields = traceparent.split(separator: "-")
        return fields.count >= 4 && fields[1].count == 32 ? String(fields[1]) : nil
    }

    /// Whether `traceparent` is a W3C traceparent this code can carry: version 00, a trace id
    /// and a parent id in lower-case hex and not all zero, and flags.
    public static func isValid(traceparent: String) -> Bool {
        let fields = traceparent.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count == 4, fields[0].count == 2, fields[1].count == 32, fields[2].count == 16, fields[3].count == 2 else { return false }
        let hex = fields.allSatisfy { $0.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) } }
        return hex && fields[0] != "ff" && fields[1].contains { $0 != "0" } && fields[2].contains { $0 != "0" }
    }
}
