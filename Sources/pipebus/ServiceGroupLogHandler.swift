import Logging
import ServiceLifecycle
import UnixSignals

/// The sidecar's ServiceGroup logs through this: its lines go to the sidecar's log as they are
/// (debug detail), and the one a person relies on, that a signal started the shutdown, is also
/// said at info in the words the sidecar always used: "received signal 15; shutting down".
struct ServiceGroupLogHandler: LogHandler {
    let forward: Logger
    var metadata: Logger.Metadata = [:]
    /// Debug, so that the group's "Signal caught" line (debug) reaches `log`; `forward` applies
    /// the sidecar's own level to what is forwarded.
    var logLevel: Logger.Level = .debug

    init(forwardTo logger: Logger) {
        self.forward = logger
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The group's metadata key for the signal it caught (`ServiceGroupConfiguration.LoggingConfiguration`).
    static let signalKey = ServiceGroupConfiguration.LoggingConfiguration.Keys().signalKey

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        if event.message.description.hasPrefix("Signal caught"), let caught = merged[Self.signalKey] {
            let number = [UnixSignal.sigterm, .sigint].first { "\($0)" == "\(caught)" }?.rawValue
            forward.info("received signal \(number.map { "\($0)" } ?? "\(caught)"); shutting down")
        }
        forward.log(level: event.level, "\(event.message)", metadata: merged)
    }
}
