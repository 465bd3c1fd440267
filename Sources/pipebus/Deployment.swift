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
        for folder in ["workers", "tasks"] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(folder)")) ?? []
            for name in entries where !name.hasPrefix(".") {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: "\(root)/\(folder)/\(name)", isDirectory: &isDirectory),
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

    /// A client of `worker`'s sidecar. Connecting gives up after `connectTimeout` (a sidecar
    /// that is not running answers at once); calls after `callTimeout`.
    func client(
        for worker: String,
        instance: String? = nil,
        connectTimeout: Duration = .seconds(1),
        callTimeout: Duration = .seconds(5),
        breaker: CircuitBreaker = CircuitBreaker()
    ) -> SidecarClient {
        var configuration = PipeConnector.Configuration.defaults
        configuration.connectTimeout = connectTimeout
        configuration.connection.clientName = "pipebus-cli"
        return SidecarClient(
            root: root,
            worker: worker,
            instance: instance,
            breaker: breaker,
            defaultTimeout: callTimeout,
            configuration: configuration
        )
    }

    /// Runs one call against an existing worker's sidecar, turning failures into `CLIError`s.
    func withClient<Result>(
        _ worker: WorkerName,
        callTimeout: Duration = .seconds(5),
        _ body: (SidecarClient) async throws -> Result
    ) async throws -> Result {
        try requireWorker(worker.name)
        let client = client(for: worker.name, callTimeout: callTimeout)
        defer { client.close() }
        do {
            return try await body(client)
        } catch {
            throw CLIError(error, worker: worker.name)
        }
    }

    /// A fleet whose breakers open after 3 failures and probe again after 5 s, so a live view
    /// notices a restarted sidecar soon.
    func fleet() -> Fleet {
        Fleet(root: root) { root, worker, instance in
            Deployment(root: root).client(
                for: worker,
                instance: instance,
                callTimeout: .seconds(2),
                breaker: CircuitBreaker(failureThreshold: 3, openTimeout: .seconds(5))
            )
        }
    }
}
