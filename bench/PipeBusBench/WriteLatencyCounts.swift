import PipeBusCore

/// The server's `pipe_write_latency_seconds` histogram as the sidecar exports it: per-bucket
/// counts (1 µs … 10 s, then +Inf), their sum and count. Two of them taken around a load give
/// that load's distribution; its quantiles are computed as Prometheus' `histogram_quantile`
/// does (interpolated within a bucket), by pipebus's own `LatencyHistogram.Snapshot`.
struct WriteLatencyCounts: Codable, Sendable, Hashable {
    var bucketCounts: [UInt64]
    var sumNanoseconds: UInt64
    var count: UInt64

    init(_ snapshot: LatencyHistogram.Snapshot) {
        bucketCounts = snapshot.bucketCounts
        sumNanoseconds = snapshot.sumNanoseconds
        count = snapshot.count
    }

    /// What was recorded between `earlier` and this snapshot.
    func subtracting(_ earlier: WriteLatencyCounts) -> WriteLatencyCounts {
        var delta = self
        for index in delta.bucketCounts.indices where index < earlier.bucketCounts.count {
            delta.bucketCounts[index] -= earlier.bucketCounts[index]
        }
        delta.sumNanoseconds -= earlier.sumNanoseconds
        delta.count -= earlier.count
        return delta
    }

    /// The `quantile` (0…1) in nanoseconds, or nil when nothing was recorded.
    func quantileNanoseconds(_ quantile: Double) -> Double? {
        // pipebus's Snapshot has no public initializer; its fields are public vars.
        var snapshot = LatencyHistogram().snapshot()
        snapshot.bucketCounts = bucketCounts
        snapshot.sumNanoseconds = sumNanoseconds
        snapshot.count = count
        return snapshot.quantileNanoseconds(quantile)
    }

    /// The upper bound of the highest non-empty bucket: all a bucketed histogram knows of the
    /// maximum (the last finite bound when the +Inf bucket has samples).
    var maximumBoundNanoseconds: Double? {
        guard let highest = bucketCounts.lastIndex(where: { $0 > 0 }) else { return nil }
        let bounds = LatencyHistogram.boundsNanoseconds
        return Double(bounds[min(highest, bounds.count - 1)])
    }

    var meanNanoseconds: Double? {
        count > 0 ? Double(sumNanoseconds) / Double(count) : nil
    }

    /// Bucket counts of samples, for the C baseline's write timings: the same buckets and the
    /// same quantile arithmetic as pipebus's own histogram.
    init(samples: [UInt64]) {
        let histogram = LatencyHistogram()
        for sample in samples { histogram.record(nanoseconds: sample) }
        self.init(histogram.snapshot())
    }
}
