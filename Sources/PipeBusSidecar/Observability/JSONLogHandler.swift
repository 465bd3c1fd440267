public import Foundation
public import Logging

/// A swift-log handler writing one JSON object per line, as Loki's `| json` stage reads them:
/// `ts` (ISO 8601 UTC), `level`, `msg`, `job`, `worker` (and `instance`, `logger`, `source`), then
/// every metadata key at top level, so `task_id`, `correlation_id` and `trace_id` can be filtered
/// on directly (`{job="agent-orchestrator"} | json | correlation_id="…"`).
///
/// Metadata precedence, lowest first: the handler's own, the metadata provider's, the call's.
/// A metadata key that names a fixed field is written as `meta_<key>` rather than shadowing it.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// The logger's label, written as `logger`.
    public let label: String
    public let job: String
    public let worker: String
    public let instance: String?
    private let writer: LogLineWriter

    static let fixedKeys: Set<String> = ["ts", "level", "msg", "job", "worker", "instance", "logger", "source"]

    /// Writes to `fileHandle` (standard error by default; `FileHandle(fileDescriptor:)` for any
    /// other descriptor), kept alive by the handler.
    public init(
        label: String,
        job: String = "agent-orchestrator",
        worker: String,
        instance: String? = nil,
        logLevel: Logger.Level = .info,
        fileHandle: FileHandle = .standardError,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.init(
            label: label,
            job: job,
            worker: worker,
            instance: instance,
            logLevel: logLevel,
            writer: LogLineWriter(fileDescriptor: fileHandle.fileDescriptor, owner: fileHandle),
            metadataProvider: metadataProvider
        )
    }

    init(
        label: String,
        job: String,
        worker: String,
        instance: String?,
        logLevel: Logger.Level,
        writer: LogLineWriter,
        metadataProvider: Logger.MetadataProvider?
    ) {
        self.label = label
        self.job = job
        self.worker = worker
        self.instance = instance
        self.logLevel = logLevel
        self.writer = writer
        self.metadataProvider = metadataProvider
    }

    /// A factory for `LoggingSystem.bootstrap`: every logger it makes shares one writer (one lock),
    /// e.g. `LoggingSystem.bootstrap(JSONLogHandler.factory(worker: "marie"))`.
    public static func factory(
        job: String = "agent-orchestrator",
        worker: String,
        instance: String? = nil,
        logLevel: Logger.Level = .info,
        fileHandle: FileHandle = .standardError,
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> @Sendable (String) -> any LogHandler {
        let writer = LogLineWriter(fileDescriptor: fileHandle.fileDescriptor, owner: fileHandle)
        return { label in
            JSONLogHandler(
                label: label,
                job: job,
                worker: worker,
                instance: instance,
                logLevel: logLevel,
                writer: writer,
                metadataProvider: metadataProvider
            )
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        writer.emit(line(for: event, timestamp: JSONLineEncoder.now()))
    }

    /// The bytes of one line, `\n` included; separate from `log(event:)` so tests can fix the time.
    func line(for event: LogEvent, timestamp: String) -> [UInt8] {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        if let error = event.error, merged["error"] == nil { merged["error"] = .string("\(error)") }

        var encoder = JSONLineEncoder()
        encoder.field("ts", timestamp)
        encoder.field("level", event.level.rawValue)
        encoder.field("msg", event.message.description)
        encoder.field("job", job)
        encoder.field("worker", worker)
        if let instance { encoder.field("instance", instance) }
        encoder.field("logger", label)
        encoder.field("source", event.source)
        // Sorted so that a line reads the same each time; a handful of keys, so the sort is cheap.
        for key in merged.keys.sorted() {
            encoder.field(Self.fixedKeys.contains(key) ? "meta_\(key)" : key, merged[key]!)
        }
        return encoder.finish()
    }
}
