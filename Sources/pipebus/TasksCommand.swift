import ArgumentParser
import Foundation
import PipeBusClient
import PipeBusCore
import PipeBusTasks
import PipeBusSidecar

/// `pipebus tasks`: a worker's tasks, e.g. the active ones older than five minutes, streamed
/// from its sidecar (or read from the spool when the sidecar is not running).
struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks",
        abstract: "List a worker's tasks, newest first.",
        discussion: """
            Rows are printed as the sidecar reads the tasks, so a big spool lists at once and \
            an interrupted listing stops the sidecar's work too. The order and the filters \
            use the time each task entered its state folder: IN STATE is the time since then \
            (--older-than and --since filter on it). DURATION, for a completed or failed task, \
            is the time from its submission (submitted_at) to its end: the task file does not \
            record when processing began; for a running task, IN STATE is its time so far. \
            With --json, the output is one JSON array with one task object per line, each \
            printed as it arrives. When the worker's sidecar is not running, the spool's files \
            are read directly and a line on standard error says so. Finished tasks that \
            retention archived (<root>/tasks/<worker>/archive/) follow those of the spool.
            """
    )

    @OptionGroup var options: ClientOptions

    @OptionGroup var remote: RemoteOptions

    @Option(help: "The worker.")
    var worker: WorkerName

    @Option(
        help: "pending, active, completed or failed (default: all).",
        transform: { text in
            guard let state = Pipebus_Tasks_V1_TaskState(name: text) else {
                throw ValidationError("unknown state \"\(text)\": use pending, active, completed or failed")
            }
            return state
        }
    )
    var state: Pipebus_Tasks_V1_TaskState?

    @Option(
        help: ArgumentHelp("Only tasks in their state at least this long, e.g. 30s, 5m, 1h.", valueName: "duration"),
        transform: durationOption
    )
    var olderThan: Duration?

    @Option(
        help: ArgumentHelp("Only tasks that entered their state within this time, e.g. 10m.", valueName: "duration"),
        transform: durationOption
    )
    var since: Duration?

    @Option(name: .customLong("correlation-id"), help: "Only tasks with this correlation id.")
    var correlationID: String?

    @Flag(help: "Oldest first (the order in which stuck tasks are looked at).")
    var oldestFirst = false

    @Option(help: "At most this many tasks (0: all).")
    var limit = 1000

    @Option(
        help: ArgumentHelp("Give up on the sidecar after this long, for the whole listing.", valueName: "duration"),
        transform: durationOption
    )
    var timeout: Duration = .seconds(30)

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must be 0 (all) or positive") }
        guard timeout > .zero else { throw ValidationError("--timeout must be positive") }
        if let olderThan, let since, olderThan >= since {
            throw ValidationError(
                "no task can be in its state for at least \(DurationText.format(olderThan)) and have entered it within \(DurationText.format(since))"
            )
        }
    }

    var request: Pipebus_Tasks_V1_ListStreamRequest {
        Pipebus_Tasks_V1_ListStreamRequest(
            state: state ?? .unspecified,
            olderThanMs: olderThan.map(Self.milliseconds) ?? 0,
            enteredWithinMs: since.map(Self.milliseconds) ?? 0,
            limit: UInt32(clamping: limit),
            oldestFirst: oldestFirst,
            correlationID: correlationID ?? ""
        )
    }

    func run() async throws {
        if remote.fleet != nil { throw ValidationError("tasks lists one worker's sidecar: give --target (a fleet file is for status, health, watch and submit)") }
        if let client = try remote.client(worker: worker.name, callTimeout: .seconds(5)) {
            defer { client.close() }
            var printer = TaskRowPrinter(json: options.json)
            do {
                try await client.withTaskListing(request, timeout: timeout) { tasks in
                    for try await task in tasks { printer.print(task) }
                }
            } catch {
                printer.abort()
                throw CLIError(error, worker: worker.name)
            }
            printer.end(emptyMessage: emptyMessage)
            return
        }
        let deployment = options.deployment
        try deployment.requireWorker(worker.name)
        var printer = TaskRowPrinter(json: options.json)
        do {
            try await deployment.withSidecar(worker.name) { client in
                try await client.withTaskListing(request, timeout: timeout) { tasks in
                    for try await task in tasks { printer.print(task) }
                }
            }
        } catch let error as RPCError where error.code == .unavailable && printer.printed == 0 {
            // Nothing printed yet, so reading the files cannot repeat a row.
            Console.error("sidecar of worker \(worker) not reachable; read the spool directly")
            do {
                var listing = try TaskSpool.listing(root: options.resolvedRoot, worker: worker.name, query: TaskListingQuery(request))
                while let record = try listing.next() { printer.print(Pipebus_Tasks_V1_Task(record)) }
            } catch {
                printer.abort()
                throw CLIError("cannot read the spool of worker \(worker) either: \(error)")
            }
        } catch {
            printer.abort()
            throw CLIError(error, worker: worker.name)
        }
        printArchived(&printer)
        printer.end(emptyMessage: emptyMessage)
    }

    /// Finished tasks that retention moved to the archive follow the spool's (they are older,
    /// bar a count limit), read from its files here: the sidecar is not needed for them.
    private func printArchived(_ printer: inout TaskRowPrinter) {
        guard limit == 0 || printer.printed < limit, state.map({ $0 == .completed || $0 == .failed }) ?? true else { return }
        var query = TaskListingQuery(request)
        query.states = query.states.filter { $0 == .completed || $0 == .failed }
        query.limit = limit == 0 ? nil : limit - printer.printed
        do {
            let archive = try TaskArchive(root: options.resolvedRoot, worker: worker.name)
            let tasks = try archive.tasks(query) { problem in Console.error(problem) }
            for task in tasks { printer.print(Pipebus_Tasks_V1_Task(task.record)) }
            if !tasks.isEmpty, !options.json {
                Console.error("\(tasks.count) of these tasks were read from the archive, \(archive.path)")
            }
        } catch {
            Console.error("could not read the archive of worker \(worker): \(error)")
        }
    }

    private var emptyMessage: String {
        let filter = [
            state.map { "\($0)" },
            olderThan.map { "in state for at least \(DurationText.format($0))" },
            since.map { "entered state within \(DurationText.format($0))" },
            correlationID.map { "correlation id \($0)" },
        ].compactMap { $0 }
        return "no tasks" + (filter.isEmpty ? "" : " (\(filter.joined(separator: ", ")))") + " for worker \(worker)"
    }

    private static func milliseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, DurationText.seconds(duration) * 1000).rounded())
    }
}
