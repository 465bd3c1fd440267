import PipeBusEcho
/// Unary round trips through pipebus: `Pipebus_Testing_V1_Echo.Method.Echo.descriptor` (inline handler) at 64 B, 1 KiB and
/// 64 KiB, and `Pipebus_Testing_V1_Echo.Method.EchoAsync.descriptor` (async handler, run as a task on the connection's
/// executor) at 64 B; both placements; ratios to the C ping-pong of the same size and placement.
struct RTTScenario: Scenario {
    let name = "rtt"
    let summary = "unary echo round trip 64 B-64 KiB (and 64 B async handler) vs C ping-pong"

    static let sizes = [64, 1024, 64 * 1024]

    func run(in context: BenchContext) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for placement in context.placements {
            let (baselines, measurements) = try Self.measurements(context, placement: placement)
            results.append(try pollFirstRow(context, placement: placement, plain: baselines[64]!))
            for (entry, measurement) in zip(Self.cases(context), measurements) {
                results.append(
                    .roundTrips(
                        scenario: name,
                        label: entry.label,
                        placement: placement,
                        payloadSize: entry.workload.payloadSize,
                        measurement: measurement,
                        baseline: baselines[entry.workload.payloadSize]!,
                        note: context.tuning.summary.isEmpty ? nil : context.tuning.summary
                    )
                )
            }
        }
        return results
    }

    /// The C ping-pong at 64 B reading as pipebus reads (poll on the FIFO and an eventfd, then
    /// a non-blocking read), against the plain C ping-pong: how much of pipebus's ratio its
    /// syscall pattern alone explains.
    private func pollFirstRow(
        _ context: BenchContext,
        placement: Placement,
        plain: CBaselineMeasurement
    ) throws
        -> BenchResult
    {
        var pollFirst = context.tuning.baselineCase(.pingPong, size: 64, placement: placement)
        pollFirst.pollsFirst = true
        let measurement = try context.baseline(pollFirst)
        var row = measurement.result(scenario: name)
        row.label = "C poll-first"
        row.ratioToBaseline = measurement.latency.flatMap { latency in plain.latency.map { latency.p50 / $0.p50 } }
        row.ratioBasis = "p50 / C ping-pong p50 (\(plain.basis))"
        row.note = "C reading as pipebus did before blocking reads: poll(FIFO, eventfd) + non-blocking read"
        return row
    }

    /// What the client measures in one connection, in order: `echo` at each size, then
    /// `echoAsync` at 64 B.
    static func cases(_ context: BenchContext) -> [(label: String, workload: RoundTripWorkload)] {
        // Unmeasured calls first, as the C baseline does (10%), and at least a few hundred.
        let warmup = max(200, context.roundTrips / 10)
        let echo = sizes.map { size in
            (
                label: "echo",
                workload: RoundTripWorkload(method: .echo, payloadSize: size, warmup: warmup, count: context.roundTrips)
            )
        }
        let echoAsync = RoundTripWorkload(
            method: .echoAsync,
            payloadSize: 64,
            warmup: warmup,
            count: context.roundTrips
        )
        return echo + [(label: "echoAsync", workload: echoAsync)]
    }

    /// The measurements of `cases` in `placement`, one server and one client, measured once
    /// per run and shared: the `grpc` scenario compares gRPC with these very figures. With them,
    /// the C ping-pong of each size, measured just before them, which every scenario sharing
    /// them divides by.
    static func measurements(
        _ context: BenchContext,
        placement: Placement
    ) throws -> (baselines: [Int: CBaselineMeasurement], measurements: [WorkloadMeasurement]) {
        try context.shared("rtt \(placement.rawValue)") {
            var baselines: [Int: CBaselineMeasurement] = [:]
            for size in sizes {
                baselines[size] = try context.baseline(.pingPong, size: size, placement: placement)
            }
            context.progress.begin("[rtt] \(placement.rawValue): echo 64 B, 1 KiB, 64 KiB; echoAsync 64 B")
            let measurements = try ServerPeer.measure(
                cases(context).map { .roundTrips($0.workload) },
                context: context,
                placement: placement,
                settings: context.tuning.transport
            ).client
            return (baselines, measurements)
        }
    }
}
