/// One server-streaming run per placement, shared by the `stream` scenario (throughput) and the
/// `write-latency` scenario (the server's write-latency histogram over the same run).
struct StreamMeasurement: Sendable {
    static let sizes = [64, 64 * 1024]

    var placement: Placement
    /// Per payload size: the client's measurement, with the server's write-latency histogram.
    var bySize: [Int: WorkloadMeasurement]

    /// Measures both sizes in `placement` on first use; later calls share the result.
    static func shared(in context: BenchContext, placement: Placement) throws -> StreamMeasurement {
        try context.shared("stream \(placement.rawValue)") {
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
                bySize: Dictionary(uniqueKeysWithValues: zip(sizes, measurements))
            )
        }
    }

    /// As many messages as the C stream baseline sends at that size.
    static func messageCount(size: Int, context: BenchContext) -> Int {
        size <= 4096 ? context.roundTrips * 10 : context.roundTrips
    }
}
