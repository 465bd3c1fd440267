import Foundation
import PipeBusClient
import PipeBusCore
import PipeBusPipes

/// The workers under one root, as the command line sees them: which exist, and a client for
/// each whose calls give up quickly when the sidecar is not running.
struct Deployment {
    let root: String

    /// Workers that have a sidecar directory or a spool.
    func knownWorkers() -> [String] {
        var names = Set<String>()
        let layout = RootLayout(root: root)
        for folder in [layout.workersDirectory, layout.tasksDirectory] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in entries where !name.hasPrefix(".") {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: "\(folder)/\(name)", isDirectory: &isDirectory),
                    isDirectory.boolValue
                {
                    names.insert(name)
                }
            }
        }
        return names.sorted()
    }

    /// Throws "no such worker" unless the worker has a sidecar directory or a spool here.
    func requireWorker(_ worker: String) throws {
        let known = knownWorkers()
        guard known.contains(worker) else {
            let list = known.isEmpty ? "none" : known.joined(separator: ", ")
            throw CLIError("no worker named \"\(worker)\" under \(root) (known workers: \(list))", code: "not_found")
        }
    }

    /// `body` with a client of `worker`'s sidecar, closed when `body` returns. Connecting gives
    /// up after `connectTimeout` (a sidecar that is not running answers at once); calls after
    /// `callTimeout`.
    func withSidecar<Result>(
        _ worker: String,
        instance: String? = nil,
        connectTimeout: Duration = .seconds(1),
        callTimeout: Duration = .seconds(5),
        breaker: CircuitBreaker = CircuitBreaker(),
        _ body: (SidecarClient) async throws -> Result
    ) async rethrows -> Result {
        try await withSidecarClient(
            root: root,
            worker: worker,
            instance: instance,
            breaker: breaker,
            defaultTimeout: callTimeout,
            configuration: Self.connector(connectTimeout: connectTimeout),
            body
        )
    }

    /// `body` with a client of each of `workers`' sidecars, by worker, all closed when it returns.
    func withSidecars<Result>(_ workers: [String], _ body: ([String: SidecarClient]) async throws -> Result) async throws -> Result {
        guard let first = workers.first else { return try await body([:]) }
        return try await withSidecar(first) { client in
            try await withSidecars(Array(workers.dropFirst())) { others in
                try await body(others.merging([first: client]) { $1 })
            }
        }
    }

    /// Runs one call against an existing worker's sidecar, turning failures into `CLIError`s.
    func withClient<Result>(
        _ worker: WorkerName,
        callTimeout: Duration = .seconds(5),
        _ body: (SidecarClient) async throws -> Result
    ) async throws -> Result {
        try requireWorker(worker.name)
        return try await withSidecar(worker.name, callTimeout: callTimeout) { client in
            do {
                return try await body(client)
            } catch {
                throw CLIError(error, worker: worker.name)
            }
        }
    }

    private static func connector(connectTimeout: Duration) -> PipeConnector.Configuration {
        var configuration = PipeConnector.Configuration.defaults
        configuration.connectTimeout = connectTimeout
        configuration.connection.clientName = "pipebus-cli"
        return configuration
    }

    /// A fleet whose breakers open after 3 failures and probe again after 5 s, so a live view
    /// notices a restarted sidecar soon.
    func fleet() -> Fleet {
        // The fleet keeps its clients, and their breakers, for as long as the command runs.
        Fleet(root: root) { root, worker, instance in
            SidecarClient(
                root: root,
                worker: worker,
                instance: instance,
                breaker: CircuitBreaker(failureThreshold: 3, openTimeout: .seconds(5)),
                defaultTimeout: .seconds(2),
                configuration: Self.connector(connectTimeout: .seconds(1))
            )
        }
    }
}
