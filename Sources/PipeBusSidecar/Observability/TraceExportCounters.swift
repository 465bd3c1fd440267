import Synchronization

/// What became of the spans the process tried to export, for `/metrics`: spans are exported
/// by the process-wide tracer, so the counts are process-wide too. The executable that
/// bootstraps the exporter reports into `shared`; the sidecar's metrics render it.
public final class TraceExportCounters: Sendable {
    public static let shared = TraceExportCounters()

    /// Why spans were lost: the exporter's queue was full, or a batch could not be sent (the
    /// collector down or refusing).
    public enum DropReason: String, Sendable, CaseIterable {
        case queueFull = "queue_full"
        case exportFailed = "export_failed"
    }

    private let queueFull = Atomic<UInt64>(0)
    private let exportFailed = Atomic<UInt64>(0)
    private let enabled = Atomic<Bool>(false)

    public init() {}

    /// Whether an exporter is configured (OTEL_EXPORTER_OTLP_ENDPOINT set).
    public var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }

    public func dropped(_ count: UInt64, reason: DropReason) {
        switch reason {
        case .queueFull: queueFull.add(count, ordering: .relaxed)
        case .exportFailed: exportFailed.add(count, ordering: .relaxed)
        }
    }

    public func droppedCount(_ reason: DropReason) -> UInt64 {
        switch reason {
        case .queueFull: queueFull.load(ordering: .relaxed)
        case .exportFailed: exportFailed.load(ordering: .relaxed)
        }
    }
}
