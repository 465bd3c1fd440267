import Histogram

/// Percentiles of a latency distribution, in nanoseconds.
///
/// The tail percentiles are optional because a few batch timings (the codec scenario) have no
/// meaningful p99; a per-operation distribution has them all.
struct LatencySummary: Codable, Sendable, Equatable {
    var p50: Double
    var p90: Double?
    var p99: Double?
    var p999: Double?
    var max: Double

    init(p50: Double, p90: Double?, p99: Double?, p999: Double?, max: Double) {
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.max = max
    }

    /// From an HdrHistogram of nanoseconds (3 significant digits, so within 0.1%).
    init(_ histogram: Histogram<UInt64>) {
        self.init(
            p50: Double(histogram.valueAtPercentile(50)),
            p90: Double(histogram.valueAtPercentile(90)),
            p99: Double(histogram.valueAtPercentile(99)),
            p999: Double(histogram.valueAtPercentile(99.9)),
            max: Double(histogram.max)
        )
    }

    /// The median and the worst of a handful of batch timings.
    init(batches: [Double]) {
        let sorted = batches.sorted()
        self.init(
            p50: sorted.isEmpty ? .nan : sorted[(sorted.count - 1) / 2],
            p90: nil,
            p99: nil,
            p999: nil,
            max: sorted.last ?? .nan
        )
    }

    /// Exact percentiles of per-operation samples, by nearest rank as the C baseline computes
    /// them, so that a ratio to C compares like with like.
    init(samples: [UInt64]) {
        let sorted = samples.sorted()
        func percentile(_ perHundredThousand: Int) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let rank = Swift.max(1, (perHundredThousand * sorted.count + 99_999) / 100_000)
            return Double(sorted[rank - 1])
        }
        self.init(
            p50: percentile(50_000),
            p90: percentile(90_000),
            p99: percentile(99_000),
            p999: percentile(99_900),
            max: Double(sorted.last ?? 0)
        )
    }

    /// A histogram of `samples` in nanoseconds, for the CDF charts.
    static func makeHistogram(samples: [UInt64]) -> Histogram<UInt64> {
        var histogram = makeHistogram()
        for sample in samples { histogram.record(sample) }
        return histogram
    }

    /// A histogram for latencies in nanoseconds up to 100 s, which no round trip here reaches.
    static func makeHistogram() -> Histogram<UInt64> {
        Histogram(highestTrackableValue: 100_000_000_000, numberOfSignificantValueDigits: .three)
    }
}
