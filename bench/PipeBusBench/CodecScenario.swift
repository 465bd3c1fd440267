/// In-process cost of the frame codec with an envelope: encode and decode separately, at 64 B
/// and 64 KiB, plain and LZ4, compressible and random payloads.
///
/// Runs in a peer pinned to CPU 0. Each figure is also given as a fraction of the C ping-pong
/// round trip (same vCPU, same payload size): what the codec adds to a call at that size.
struct CodecScenario: Scenario {
    let name = "codec"
    let summary = "envelope encode and decode per frame, 64 B and 64 KiB, plain and LZ4"

    private static let batches = 15
    private static let batchMilliseconds = 3

    func run(in context: BenchContext) async throws -> [BenchResult] {
        let cases = CodecCase.all
        // Baselines first, so the progress line reads in order.
        var roundTrips: [Int: CBaselineMeasurement] = [:]
        for size in Set(cases.map(\.payloadSize)).sorted() {
            roundTrips[size] = try context.baseline(.pingPong, size: size, placement: .sameVCPU)
        }

        context.progress.begin("[codec] \(cases.count) cases × encode, decode")
        let configuration = CodecRole.Configuration(
            cases: cases,
            batches: Self.batches,
            batchMilliseconds: Self.batchMilliseconds
        )
        let report = try context.peers.run(
            CodecRole.self,
            configuration: configuration,
            cpus: [Placement.inProcess.clientCPU]
        )

        return report.measurements.flatMap { measurement in
            results(for: measurement, roundTrip: roundTrips[measurement.codecCase.payloadSize]?.latency?.p50)
        }
    }

    /// An encode row and a decode row; `roundTrip` is the C ping-pong p50 the ratios divide by.
    private func results(for measurement: CodecRole.Measurement, roundTrip: Double?) -> [BenchResult] {
        let codecCase = measurement.codecCase
        let frame = "frame \(measurement.frameSize) B" + (measurement.wasCompressed ? " (lz4)" : "")
        let operations = [
            ("encode", measurement.encodeNanoseconds, measurement.encodeFramesPerBatch),
            ("decode", measurement.decodeNanoseconds, measurement.decodeFramesPerBatch),
        ]
        return operations.map { operation, batches, perBatch in
            let latency = LatencySummary(batches: batches)
            let perSecond = 1e9 / latency.p50
            return BenchResult(
                scenario: name,
                label: "\(operation) \(codecCase.label)",
                placement: .inProcess,
                payloadSize: codecCase.payloadSize,
                count: batches.count * perBatch,
                latency: latency,
                messagesPerSecond: perSecond,
                megabytesPerSecond: perSecond * Double(codecCase.payloadSize) / 1e6,
                ratioToBaseline: roundTrip.map { latency.p50 / $0 },
                ratioBasis: roundTrip == nil ? nil : "median ns per frame / C ping-pong p50 same-vCPU",
                note: frame
            )
        }
    }
}
