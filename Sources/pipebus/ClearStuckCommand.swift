import ArgumentParser
import Foundation
import PipeBusCore

/// `pipebus clear-stuck`: the runbook's "Clear stuck tasks".
struct ClearStuckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear-stuck",
        abstract: "Move a worker's active tasks older than a threshold to failed/, for investigation."
    )

    @OptionGroup var options: ClientOptions

    @Option(help: "The worker.")
    var worker: WorkerName

    @Option(
        help: ArgumentHelp("How long a task must have been active, e.g. 5m.", valueName: "duration"),
        transform: durationOption
    )
    var olderThan: Duration

    @Option(help: "The error written into each task (default: says how long it was stuck).")
    var reason: String?

    func validate() throws {
        guard olderThan > .zero else { throw ValidationError("--older-than must be positive") }
    }

    func run() async throws {
        let moved = try await options.deployment.withClient(worker) { client in
            try await client.clearStuck(olderThan: olderThan, reason: reason ?? "")
        }
        if options.json {
            Console.printJSON(moved.map(\.jsonObject))
            return
        }
        if moved.isEmpty {
            Console.out("no active task of worker \(worker) is older than \(DurationText.format(olderThan))")
        }
        for task in moved {
            Console.out("Moved stuck task: \(task.id) (correlation_id \(task.correlationID))")
        }
    }
}
