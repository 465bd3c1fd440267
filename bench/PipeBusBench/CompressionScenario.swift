/// 64 KiB round trips with LZ4 on both sides (`CompressionPolicy(isEnabled: true, threshold:)`,
/// `--compression-threshold`, default 1024) and off, for a compressible payload (JSON task
/// records) and an incompressible one (random bytes); against the C 64 KiB ping-pong.
struct CompressionScenario: Scenario {
    let name = "compression"
    let summary = "64 KiB echo round trip, LZ4 on and off, compressible and random payloads"

    static let payloadSize = 64 * 1024

    func run(in context: BenchContext) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        // LZ4 at ~1 GB/s makes these calls slow: a quarter of the round trips is plenty.
        let count = max(100, context.roundTrips / 4)
        let workloads = PayloadContent.allCases.map { content in
            RoundTripWorkload(
                payloadSize: Self.payloadSize,
                content: content,
                warmup: max(50, count / 10),
                count: count
            )
        }
        for placement in context.placements {
            let baseline = try context.baseline(.pingPong, size: Self.payloadSize, placement: placement)
            for threshold in [nil, context.tuning.compressionThreshold] {
                var settings = context.tuning.transport
                settings.compressionThreshold = threshold
                let policy = threshold.map { "lz4 ≥ \(ReportFormat.bytes($0))" } ?? "plain"
                context.progress.begin("[compression] \(placement.rawValue): \(policy), compressible and random")
                let (measurements, _) = try ServerPeer.measure(
                    workloads.map { .roundTrips($0) },
                    context: context,
                    placement: placement,
                    settings: settings
                )
                for (workload, measurement) in zip(workloads, measurements) {
                    results.append(
                        .roundTrips(
                            scenario: name,
                            label: "echo \(threshold == nil ? "plain" : "lz4") \(workload.content.rawValue)",
                            placement: placement,
                            payloadSize: Self.payloadSize,
                            measurement: measurement,
                            baseline: baseline,
                            note: BenchResult.wireNote(measurement)
                                + (threshold.map { "; threshold \(ReportFormat.bytes($0))" } ?? "")
                        )
                    )
                }
            }
        }
        return results
    }
}
