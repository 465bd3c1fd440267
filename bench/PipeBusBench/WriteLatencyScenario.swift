/// The distribution the server's `TransportMetrics.writeLatency` recorded during the stream
/// run (the `pipe_write_latency_seconds` histogram a sidecar exports), as quantiles computed
/// from its buckets the way Prometheus' `histogram_quantile` does; against the C stream
/// sender's `write()` durations, put into the same buckets.
struct WriteLatencyScenario: Scenario {
    let name = "write-latency"
    let summary = "server write() latency histogram during the stream run, p50/p95/p99, vs C write()"

    func run(in context: BenchContext) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for placement in context.placements {
            var baselines: [Int: CBaselineMeasurement] = [:]
            for size in StreamMeasurement.sizes {
                var baselineCase = context.tuning.baselineCase(.stream, size: size, placement: placement)
                baselineCase.timesWrites = true
                baselines[size] = try context.baseline(baselineCase)
            }
            let measured = try StreamMeasurement.shared(in: context, placement: placement)
            for size in StreamMeasurement.sizes {
                guard let baseline = baselines[size], let samples = baseline.report.writeSamples else {
                    throw BenchError("the C stream baseline reported no write timings")
                }
                let cCounts = WriteLatencyCounts(samples: samples)
                let cBytesPerWrite = Int((baseline.report.writtenBytes ?? 0) / UInt64(max(1, samples.count)))
                let cRow = row(
                    label: "C sender write()",
                    counts: cCounts,
                    placement: placement,
                    size: size,
                    bytesPerWrite: cBytesPerWrite,
                    cP50: nil
                )
                results.append(cRow)
                guard let counts = measured.bySize[size]?.serverWriteLatency, counts.count > 0 else { continue }
                let bytesPerWrite = Int((measured.bySize[size]?.bytesReceived ?? 0) / counts.count)
                results.append(
                    row(
                        label: "server write()",
                        counts: counts,
                        placement: placement,
                        size: size,
                        bytesPerWrite: bytesPerWrite,
                        cP50: cCounts.quantileNanoseconds(0.5)
                    )
                )
            }
        }
        return results
    }

    /// A row of histogram quantiles; max is the highest non-empty bucket's bound. `cP50` nil:
    /// the row is the C baseline itself.
    private func row(
        label: String,
        counts: WriteLatencyCounts,
        placement: Placement,
        size: Int,
        bytesPerWrite: Int,
        cP50: Double?
    ) -> BenchResult {
        let quantile = { (q: Double) in counts.quantileNanoseconds(q) ?? 0 }
        let latency = LatencySummary(
            p50: quantile(0.5),
            p90: quantile(0.9),
            p99: quantile(0.99),
            p999: quantile(0.999),
            max: counts.maximumBoundNanoseconds ?? 0
        )
        let mean = counts.meanNanoseconds.map { ReportFormat.nanoseconds($0) } ?? "–"
        let note =
            "p95 \(ReportFormat.nanoseconds(quantile(0.95))), mean \(mean); "
            + "\(counts.count) writes of \(ReportFormat.bytes(bytesPerWrite)); max = bucket bound"
        return BenchResult(
            scenario: name,
            label: label,
            placement: placement,
            payloadSize: size,
            count: Int(counts.count),
            latency: latency,
            ratioToBaseline: cP50.map { latency.p50 / $0 } ?? 1,
            ratioBasis: cP50 == nil
                ? "the baseline itself" : "histogram p50 / C sender write() histogram p50 (same buckets)",
            note: note
        )
    }
}
