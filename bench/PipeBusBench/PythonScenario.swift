import FoundationEssentials
import Glibc

/// Python's way onto the pipe (issue 15): a 64 B unary echo through the pipebus package
/// (clients/python) against a sidecar, beside the floor for any Python client (a raw-Python FIFO
/// ping-pong: os.read/os.write, the same 5-byte framing, one write per frame) and grpcio over a
/// Unix socket, in the same run, both placements.
///
/// The measurement is `clients/python/bench/echo_bench.py`'s, the one implementation: this runs it
/// per placement with the bench venv's Python (grpcio, protobuf, lz4: scripts/install-bench-deps.sh)
/// and the sidecar built beside the harness, and turns its report into rows. Targets: the package's
/// p50 ≤ 1.5× the raw ping-pong's, and grpcio's p50 ≥ 25× the package's.
struct PythonScenario: Scenario {
    let name = "python"
    let summary = "64 B unary echo from Python: the pipebus package vs raw-Python FIFO ping-pong and grpcio: p50 ratios"

    static let scriptPath = "clients/python/bench/echo_bench.py"
    static let payloadSize = 64
    static let targetOverRaw = 1.5
    static let targetGRPCOverPackage = 25.0
    /// One placement's three measurements, sidecar start included, before the run counts as stuck.
    private static let timeout = Duration.seconds(600)

    /// A row of echo_bench.py's --json report (with --samples).
    struct Row: Decodable {
        var placement: String
        var peer: String
        var samples: [UInt64]

        private enum CodingKeys: String, CodingKey {
            case placement, peer
            case samples = "samples_ns"
        }
    }

    func run(in context: BenchContext) async throws -> [BenchResult] {
        let python: String
        let script: String
        let sidecar: String
        do {
            (python, script, sidecar) = try Self.locate(progress: context.progress)
        } catch let unavailable as GRPCPeer.Unavailable {
            context.progress.relay("note: skipping the python scenario: \(unavailable)")
            return context.placements.map { placement in
                BenchResult(
                    scenario: name,
                    label: "pipebus-python echo",
                    placement: placement,
                    payloadSize: Self.payloadSize,
                    count: 0,
                    note: "SKIPPED: \(unavailable)"
                )
            }
        }
        // grpcio's calls take ~0.5 ms: a quarter of the usual count keeps a run under a minute.
        let count = max(1000, context.roundTrips / 4)
        let warmup = max(200, count / 10)
        var results: [BenchResult] = []
        for placement in context.placements {
            context.progress.begin(
                "[python] \(placement.rawValue): raw FIFO, pipebus package, grpcio: 64 B echo × \(count)"
            )
            let rows = try measure(
                python: python,
                script: script,
                sidecar: sidecar,
                placement: placement,
                count: count,
                warmup: warmup,
                progress: context.progress
            )
            results += Self.results(scenario: name, placement: placement, rows: rows)
        }
        return results
    }

    /// The venv's Python, the script and the `pipebus` binary beside the harness, or `Unavailable`
    /// saying what to install or build.
    private static func locate(progress: ProgressLine) throws -> (python: String, script: String, sidecar: String) {
        let peer = try GRPCPeer.locate(progress: progress)
        let root = String(peer.script.dropLast(GRPCPeer.scriptPath.count + 1))
        let script = root + "/" + scriptPath
        guard access(script, R_OK) == 0 else {
            throw GRPCPeer.Unavailable(description: "no \(script)")
        }
        do {
            _ = try ChildProcess(executable: peer.python, arguments: ["-c", "import google.protobuf, lz4.block"])
                .finish(timeout: .seconds(60))
        } catch {
            throw GRPCPeer.Unavailable(
                description: "the bench venv cannot import protobuf and lz4 (\(error)): run \(GRPCPeer.installCommand)"
            )
        }
        let sidecar = try ExecutableLookup.besideHarness("pipebus")
        guard access(sidecar, X_OK) == 0 else {
            throw GRPCPeer.Unavailable(
                description: "no \(sidecar): build it with `swift build -c release --product pipebus`"
            )
        }
        return (peer.python, script, sidecar)
    }

    private func measure(
        python: String,
        script: String,
        sidecar: String,
        placement: Placement,
        count: Int,
        warmup: Int,
        progress: ProgressLine
    ) throws -> [Row] {
        let directory = try ScratchDirectory.make(prefix: "pipebus-bench-python")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let report = directory + "/report.json"
        // echo_bench.py's placements: "same" pins both to its first allowed CPU, "cross" the
        // server to its last, as Placement's CPU 0 and 1 on a two-CPU machine.
        let placementName = placement == .sameVCPU ? "same" : "cross"
        let output = try ChildProcess(
            executable: python,
            arguments: [
                script, "--pipebus", sidecar, "--grpc-python", python, "--count", String(count),
                "--warmup", String(warmup), "--placements", placementName, "--json", report, "--samples",
            ]
        ).finish(timeout: Self.timeout) { progress.tick(elapsed: $0) }
        progress.relay(output.standardError)
        do {
            return try JSONDecoder().decode([Row].self, from: Data(contentsOf: URL(fileURLWithPath: report)))
        } catch {
            throw BenchError("\(Self.scriptPath) wrote no valid report: \(error)")
        }
    }

    /// One row per peer, each as a ratio to the raw ping-pong's p50; grpcio's note gives its p50
    /// over the package's (not `gRPCOverPipeBus`, which the report's summary reads as the `grpc`
    /// scenario's Swift-client ratio).
    static func results(scenario: String, placement: Placement, rows: [Row]) -> [BenchResult] {
        func latency(_ peer: String) -> LatencySummary? {
            rows.first { $0.peer == peer }.map { LatencySummary(samples: $0.samples) }
        }
        let raw = latency("raw-python-fifo")
        let package = latency("pipebus-python")
        let labels = [
            "raw-python-fifo": "raw Python FIFO ping-pong", "pipebus-python": "pipebus-python echo",
            "grpcio-uds": "grpcio unary (UDS)",
        ]
        return rows.map { row in
            let summary = LatencySummary(samples: row.samples)
            var result = BenchResult(
                scenario: scenario,
                label: labels[row.peer] ?? row.peer,
                placement: placement,
                payloadSize: payloadSize,
                count: row.samples.count,
                latency: summary,
                ratioToBaseline: raw.map { summary.p50 / $0.p50 },
                ratioBasis: "p50 / raw-Python FIFO ping-pong p50",
                histogram: LatencySummary.makeHistogram(samples: row.samples)
            )
            switch row.peer {
            case "raw-python-fifo":
                result.note = "the floor for any Python client (\(scriptPath))"
            case "pipebus-python":
                if let ratio = result.ratioToBaseline {
                    result.note = "target ≤ \(targetOverRaw)× raw: \(ratio <= targetOverRaw ? "met" : "NOT met")"
                }
            default:
                if let package, package.p50 > 0 {
                    let ratio = summary.p50 / package.p50
                    result.note =
                        "pipebus-python p50 \(ReportFormat.ratio(ratio)) lower "
                        + "(target ≥ \(Int(targetGRPCOverPackage))×: \(ratio >= targetGRPCOverPackage ? "met" : "NOT met"))"
                }
            }
            return result
        }
    }
}
