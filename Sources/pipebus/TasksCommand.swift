import ArgumentParser
import Foundation
import PipeBusCore

/// `pipebus tasks`: a worker's tasks, e.g. the active ones older than five minutes.
struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks",
        abstract: "List a worker's tasks, oldest first.",
        discussion:
            "The age is the time since the task entered its state folder (its file's mtime), as the runbook measures it."
    )

    @OptionGroup var options: ClientOptions

    @Option(help: "The worker.")
    var worker: WorkerName

    @Option(
        help: "pending, active, completed or failed (default: all).",
        transform: { text in
            guard let state = Tasks.State(name: text) else {
                throw ValidationError("unknown state \"\(text)\": use pending, active, completed or failed")
            }
            return state
        }
    )
    var state: Tasks.State?

    @Option(
        help: ArgumentHelp("Only tasks at least this old, e.g. 30s, 5m, 1h.", valueName: "duration"),
        transform: durationOption
    )
    var olderThan: Duration?

    @Option(help: "At most this many tasks.")
    var limit = 1000

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive") }
    }

    func run() async throws {
        let tasks = try await options.deployment.withClient(worker) { client in
            try await client.tasks(state: state ?? .unspecified, olderThan: olderThan, limit: limit)
        }
        if options.json {
            Console.printJSON(tasks.map(\.jsonObject))
            return
        }
        guard !tasks.isEmpty else {
            let filter = [state.map { "\($0)" }, olderThan.map { "older than \(DurationText.format($0))" }].compactMap {
                $0
            }
            Console.out(
                "no tasks" + (filter.isEmpty ? "" : " (\(filter.joined(separator: ", ")))") + " for worker \(worker)"
            )
            return
        }
        let now = Date()
        let rows = tasks.map { task in
            [
                task.id, "\(task.state)", DurationText.format(seconds: task.age(now: now)), "\(task.attempts)",
                task.correlationID, task.errorText ?? "",
            ]
        }
        Console.out(
            TextTable.render(header: ["ID", "STATE", "AGE", "ATTEMPTS", "CORRELATION ID", "ERROR"], rows: rows)
        )
    }
}
