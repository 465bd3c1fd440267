import Foundation
import PipeBusCore
import PipeBusTasks
import Tracing

/// The spans of a task's life, made through swift-distributed-tracing's global tracer (a no-op
/// until the executable bootstraps one, e.g. swift-otel's OTLP exporter).
///
/// A task's trace, as Jaeger shows it:
///
///     <caller's span, from the Submit call's traceparent>          (absent: a new trace)
///       └─ pipebus.submit          the durable write into pending/
///            ├─ pipebus.lease      the claim for a pipe worker (each attempt)
///            ├─ pipebus.finish     the worker's completion written durably
///            └─ pipebus.task       queued → active → completed|failed, the whole life
///
/// The task span is made when the task finishes, by the instance that reports the finish, with
/// its start set to the task's `submitted_at`: nothing is held in memory across the task's life,
/// so a sidecar restart or an instance dying mid-task loses no span, and with several instances
/// it is made once. The pipe-call spans are made as the calls happen. All of them descend from
/// the span whose context the task file's `_trace_context` holds (`pipebus.submit`, or
/// `pipebus.enqueue` for a task dropped into pending/ by hand), which is also what a worker
/// gets in its lease to continue the trace.
public struct TaskTracing: Sendable {
    public let worker: String
    public let instance: String

    public init(worker: String, instance: String) {
        self.worker = worker
        self.instance = instance
    }

    /// The context a span starts in: the task's (or a caller's) W3C trace context, or a new
    /// trace when there is none.
    static func context(_ trace: TraceContext?) -> ServiceContext {
        var context = ServiceContext.topLevel
        guard let trace else { return context }
        var carrier = ["traceparent": trace.traceparent]
        if let state = trace.tracestate { carrier["tracestate"] = state }
        InstrumentationSystem.instrument.extract(carrier, into: &context, using: DictionaryExtractor())
        return context
    }

    /// The W3C trace context of `span`, or nil when the tracer propagates none (the no-op one).
    static func traceContext(of span: any Span) -> TraceContext? {
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(span.context, into: &carrier, using: DictionaryInjector())
        guard let parent = carrier["traceparent"], TraceContext.isValid(traceparent: parent) else { return nil }
        return TraceContext(traceparent: parent, tracestate: carrier["tracestate"])
    }

    /// Starts the span of a Submit call (or of adopting a task dropped into pending/), child of
    /// the caller's context when there is one.
    func startSubmit(_ id: TaskID, caller: TraceContext?, adopted: Bool = false) -> any Span {
        let span = startSpan(adopted ? "pipebus.enqueue" : "pipebus.submit", context: Self.context(caller), ofKind: adopted ? .internal : .server)
        span.attributes = attributes(id)
        return span
    }

    /// A pipe call on the task (`lease`, `finish`) that took from `start` until now.
    func call(_ name: String, _ record: TaskRecord, startedAt start: Date, error: (any Error)? = nil) {
        let span = startSpan("pipebus.\(name)", at: WallClockInstant(start), context: Self.context(record.traceContext), ofKind: .server)
        var attributes = attributes(record.id)
        attributes["pipebus.task.attempt"] = record.attempts
        span.attributes = attributes
        if let error {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error, message: "\(error)"))
        }
        span.end()
    }

    /// The span of a task's whole life, once it is completed or failed.
    func finished(_ record: TaskRecord, activeSince: Date?, at end: Date) {
        let start = record.submittedAt.map { min($0, end) } ?? activeSince ?? end
        let span = startSpan("pipebus.task", at: WallClockInstant(start), context: Self.context(record.traceContext), ofKind: .consumer)
        var attributes = attributes(record.id)
        attributes["pipebus.task.attempt"] = record.attempts
        attributes["pipebus.task.state"] = "\(record.state)"
        if let correlation = record.correlationID { attributes["pipebus.task.correlation_id"] = correlation }
        if let activeSince {
            attributes["pipebus.task.queued_seconds"] = max(0, activeSince.timeIntervalSince(start))
            attributes["pipebus.task.processing_seconds"] = max(0, end.timeIntervalSince(activeSince))
            span.addEvent(SpanEvent(name: "active", at: WallClockInstant(max(start, activeSince))))
        }
        span.addEvent(SpanEvent(name: "queued", at: WallClockInstant(start)))
        if record.state == .failed {
            let message = record.errorMessage ?? "failed"
            attributes["error.message"] = message
            span.setStatus(SpanStatus(code: .error, message: message))
        }
        span.attributes = attributes
        span.end(at: WallClockInstant(end))
    }

    private func attributes(_ id: TaskID) -> SpanAttributes {
        var attributes = SpanAttributes()
        attributes["pipebus.worker"] = worker
        attributes["pipebus.instance"] = instance
        attributes["pipebus.task.id"] = id.rawValue
        return attributes
    }
}

/// A wall-clock time as the tracer's instant (spans of past events start in the past).
struct WallClockInstant: TracerInstant {
    var nanosecondsSinceEpoch: UInt64

    init(_ date: Date) {
        nanosecondsSinceEpoch = UInt64(max(0, date.timeIntervalSince1970 * 1_000_000_000))
    }

    static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch }
}

struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}
