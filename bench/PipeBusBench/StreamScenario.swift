import PipeBusEcho
/// Server-streaming one-way throughput: `Pipebus_Testing_V1_Echo.Method.Repeat.descriptor` sends 64 B and 64 KiB
/// messages as fast as the client reads them; against the C one-way stream of the same size.
struct StreamScenario: Scenario {
    let name = "stream"
    let summary = "server-streaming throughput, 64 B and 64 KiB messages, vs C one-way stream"

    func run(in context: BenchContext) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for placement in context.placements {
            let measured = try StreamMeasurement.shared(in: context, placement: placement)
            for size in StreamMeasurement.sizes {
                guard let measurement = measured.bySize[size], let baseline = measured.baselines[size] else { continue }
                let perSecond = measurement.perSecond
                let frames = measurement.serverWriteLatency.map { latency in
                    let perWrite = Int(measurement.bytesReceived / max(1, latency.count))
                    return "server: \(latency.count) writes, \(ReportFormat.bytes(perWrite)) each"
                }
                results.append(
                    BenchResult(
                        scenario: name,
                        label: "repeatPayload",
                        placement: placement,
                        payloadSize: size,
                        count: measurement.count,
                        messagesPerSecond: perSecond,
                        megabytesPerSecond: perSecond * Double(size) / 1e6,
                        ratioToBaseline: baseline.report.messagesPerSecond / perSecond,
                        ratioBasis: "C msgs/s / msgs/s (\(baseline.basis))",
                        note: ([frames] + [context.tuning.summary.isEmpty ? nil : context.tuning.summary])
                            .compactMap { $0 }.joined(separator: "; ")
                    )
                )
            }
        }
        return results
    }
}
