import Foundation
public import PipeBusCore
import Synchronization

/// Every worker's sidecar under one root: discovered from `<root>/workers/*/pipes/connect`
/// as they appear and go, one `SidecarClient` (and breaker) each, and calls fanned out.
public final class Fleet: Sendable {
    public let root: String
    private let makeClient: @Sendable (String) -> SidecarClient
    private let clients = Mutex<[String: SidecarClient]>([:])

    public init(root: String, makeClient: (@Sendable (String, String) -> SidecarClient)? = nil) {
        self.root = root
        let make = makeClient ?? { root, worker in SidecarClient(root: root, worker: worker) }
        self.makeClient = { worker in make(root, worker) }
    }

    /// The workers that have (or had) a sidecar: a pipe directory or a heartbeat.
    public func workers() -> [String] {
        let directory = "\(root)/workers"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { name in
            !name.hasPrefix(".")
                && (FileManager.default.fileExists(atPath: "\(directory)/\(name)/pipes/connect")
                    || FileManager.default.fileExists(atPath: "\(directory)/\(name)/heartbeat.json"))
        }.sorted()
    }

    /// The client of `worker`, kept for the fleet's lifetime (so its breaker remembers).
    public func client(for worker: String) -> SidecarClient {
        clients.withLock { clients in
            if let client = clients[worker] { return client }
            let client = makeClient(worker)
            clients[worker] = client
            return client
        }
    }

    /// Calls `body` for every worker at once; each result or error by worker name.
    public func forEachWorker<Result: Sendable>(
        _ body: @escaping @Sendable (SidecarClient) async throws -> Result
    ) async -> [(worker: String, result: Swift.Result<Result, any Error>)] {
        let workers = workers()
        return await withTaskGroup(of: (String, Swift.Result<Result, any Error>).self) { group in
            for worker in workers {
                let client = client(for: worker)
                group.addTask {
                    do { return (worker, .success(try await body(client))) } catch { return (worker, .failure(error)) }
                }
            }
            var results: [(worker: String, result: Swift.Result<Result, any Error>)] = []
            for await (worker, result) in group { results.append((worker, result)) }
            return results.sorted { $0.worker < $1.worker }
        }
    }

    /// Heartbeats and transitions from every worker, merged, each tagged with its worker.
    /// A worker's stream that breaks is resumed from the last sequence number seen.
    public func events(until done: @escaping @Sendable () -> Bool = { false }) -> AsyncStream<(worker: String, event: Tasks.Event)> {
        let (stream, continuation) = AsyncStream.makeStream(of: (worker: String, event: Tasks.Event).self)
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in workers() {
                    let client = client(for: worker)
                    group.addTask {
                        var last: UInt64 = 0
                        while !Task.isCancelled && !done() {
                            do {
                                try await client.withEvents(after: last) { events in
                                    for try await event in events {
                                        last = event.seq
                                        continuation.yield((worker, event))
                                    }
                                }
                            } catch {
                                try? await Task.sleep(for: .milliseconds(500))
                            }
                        }
                    }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
