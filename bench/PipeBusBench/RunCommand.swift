import ArgumentParser
import FoundationEssentials
import Glibc

/// Runs scenarios and reports: the default subcommand, so `pipebus-bench baseline codec` works.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run scenarios (all when none is named) and print a table of results.",
        discussion: "Scenarios:\n" + ScenarioRegistry.helpText
    )

    @Argument(help: "Scenarios to run, in order.")
    var scenarios: [String] = []

    @Option(name: .customLong("json"), help: ArgumentHelp("Also write the results as JSON to FILE.", valueName: "FILE"))
    var jsonPath: String?

    @Option(
        name: .customLong("svg"),
        help: ArgumentHelp(
            "Write a latency CDF per scenario into DIR (SVG; PNG too with ImageMagick).",
            valueName: "DIR"
        )
    )
    var svgDirectory: String?

    @Option(help: "Measured round trips per ping-pong case (after a 10% warmup).")
    var roundTrips = 20_000

    @Option(
        name: .customLong("pipe-buffer"),
        help: ArgumentHelp(
            "F_SETPIPE_SZ for every FIFO, pipebus's and the C baseline's (default: pipebus's, 256 KiB).",
            valueName: "BYTES"
        )
    )
    var pipeBufferSize: Int?

    @Flag(
        name: .customLong("no-coalescing"),
        help: """
            Server flushThreshold 0: each message a handler sends (streams, async handlers) gets \
            its own write(). Inline unary replies and the client's writes are unchanged.
            """
    )
    var noCoalescing = false

    @Option(
        name: .customLong("spin-us"),
        help: ArgumentHelp(
            "Spin N µs on non-blocking reads (with sched_yield) before poll, both sides and the C baseline; "
                + "the spin scenario then compares N (else 20) with blocking.",
            valueName: "N"
        )
    )
    var spinMicroseconds = 0

    @Option(
        name: .customLong("compression-threshold"),
        help: ArgumentHelp("LZ4 threshold of the compression scenario's lz4 cases (default 1024).", valueName: "BYTES")
    )
    var compressionThreshold = 1024

    func validate() throws {
        for name in scenarios where ScenarioRegistry.named(name) == nil {
            throw ValidationError(
                "unknown scenario '\(name)'; known: \(ScenarioRegistry.all.map(\.name).joined(separator: ", "))"
            )
        }
        guard roundTrips >= 100 else { throw ValidationError("--round-trips must be at least 100") }
        if let pipeBufferSize, pipeBufferSize < 4096 {
            throw ValidationError("--pipe-buffer must be at least 4096 (one page)")
        }
        guard spinMicroseconds >= 0 else { throw ValidationError("--spin-us must not be negative") }
        guard compressionThreshold >= 0 else { throw ValidationError("--compression-threshold must not be negative") }
    }

    func run() async throws {
        // A write to a pipe whose reader died must fail with EPIPE, not kill the harness.
        signal(SIGPIPE, SIG_IGN)
        let selected = scenarios.isEmpty ? ScenarioRegistry.all : scenarios.compactMap(ScenarioRegistry.named)
        let progress = ProgressLine()
        var tuning = Tuning()
        if let pipeBufferSize { tuning.pipeBufferSize = pipeBufferSize }
        tuning.coalescing = !noCoalescing
        tuning.spinMicroseconds = spinMicroseconds
        tuning.compressionThreshold = compressionThreshold
        let context = try BenchContext(roundTrips: roundTrips, tuning: tuning, progress: progress)
        let loadAtStart = HostLoad.oneMinuteAverage()
        if let warning = HostLoad.warning(load: loadAtStart) { progress.relay(warning) }
        let startedAt = Date.now
        let clock = ContinuousClock()
        let start = clock.now

        var results: [BenchResult] = []
        var failed: [String] = []
        for scenario in selected {
            // One scenario's failure is reported, and the others still run.
            do {
                context.beginScenario()
                results += try await scenario.run(in: context)
            } catch {
                failed.append(scenario.name)
                progress.relay("error: scenario \(scenario.name) failed: \(error)")
            }
        }
        let elapsed = clock.now - start
        progress.clear()

        print(ResultTable(results: results).render())
        print()
        print(ResultTable.legend)
        if let comparison = ResultTable.gRPCComparison(results) {
            print()
            print(comparison)
        }
        if let jsonPath {
            let report = JSONReport(
                startedAt: startedAt,
                durationSeconds: elapsed.inNanoseconds / 1e9,
                scenarios: selected.map(\.name),
                roundTrips: roundTrips,
                tuning: tuning.summary.isEmpty ? nil : tuning.summary,
                allowedCPUCount: CPUPinning.allowedCPUCount(),
                loadAverageAtStart: loadAtStart,
                loadAverageAtEnd: HostLoad.oneMinuteAverage(),
                results: results
            )
            try report.write(toFile: jsonPath)
            progress.relay("wrote \(jsonPath)")
        }
        if let svgDirectory {
            for path in try ChartExporter(directory: svgDirectory, progress: progress).export(results) {
                progress.relay("wrote \(path)")
            }
        }
        let load = [loadAtStart, HostLoad.oneMinuteAverage()].map {
            $0.map { ReportFormat.fixed($0, digits: 2) } ?? "?"
        }
        progress.relay(
            "ran \(selected.map(\.name).joined(separator: ", ")) in \(ReportFormat.seconds(elapsed))"
                + (tuning.summary.isEmpty ? "" : " with \(tuning.summary)")
                + "; load average \(load[0]) at start, \(load[1]) at end"
        )
        if !failed.isEmpty {
            progress.relay("failed scenarios: \(failed.joined(separator: ", "))")
            throw ExitCode.failure
        }
    }
}
