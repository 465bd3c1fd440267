import Histogram

/// What one run of `pipebus-c-baseline` measured.
///
/// The percentiles are the C program's own, exact (sorted samples, nearest rank); the samples
/// also go into a histogram for the CDF charts.
struct CBaselineMeasurement: Sendable {
    /// The JSON object the C program prints.
    struct Report: Decodable, Sendable {
        struct Latency: Decodable, Sendable {
            var min: UInt64
            var p50: UInt64
            var p90: UInt64
            var p99: UInt64
            var p999: UInt64
            var max: UInt64
            var mean: Double
        }

        var mode: String
        var size: Int
        var count: Int
        var warmup: Int
        var pipeCapacity: Int
        var elapsedNanoseconds: UInt64
        /// Round trips per second for ping-pong, messages per second for a stream.
        var messagesPerSecond: Double
        /// Payload megabytes (10^6 bytes) per second, one way.
        var megabytesPerSecond: Double
        var latency: Latency?
        var samples: [UInt64]?
        /// With `--time-writes`: the sender's `write()` calls, bytes, and each call's duration.
        var writes: Int?
        var writtenBytes: UInt64?
        var writeSamples: [UInt64]?
        /// With `--spin-us`: whether the spin yields (both sides on one vCPU) or pauses.
        var spinYields: Bool?

        private enum CodingKeys: String, CodingKey {
            case mode, size, count, warmup, writes
            case pipeCapacity = "pipe_capacity"
            case elapsedNanoseconds = "elapsed_ns"
            case messagesPerSecond = "messages_per_s"
            case megabytesPerSecond = "mb_per_s"
            case latency = "latency_ns"
            case samples = "samples_ns"
            case writtenBytes = "written_bytes"
            case writeSamples = "write_samples_ns"
            case spinYields = "spin_yields"
        }
    }

    var baselineCase: CBaselineCase
    var report: Report
    var histogram: Histogram<UInt64>?

    init(baselineCase: CBaselineCase, report: Report) {
        self.baselineCase = baselineCase
        self.report = report
        if let samples = report.samples {
            var histogram = LatencySummary.makeHistogram()
            for sample in samples { histogram.record(sample) }
            self.histogram = histogram
        }
    }

    var latency: LatencySummary? {
        report.latency.map { latency in
            LatencySummary(
                p50: Double(latency.p50),
                p90: Double(latency.p90),
                p99: Double(latency.p99),
                p999: Double(latency.p999),
                max: Double(latency.max)
            )
        }
    }

    /// The case and the figure a ratio divides by, for `ratioBasis`: "ping-pong 64 B two-vCPU
    /// pipe 256 KiB: p50 2.41 µs", "stream 64 B same-vCPU pipe 256 KiB: 599k msgs/s".
    var basis: String {
        let figure = latency.map { "p50 \(ReportFormat.nanoseconds($0.p50))" } ?? "\(ReportFormat.rate(report.messagesPerSecond)) msgs/s"
        return "\(baselineCase.label): \(figure)"
    }

    /// This measurement as a row of the `baseline` scenario, where every ratio is 1 by definition.
    func result(scenario: String) -> BenchResult {
        BenchResult(
            scenario: scenario,
            label: baselineCase.mode.label,
            placement: baselineCase.placement,
            payloadSize: baselineCase.payloadSize,
            count: report.count,
            latency: latency,
            messagesPerSecond: report.messagesPerSecond,
            megabytesPerSecond: report.megabytesPerSecond,
            ratioToBaseline: 1,
            ratioBasis: "the baseline itself",
            note: "pipe \(ReportFormat.bytes(report.pipeCapacity))"
                + (report.spinYields.map { $0 ? "; spin yields" : "; spin pauses (no yield: peer on another vCPU)" }
                    ?? ""),
            histogram: histogram
        )
    }
}
