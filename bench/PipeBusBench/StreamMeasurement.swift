/// One server-streaming run per placement, shared by the `stream` scenario (throughput) and the
/// `write-latency` scenario (the server's write-latency histogram over the same run).
struct StreamMeasurement: Sendable {
    static let sizes = [64, 64 * 1024]

    var placement: Placement
    /// Per payload size: the client's measurement, with the server's write-latency histogram.
    var bySize: [Int: WorkloadMeasurement]
    /// Per payload size: the C one-way stream, measured just before, which the `stream` rows
    /// divide by.
    var baselines: [Int: CBaselineMeasurement]

    /// Measures both sizes in `placement` on first use; later calls share the result.
    static func shared(in context: BenchContext, placement: Placement) throws -> StreamMeasurement {
        try context.shared("stream \(placement.rawValue)") {
            var baselines: [Int: CBaselineMeasurement] = [:]
            for size in sizes {
                baselines[size] = try context.baseline(.stream, size: size, placement: placement)
            }
            let workloads = sizes.map { size in
                let count = messageCount(size: size, context: context)
                return StreamWorkload(payloadSize: size, warmup: count / 10, count: count)
            }
            context.progress.begin(
                "[stream] \(placement.rawValue): "
                    + workloads.map { "\($0.count) × \(ReportFormat.bytes($0.payloadSize))" }.joined(separator: ", ")
            )
            let (measurements, _) = try ServerPeer.measure(
                workloads.map { .stream($0) },
                context: context,
                placement: placement,
                settings: context.tuning.transport
            )
            return StreamMeasurement(
                placement: placement,
                bySize: Dictionary(uniqueKeysWithValues: zip(sizes, measurements)),
                baselines: baselines
            )
        }
    }

    /// As many messages as the C stream baseline sends at that size.
    static func messageCount(size: Int, context: BenchContext) -> Int {
        size <= 4096 ? context.roundTrips * 10 : context.roundTrips
    }
}
