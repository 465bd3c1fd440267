/// 64 B echo round trips with `ReadPolicy(spin:)` on both sides against blocking reads, in
/// both placements; each against the C ping-pong with the same `--spin-us` (DESIGN §5: a
/// spin with `sched_yield` cuts the two-vCPU round trip ~20×).
struct SpinScenario: Scenario {
    let name = "spin"
    let summary = "64 B echo, spin-then-poll reads (20 µs or --spin-us) vs blocking, vs C likewise"

    static let payloadSize = 64

    func run(in context: BenchContext) async throws -> [BenchResult] {
        let spin = context.tuning.spinMicroseconds > 0 ? context.tuning.spinMicroseconds : 20
        var results: [BenchResult] = []
        let workload = RoundTripWorkload(
            payloadSize: Self.payloadSize,
            warmup: max(200, context.roundTrips / 10),
            count: context.roundTrips
        )
        for placement in context.placements {
            for spinMicroseconds in [0, spin] {
                var baselineCase = context.tuning.baselineCase(.pingPong, size: Self.payloadSize, placement: placement)
                baselineCase.spinMicroseconds = spinMicroseconds
                let baseline = try context.baseline(baselineCase)
                var settings = context.tuning.transport
                settings.spinMicroseconds = spinMicroseconds
                let policy = spinMicroseconds == 0 ? "blocking" : "spin \(spinMicroseconds) µs"
                context.progress.begin("[spin] \(placement.rawValue): echo 64 B, \(policy)")
                if spinMicroseconds > 0 {
                    var cRow = baseline.result(scenario: name)
                    cRow.label = "C ping-pong \(policy)"
                    results.append(cRow)
                }
                let measurements: [WorkloadMeasurement]
                do {
                    measurements = try ServerPeer.measure(
                        [.roundTrips(workload)],
                        context: context,
                        placement: placement,
                        settings: settings
                    ).client
                } catch {
                    // A failure here is a finding about the transport, not the end of the run.
                    results.append(
                        BenchResult.failure(
                            scenario: name,
                            label: "echo \(policy)",
                            placement: placement,
                            payloadSize: Self.payloadSize,
                            error: error
                        )
                    )
                    continue
                }
                results.append(
                    .roundTrips(
                        scenario: name,
                        label: "echo \(policy)",
                        placement: placement,
                        payloadSize: Self.payloadSize,
                        measurement: measurements[0],
                        baseline: baseline
                    )
                )
            }
        }
        return results
    }
}
