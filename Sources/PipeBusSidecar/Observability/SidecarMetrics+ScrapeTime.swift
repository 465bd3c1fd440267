import PipeBusCore

extension SidecarMetrics {
    /// Families rendered at scrape time from cumulative sources, never registered on the registry
    /// (a name in both would give promtool two HELP/TYPE blocks for one family).
    static let scrapeTimeFamilyNames: [String] = [
        "pipe_write_latency_seconds", "pipe_connection_errors_total", "pipebus_pipe_frames_total",
        "pipebus_pipe_bytes_total", "pipebus_pipe_open_connections", "system_io_operations_total",
        "pipebus_trace_spans_dropped_total",
    ]

    /// Reasons PipeBusCore and PipeBusPipes report, exported at 0 before they first happen: a
    /// counter series that appears already at 1 hides its first increase from `rate()`.
    /// A reason not listed here is still exported once it happens.
    public static let knownConnectionErrorReasons: [String] = [
        "bad_frame", "protocol_error", "handshake_timeout", "slow_consumer", "io_error",
        "bad_connect_record", "connect_refused", "connect_fifo_recreated",
    ]

    func renderScrapeTimeFamilies() -> String {
        var writer = ExpositionWriter(baseLabels: baseLabels)
        let snapshot = transport.snapshot()
        Self.writeLatency(transport.writeLatency.snapshot(), into: &writer)

        writer.family(
            "pipe_connection_errors_total",
            type: "counter",
            help: "Pipe connections that ended in error, by reason."
        )
        var errors = snapshot.connectionErrors
        for reason in Self.knownConnectionErrorReasons where errors[reason] == nil { errors[reason] = 0 }
        for (reason, count) in errors.sorted(by: { $0.key < $1.key }) {
            writer.sample("pipe_connection_errors_total", labels: [("reason", reason)], value: count)
        }

        writer.family("pipebus_pipe_frames_total", type: "counter", help: "Frames through the pipes, by direction.")
        writer.sample("pipebus_pipe_frames_total", labels: [("direction", "received")], value: snapshot.framesReceived)
        writer.sample("pipebus_pipe_frames_total", labels: [("direction", "sent")], value: snapshot.framesSent)

        writer.family("pipebus_pipe_bytes_total", type: "counter", help: "Bytes through the pipes, by direction.")
        writer.sample("pipebus_pipe_bytes_total", labels: [("direction", "received")], value: snapshot.bytesReceived)
        writer.sample("pipebus_pipe_bytes_total", labels: [("direction", "sent")], value: snapshot.bytesSent)

        writer.family("pipebus_pipe_open_connections", type: "gauge", help: "Pipe connections open now.")
        writer.sample("pipebus_pipe_open_connections", value: String(snapshot.openConnections))

        writer.family(
            "system_io_operations_total",
            type: "counter",
            help: "Reads and writes completed by the machine's physical disks since boot (/proc/diskstats)."
        )
        // No sample before the first reading: a 0 followed by the count since boot would look like
        // a burst of I/O to rate().
        if let operations = systemIOOperations.withLock({ $0 }) {
            writer.sample("system_io_operations_total", labels: [("host", host)], value: operations)
        }

        writer.family(
            "pipebus_trace_spans_dropped_total",
            type: "counter",
            help: "Task spans not exported (OTLP): the export queue was full, or the collector could not take a batch."
        )
        for reason in TraceExportCounters.DropReason.allCases {
            writer.sample("pipebus_trace_spans_dropped_total", labels: [("reason", reason.rawValue)], value: TraceExportCounters.shared.droppedCount(reason))
        }
        return writer.text
    }

    /// Renders PipeBusCore's non-cumulative nanosecond buckets as a Prometheus histogram: cumulative
    /// counts, `le` in seconds, then `+Inf`, `_sum` and `_count`.
    static func writeLatency(_ latency: LatencyHistogram.Snapshot, into writer: inout ExpositionWriter) {
        let name = "pipe_write_latency_seconds"
        writer.family(name, type: "histogram", help: "Time to write a batch of frames to a pipe, in seconds.")
        let bounds = LatencyHistogram.boundsNanoseconds
        var cumulative: UInt64 = 0
        for (index, bound) in bounds.enumerated() {
            cumulative += index < latency.bucketCounts.count ? latency.bucketCounts[index] : 0
            let le = ExpositionWriter.seconds(nanoseconds: bound)
            writer.sample("\(name)_bucket", labels: [("le", le)], value: cumulative)
        }
        // The snapshot reads each bucket, the sum and the count separately while writers go on;
        // counting from the buckets keeps `+Inf` equal to `_count`, as histogram_quantile expects.
        for overflow in latency.bucketCounts.dropFirst(bounds.count) { cumulative += overflow }
        writer.sample("\(name)_bucket", labels: [("le", "+Inf")], value: cumulative)
        writer.sample("\(name)_sum", value: ExpositionWriter.seconds(nanoseconds: latency.sumNanoseconds))
        writer.sample("\(name)_count", value: cumulative)
    }
}
