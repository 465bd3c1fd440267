/// The W3C trace context a task carries in its `_trace_context` key.
public struct TraceContext: Hashable, Sendable {
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
}
