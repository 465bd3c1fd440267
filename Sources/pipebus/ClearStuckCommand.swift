import ArgumentParser
import Foundation
import PipeBusCore

/// `pipebus clear-stuck`: the runbook's "Clear stuck tasks".
struct ClearStuckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear-stuck",
        abstract: "Move a worker's tasks that have been in active/ too long to failed/, for investigation.",
        discussion: """
            A task's age is its time in its state: how long ago it entered active/ (not when it \
            was submitted). A task that waited in pending/ for an hour and started a second ago \
            is one second old and is not cleared. The sidecar records the moment a task enters a \
            folder on the file's mtime, so the runbook's `time.time() - st_mtime` reads the same \
            age.

            Each task moves by one rename of its file: if its worker finishes it at the same \
            moment, exactly one of the two moves wins, and the task ends in one state folder \
            (a pipe worker's later Finish of a cleared task fails with FAILED_PRECONDITION; a \
            spool worker's rename finds the file gone). Use --dry-run to see what would move.
            """
    )

    @OptionGroup var options: ClientOptions

    @Option(help: "The worker.")
    var worker: WorkerName

    @Option(
        help: ArgumentHelp("How long a task must have been in active/, e.g. 5m.", valueName: "duration"),
        transform: durationOption
    )
    var olderThan: Duration

    @Option(help: "The error written into each task (default: says how long it was stuck).")
    var reason: String?

    @Flag(help: "List the tasks that would be moved; move none.")
    var dryRun = false

    func validate() throws {
        guard olderThan > .zero else { throw ValidationError("--older-than must be positive") }
    }

    func run() async throws {
        let tasks = try await options.deployment.withClient(worker) { client in
            try await client.clearStuck(olderThan: olderThan, reason: reason ?? "", dryRun: dryRun)
        }
        if options.json {
            Console.printJSON(tasks.map(\.jsonObject))
            return
        }
        if tasks.isEmpty {
            Console.out("no active task of worker \(worker) is older than \(DurationText.format(olderThan)) (time in active/)")
        }
        let now = Date()
        for task in tasks {
            // A moved task is in failed/ now, so its age there says nothing of its time in active/.
            let time = dryRun ? DurationText.format(seconds: task.age(now: now)) : "more than \(DurationText.format(olderThan))"
            let verb = dryRun ? "Would move stuck task" : "Moved stuck task"
            Console.out("\(verb): \(task.id) (in active/ for \(time), correlation_id \(task.correlationID))")
        }
    }
}
