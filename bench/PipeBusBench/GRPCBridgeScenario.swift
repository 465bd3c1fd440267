#if GRPC
import FoundationEssentials
import PipeBusGRPC

/// Issue 17's bench target: a 64 B unary echo through the gRPC bridge (`GRPCBridgeServer` over a
/// `Router` serving `EchoService`, called through `GRPCCaller`) against a bare grpc-swift-2 echo
/// (`BareEchoService` on a plain `GRPCServer`, a plain `GRPCClient`) on the same transport (a
/// Unix socket) with the same HTTP/2 settings, with grpc-swift-nio-transport's flush coalescing
/// on and off, both placements. Server and client are separate pinned processes; the four
/// combinations alternate within the run (`rounds` fresh server/client pairs each, in rotated
/// order) so that drifting load falls on all alike. Targets: bridge p50 ≤ 1.1× bare p50; the pipe's 64 B echo (the `rtt` run)
/// ≥ 25× faster than the bridge, at the bridge's default coalescing.
struct GRPCBridgeScenario: Scenario {
    let name = "grpc-bridge"
    let summary = "unary echo 64 B through the gRPC bridge vs bare grpc-swift-2, flush coalescing on/off; vs the pipe"

    static let payloadSize = 64
    /// Bridge p50 / bare p50 at most.
    static let overheadTarget = 1.1
    /// Bridge p50 / pipe p50 at least.
    static let pipeTarget = 25.0
    /// Fresh server and client pairs per combination; four, so that each takes each place in the order once.
    static let rounds = 4

    func run(in context: BenchContext) async throws -> [BenchResult] {
        // gRPC calls take ~20× longer than the pipe's: a quarter as many, as the grpc scenario.
        let count = max(1000, context.roundTrips / 4)
        let perRound = max(1, count / Self.rounds)
        let warmup = max(200, perRound / 10)
        let defaults = GRPCCaller.Configuration().coalescesFlushes
        var results: [BenchResult] = []
        for placement in context.placements {
            // The pipe row is the rtt run's, divided by that run's C; the gRPC rows, measured
            // here, by a C ping-pong of this scenario's.
            context.progress.begin("[grpc-bridge] \(placement.rawValue): pipe echo (the rtt run)")
            let rtt = try RTTScenario.measurements(context, placement: placement)
            guard
                let pipe = zip(RTTScenario.cases(context), rtt.measurements)
                    .first(where: { $0.0.label == "echo" && $0.0.workload.payloadSize == Self.payloadSize })?.1,
                let pipeBaseline = rtt.baselines[Self.payloadSize]
            else { throw BenchError("the grpc-bridge scenario has no 64 B pipe echo") }
            let baseline = try context.baseline(.pingPong, size: Self.payloadSize, placement: placement)
            let pipeRow = BenchResult.roundTrips(
                scenario: name,
                label: "pipe echo",
                placement: placement,
                payloadSize: Self.payloadSize,
                measurement: pipe,
                baseline: pipeBaseline,
                note: "the rtt scenario's echo"
            )
            // Every combination in every round, each round in a rotated order, so that load that
            // drifts during the run falls on all four alike.
            let combinations = [true, false].flatMap { coalesces in GRPCEchoKind.allCases.map { (kind: $0, coalesces: coalesces) } }
            var measured: [String: [WorkloadMeasurement]] = [:]
            for round in 0..<Self.rounds {
                let shift = round % combinations.count
                for (kind, coalesces) in combinations[shift...] + combinations[..<shift] {
                    context.progress.begin(
                        "[grpc-bridge] \(placement.rawValue): \(kind.rawValue), \(Self.setting(coalesces)), round \(round + 1)/\(Self.rounds) × \(perRound)"
                    )
                    measured["\(kind) \(coalesces)", default: []].append(
                        try measure(kind, coalesces: coalesces, placement: placement, warmup: warmup, count: perRound, context: context)
                    )
                }
            }
            var rows = [pipeRow]
            for coalesces in [true, false] {
                let setting = Self.setting(coalesces)
                var bridge = BenchResult.roundTrips(
                    scenario: name,
                    label: "bridge, \(setting)",
                    placement: placement,
                    payloadSize: Self.payloadSize,
                    measurement: Self.merged(measured["\(GRPCEchoKind.bridge) \(coalesces)"] ?? []),
                    baseline: baseline
                )
                var bare = BenchResult.roundTrips(
                    scenario: name,
                    label: "bare grpc-swift-2, \(setting)",
                    placement: placement,
                    payloadSize: Self.payloadSize,
                    measurement: Self.merged(measured["\(GRPCEchoKind.bare) \(coalesces)"] ?? []),
                    baseline: baseline
                )
                bare.note = "GRPCServer + GRPCClient, identity [UInt8] serializers, same transport settings"
                if let bridgeLatency = bridge.latency, let bareLatency = bare.latency, let pipeLatency = pipeRow.latency {
                    let overhead = bridgeLatency.p50 / bareLatency.p50
                    let pipeRatio = bridgeLatency.p50 / pipeLatency.p50
                    let isDefault = coalesces == defaults
                    bridge.note =
                        "bridge/bare p50 \(ReportFormat.ratio(overhead)) (target ≤ \(ReportFormat.ratio(Self.overheadTarget)): \(overhead <= Self.overheadTarget ? "met" : "NOT met")); "
                        + "bridge/pipe p50 \(ReportFormat.ratio(pipeRatio))"
                        + (isDefault ? " (target ≥ \(ReportFormat.ratio(Self.pipeTarget)): \(pipeRatio >= Self.pipeTarget ? "met" : "NOT met")); the bridge's default" : "")
                }
                rows += [bridge, bare]
            }
            results += rows
        }
        return results
    }

    private static func setting(_ coalesces: Bool) -> String { coalesces ? "coalescing on" : "coalescing off" }

    /// One server and one client process, pinned to `placement`, in a fresh private directory.
    private func measure(
        _ kind: GRPCEchoKind,
        coalesces: Bool,
        placement: Placement,
        warmup: Int,
        count: Int,
        context: BenchContext
    ) throws -> WorkloadMeasurement {
        let directory = try ScratchDirectory.make(prefix: "pipebus-bench-grpc-bridge")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/echo.sock"
        // sun_path holds 108 bytes with its terminating zero.
        guard socket.utf8.count < 108 else {
            throw BenchError("the socket path \(socket) is too long for a Unix socket: set TMPDIR to a shorter one")
        }
        let server = try context.peers.start(
            GRPCEchoServerRole.self,
            configuration: .init(socketPath: socket, kind: kind, coalescesFlushes: coalesces),
            cpus: [placement.serverCPU],
            standardInput: .pipe
        )
        let measurement: WorkloadMeasurement
        do {
            measurement = try context.peers.run(
                GRPCEchoClientRole.self,
                configuration: .init(
                    socketPath: socket,
                    kind: kind,
                    coalescesFlushes: coalesces,
                    payloadSize: Self.payloadSize,
                    warmup: warmup,
                    count: count
                ),
                cpus: [placement.clientCPU]
            ).measurement
        } catch {
            server.closeStandardInput()
            if let output = try? server.finish(timeout: .seconds(10)) { context.progress.relay(output.standardError) }
            throw error
        }
        server.closeStandardInput()
        _ = try context.peers.report(of: server, as: GRPCEchoServerRole.self)
        return measurement
    }

    /// The rounds' samples as one measurement (their spans added up, for the rate).
    private static func merged(_ parts: [WorkloadMeasurement]) -> WorkloadMeasurement {
        let elapsed = parts.reduce(UInt64(0)) { $0 + $1.elapsedNanoseconds }
        return WorkloadMeasurement(
            samples: parts.flatMap(\.samples),
            count: parts.reduce(0) { $0 + $1.count },
            startNanoseconds: 0,
            endNanoseconds: elapsed,
            bytesSent: 0,
            bytesReceived: 0
        )
    }
}
#endif
