import FoundationEssentials

/// Syscalls per 64 B echo round trip, client and server processes together, counted by
/// `strace -c -f` (every thread); against the C ping-pong counted the same way.
///
/// Each side runs twice, with a short and a long run, and the counts are differenced, so that
/// what a run does once (loading, connecting, exiting) cancels out. strace slows every syscall
/// down, so this scenario reports counts only, no times.
struct SyscallsScenario: Scenario {
    let name = "syscalls"
    let summary = "syscalls per 64 B echo round trip under strace -c -f, both processes, vs C"

    static let payloadSize = 64
    static let shortRun = 500
    static let longRun = 2500

    func run(in context: BenchContext) async throws -> [BenchResult] {
        guard let strace = ExecutableLookup.onPath("strace") else {
            context.progress.relay("note: no strace on PATH (apt-get install strace): skipping the syscalls scenario")
            return []
        }
        var results: [BenchResult] = []
        for placement in context.placements {
            context.progress.begin("[syscalls] \(placement.rawValue): C ping-pong under strace")
            let c = try perRoundTrip { iterations, directory in
                let path = directory + "/c.strace"
                let baselineCase = context.tuning.baselineCase(.pingPong, size: Self.payloadSize, placement: placement)
                _ = try context.cBaselineRunner(roundTrips: iterations)
                    .measure(baselineCase, wrapper: [strace, "-c", "-f", "-o", path])
                // The C client warms up with a tenth of its round trips first.
                return (try StraceSummary(contentsOf: path), iterations + iterations / 10, nil)
            }
            context.progress.begin("[syscalls] \(placement.rawValue): pipebus echo under strace")
            let pipebus = try perRoundTrip { iterations, directory in
                let serverPath = directory + "/server.strace"
                let clientPath = directory + "/client.strace"
                let server = try ServerPeer(
                    context: context,
                    placement: placement,
                    settings: context.tuning.transport,
                    wrapper: [strace, "-c", "-f", "-o", serverPath]
                )
                let workload = RoundTripWorkload(payloadSize: Self.payloadSize, warmup: 100, count: iterations)
                _ = try server.runClient([.roundTrips(workload)], wrapper: [strace, "-c", "-f", "-o", clientPath])
                _ = try server.stop()
                let client = try StraceSummary(contentsOf: clientPath)
                let serverCalls = try StraceSummary(contentsOf: serverPath)
                // The client also makes one checked call before its warmup.
                return (client.adding(serverCalls), 1 + 100 + iterations, (client, serverCalls))
            }
            results.append(row(label: "C ping-pong", placement: placement, counts: c, cTotal: nil))
            results.append(row(label: "pipebus echo", placement: placement, counts: pipebus, cTotal: c.total))
        }
        return results
    }

    /// Syscalls per round trip: both processes together, and each alone when known.
    private struct Counts {
        var together: [String: Double]
        var client: [String: Double]?
        var server: [String: Double]?
        var total: Double { together.values.reduce(0, +) }
    }

    /// Runs `measure` with a short and a long run in scratch directories and differences them.
    /// `measure` returns the combined summary, the round trips it made, and per process the
    /// client's and server's summaries.
    private func perRoundTrip(
        _ measure: (Int, String) throws -> (StraceSummary, Int, (StraceSummary, StraceSummary)?)
    ) throws -> Counts {
        let scratch = try ScratchDirectory.make(prefix: "pipebus-bench-strace")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (short, shortTrips, shortParts) = try measure(Self.shortRun, scratch)
        let (long, longTrips, longParts) = try measure(Self.longRun, scratch)
        let trips = longTrips - shortTrips
        var counts = Counts(together: short.perOperation(upTo: long, operations: trips))
        if let shortParts, let longParts {
            counts.client = shortParts.0.perOperation(upTo: longParts.0, operations: trips)
            counts.server = shortParts.1.perOperation(upTo: longParts.1, operations: trips)
        }
        return counts
    }

    private func row(label: String, placement: Placement, counts: Counts, cTotal: Double?) -> BenchResult {
        var note = "\(ReportFormat.significant(counts.total)) per round trip"
        if let client = counts.client, let server = counts.server {
            note += ": client " + Self.describe(client) + "; server " + Self.describe(server)
        } else {
            note += ": " + Self.describe(counts.together)
        }
        return BenchResult(
            scenario: name,
            label: label,
            placement: placement,
            payloadSize: Self.payloadSize,
            count: Self.longRun - Self.shortRun,
            ratioToBaseline: cTotal.map { counts.total / $0 } ?? 1,
            ratioBasis: cTotal == nil ? "the baseline itself" : "syscalls per round trip / C's",
            note: note
        )
    }

    /// "write 1, poll 1, read 1": the syscalls made at least once every 20 round trips.
    private static func describe(_ perRoundTrip: [String: Double]) -> String {
        perRoundTrip.filter { $0.value >= 0.05 }
            .sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            .map { "\($0.key) \(ReportFormat.significant($0.value))" }
            .joined(separator: ", ")
    }
}
