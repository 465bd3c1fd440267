/// The RPC engine's own CPU per unary call, client and server, in one process with no
/// syscalls (`EngineRole`): what pipebus's code adds to a round trip, before the kernel's
/// part. Given as a fraction of the C ping-pong round trip (same vCPU, 64 B), like `codec`.
struct EngineScenario: Scenario {
    let name = "engine"
    let summary = "RPC engine CPU per unary 64 B call, client and server, no syscalls"

    private static let payloadSize = 64
    private static let batches = 15
    private static let batchMilliseconds = 3

    func run(in context: BenchContext) async throws -> [BenchResult] {
        let roundTrip = try context.baseline(.pingPong, size: Self.payloadSize, placement: .sameVCPU).latency?.p50
        context.progress.begin("[engine] client and server, \(Self.batches) batches each")
        let report = try context.peers.run(
            EngineRole.self,
            configuration: EngineRole.Configuration(
                payloadSize: Self.payloadSize,
                batches: Self.batches,
                batchMilliseconds: Self.batchMilliseconds
            ),
            cpus: [Placement.inProcess.clientCPU]
        )
        return [
            result("client unary", report.clientNanoseconds, report.clientCallsPerBatch, roundTrip: roundTrip),
            result("server unary", report.serverNanoseconds, report.serverCallsPerBatch, roundTrip: roundTrip),
        ]
    }

    private func result(_ label: String, _ batches: [Double], _ perBatch: Int, roundTrip: Double?) -> BenchResult {
        let latency = LatencySummary(batches: batches)
        let perSecond = 1e9 / latency.p50
        return BenchResult(
            scenario: name,
            label: label,
            placement: .inProcess,
            payloadSize: Self.payloadSize,
            count: batches.count * perBatch,
            latency: latency,
            messagesPerSecond: perSecond,
            megabytesPerSecond: perSecond * Double(Self.payloadSize) / 1e6,
            ratioToBaseline: roundTrip.map { latency.p50 / $0 },
            ratioBasis: roundTrip == nil ? nil : "median ns per call / C ping-pong p50 same-vCPU",
            note: "warm, canned frames, no syscalls: the engine's share of a call"
        )
    }
}
