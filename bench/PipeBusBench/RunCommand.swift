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

    func validate() throws {
        for name in scenarios where ScenarioRegistry.named(name) == nil {
            throw ValidationError(
                "unknown scenario '\(name)'; known: \(ScenarioRegistry.all.map(\.name).joined(separator: ", "))"
            )
        }
        guard roundTrips > 0 else { throw ValidationError("--round-trips must be positive") }
    }

    func run() async throws {
        // A write to a pipe whose reader died must fail with EPIPE, not kill the harness.
        signal(SIGPIPE, SIG_IGN)
        let selected = scenarios.isEmpty ? ScenarioRegistry.all : scenarios.compactMap(ScenarioRegistry.named)
        let progress = ProgressLine()
        let context = try BenchContext(roundTrips: roundTrips, progress: progress)
        let loadAtStart = HostLoad.oneMinuteAverage()
        if let warning = HostLoad.warning(load: loadAtStart) { progress.relay(warning) }
        let startedAt = Date.now
        let clock = ContinuousClock()
        let start = clock.now

        var results: [BenchResult] = []
        for scenario in selected {
            results += try await scenario.run(in: context)
        }
        let elapsed = clock.now - start
        progress.clear()

        print(ResultTable(results: results).render())
        print()
        print(ResultTable.legend)
        if let jsonPath {
            let report = JSONReport(
                startedAt: startedAt,
                durationSeconds: elapsed.inNanoseconds / 1e9,
                scenarios: selected.map(\.name),
                roundTrips: roundTrips,
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
        progress.relay("ran \(selected.map(\.name).joined(separator: ", ")) in \(ReportFormat.seconds(elapsed))")
    }
}
