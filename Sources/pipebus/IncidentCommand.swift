import ArgumentParser
import Foundation

/// `pipebus incident`: the runbook's "Document Findings", filled in from the spool.
struct IncidentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incident",
        abstract: "Write the runbook's incident report with what the spool can tell; prints its path.",
        discussion: """
            Writes <root>/incidents/<YYYYmmdd-HHMMSS>-slow-tasks.md: the runbook's template with the \
            peak latency (the slowest task finished in the window: file mtime − submitted_at), the \
            tasks affected (failed, slower than --threshold, or still active longer than it), the \
            error rate (failed / finished) and the slowest tasks with their correlation ids; \
            [FILL IN] remains where a person must write. Reads the spool files: works without sidecars.
            """
    )

    @OptionGroup var options: ClientOptions

    @Option(
        help: ArgumentHelp("The window: tasks finished this recently, e.g. 30m, 1h.", valueName: "duration"),
        transform: durationOption
    )
    var since: Duration = .seconds(3600)

    @Option(
        help: ArgumentHelp("A task slower than this is affected (the alert's P95 threshold).", valueName: "duration"),
        transform: durationOption
    )
    var threshold: Duration = .seconds(30)

    @Flag(help: "Add `pipebus diagnose`'s findings (asks the sidecars; a few seconds).")
    var diagnose = false

    func validate() throws {
        guard since > .zero else { throw ValidationError("--since must be positive") }
    }

    func run() async throws {
        let root = options.resolvedRoot
        guard FileManager.default.fileExists(atPath: root) else { throw CLIError("root \(root) does not exist") }
        Console.error("reading the task spools under \(root)/tasks …")
        var report = IncidentReport(root: root, window: since, threshold: threshold)
        report.collect()
        if diagnose {
            let evidence = await DiagnosisEvidence.gather(
                deployment: options.deployment,
                window: since,
                stuckAfter: .seconds(300),
                sample: .seconds(2)
            )
            report.appendix = Diagnosis(evidence).markdown()
        }
        let path = try report.write()
        Console.error(
            "\(report.finished.count) task(s) finished in the last \(DurationText.format(since)); report written"
        )
        if options.json {
            Console.printJSON(
                [
                    "path": path,
                    "finished": report.finished.count,
                    "failed": report.failedCount,
                    "affected": report.affectedCount,
                    "peak_latency_seconds": report.finished.first?.latency ?? 0,
                    "slowest": report.finished.prefix(10).map {
                        [
                            "id": $0.id, "worker": $0.worker, "latency_seconds": $0.latency,
                            "correlation_id": $0.correlationID,
                        ]
                    },
                ] as [String: Any]
            )
        } else {
            Console.out(path)
        }
    }
}
