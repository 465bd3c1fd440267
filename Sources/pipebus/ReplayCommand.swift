import ArgumentParser
import PipeBusCore
import PipeBusTasks

/// `pipebus replay`: the runbook's "Task Replay".
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-queue a failed or completed task as <id>_replay, with debug and replay set and a fresh trace."
    )

    @OptionGroup var options: ClientOptions

    @Option(help: "The worker.")
    var worker: WorkerName

    @Argument(help: "The id of a failed or completed task.")
    var taskID: String

    func run() async throws {
        let task = try await options.deployment.withClient(worker) { client in try await client.replay(taskID) }
        if options.json {
            Console.printJSON(task.jsonObject)
        } else {
            Console.out(
                "Task \(taskID) queued for replay as \(task.id) (\(RootLayout(root: options.resolvedRoot).stateDirectory(worker: worker.name, folder: TaskState.pending.folderName))/\(RootLayout.taskFileName(id: task.id)))"
            )
        }
    }
}
