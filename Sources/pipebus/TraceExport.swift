import Foundation
import Logging
import PipeBusSidecar
import ServiceLifecycle
import Tracing

#if OTLP
import OTel

/// Task spans exported over OTLP/HTTP with swift-otel, when the standard variables ask for it:
/// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) on, OTEL_SERVICE_NAME
/// (default: the log `job`, `agent-orchestrator`), OTEL_BSP_* for the batch queue. Off when no
/// endpoint is set: the tracer stays the no-op one and nothing is queued.
///
/// Spans are made off the pipe's hot path (a submit, a claim, a finish: each already an fsync)
/// and handed to swift-otel's bounded batch queue, which drops when full; dropped spans and
/// batches the collector could not take are counted in `pipebus_trace_spans_dropped_total`.
struct TraceExport {
    /// The exporter, to run in the sidecar's ServiceGroup before the sidecar: shut down after
    /// it, it sends what is queued (within swift-otel's export timeout).
    let service: any Service

    /// Starts exporting if configured; nil when tracing is off.
    static func startIfConfigured(defaultServiceName: String, logger: Logger) throws -> TraceExport? {
        let environment = ProcessInfo.processInfo.environment
        let endpoint = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"].compactMap { environment[$0] }.first { !$0.isEmpty }
        guard let endpoint, environment["OTEL_TRACES_EXPORTER"] != "none" else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = defaultServiceName  // OTEL_SERVICE_NAME overrides it
        configuration.traces.enabled = true
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.traces.sampler = .parentBasedAlwaysOn
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.diagnosticLogger = .custom(Logger(label: "pipebus.otel") { label in
            DropCountingLogHandler(label: label, forwardTo: logger)
        })
        configuration.diagnosticLogLevel = .warning
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        TraceExportCounters.shared.isEnabled = true
        logger.info("exporting task spans over OTLP/HTTP", metadata: ["endpoint": "\(endpoint)"])
        return TraceExport(service: Exporter(backend: backend.service, logger: logger))
    }
}

/// swift-otel's exporter, which must not take the sidecar down with it: when it fails, it says
/// so and waits for the group's shutdown, as if it were still running.
private struct Exporter: Service {
    let backend: any Service
    let logger: Logger

    func run() async throws {
        do {
            try await backend.run()
        } catch {
            logger.error("trace export stopped", metadata: ["error": "\(error)"])
            try? await gracefulShutdown()
        }
    }
}

/// swift-otel's diagnostic logger: forwards its warnings to the sidecar's log, and counts the
/// spans they say were lost ("Spans were dropped…" carries `dropped_count`, "Failed to export
/// batch." carries `batch_size`), the only account of losses swift-otel gives.
struct DropCountingLogHandler: LogHandler {
    let label: String
    let forward: Logger
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning

    init(label: String, forwardTo logger: Logger) {
        self.label = label
        self.forward = logger
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        if event.message.description.hasPrefix("Spans were dropped"), let count = merged["dropped_count"].flatMap({ UInt64("\($0)") }) {
            TraceExportCounters.shared.dropped(count, reason: .queueFull)
        } else if event.message.description.hasPrefix("Failed to export batch"), let count = merged["batch_size"].flatMap({ UInt64("\($0)") }) {
            TraceExportCounters.shared.dropped(count, reason: .exportFailed)
        }
        forward.log(level: event.level, "otel: \(event.message)", metadata: merged)
    }
}

#else

/// Built without the OTLP trait (`--disable-default-traits`): no exporter, and a clear error
/// when the environment asks for one.
struct TraceExport {
    let service: any Service

    static func startIfConfigured(defaultServiceName: String, logger: Logger) throws -> TraceExport? {
        let environment = ProcessInfo.processInfo.environment
        let endpoint = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"].compactMap { environment[$0] }.first { !$0.isEmpty }
        guard endpoint != nil else { return nil }
        throw CLIError("OTEL_EXPORTER_OTLP_ENDPOINT is set, but this pipebus was built without the OTLP trait")
    }
}

#endif
