import ArgumentParser
import PipeBusTasks
import Foundation
import PipeBusCore
import PipeBusClient

/// `pipebus status`: the runbook's "Check Current System Status" and "Check Worker Health",
/// one row per worker.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract:
            "One row per sidecar (a worker, or each instance of a worker scaled out): health, heartbeat, active tasks, queue, oldest task, failures, latency, breaker.",
        discussion: """
            Columns: INSTANCE (the sidecar instance; a worker scaled out has a row per instance, and \
            the spool counts are the worker's, shared by its instances), HEALTH (grpc.health.v1 \
            status, or UNREACHABLE), HEARTBEAT (age of the instance's heartbeat.json \
            and liveness: alive, suspect after 3 intervals, dead after 5), ACTIVE (active/batch size), \
            QUEUE (pending), OLDEST ACTIVE (id and age), DONE/FAILED (totals), FAIL 5m (failures in \
            the last 5 minutes), P95 WRITE (pipe write latency), BREAKER (this client's circuit \
            breaker). Exits 1 when a sidecar does not answer. --watch redraws every --interval \
            until Ctrl-C. A worker retired with `pipebus retire` shows as RETIRED and does not fail \
            the exit status while its sidecar is gone.
            """
    )

    @OptionGroup var options: ClientOptions

    @OptionGroup var remote: RemoteOptions

    @Flag(help: "Refresh in place until interrupted.")
    var watch = false

    @Option(
        help: ArgumentHelp("Time between refreshes with --watch, e.g. 1s, 500ms (a bare number is seconds).", valueName: "duration"),
        transform: secondsOrDurationOption
    )
    var interval: Duration = .seconds(1)

    func validate() throws {
        if remote.target != nil { throw ValidationError("status shows every worker: give --fleet FILE for sidecars on other hosts (--target is for one worker's commands)") }
        guard interval >= .milliseconds(100) else {
            throw ValidationError("--interval must be at least 100ms, got \(DurationText.format(interval))")
        }
    }

    func run() async throws {
        let deployment = options.deployment
        let board = StatusBoard(fleet: try remote.loadFleet() ?? deployment.fleet())
        guard !board.fleet.workers().isEmpty else {
            throw CLIError("no sidecar has run under \(deployment.root) (no \(RootLayout(root: deployment.root).workersDirectory)/*)")
        }
        if watch {
            try await untilInterrupted { [options, interval] in
                await Self.watch(board, root: remote.fleet ?? deployment.root, json: options.json, interval: interval)
            }
            return
        }
        let rows = await board.collect()
        if options.json {
            Console.printJSON(rows.map { $0.jsonObject(now: Date()) })
        } else {
            Console.out(StatusBoard.render(rows))
        }
        if rows.contains(where: \.isFailing) { throw ExitCode(1) }
    }

    static func watch(_ board: StatusBoard, root: String, json: Bool, interval: Duration) async {
        let live = Console.isTerminal && !json
        if live { Console.clearScreen() }
        while !Task.isCancelled {
            let rows = await board.collect()
            let now = Date()
            if json {
                Console.printJSON(
                    ["timestamp": Timestamp.iso8601(now), "workers": rows.map { $0.jsonObject(now: now) }],
                    compact: true
                )
            } else {
                let title =
                    "pipebus status — \(root) — \(Timestamp.clock(milliseconds: Int64(now.timeIntervalSince1970 * 1000)))  (Ctrl-C to quit)"
                let text = title + "\n\n" + StatusBoard.render(rows, now: now)
                if live { Console.redraw(text) } else { Console.out(text + "\n") }
            }
            guard await pause(interval) else { break }
        }
    }
}
