import ArgumentParser
import Foundation
import PipeBusCore

/// `pipebus diagnose`: the runbook's "Immediate Actions" and "Root Cause Analysis" in one
/// command, across every worker on the root.
struct DiagnoseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Check every worker as the runbook does; print findings by severity, each with the command to run.",
        discussion: """
            Reads, for every sidecar under the root: status and health, heartbeat age, tasks stuck \
            in active/ (time since they entered it), the spool's tasks finished in the last \
            --window (latency P95 and failure ratio), queue depth, pipe write P95, and two readings \
            --sample apart of its /metrics (pipe connection errors, Claude errors; when it serves \
            /metrics on this host); and the host's CPU, memory and disk I/O, and each worker's \
            process tree memory. Prints findings, most severe first (critical, warning, notice), \
            each with its evidence, the runbook's mitigation and the exact pipebus commands for it: \
            diagnose runs none of them. Exits 1 when a finding needs action (critical or warning), \
            0 otherwise. A worker retired with `pipebus retire` is left out.
            """
    )

    @OptionGroup var options: ClientOptions

    @Option(
        help: ArgumentHelp("A task active for longer than this is stuck (the runbook's 5 minutes).", valueName: "duration"),
        transform: durationOption
    )
    var stuckAfter: Duration = .seconds(300)

    @Option(
        help: ArgumentHelp("Look at tasks finished this recently, e.g. 5m, 1h.", valueName: "duration"),
        transform: durationOption
    )
    var window: Duration = .seconds(300)

    @Option(
        help: ArgumentHelp("Time between the two readings of counters and CPU, e.g. 2s.", valueName: "duration"),
        transform: secondsOrDurationOption
    )
    var sample: Duration = .seconds(2)

    @Option(help: ArgumentHelp("Host CPU busy above this percent is a finding (the runbook: < 80).", valueName: "percent"))
    var cpuBound: Double = 80

    @Option(help: ArgumentHelp("Host memory used above this percent is a finding.", valueName: "percent"))
    var memoryBound: Double = 90

    func validate() throws {
        guard stuckAfter > .zero else { throw ValidationError("--stuck-after must be positive") }
        guard window > .zero else { throw ValidationError("--window must be positive") }
        guard sample >= .milliseconds(100) else {
            throw ValidationError("--sample must be at least 100ms, got \(DurationText.format(sample))")
        }
    }

    func run() async throws {
        let deployment = options.deployment
        guard !deployment.fleet().workers().isEmpty else {
            throw CLIError("no sidecar has run under \(deployment.root) (no \(RootLayout(root: deployment.root).workersDirectory)/*)")
        }
        let evidence = await DiagnosisEvidence.gather(
            deployment: deployment,
            window: window,
            stuckAfter: stuckAfter,
            sample: sample
        )
        var thresholds = Diagnosis.Thresholds()
        thresholds.stuckAfter = stuckAfter
        thresholds.cpuPercent = cpuBound
        thresholds.memoryRatio = memoryBound / 100
        let diagnosis = Diagnosis(evidence, thresholds: thresholds)
        if options.json {
            Console.printJSON(diagnosis.jsonObject(evidence))
        } else {
            Console.out(diagnosis.render(evidence))
        }
        if diagnosis.needsAction { throw ExitCode(1) }
    }
}
