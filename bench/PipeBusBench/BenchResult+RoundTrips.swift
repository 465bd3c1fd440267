/// Rows built from a client peer's measurements.
extension BenchResult {
    /// Per-call latencies of a round-trip workload, as a ratio of p50 to the C ping-pong p50.
    static func roundTrips(
        scenario: String,
        label: String,
        placement: Placement,
        payloadSize: Int,
        measurement: WorkloadMeasurement,
        baseline: CBaselineMeasurement,
        note: String? = nil
    ) -> BenchResult {
        let latency = LatencySummary(samples: measurement.samples)
        let perSecond = measurement.perSecond
        return BenchResult(
            scenario: scenario,
            label: label,
            placement: placement,
            payloadSize: payloadSize,
            count: measurement.count,
            latency: latency,
            messagesPerSecond: perSecond,
            megabytesPerSecond: perSecond * Double(payloadSize) / 1e6,
            ratioToBaseline: baseline.latency.map { latency.p50 / $0.p50 },
            ratioBasis: "p50 / C ping-pong p50 (\(baseline.basis))",
            note: note,
            histogram: LatencySummary.makeHistogram(samples: measurement.samples)
        )
    }

    /// Wire bytes per call each way, for a note: "wire 64.1 KiB out, 64.1 KiB back per call".
    static func wireNote(_ measurement: WorkloadMeasurement) -> String {
        let calls = Double(max(1, measurement.count))
        let out = Int((Double(measurement.bytesSent) / calls).rounded())
        let back = Int((Double(measurement.bytesReceived) / calls).rounded())
        return "wire \(ReportFormat.bytes(out)) out, \(ReportFormat.bytes(back)) back per call"
    }

    /// A row for a measurement that failed: the error's first line as the note.
    static func failure(
        scenario: String,
        label: String,
        placement: Placement,
        payloadSize: Int,
        error: any Error
    )
        -> BenchResult
    {
        let lines = "\(error)".split(separator: "\n").map(String.init)
        // The peer's own message is the last line ("Error: ..."), the clearest one.
        var message =
            lines.last(where: { $0.hasPrefix("Error: ") }).map { String($0.dropFirst(7)) } ?? lines.first ?? ""
        if let server = lines.last(where: { $0.hasPrefix("server: ") }) {
            // "server: <time> warning pipebus-bench.server: ... reason=...": keep the reason, or
            // else what follows the logger's label.
            var reason = String(server.dropFirst("server: ".count))
            for marker in ["pipebus-bench.server: ", "reason="] {
                if let after = reason.split(separator: marker, maxSplits: 1, omittingEmptySubsequences: false)
                    .dropFirst().first
                {
                    reason = String(after)
                }
            }
            message += "; server: " + reason
        }
        return BenchResult(
            scenario: scenario,
            label: label,
            placement: placement,
            payloadSize: payloadSize,
            count: 0,
            note: "FAILED: " + String(message.prefix(240))
        )
    }
}
