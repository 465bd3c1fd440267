import ArgumentParser
import Foundation
import Logging
import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

/// `pipebus worker`: the demo's pipe worker, normally started by `pipebus sidecar --mode pipe`.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "A demo pipe worker: leases tasks from its sidecar and sleeps through each.",
        discussion: """
            Run it under a sidecar: `pipebus sidecar --worker W --mode pipe -- pipebus worker`; the sidecar \
            sets PIPEBUS_ROOT, PIPEBUS_WORKER and PIPEBUS_INSTANCE, so the worker leases from the \
            instance that started it. A task's JSON steers it: "duration_ms" (else a random \
            time between --min-ms and --max-ms), "fail": true (finished as failed), "stuck": true (never \
            finished). Reconnects when the sidecar restarts; exits 0 on SIGTERM or SIGINT.
            """
    )

    @Option(help: "The shared root directory (default: $PIPEBUS_ROOT or /shared).")
    var root: String?

    @Option(help: "The worker's name (default: $PIPEBUS_WORKER).")
    var worker: WorkerName?

    @Option(help: "The sidecar instance to lease from (default: $PIPEBUS_INSTANCE, else any).")
    var instance: String?

    @Option(help: "Tasks in flight at once (default: the worker config's batch_size).")
    var batchSize: Int?

    @Option(help: "Shortest random processing time, in milliseconds.")
    var minMs = 200

    @Option(help: "Longest random processing time, in milliseconds.")
    var maxMs = 3000

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard minMs >= 0, maxMs >= minMs else { throw ValidationError("need 0 ≤ --min-ms ≤ --max-ms") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        if worker == nil, WorkerName(argument: ProcessInfo.processInfo.environment["PIPEBUS_WORKER"] ?? "") == nil {
            throw ValidationError("give --worker NAME or set PIPEBUS_WORKER")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let name = worker ?? WorkerName(argument: environment["PIPEBUS_WORKER"] ?? "") else { return }
        let factory = JSONLogHandler.factory(
            job: "agent-orchestrator",
            worker: name.name,
            instance: environment["PIPEBUS_INSTANCE"],
            logLevel: Logger.Level(rawValue: logLevel) ?? .info
        )
        LoggingSystem.bootstrap(factory)
        let parent = environment["PIPEBUS_SIDECAR_PID"].flatMap { pid_t($0) }
        let demo = DemoWorker(
            root: ClientOptions.resolveRoot(root),
            worker: name.name,
            instance: instance ?? environment["PIPEBUS_INSTANCE"].flatMap { $0.isEmpty ? nil : $0 },
            batchSize: batchSize,
            durations: minMs...maxMs,
            parentPID: parent == getppid() ? parent : nil,
            logger: Logger(label: "pipebus.worker")
        )
        _ = try? await untilInterrupted { await demo.run() }
    }
}
