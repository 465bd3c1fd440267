import ArgumentParser
import Foundation
import PipeBusClient
import PipeBusCore
import PipeBusTasks

/// `pipebus watch`: a worker's live events, one line each.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print a worker's events live (heartbeats and task transitions), one line each, until Ctrl-C.",
        discussion: "If the sidecar goes away, waits for it and resumes after the last event seen."
    )

    @OptionGroup var options: ClientOptions

    @OptionGroup var remote: RemoteOptions

    @Option(help: "The worker (or --all).")
    var worker: WorkerName?

    @Flag(help: "Every worker under the root.")
    var all = false

    @Flag(help: "Leave out heartbeats.")
    var transitionsOnly = false

    func validate() throws {
        guard (worker != nil) != all else { throw ValidationError("give either --worker NAME or --all") }
    }

    func run() async throws {
        let deployment = options.deployment
        let json = options.json
        let transitionsOnly = transitionsOnly
        let show: @Sendable (String, Pipebus_Tasks_V1_Event) -> Void = { worker, event in
            if transitionsOnly && event.kind == .heartbeat { return }
            if json {
                Console.printJSON(event.jsonObject(worker: worker), compact: true)
            } else {
                Console.out(event.line(worker: worker))
            }
        }
        if let fleet = try remote.loadFleet() {
            let workers = worker.map { [$0.name] }
            if let workers, !fleet.workers().contains(workers[0]) { throw CLIError("no worker named \"\(workers[0])\" in the fleet file \(remote.fleet ?? "")", code: "not_found") }
            try await untilInterrupted {
                try await fleet.withEvents(workers: workers) { events in
                    for await (worker, event) in events { show(worker, event) }
                }
            }
            return
        }
        if all {
            let fleet = deployment.fleet()
            guard !fleet.workers().isEmpty else { throw CLIError("no sidecar has run under \(deployment.root)") }
            try await untilInterrupted {
                try await fleet.withEvents { events in
                    for await (worker, event) in events { show(worker, event) }
                }
            }
            return
        }
        guard let worker else { return }
        if let client = try remote.client(worker: worker.name, callTimeout: .seconds(2)) {
            defer { client.close() }
            return try await Self.follow(client, worker: worker, show: show)
        }
        try deployment.requireWorker(worker.name)
        let fleet = deployment.fleet()
        if fleet.instances(of: worker.name).count > 1 {
            // Scaled out: each instance reports the moves it made; follow them all.
            try await untilInterrupted {
                try await fleet.withEvents(workers: [worker.name]) { events in
                    for await (name, event) in events { show(name, event) }
                }
            }
            return
        }
        try await deployment.withSidecar(worker.name) { client in
            try await Self.follow(client, worker: worker, show: show)
        }
    }

    /// Follows one sidecar's events, reconnecting while it is away, until interrupted.
    static func follow(_ client: SidecarClient, worker: WorkerName, show: @escaping @Sendable (String, Pipebus_Tasks_V1_Event) -> Void) async throws {
        // The first connection must succeed: a sidecar that is not running is an error.
        do {
            _ = try await client.status(timeout: .seconds(2))
        } catch {
            throw CLIError(error, worker: worker.name)
        }
        try await untilInterrupted {
            var last: UInt64 = 0
            var announced = false
            while !Task.isCancelled {
                do {
                    try await client.withEvents(after: last) { events in
                        if announced {
                            Console.error("reconnected to the sidecar of worker \(worker)")
                            announced = false
                        }
                        for try await event in events {
                            last = event.seq
                            show(worker.name, event)
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    if let error = error as? RPCError, error.code == .outOfRange { last = 0 }  // it restarted
                    if !announced {
                        Console.error(
                            "lost the sidecar of worker \(worker) (\(CLIError(error, worker: worker.name).message)); waiting for it"
                        )
                        announced = true
                    }
                }
                await pause(.milliseconds(500))
            }
        }
    }
}
